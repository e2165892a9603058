"""A restart of Home Assistant holds nothing up: entities come back at once, marked restored.

A restart is simulated as the benchmark does it: the entry is unloaded (it writes its
last upload to storage, its entities their restore data) and set up again with the
token budgets gone from memory (they come back from storage).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import timedelta
import json
import time
from typing import Any

from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_URL,
    STATE_OFF,
    STATE_UNAVAILABLE,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import restore_state
from homeassistant.helpers.restore_state import RestoredExtraData
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from benchmarks.harness import TOKEN as BENCH_TOKEN, bench_cloud
from custom_components.sunvec_connect.const import DOMAIN
from custom_components.sunvec_connect.entity import ATTR_RESTORED
from custom_components.sunvec_connect.plant_clock import PlantClock
from custom_components.sunvec_connect.store import STORE_VERSION, THIS_RUN
from simulator import Fault, FaultKind, ManualClock, SunvecCloud, create_app

from .conftest import (
    SIM_START,
    TOKEN,
    TimeMachine,
    account_for,
    coordinator_of,
    kept_calls,
    moved_ahead,
)

AC_POWER = "sensor.sunvec_sutdemohyb1_ac_power"
TOTAL_YIELD = "sensor.sunvec_sutdemohyb1_total_yield"
LAST_UPLOAD = "sensor.sunvec_sutdemohyb1_last_upload"
ONLINE = "binary_sensor.sunvec_sutdemohyb1_online"
STORE_KEY = f"{DOMAIN}.01HYBRIDENTRY000000000000"
REAL_CLOCKS = {"wall": time.perf_counter}
"""Kept in a dictionary: freezegun replaces module attributes that are clock functions."""


def state(hass: HomeAssistant, entity_id: str) -> State:
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return found


async def stop(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Home Assistant stops: the entry unloads; what it held in memory is lost."""
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    hass.data.pop(THIS_RUN, None)


async def use_up_the_minute(hass: HomeAssistant, url: str, token: str = TOKEN) -> None:
    """Forms' checks took every call of the token's minute (kept while the account is down)."""
    calls = await kept_calls(hass, url, token)
    now = dt_util.utcnow()
    while calls.budget.try_call_now(now):
        pass
    await calls.async_save()


