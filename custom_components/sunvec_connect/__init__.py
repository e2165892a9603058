"""The Sunvec Connect integration."""

from __future__ import annotations

from homeassistant.const import CONF_API_TOKEN, CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import SunvecClient, SunvecInvalidInputError
from .budget import token_budget, token_budgets
from .const import CONF_WIFI_SN, DOMAIN
from .coordinator import SunvecConfigEntry, SunvecCoordinator, entry_store
from .issues import async_delete_entry_issues, async_update_insecure_url_issue

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]


async def async_setup_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
    """Set up a Sunvec Connect inverter from a config entry."""
    try:
        client = SunvecClient(
            async_get_clientsession(hass),
            entry.data[CONF_URL],
            entry.data[CONF_API_TOKEN],
            entry.data[CONF_WIFI_SN],
        )
    except SunvecInvalidInputError as err:
        # Saved by an older release with rules that were less strict (an address with a
        # path of its own): only the user can choose the right address.
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="saved_settings_invalid",
            translation_placeholders={"reason": err.reason},
        ) from None
    async_update_insecure_url_issue(
        hass,
        entry.entry_id,
        entry.title,
        token_exposed=not (client.is_encrypted or client.is_loopback),
    )
    # The token's calls of the last 24 hours, kept from before a restart, count first.
    await token_budgets(hass).async_load()
    coordinator = SunvecCoordinator(
        hass, entry, client, token_budget(hass, entry.data[CONF_API_TOKEN])
    )
    # Never waits for the token's next call slot: with the minute used up the entry
    # starts from its kept upload (or without data) and calls at its slot.
    await coordinator.async_start()
    entry.runtime_data = coordinator
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
    """Unload a config entry; keep its last upload and the token's calls for the next setup."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_save()
        await token_budgets(hass).async_save()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> None:
    """Remove what the entry kept: its issues, its stored upload, its token's unused budget."""
    async_delete_entry_issues(hass, entry.entry_id)
    await entry_store(hass, entry.entry_id).async_remove()
    token_budgets(hass).async_drop_unused()
