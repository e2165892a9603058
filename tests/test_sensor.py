"""Tests for the entities: snapshots, energy correctness, freshness and dynamic entities."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AbstractContextManager
from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise
import json
import logging
from typing import Any
from unittest.mock import patch

from homeassistant.const import (
    EVENT_STATE_CHANGED,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
    Platform,
)
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, State, callback
from homeassistant.helpers import (
    entity_registry as er,
    issue_registry as ir,
    restore_state as rs,
)
from homeassistant.helpers.json import JSONEncoder
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_mock_load_restore_state_from_storage,
    mock_restore_cache_with_extra_data,
    snapshot_platform,
)
from syrupy.assertion import SnapshotAssertion

from custom_components.sunvec_connect.api import RealtimeData
from custom_components.sunvec_connect.const import DOMAIN
from custom_components.sunvec_connect.coordinator import SunvecCoordinator
from custom_components.sunvec_connect.issues import offline_issue_id
from custom_components.sunvec_connect.poll_stats import PollStatistics
from simulator import Fault, FaultKind, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import TimeMachine, coordinator_of, entry_for, setup_entry


def entity_id(hass: HomeAssistant, key: str, wifi_sn: str = HYBRID_WIFI_SN) -> str:
    """The entity id of the entity with unique id {wifi_sn}_{key}."""
    registry = er.async_get(hass)
    for platform in ("sensor", "binary_sensor"):
        if found := registry.async_get_entity_id(platform, DOMAIN, f"{wifi_sn}_{key}"):
            return found
    return f"sensor.missing_{key}"


def state_of(hass: HomeAssistant, key: str) -> str:
    state = hass.states.get(entity_id(hass, key))
    assert state is not None, key
    return state.state


def value(hass: HomeAssistant, key: str) -> float:
    return float(state_of(hass, key))


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
@pytest.mark.parametrize("platforms", [[Platform.SENSOR], [Platform.BINARY_SENSOR]])
async def test_hybrid_entities(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, init_integration.entry_id)


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_pv_only_entities(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    with patch("custom_components.sunvec_connect.PLATFORMS", [Platform.SENSOR]):
        entry = await setup_entry(
            hass, entry_for(sim_url, PV_ONLY_WIFI_SN, entry_id="01PVONLYENTRY0000000000000")
        )
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)
    keys = {
        entity.unique_id.removeprefix(f"{PV_ONLY_WIFI_SN}_")
        for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
    }
    assert not keys & {"battery_soc", "battery_power", "battery_status", "eps_power_a"}
    assert not keys & {"battery_charge_energy", "meter2_power", "pv3_power", "pv4_power"}
    assert not keys & {"battery_charge_power", "battery_discharge_power"}
    assert {"pv1_power", "pv2_power", "yield_total", "inverter_status"} <= keys
    assert {"grid_import_power", "grid_export_power", "house_load_power", "house_energy"} <= keys


async def test_device(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    from homeassistant.helpers import device_registry as dr

    device = next(
        device
        for device in dr.async_entries_for_config_entry(
            dr.async_get(hass), init_integration.entry_id
        )
        if (DOMAIN, HYBRID_WIFI_SN) in device.identifiers
    )
    assert device.manufacturer == "Sunvec"
    assert device.model == "Inverter type 14"
    assert device.serial_number == "H34A08I6008"


async def test_entities_appear_when_fields_carry_data(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    config_entry: MockConfigEntry,
) -> None:
    cloud.inject(Fault(FaultKind.NULL_FIELDS))
    await setup_entry(hass, config_entry)
    assert hass.states.get(entity_id(hass, "battery_soc")) is None
    assert hass.states.get(entity_id(hass, "online")) is not None
    # An answer without an upload time is no new upload: the next poll, a cadence later.
    await time_machine.advance(300)
    assert value(hass, "battery_soc") > 0
    assert hass.states.get(entity_id(hass, "battery_charge_energy")) is not None


async def test_glitch_readings_are_rejected(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    totals = ("yield_total", "grid_export_energy", "grid_import_energy")
    history: dict[str, list[float]] = {key: [value(hass, key)] for key in totals}
    cloud.inject(Fault(FaultKind.ZERO_COUNTERS))
    for _ in range(15):
        await time_machine.advance(60)
        for key in totals:
            history[key].append(value(hass, key))
    cloud.inject(Fault(FaultKind.NULL_FIELDS))
    await time_machine.advance(60)
    for key in totals:
        history[key].append(value(hass, key))
        assert history[key] == sorted(history[key]), key
        assert min(history[key]) > 0
    rejected = coordinator_of(init_integration).statistics.rejected_readings
    assert rejected["yield_total"] >= 1
    assert history["yield_total"][-1] > history["yield_total"][0]


TOTAL_YIELD = "sensor.sunvec_sutdemohyb1_total_yield"
YIELD_TODAY = "sensor.sunvec_sutdemohyb1_yield_today"
PV_ENERGY = "sensor.sunvec_sutdemohyb1_pv_energy"
HYBRID_ENTRY_ID = "01HYBRIDENTRY000000000000"


def frozen_counters(entry_id: str, saved: datetime) -> list[tuple[State, dict[str, Any]]]:
    """Restore data of counters frozen far from the cloud's values, as of `saved`."""
    return [
        (
            State(TOTAL_YIELD, "99999.0", last_updated=saved),
            {"value": 99999.0, "time": saved.isoformat(), "held": None, "entry_id": entry_id},
        ),
        (
            State(PV_ENERGY, "12.5", last_updated=saved),
            {"total": 12.5, "last_time": None, "last_power": None, "entry_id": entry_id},
        ),
        (
            State(YIELD_TODAY, "80", last_updated=saved),
            {"value": 80.0, "day": "2026-06-21", "entry_id": entry_id},
        ),
    ]


