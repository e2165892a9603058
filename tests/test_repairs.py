"""Repair issues across a restart of Home Assistant.

Home Assistant stores non-persistent issues and reloads them as inactive (not shown):
after a restart an issue is shown again only if the integration raises it again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.const import DOMAIN
from custom_components.sunvec_connect.issues import ban_issue_id, offline_issue_id
from custom_components.sunvec_connect.store import THIS_RUN
from simulator import Fault, FaultKind, SunvecCloud

from .conftest import TimeMachine, coordinator_of


async def restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    entry: MockConfigEntry,
    time_machine: TimeMachine,
) -> None:
    """Stop the entry, reload the issue registry from what it stored, start the entry.

    The entry starts from its stored upload and makes its first call at its slot, a
    moment after the setup returned: the restart ends after that call.

    The test's registry does not write to storage, so this stores what Home Assistant
    would have written at shutdown. The token budgets live in memory only: gone too.
    """
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    hass_storage[ir.STORAGE_KEY] = {
        "version": ir.STORAGE_VERSION_MAJOR,
        "minor_version": ir.STORAGE_VERSION_MINOR,
        "key": ir.STORAGE_KEY,
        "data": ir.async_get(hass)._data_to_save(),
    }
    del hass.data[ir.DATA_REGISTRY]
    hass.data.pop(THIS_RUN, None)
    await ir.async_load(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await time_machine.run(60, step=10)


def issue(hass: HomeAssistant, issue_id: str) -> ir.IssueEntry | None:
    """The issue as the registry now holds it (the registry object changes on restart)."""
    return ir.async_get(hass).async_get_issue(DOMAIN, issue_id)


async def raise_offline_issue(
    hass: HomeAssistant, entry: MockConfigEntry, time_machine: TimeMachine, cloud: SunvecCloud
) -> str:
    issue_id = offline_issue_id(entry.entry_id)
    cloud.inject(Fault(FaultKind.STOP_UPLOADING))
    await time_machine.run(timedelta(hours=25).total_seconds(), step=1800)
    raised = issue(hass, issue_id)
    assert raised is not None
    assert raised.active
    return issue_id


async def test_offline_issue_is_shown_again_after_a_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    issue_id = await raise_offline_issue(hass, init_integration, time_machine, cloud)

    await restart(hass, hass_storage, init_integration, time_machine)
    assert init_integration.state is ConfigEntryState.LOADED
    shown = issue(hass, issue_id)
    assert shown is not None
    assert shown.active
    assert shown.translation_key == "inverter_offline"
    assert shown.translation_placeholders == {"name": coordinator_of(init_integration).title}

    cloud.clear_faults()
    # Offline, the integration polls every 15 minutes.
    await time_machine.run(1200)
    assert issue(hass, issue_id) is None


async def test_offline_issue_left_from_before_a_restart_is_cleared(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    issue_id = await raise_offline_issue(hass, init_integration, time_machine, cloud)
    # Uploads resumed while Home Assistant was down.
    cloud.clear_faults()
    await time_machine.advance(600)

    await restart(hass, hass_storage, init_integration, time_machine)
    assert issue(hass, issue_id) is None


@pytest.mark.parametrize("still_banned", [True, False], ids=["banned", "lifted"])
async def test_ban_issue_after_a_restart(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    still_banned: bool,
) -> None:
    issue_id = ban_issue_id(init_integration.entry_id)
    cloud.inject(Fault(FaultKind.BAN))
    await time_machine.run(400)
    banned = issue(hass, issue_id)
    assert banned is not None
    assert banned.active
    if not still_banned:
        cloud.clear_faults()

    calls = len(cloud.requests)
    await restart(hass, hass_storage, init_integration, time_machine)
    # The pause the cloud named is kept across the restart: the issue is shown again at
    # once, and no call goes until the pause ends, whether or not the cloud lifted it.
    await time_machine.run(400)
    after = issue(hass, issue_id)
    assert after is not None
    assert after.active
    assert len(cloud.requests) == calls
    # The ban's hour over, the first call works and the issue goes.
    await time_machine.run(3600, step=60)
    assert cloud.requests[-1].outcome == "ok"
    assert issue(hass, issue_id) is None
    # The entry starts from its stored upload either way: a ban holds nothing up.
    assert init_integration.state is ConfigEntryState.LOADED
