"""The Sunvec Connect integration."""

from __future__ import annotations

from homeassistant.const import CONF_API_TOKEN, CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import SunvecClient
from .const import CONF_WIFI_SN, DOMAIN
from .coordinator import (
    SunvecConfigEntry,
    SunvecCoordinator,
    access_issue_id,
    ban_issue_id,
    offline_issue_id,
    token_budget,
)

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]


def insecure_url_issue_id(entry_id: str) -> str:
    """The repair issue raised while an entry sends its token over plain http."""
    return f"insecure_url_{entry_id}"


async def async_setup_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
    """Set up a Sunvec Connect inverter from a config entry."""
    client = SunvecClient(
        async_get_clientsession(hass),
        entry.data[CONF_URL],
        entry.data[CONF_API_TOKEN],
        entry.data[CONF_WIFI_SN],
    )
    _update_insecure_url_issue(hass, entry, client)
    coordinator = SunvecCoordinator(
        hass, entry, client, token_budget(hass, entry.data[CONF_API_TOKEN])
    )
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


def _update_insecure_url_issue(
    hass: HomeAssistant, entry: SunvecConfigEntry, client: SunvecClient
) -> None:
    """Warn while the token travels unencrypted to a host that is not this machine."""
    issue_id = insecure_url_issue_id(entry.entry_id)
    if client.is_encrypted or client.is_loopback:
        ir.async_delete_issue(hass, DOMAIN, issue_id)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue_id,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="insecure_url",
        translation_placeholders={"name": entry.title},
    )


async def async_unload_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)


async def async_remove_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> None:
    """Remove what the entry left in the issue registry."""
    for issue_id in (
        offline_issue_id(entry.entry_id),
        ban_issue_id(entry.entry_id),
        access_issue_id(entry.entry_id),
        insecure_url_issue_id(entry.entry_id),
    ):
        ir.async_delete_issue(hass, DOMAIN, issue_id)
