"""What an inverter leaves behind when it is removed: its kept upload and its repair issues."""

from __future__ import annotations

from homeassistant.config_entries import (
    SIGNAL_CONFIG_ENTRY_CHANGED,
    ConfigEntry,
    ConfigEntryChange,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from .const import DOMAIN
from .issues import async_delete_issues, inverter_issue_ids
from .store import inverter_store


async def async_forget_inverter(hass: HomeAssistant, subentry_id: str) -> None:
    """Remove what an inverter kept in storage and the repair issues about it."""
    async_delete_issues(hass, inverter_issue_ids(subentry_id))
    await inverter_store(hass, subentry_id).async_remove()


@callback
def async_track_removed_inverters(hass: HomeAssistant) -> None:
    """Forget each inverter whose subentry is removed, whether its account runs or not.

    An account that is disabled, waits for a retry or failed has no update listener.
    """
    known = {
        entry.entry_id: frozenset(entry.subentries)
        for entry in hass.config_entries.async_entries(DOMAIN)
    }

    @callback
    def changed(change: ConfigEntryChange, entry: ConfigEntry) -> None:
        if entry.domain != DOMAIN:
            return
        if change is ConfigEntryChange.REMOVED:
            known.pop(entry.entry_id, None)
            return
        now = frozenset(entry.subentries)
        for subentry_id in known.get(entry.entry_id, frozenset()) - now:
            hass.async_create_task(
                async_forget_inverter(hass, subentry_id), f"{DOMAIN} forget {subentry_id}"
            )
        known[entry.entry_id] = now

    # Lives as long as Home Assistant runs: the integration is set up once per run.
    async_dispatcher_connect(hass, SIGNAL_CONFIG_ENTRY_CHANGED, changed)