def counters_of_the_first_release(saved: datetime) -> list[tuple[State, dict[str, Any]]]:
    """The same counters as the first release kept them (75540c0): no owner, no times."""
    return [
        (State(TOTAL_YIELD, "99999.0", last_updated=saved), {"value": 99999.0}),
        (
            State(PV_ENERGY, "12.5", last_updated=saved),
            {"total": 12.5, "last_time": None, "last_power": None},
        ),
        (State(YIELD_TODAY, "80.0", last_updated=saved), {"value": 80.0, "day": "2026-06-21"}),
    ]


async def restore_from_storage(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    records: list[tuple[State, dict[str, Any]]],
) -> None:
    """Home Assistant reads `records` from its file of restore states, as when it starts."""
    hass_storage[rs.STORAGE_KEY] = {
        "version": rs.STORAGE_VERSION,
        "key": rs.STORAGE_KEY,
        "data": [
            {
                "state": json.loads(json.dumps(state.as_dict(), cls=JSONEncoder)),
                "extra_data": extra_data,
                "last_seen": state.last_updated.isoformat(),
            }
            for state, extra_data in records
        ],
    }
    await async_mock_load_restore_state_from_storage(hass)


def restore_data(hass: HomeAssistant, entity_id: str) -> dict[str, Any]:
    """What the entity would write to the file of restore states now."""
    stored = next(
        stored
        for stored in rs.async_get(hass).async_get_stored_states()
        if stored.state.entity_id == entity_id
    )
    assert stored.extra_data is not None
    return json.loads(json.dumps(stored.extra_data.as_dict(), cls=JSONEncoder))


