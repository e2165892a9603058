"""The Sunvec Connect integration."""

from __future__ import annotations

from homeassistant.const import CONF_API_TOKEN, CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import SunvecClient
from .const import CONF_WIFI_SN, DOMAIN
from .coordinator import SunvecConfigEntry, SunvecCoordinator, offline_issue_id

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]


async def async_setup_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
    """Set up a Sunvec Connect inverter from a config entry."""
    client = SunvecClient(
        async_get_clientsession(hass),
        entry.data[CONF_URL],
        entry.data[CONF_API_TOKEN],
        entry.data[CONF_WIFI_SN],
    )
    coordinator = SunvecCoordinator(hass, entry, client)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> None:
    """Remove what the entry left in the issue registry."""
    ir.async_delete_issue(hass, DOMAIN, offline_issue_id(entry.entry_id))
