"""The Sunvec Connect integration: an account (API address and token) and its inverters."""

from __future__ import annotations

import asyncio
from contextlib import suppress

from homeassistant.config_entries import ConfigSubentry, UnknownEntry
from homeassistant.const import CONF_API_TOKEN, CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryError
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .account import async_account_ids, async_remove_secret
from .api import SunvecClient, SunvecInvalidInputError, exposes_token
from .budget import TokenCalls
from .const import DOMAIN, SUBENTRY_INVERTER
from .coordinator import SunvecCoordinator
from .issues import account_issue_ids, async_delete_issues, async_update_insecure_url_issue
from .migration import (
    ACCOUNT_VERSION,
    async_migrate_integration,
    merged_entries,
)
from .models import SunvecConfigEntry, SunvecRuntimeData
from .removal import async_forget_inverter, async_track_removed_inverters

PLATFORMS: list[Platform] = [Platform.BINARY_SENSOR, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Merge the entries of releases with an entry per inverter into accounts."""
    await async_migrate_integration(hass)
    async_track_removed_inverters(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
    """Set up an account: its client, and a coordinator per inverter sharing the token's budget."""
    session = async_get_clientsession(hass)
    url, token = entry.data[CONF_URL], entry.data[CONF_API_TOKEN]
    inverters = _inverters(entry)
    try:
        token_exposed = exposes_token(url)
        client = SunvecClient(session, url, token)
    except SunvecInvalidInputError as err:
        # Saved by an older release with rules that were less strict (an address with a
        # path of its own): only the user can choose the right address. (A saved wifiSn
        # the client refuses fails at its inverter's calls, as one the cloud refuses.)
        raise ConfigEntryError(
            translation_domain=DOMAIN,
            translation_key="saved_settings_invalid",
            translation_placeholders={"reason": err.reason},
        ) from None
    async_update_insecure_url_issue(hass, entry.entry_id, entry.title, token_exposed=token_exposed)
    # The token's calls of the last 24 hours, kept from before a restart, count first.
    calls = TokenCalls(hass, (await async_account_ids(hass, url, token)).calls_key)
    await calls.async_load()
    # Kept also when the setup fails: its retry counts the calls this one made.
    entry.async_on_unload(calls.async_close)
    runtime = entry.runtime_data = SunvecRuntimeData(client, calls)
    for subentry in inverters:
        coordinator = SunvecCoordinator(hass, entry, subentry, client, runtime.budget)
        runtime.coordinators[subentry.subentry_id] = coordinator
        # Never waits for the token's next call slot: with the minute used up an
        # inverter starts from its kept upload (or without data) and calls at its slot.
        await coordinator.async_start()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    entry.async_on_unload(entry.add_update_listener(_async_entry_updated))
    if set(runtime.coordinators) != {subentry.subentry_id for subentry in _inverters(entry)}:
        # Inverters were added or removed while this setup ran, with no listener: take them in.
        hass.config_entries.async_schedule_reload(entry.entry_id)
    return True


def _inverters(entry: SunvecConfigEntry) -> list[ConfigSubentry]:
    """The account's inverter subentries."""
    return [
        subentry
        for subentry in entry.subentries.values()
        if subentry.subentry_type == SUBENTRY_INVERTER
    ]


async def _async_entry_updated(hass: HomeAssistant, entry: SunvecConfigEntry) -> None:
    """Reload once after the changes of one step (options, token, inverters).

    The inverters a flow adds in one step each call this.
    """
    runtime = entry.runtime_data
    if runtime.reload_pending:
        return
    runtime.reload_pending = True
    # Listeners start eagerly: let the step that called this add the rest of its inverters.
    await asyncio.sleep(0)
    with suppress(UnknownEntry):  # removed meanwhile: its removal took what it kept
        await hass.config_entries.async_reload(entry.entry_id)
    ids = await async_account_ids(hass, entry.data[CONF_URL], entry.data[CONF_API_TOKEN])
    if runtime.calls.key != ids.calls_key:
        # A new token: the cloud counts its calls apart; the old one's are of no use.
        await runtime.calls.async_remove()


async def async_unload_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
    """Unload an account; keep each inverter's last upload (and the token's calls)."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        for subentry_id, coordinator in entry.runtime_data.coordinators.items():
            # A removed inverter's pending save must not write its data back.
            await coordinator.async_unload(removed=subentry_id not in entry.subentries)
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> None:
    """Remove what an account kept: its issues, its inverters' uploads, its calls."""
    if entry.entry_id in merged_entries(hass):
        # Merged into an account by the upgrade: what it kept now belongs to that one.
        return
    async_delete_issues(hass, account_issue_ids(entry.entry_id))
    if entry.version < ACCOUNT_VERSION:
        # An inverter's entry the upgrade could not merge: its token may be an account's,
        # and a merge that failed may have made it an account's inverter already.
        entries = hass.config_entries.async_entries(DOMAIN)
        if not any(entry.entry_id in account.subentries for account in entries):
            await async_forget_inverter(hass, entry.entry_id)
        return
    for subentry_id in entry.subentries:
        await async_forget_inverter(hass, subentry_id)
    ids = await async_account_ids(hass, entry.data[CONF_URL], entry.data[CONF_API_TOKEN])
    await TokenCalls(hass, ids.calls_key).async_remove()
    if not hass.config_entries.async_entries(DOMAIN):
        await async_remove_secret(hass)


async def async_migrate_entry(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
    """Entries are upgraded when the integration sets up; one left is one that failed."""
    return entry.version == ACCOUNT_VERSION