async def test_counters_survive_restart_and_heal(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """History comes back after a restart; a frozen counter heals within the bound."""
    entry = entry_for(sim_url, entry_id=HYBRID_ENTRY_ID)
    mock_restore_cache_with_extra_data(hass, frozen_counters(entry.entry_id, dt_util.utcnow()))
    await setup_entry(hass, entry)
    # The cloud reads lower than what was accepted before the restart: held back.
    assert value(hass, "yield_total") == 99999.0
    assert value(hass, "yield_today") == 80.0
    assert value(hass, "pv_energy") == 12.5
    statistics = coordinator_of(entry).statistics
    assert statistics.meter_resets == {}
    # Uploads that agree with each other for an hour: a new meter cycle.
    await time_machine.run(15 * 60)
    assert value(hass, "yield_total") == 99999.0
    await time_machine.run(55 * 60)
    assert value(hass, "yield_total") == coordinator_of(entry).data.realtime.yield_total
    assert value(hass, "yield_today") == coordinator_of(entry).data.realtime.yield_today
    assert value(hass, "pv_energy") > 12.5
    assert statistics.meter_resets == {"yield_total": 1, "yield_today": 1}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum(TOTAL_YIELD in message for message in warnings) == 1
    assert sum(YIELD_TODAY in message for message in warnings) == 1
    assert any("fell from 99999.0 to" in message for message in warnings)
    await time_machine.run(30 * 60)
    assert statistics.meter_resets == {"yield_total": 1, "yield_today": 1}


async def test_history_of_the_first_release_is_migrated(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    time_machine: TimeMachine,
    sim_url: str,
) -> None:
    """History written without its owner nor its times, after the account was created.

    Shown as that release showed it; the time its state was written bounds the next
    rise, and the entities keep it in the current version.
    """
    entry = entry_for(sim_url, entry_id=HYBRID_ENTRY_ID)
    saved = entry.created_at
    await restore_from_storage(hass, hass_storage, counters_of_the_first_release(saved))
    await setup_entry(hass, entry)
    assert value(hass, "yield_total") == 99999.0
    assert value(hass, "yield_today") == 80.0
    assert value(hass, "pv_energy") == 12.5
    # The cloud's readings, of uploads before the state was written, tell nothing new.
    assert coordinator_of(entry).statistics.rejected_readings.keys() >= {
        "yield_total",
        "yield_today",
    }
    # Kept again in the current version.
    migrated = {"version": 2, "entry_id": HYBRID_ENTRY_ID}
    total_yield = restore_data(hass, TOTAL_YIELD)
    assert total_yield.items() >= {"value": 99999.0, "time": saved.isoformat(), **migrated}.items()
    yield_today = restore_data(hass, YIELD_TODAY)
    assert (
        yield_today.items()
        >= {
            "value": 80.0,
            "time": saved.isoformat(),
            "day": "2026-06-21",
            **migrated,
        }.items()
    )
    pv_energy = restore_data(hass, PV_ENERGY)
    assert pv_energy.items() >= {"total": 12.5, "counted": 12.5, **migrated}.items()


@pytest.mark.parametrize(
    ("owner", "saved_before_entry"),
    [
        pytest.param("01REMOVEDENTRY00000000000", timedelta(0), id="another_entry"),
        pytest.param(None, timedelta(days=3), id="first_release_before_the_entry"),
    ],
)
async def test_history_of_a_removed_entry_is_ignored(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    time_machine: TimeMachine,
    sim_url: str,
    owner: str | None,
    saved_before_entry: timedelta,
) -> None:
    """The same inverter added again: the new entry trusts the cloud's first reading."""
    entry = entry_for(sim_url, entry_id=HYBRID_ENTRY_ID)
    saved = entry.created_at - saved_before_entry
    records = (
        counters_of_the_first_release(saved) if owner is None else frozen_counters(owner, saved)
    )
    await restore_from_storage(hass, hass_storage, records)
    await setup_entry(hass, entry)
    realtime = coordinator_of(entry).data.realtime
    assert value(hass, "yield_total") == realtime.yield_total
    assert value(hass, "yield_today") == realtime.yield_today
    assert value(hass, "pv_energy") == 0.0
    await time_machine.run(15 * 60)
    assert coordinator_of(entry).statistics.meter_resets == {}
    assert coordinator_of(entry).statistics.rejected_readings == {}


async def test_entry_removed_and_added_again(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str
) -> None:
    """Removing an entry keeps its entities' last history; a new entry must not use it."""
    first = entry_for(sim_url, entry_id="01FIRSTENTRY0000000000000")
    mock_restore_cache_with_extra_data(hass, frozen_counters(first.entry_id, dt_util.utcnow()))
    await setup_entry(hass, first)
    assert value(hass, "yield_total") == 99999.0
    assert await hass.config_entries.async_remove(first.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(TOTAL_YIELD) is None

    await time_machine.advance(60)
    second = await setup_entry(hass, entry_for(sim_url, entry_id="01SECONDENTRY000000000000"))
    assert entity_id(hass, "yield_total") == TOTAL_YIELD
    assert value(hass, "yield_total") == coordinator_of(second).data.realtime.yield_total
    assert value(hass, "yield_today") == coordinator_of(second).data.realtime.yield_today
    assert value(hass, "pv_energy") == 0.0


def with_counters(
    coordinator: SunvecCoordinator, change: Callable[[RealtimeData], RealtimeData]
) -> AbstractContextManager[object]:
    """Patch the client so that every upload of the coordinator's inverter passes through `change`.

    The account's other inverters answer as they are.
    """
    original = coordinator.client.async_get_realtime_data

    async def changed(wifi_sn: str) -> RealtimeData:
        data = await original(wifi_sn)
        return change(data) if wifi_sn == coordinator.wifi_sn else data

    return patch.object(coordinator.client, "async_get_realtime_data", changed)


async def test_inverter_replaced(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A new inverter behind the same Wi-Fi module: its lifetime counter starts again."""
    coordinator = coordinator_of(init_integration)
    old_total = value(hass, "yield_total")
    offset = old_total - 0.3
    shown: list[float] = []
    with with_counters(
        coordinator,
        lambda data: replace(data, yield_total=round((data.yield_total or 0) - offset, 1)),
    ):
        for _ in range(80):
            await time_machine.advance(60)
            shown.append(value(hass, "yield_total"))
    new_total = coordinator.data.realtime.yield_total
    assert new_total is not None
    assert new_total < 20
    # Held back for the bound (3 uploads over an hour), then the new meter is shown.
    assert shown[:60] == [old_total] * 60
    assert shown[-1] == new_total
    drops = [(a, b) for a, b in pairwise(shown) if b < a]
    assert len(drops) == 1
    assert coordinator.statistics.meter_resets == {"yield_total": 1}
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and TOTAL_YIELD in r.getMessage()
    ]
    assert len(warnings) == 1
    assert "Total yield" in warnings[0]
    assert "taken as a new meter" in warnings[0]


async def test_spike_is_held_and_dropped(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
) -> None:
    """One upload reading 99999 kWh never reaches the entity; the next ones drop it."""
    coordinator = coordinator_of(init_integration)
    readings: list[float] = []
    first_upload = coordinator.data.realtime.upload_time
    spiked: list[datetime | None] = []

    def spike_once(data: RealtimeData) -> RealtimeData:
        """The first new upload reads 99999 kWh, however often it is polled."""
        if not spiked and data.upload_time != first_upload:
            spiked.append(data.upload_time)
        return replace(data, yield_total=99999.0) if data.upload_time in spiked else data

    with with_counters(coordinator, spike_once):
        for _ in range(20):
            await time_machine.advance(60)
            readings.append(value(hass, "yield_total"))
    assert spiked
    assert max(readings) < 5000
    assert readings == sorted(readings)
    assert readings[-1] == coordinator.data.realtime.yield_total
    assert coordinator.statistics.rejected_readings == {"yield_total": 1}
    assert coordinator.statistics.meter_resets == {}


async def test_yield_today_falls_only_on_a_new_day(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
) -> None:
    readings = [value(hass, "yield_today")]
    # 12:00 local to 00:30 the next day, one poll per minute.
    for _ in range(12 * 6 + 3):
        await time_machine.run(600)
        readings.append(value(hass, "yield_today"))
    drops = [(a, b) for a, b in pairwise(readings) if b < a]
    assert len(drops) == 1
    assert drops[0][1] < 0.5
    assert readings[-1] < 0.5


async def test_stale_upload_and_repair_issue(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    issue_registry: ir.IssueRegistry,
) -> None:
    yield_total = value(hass, "yield_total")
    assert state_of(hass, "online") == STATE_ON
    cloud.inject(Fault(FaultKind.STOP_UPLOADING))
    await time_machine.run(20 * 60)
    assert state_of(hass, "ac_power") == STATE_UNAVAILABLE
    assert state_of(hass, "battery_soc") == STATE_UNAVAILABLE
    assert state_of(hass, "inverter_status") == STATE_UNAVAILABLE
    assert state_of(hass, "online") == STATE_OFF
    assert value(hass, "yield_total") == yield_total
    issue_id = offline_issue_id(init_integration.entry_id)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    await time_machine.run(timedelta(hours=24).total_seconds(), step=900)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "inverter_offline"

    cloud.clear_faults()
    # Offline, the integration polls every 15 minutes.
    await time_machine.run(1200)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert state_of(hass, "online") == STATE_ON
    assert state_of(hass, "ac_power") != STATE_UNAVAILABLE


async def test_cloud_failure_and_recovery(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cloud.inject(Fault(FaultKind.HTTP_503, count=3))
    while cloud.requests[-1].outcome != "http_503":
        await time_machine.advance(10)
    assert state_of(hass, "ac_power") == STATE_UNAVAILABLE
    # A failed call is retried 1, 2, then 4 minutes later; the fourth call succeeds.
    await time_machine.run(7 * 60 + 30, step=10)
    assert [r.outcome for r in cloud.requests[-4:]] == ["http_503"] * 3 + ["ok"]
    assert state_of(hass, "ac_power") != STATE_UNAVAILABLE
    assert caplog.text.count("Error fetching") == 1
    assert caplog.text.count("recovered") == 1


async def test_token_revoked_starts_reauth_once(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    cloud.inject(Fault(FaultKind.REVOKE_TOKEN))
    await time_machine.run(300)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]


def test_unknown_status_codes_are_noted_once_and_at_most_ten(
    caplog: pytest.LogCaptureFixture,
) -> None:
    statistics = PollStatistics()
    for code in ["-1", "-1", "102", None, *(f"9{index:02d}" for index in range(20))]:
        statistics.note_status(code, "Roof")
    assert statistics.unknown_status_codes == ["-1", *(f"9{index:02d}" for index in range(9))]
    assert caplog.text.count("Inverter Roof reported the unknown status code") == 10


async def test_unknown_status_and_problem(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    coordinator = coordinator_of(init_integration)
    assert state_of(hass, "problem") == STATE_OFF
    original = coordinator.client.async_get_realtime_data

    def with_status(
        status: str, battery: str = "0"
    ) -> Callable[[str], Coroutine[Any, Any, RealtimeData]]:
        async def answer(wifi_sn: str) -> RealtimeData:
            data = await original(wifi_sn)
            return replace(data, inverter_status=status, battery_status=battery)

        return answer

    async def refresh() -> None:
        await time_machine.advance(10)
        await coordinator.async_refresh()
        await hass.async_block_till_done()

    with patch.object(coordinator.client, "async_get_realtime_data", with_status("-1")):
        await refresh()
        await refresh()
    assert state_of(hass, "inverter_status") == STATE_UNKNOWN
    assert caplog.text.count("unknown status code -1") == 1
    # Diagnostics name the codes seen that the integration does not know.
    assert coordinator.statistics.unknown_status_codes == ["-1"]
    with patch.object(coordinator.client, "async_get_realtime_data", with_status("103")):
        await refresh()
    assert state_of(hass, "inverter_status") == "recoverable_fault"
    assert state_of(hass, "problem") == STATE_ON
    with patch.object(coordinator.client, "async_get_realtime_data", with_status("102", "1")):
        await refresh()
    assert state_of(hass, "battery_status") == "fault"
    assert state_of(hass, "problem") == STATE_ON


async def test_future_upload_is_ignored(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    before = state_of(hass, "last_upload")
    cloud.inject(Fault(FaultKind.FUTURE_UPLOAD_TIME))
    await time_machine.run(400)
    assert state_of(hass, "last_upload") == before
    assert coordinator_of(init_integration).statistics.rejected_uploads == 1


async def test_energy_integrals_follow_the_simulator(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    plant = cloud.plants["SUTDEMOHYB1"]
    pv_start, charge_start = plant.pv_energy, plant.battery_charge_energy
    await time_machine.run(4 * 3600, step=60)
    pv_true = plant.pv_energy - pv_start
    assert value(hass, "pv_energy") == pytest.approx(pv_true, rel=0.05)
    charge_true = plant.battery_charge_energy - charge_start
    assert value(hass, "battery_charge_energy") == pytest.approx(charge_true, rel=0.1, abs=0.2)
    state = hass.states.get(entity_id(hass, "pv_energy"))
    assert state is not None
    assert json.dumps(state.attributes)


async def test_new_day_after_a_missed_midnight_is_booked_from_zero(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str
) -> None:
    """Home Assistant was down across the plant's midnight: yield today shows 0 first.

    Yesterday's count was 14.0; the first upload seen today reads more (a rise to Home
    Assistant's statistics, which would book only the difference). The entity writes 0
    and then today's count, so the day is booked from 0 (the oracle in
    tests/test_booked_energy.py checks the rule; this is the entity doing it).
    """
    entry = entry_for(sim_url, entry_id=HYBRID_ENTRY_ID)
    yesterday = dt_util.utcnow() - timedelta(hours=14)
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(YIELD_TODAY, "14.0", last_updated=yesterday),
                {
                    "value": 14.0,
                    "time": yesterday.isoformat(),
                    "held": None,
                    "day": (yesterday.date()).isoformat(),
                    "entry_id": entry.entry_id,
                },
            )
        ],
    )
    written: list[str] = []

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] == YIELD_TODAY and (state := event.data["new_state"]):
            written.append(state.state)

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    await setup_entry(hass, entry)
    await time_machine.advance(1)
    today = coordinator_of(entry).data.realtime.yield_today
    assert today is not None
    assert today >= 0.9 * 14.0
    assert [float(value) for value in written[:2]] == [0.0, today]