async def test_restart_restores_entities_marked_until_the_first_call_at_the_slot(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    entry = init_integration
    await time_machine.run(600)
    before = {entity_id: state(hass, entity_id) for entity_id in (AC_POWER, TOTAL_YIELD)}
    assert ATTR_RESTORED not in before[AC_POWER].attributes
    last_upload = state(hass, LAST_UPLOAD).state
    await stop(hass, entry)
    kept = hass_storage[STORE_KEY]["data"]
    assert kept["upload"]["upload_time"] == last_upload
    assert TOKEN not in json.dumps(hass_storage)

    await use_up_the_minute(hass, entry.data[CONF_URL])
    calls, started = len(cloud.requests), dt_util.utcnow()
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    # Set up without the clock moving and without a call: the kept upload is shown.
    assert entry.state is ConfigEntryState.LOADED
    assert dt_util.utcnow() == started
    assert len(cloud.requests) == calls
    coordinator = coordinator_of(entry)
    assert coordinator.data.restored
    for entity_id, shown in before.items():
        restored = state(hass, entity_id)
        assert restored.state == shown.state
        assert restored.attributes[ATTR_RESTORED] is True
    # The first call goes at the slot the entry reserved, after the used-up minute.
    slot = coordinator.calls.reserved
    assert slot is not None
    assert slot - started > timedelta(seconds=55)
    while len(cloud.requests) == calls:
        await time_machine.advance(1)
    assert abs((cloud.requests[-1].time - slot).total_seconds()) <= 1
    assert cloud.requests[-1].outcome == "ok"
    assert not coordinator.data.restored
    assert ATTR_RESTORED not in state(hass, AC_POWER).attributes
    assert ATTR_RESTORED not in state(hass, TOTAL_YIELD).attributes


async def test_reload_does_not_mark_data_of_this_run_restored(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """A reload (an option changed, an entity enabled) is not a restart.

    The upload the entry kept at its unload was fetched in this run of Home Assistant:
    its entities come back without `restored: true`. Before issue 17 every reload marked
    them restored until the next call.
    """
    entry = init_integration
    await time_machine.run(600)
    calls = len(cloud.requests)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert len(cloud.requests) == calls
    assert not coordinator_of(entry).data.restored
    assert state(hass, AC_POWER).state != STATE_UNAVAILABLE
    assert ATTR_RESTORED not in state(hass, AC_POWER).attributes
    assert ATTR_RESTORED not in state(hass, TOTAL_YIELD).attributes
    # A restart after that marks them again.
    await stop(hass, entry)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert coordinator_of(entry).data.restored
    assert state(hass, AC_POWER).attributes[ATTR_RESTORED] is True


async def test_kept_upload_older_than_the_stale_limit_shows_powers_unavailable(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
) -> None:
    entry = init_integration
    total = state(hass, TOTAL_YIELD).state
    await stop(hass, entry)
    # Home Assistant was down for an hour.
    await time_machine.advance(3600)
    await use_up_the_minute(hass, entry.data[CONF_URL])
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert coordinator_of(entry).data.restored
    assert state(hass, AC_POWER).state == STATE_UNAVAILABLE
    assert state(hass, ONLINE).state == STATE_OFF
    # The counters keep their restored value and history, marked restored.
    assert state(hass, TOTAL_YIELD).state == total
    assert state(hass, TOTAL_YIELD).attributes[ATTR_RESTORED] is True
    await time_machine.run(120, step=5)
    assert state(hass, AC_POWER).state != STATE_UNAVAILABLE
    assert state(hass, ONLINE).state != STATE_OFF


async def test_entry_without_a_kept_upload_starts_without_data_and_adds_entities_later(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    config_entry: MockConfigEntry,
    cloud: SunvecCloud,
) -> None:
    await use_up_the_minute(hass, config_entry.data[CONF_URL])
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert coordinator_of(config_entry).data is None
    assert hass.states.get(AC_POWER) is None
    assert cloud.requests == []
    await time_machine.run(70, step=5)
    assert [record.outcome for record in cloud.requests] == ["ok"]
    assert state(hass, AC_POWER).state != STATE_UNAVAILABLE
    assert ATTR_RESTORED not in state(hass, AC_POWER).attributes


async def test_refused_token_after_a_restart_asks_for_a_new_one(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """The setup no longer makes the first call: its refusal starts the reauth flow."""
    entry = init_integration
    await stop(hass, entry)
    cloud.inject(Fault(FaultKind.REVOKE_TOKEN))
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    await time_machine.run(30, step=5)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    assert state(hass, AC_POWER).state == STATE_UNAVAILABLE


async def test_removing_the_entry_removes_what_it_kept(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
) -> None:
    await stop(hass, init_integration)
    assert STORE_KEY in hass_storage
    assert await hass.config_entries.async_remove(init_integration.entry_id)
    await hass.async_block_till_done()
    assert STORE_KEY not in hass_storage


# Thirty entries on one token ---------------------------------------------------

INVERTERS = 30


@pytest.fixture
async def thirty_inverters(
    socket_enabled: None, sim_clock: ManualClock
) -> AsyncGenerator[tuple[SunvecCloud, str]]:
    """A cloud where the benchmark's token owns 30 PV-only inverters, served over loopback."""
    cloud = bench_cloud(sim_clock, INVERTERS, delay_period=None)
    server = TestServer(create_app(cloud), host="127.0.0.1")
    await server.start_server(access_log=None)
    try:
        yield cloud, str(server.make_url("/")).rstrip("/")
    finally:
        await server.close()


async def test_thirty_entries_set_up_at_once_with_the_minute_used_up(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim_clock: ManualClock,
    thirty_inverters: tuple[SunvecCloud, str],
) -> None:
    """Every setup returns at once; the calls follow at the token's pace, none refused."""
    cloud, url = thirty_inverters
    machine = TimeMachine(hass, freezer, sim_clock)
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    account = account_for(url, list(cloud.plants), token=BENCH_TOKEN)
    account.add_to_hass(hass)
    await use_up_the_minute(hass, url, BENCH_TOKEN)
    started, wall = dt_util.utcnow(), REAL_CLOCKS["wall"]()
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()
    elapsed = REAL_CLOCKS["wall"]() - wall
    assert account.state is ConfigEntryState.LOADED
    coordinators = list(account.runtime_data.coordinators.values())
    assert len(coordinators) == INVERTERS
    assert dt_util.utcnow() == started == SIM_START
    assert cloud.requests == []
    # Real time, generous for a loaded machine: the point is that nothing waited.
    assert elapsed < 10
    # 30 slots at 9 a minute after the used-up minute: within five minutes all have data.
    await machine.run(300, step=2)
    assert all(coordinator.data is not None for coordinator in coordinators)
    assert {record.outcome for record in cloud.requests} == {"ok"}
    calls = sorted(record.time for record in cloud.requests)
    assert all(
        (later - earlier).total_seconds() >= 60
        for earlier, later in zip(calls, calls[9:], strict=False)
    )
    registry_ids = hass.states.async_entity_ids("sensor")
    assert sum(entity_id.endswith("_last_upload") for entity_id in registry_ids) == INVERTERS


@pytest.mark.parametrize(
    "kept",
    [
        {"upload": None},
        {"upload": {"raw": "not a mapping"}, "schedule": [], "online": None},
        {"upload": {"raw": {"acpower": 1}, "upload_time": "2026-06-21 12:00"}},
        {"upload": {"raw": {"acpower": 1}, "upload_time": "2026-06-22T10:00:00+00:00"}},
        {"saved_at": "yesterday", "schedule": {"cadence": "300"}, "online": {"uploads": [1]}},
    ],
    ids=["no_upload", "not_mappings", "naive_time", "future_time", "junk"],
)
@pytest.mark.parametrize("version", [1, STORE_VERSION])
async def test_kept_data_that_does_not_fit_is_ignored(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    time_machine: TimeMachine,
    config_entry: MockConfigEntry,
    cloud: SunvecCloud,
    kept: dict[str, Any],
    version: int,
) -> None:
    """Storage written by hand or by another release: the entry starts as if new."""
    hass_storage[STORE_KEY] = {
        "version": version,
        "minor_version": 1,
        "key": STORE_KEY,
        "data": kept,
    }
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    # Nothing to restore: the first call was made in the setup, as on a first start.
    assert [record.outcome for record in cloud.requests] == ["ok"]
    assert not coordinator_of(config_entry).data.restored
    assert coordinator_of(config_entry).plan.schedule.cadence == 300


async def test_kept_upload_whose_successor_is_due_waits_for_it(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """One call confirms the kept upload and fetches the next, instead of two calls."""
    entry = init_integration
    schedule = coordinator_of(entry).plan.schedule
    upcoming = schedule.next_upload_available()
    assert upcoming is not None
    # Stop a minute before the next upload is expected.
    await time_machine.advance((upcoming - dt_util.utcnow()).total_seconds() - 60)
    calls = len(cloud.requests)
    await stop(hass, entry)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert coordinator_of(entry).data.restored
    await time_machine.run(55, step=5)
    assert len(cloud.requests) == calls
    await time_machine.run(30, step=5)
    assert len(cloud.requests) == calls + 1
    assert not coordinator_of(entry).data.restored


async def test_what_was_kept_while_the_clock_ran_a_day_ahead_holds_nothing_back(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """Every time the inverter and its counters kept lies a day ahead (the clock ran ahead).

    Its uploads are polled and shown, and its energy counters follow them.
    """
    entry = init_integration
    await time_machine.run(600)
    total_yield = float(state(hass, TOTAL_YIELD).state)
    await stop(hass, entry)
    kept = hass_storage[STORE_KEY]["data"]
    hass_storage[STORE_KEY]["data"] = moved_ahead(kept, timedelta(days=1))
    # The counters' histories, kept with the entities' last states, too.
    last_states = restore_state.async_get(hass).last_states
    for stored in last_states.values():
        if stored.extra_data is not None:
            stored.extra_data = RestoredExtraData(
                moved_ahead(stored.extra_data.as_dict(), timedelta(days=1))
            )
    assert (
        hass_storage[STORE_KEY]["data"]["schedule"]["last_upload"] > kept["schedule"]["last_upload"]
    )
    calls = len(cloud.requests)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    await time_machine.run(1800, step=5)
    # Polled at each of the half hour's six uploads (the code before: one call, then
    # none until a day later), each placed at its upload time and shown.
    assert len(cloud.requests) - calls >= 7
    coordinator = coordinator_of(entry)
    assert coordinator.statistics.rejected_uploads == 0
    # No reading held back (the code before: every reading of the half hour).
    assert not coordinator.statistics.rejected_readings
    shown = dt_util.parse_datetime(state(hass, LAST_UPLOAD).state)
    assert shown is not None
    assert timedelta(0) < dt_util.utcnow() - shown < timedelta(minutes=7)
    # The energy counters follow the uploads (the code before: still for a day).
    assert float(state(hass, TOTAL_YIELD).state) > total_yield
    assert float(state(hass, TOTAL_YIELD).state) == coordinator.data.realtime.yield_total


# What earlier releases kept -----------------------------------------------------

FIRST_SCHEDULE = ("cadence", "publish_delay", "gaps", "last_upload")
SHAPES = {
    # 57c5e99: the first release with a store.
    "first": (("saved_at", "upload", "schedule", "online"), FIRST_SCHEDULE),
    # a6626de: whether a miss bounded the delay estimate.
    "bounded_delay": (
        ("saved_at", "upload", "schedule", "online"),
        (*FIRST_SCHEDULE, "delay_bounded"),
    ),
    # c97c491: the run that saved it.
    "run": (
        ("saved_at", "run", "upload", "schedule", "online"),
        (*FIRST_SCHEDULE, "delay_bounded"),
    ),
    # fa34d29 up to the release before accounts (93d5d06) and 0.2.0 before 751ac47.
    "plant_clock": (
        ("saved_at", "run", "upload", "schedule", "online", "clock"),
        (*FIRST_SCHEDULE, "delay_bounded"),
    ),
}


def as_written_by(kept: dict[str, Any], shape: str) -> dict[str, Any]:
    """What the current code kept, in the shape a release of version 1 wrote."""
    keys, schedule_keys = SHAPES[shape]
    written = {key: kept[key] for key in keys}
    written["schedule"] = {key: kept["schedule"][key] for key in schedule_keys}
    return written


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_what_a_release_of_version_1_kept_is_migrated(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    shape: str,
) -> None:
    """Storage of each shape version 1 had restores as that release restored it."""
    entry = init_integration
    await time_machine.run(600)
    shown = {entity_id: state(hass, entity_id).state for entity_id in (AC_POWER, TOTAL_YIELD)}
    await stop(hass, entry)
    kept = hass_storage[STORE_KEY]["data"]
    old = as_written_by(kept, shape)
    hass_storage[STORE_KEY] = {"version": 1, "minor_version": 1, "key": STORE_KEY, "data": old}

    await use_up_the_minute(hass, entry.data[CONF_URL])
    calls = len(cloud.requests)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    coordinator = coordinator_of(entry)
    upload_time = dt_util.parse_datetime(old["upload"]["upload_time"])
    assert len(cloud.requests) == calls
    assert coordinator.data.restored
    assert coordinator.data.upload_time == upload_time
    for entity_id, value in shown.items():
        assert state(hass, entity_id).state == value
        assert state(hass, entity_id).attributes[ATTR_RESTORED] is True
    schedule = coordinator.plan.schedule
    assert (schedule.cadence, schedule.publish_delay) == (
        old["schedule"]["cadence"],
        old["schedule"]["publish_delay"],
    )
    # Kept before the schedule said: it had been learning for a while.
    assert schedule.delay_bounded is old["schedule"].get("delay_bounded", True)
    assert (schedule.trend, schedule.run_length) == (0.0, 10.0)
    if "clock" in old:
        assert coordinator.clock == PlantClock.restore(old["clock"], dt_util.utcnow())
    else:
        # Kept before the plant clock: the upload as it was placed.
        text = coordinator.data.realtime.upload_time_text
        assert coordinator.clock == PlantClock(last_text=text, last_time=upload_time)
    # Written back at once in version 2.
    migrated = hass_storage[STORE_KEY]
    assert migrated["version"] == STORE_VERSION
    assert migrated["data"]["clock"] == coordinator.clock.as_dict()
    assert migrated["data"]["schedule"]["delay_bounded"] is schedule.delay_bounded
