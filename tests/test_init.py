"""Tests for setting up, reloading and unloading an entry."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryDisabler, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er, issue_registry as ir
from homeassistant.helpers.event import async_track_state_change_event
from homeassistant.helpers.update_coordinator import UpdateFailed
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.api import (
    SunvecInvalidInputError,
    SunvecInvalidParameterError,
)
from custom_components.sunvec_connect.const import CONF_CALLS_KEPT_FREE, CONF_WIFI_SN, DOMAIN
from custom_components.sunvec_connect.issues import (
    account_issue_ids,
    invalid_request_issue_id,
    inverter_issue_ids,
)
from custom_components.sunvec_connect.store import inverter_store
from simulator import Fault, FaultKind, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN
from simulator.plant import Upload

from .conftest import TimeMachine, account_for, entry_for, setup_entry
from .ha_booking import booked


async def test_setup_reload_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.sunvec_sutdemohyb1_ac_power") is not None

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED  # type: ignore[comparison-overlap]


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        (FaultKind.HTTP_503, ConfigEntryState.SETUP_RETRY),
        (FaultKind.INVALID_JSON, ConfigEntryState.SETUP_RETRY),
        (FaultKind.REVOKE_TOKEN, ConfigEntryState.SETUP_ERROR),
    ],
)
async def test_first_refresh_failure(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    config_entry: MockConfigEntry,
    cloud: SunvecCloud,
    kind: FaultKind,
    state: ConfigEntryState,
) -> None:
    cloud.inject(Fault(kind))
    await setup_entry(hass, config_entry)
    assert config_entry.state is state
    if kind is FaultKind.REVOKE_TOKEN:
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == ["reauth"]


def raise_issues(hass: HomeAssistant, issue_ids: tuple[str, ...]) -> None:
    """Show these repair issues (as an inverter's polls would)."""
    for issue_id in issue_ids:
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="inverter_offline",
        )


async def test_remove_entry_clears_its_issues(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    entry_id = init_integration.entry_id
    other = "inverter_offline_another_entry"
    raise_issues(hass, (*account_issue_ids(entry_id), *inverter_issue_ids(entry_id), other))
    assert await hass.config_entries.async_remove(entry_id)
    await hass.async_block_till_done()
    remaining = [issue_id for domain, issue_id in issue_registry.issues if domain == DOMAIN]
    assert remaining == [other]


async def test_saved_address_no_longer_accepted(hass: HomeAssistant) -> None:
    """An address an older release saved with a path of its own asks for reconfiguring."""
    entry = await setup_entry(hass, entry_for("https://api.example.com/proxy"))
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert "path" in entry.reason
    assert "reconfigure" in entry.reason


async def test_saved_wifi_sn_no_longer_accepted_stops_only_its_inverter(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    cloud: SunvecCloud,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A wifiSn an older release saved that the client refuses: as a request the cloud refuses.

    The account sets up with its one client. The inverter's calls fail before they leave
    (nothing of the token's day is spent), a repair names it, it tries again each hour,
    and the account's other inverter goes on.
    """
    refused_sn = "SUT-OLD 1"
    started = dt_util.utcnow()
    account = await setup_entry(hass, account_for(sim_url, [refused_sn, HYBRID_WIFI_SN]))
    assert account.state is ConfigEntryState.LOADED
    runtime = account.runtime_data
    coordinators = {c.wifi_sn: c for c in runtime.coordinators.values()}
    # The account's one client serves each of its inverters.
    assert all(c.client is runtime.client for c in coordinators.values())
    await time_machine.run(2 * 3600 + 60)

    refused = coordinators[refused_sn]
    assert not refused.last_update_success
    failure = refused.last_exception
    assert isinstance(failure, UpdateFailed)
    assert failure.translation_key == "invalid_wifi_sn"
    assert isinstance(failure.__cause__, SunvecInvalidParameterError)
    assert isinstance(failure.__cause__.__cause__, SunvecInvalidInputError)
    assert failure.__cause__.__cause__.reason == "wifi_sn"
    # At setup, then each hour.
    assert refused.statistics.polls == refused.statistics.failures == 3
    issue = issue_registry.async_get_issue(DOMAIN, invalid_request_issue_id(refused.subentry_id))
    assert issue is not None
    assert issue.translation_key == "invalid_request"
    assert issue.translation_placeholders == {"name": f"Sunvec {refused_sn}", "wifi_sn": refused_sn}
    # Not one of its tries reached the cloud, nor took a call of the token's day.
    assert cloud.requests
    assert {record.wifi_sn for record in cloud.requests} == {HYBRID_WIFI_SN}
    assert runtime.budget.calls_since(started, dt_util.utcnow()) == len(cloud.requests)

    working = coordinators[HYBRID_WIFI_SN]
    assert working.last_update_success
    assert working.statistics.failures == 0
    state = hass.states.get("sensor.sunvec_sutdemohyb1_ac_power")
    assert state is not None
    assert state.state != STATE_UNAVAILABLE


async def test_entities_belong_to_their_inverter_and_removing_one_stops_only_it(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    """One account, two inverters: each inverter's device and entities are its subentry's.

    Removing an inverter removes its device and entities, its stored upload and its
    issues, and stops its polling; the other inverter goes on.
    """
    account = await setup_entry(hass, account_for(sim_url, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]))
    ids = {sub.unique_id: sub.subentry_id for sub in account.subentries.values()}
    entities = er.async_entries_for_config_entry(er.async_get(hass), account.entry_id)
    by_subentry: dict[str | None, set[str]] = {}
    for entity in entities:
        by_subentry.setdefault(entity.config_subentry_id, set()).add(entity.unique_id)
    assert by_subentry[None] == {f"{account.entry_id}_api_calls_today"}
    for wifi_sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN):
        assert by_subentry[ids[wifi_sn]]
        assert all(uid.startswith(f"{wifi_sn}_") for uid in by_subentry[ids[wifi_sn]])
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), account.entry_id)
    assert {identifier for d in devices for (_, identifier) in d.identifiers} == {
        account.entry_id,
        HYBRID_WIFI_SN,
        PV_ONLY_WIFI_SN,
    }
    removed = ids[PV_ONLY_WIFI_SN]
    await time_machine.run(600)
    await hass.config_entries.async_reload(account.entry_id)
    await hass.async_block_till_done()
    assert await inverter_store(hass, removed).async_load() is not None

    assert hass.config_entries.async_remove_subentry(account, removed)
    await hass.async_block_till_done()
    assert account.state is ConfigEntryState.LOADED
    assert list(account.runtime_data.coordinators) == [ids[HYBRID_WIFI_SN]]
    remaining = er.async_entries_for_config_entry(er.async_get(hass), account.entry_id)
    assert not [e for e in remaining if e.unique_id.startswith(f"{PV_ONLY_WIFI_SN}_")]
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), account.entry_id)
    assert all((DOMAIN, PV_ONLY_WIFI_SN) not in d.identifiers for d in devices)
    assert await inverter_store(hass, removed).async_load() is None
    requests = len(cloud.requests)
    await time_machine.run(900)
    asked = {record.wifi_sn for record in cloud.requests[requests:]}
    assert asked == {HYBRID_WIFI_SN}


def our_issues(issue_registry: ir.IssueRegistry) -> set[str]:
    """The ids of this integration's repair issues."""
    return {issue_id for domain, issue_id in issue_registry.issues if domain == DOMAIN}


@pytest.mark.parametrize("state", [ConfigEntryState.NOT_LOADED, ConfigEntryState.SETUP_RETRY])
async def test_an_inverter_removed_while_its_account_does_not_run_is_forgotten(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    cloud: SunvecCloud,
    issue_registry: ir.IssueRegistry,
    state: ConfigEntryState,
) -> None:
    """Disabled or waiting for a retry: the removed inverter's upload and issues go all the same."""
    account = account_for(sim_url, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN])
    ids = {sub.unique_id: sub.subentry_id for sub in account.subentries.values()}
    removed, kept = ids[PV_ONLY_WIFI_SN], ids[HYBRID_WIFI_SN]
    if state is ConfigEntryState.SETUP_RETRY:
        cloud.inject(Fault(FaultKind.HTTP_503))
    await setup_entry(hass, account)
    if state is ConfigEntryState.NOT_LOADED:
        await time_machine.run(600)
        await hass.config_entries.async_set_disabled_by(account.entry_id, ConfigEntryDisabler.USER)
        await hass.async_block_till_done()
    else:
        # What the inverters kept in an earlier run.
        for subentry_id in ids.values():
            await inverter_store(hass, subentry_id).async_save({"saved_at": None})
    assert account.state is state
    raise_issues(hass, (*inverter_issue_ids(removed), *inverter_issue_ids(kept)))
    assert await inverter_store(hass, removed).async_load() is not None

    assert hass.config_entries.async_remove_subentry(account, removed)
    await hass.async_block_till_done()

    assert await inverter_store(hass, removed).async_load() is None
    assert await inverter_store(hass, kept).async_load() is not None
    assert our_issues(issue_registry) == set(inverter_issue_ids(kept))


async def test_a_leftover_entry_of_an_inverter_is_removed_with_what_it_kept(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    issue_registry: ir.IssueRegistry,
    hass_storage: dict[str, Any],
) -> None:
    """An entry of version 1 the upgrade left (an inverter in two entries) is removed.

    Its kept upload and issues go; the running account of its token keeps its calls.
    """
    account = await setup_entry(hass, entry_for(sim_url))
    await time_machine.run(120)
    await account.runtime_data.calls.async_save()
    calls_key = account.runtime_data.calls.key
    assert calls_key in hass_storage
    leftovers = [
        MockConfigEntry(domain=DOMAIN, version=1, title="Sunvec copy", data=data)
        for data in (dict(account.data) | {CONF_WIFI_SN: HYBRID_WIFI_SN}, {})
    ]
    for leftover in leftovers:
        leftover.add_to_hass(hass)
        key = f"{DOMAIN}.{leftover.entry_id}"
        hass_storage[key] = {"version": 1, "minor_version": 1, "key": key, "data": {}}
        raise_issues(hass, inverter_issue_ids(leftover.entry_id))

    for leftover in leftovers:
        assert await hass.config_entries.async_remove(leftover.entry_id)
        await hass.async_block_till_done()
        assert f"{DOMAIN}.{leftover.entry_id}" not in hass_storage

    assert our_issues(issue_registry) == set()
    assert calls_key in hass_storage
    assert account.state is ConfigEntryState.LOADED


async def test_an_account_removed_while_its_reload_waits(
    hass: HomeAssistant, init_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    """The account goes before its reload starts: nothing to reload, nothing logged."""
    entry_id = init_integration.entry_id
    hass.config_entries.async_update_entry(init_integration, options={CONF_CALLS_KEPT_FREE: 2})
    assert await hass.config_entries.async_remove(entry_id)
    await hass.async_block_till_done()

    assert hass.config_entries.async_get_entry(entry_id) is None
    assert "Error" not in caplog.text


async def test_removing_an_inverter_leaves_the_others_energy_as_booked(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    """An inverter removed at noon: what Home Assistant books of the other's yield is the truth.

    The account reloads; the remaining inverter's counter is restored and goes on. Its
    states, replayed through the recorder's own rule, book the plant's AC energy between
    the first and last upload shown, to the counter's 0.1 kWh rounding: no false cycle,
    nothing counted twice or lost.
    """
    account = await setup_entry(hass, account_for(sim_url, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]))
    total_yield = "sensor.sunvec_sutdemohyb1_total_yield"
    shown: list[tuple[float | None, Upload | None]] = []
    plant = cloud.plants[HYBRID_WIFI_SN]

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        if (state := event.data["new_state"]) is None:
            return
        try:
            value: float | None = float(state.state)
        except ValueError:
            value = None
        shown.append((value, plant.latest_available(dt_util.utcnow())))

    async_track_state_change_event(hass, total_yield, record)
    await time_machine.run(2 * 3600)
    removed = next(
        s.subentry_id for s in account.subentries.values() if s.unique_id == PV_ONLY_WIFI_SN
    )
    assert hass.config_entries.async_remove_subentry(account, removed)
    await hass.async_block_till_done()
    await time_machine.run(2 * 3600)

    values = [value for value, _ in shown if value is not None]
    first = next(upload for value, upload in shown if value is not None)
    last = next(upload for value, upload in reversed(shown) if value is not None)
    assert first is not None
    assert last is not None
    assert (first.result["yieldtotal"], last.result["yieldtotal"]) == (values[0], values[-1])
    truth = last.truth.pv_ac - first.truth.pv_ac
    assert truth > 5
    assert booked(values) == pytest.approx(values[-1] - values[0])
    assert abs(booked(values) - truth) <= 0.1 + 1e-9
