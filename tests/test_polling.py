"""Tests for upload-aligned polling, bans and the night back-off (the budget: test_budget)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.const import CONF_SCAN_INTERVAL, DOMAIN
from custom_components.sunvec_connect.issues import ban_issue_id
from custom_components.sunvec_connect.polling import UploadSchedule
from simulator import Fault, FaultKind, ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import TimeMachine, entry_for, setup_entry

T0 = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)


def calls(cloud: SunvecCloud, wifi_sn: str = HYBRID_WIFI_SN) -> list[datetime]:
    return [record.time for record in cloud.requests if record.wifi_sn == wifi_sn]


def test_schedule_learns_cadence_and_delay() -> None:
    schedule = UploadSchedule()
    upload = T0
    wait = schedule.next_poll(T0 + timedelta(seconds=40), upload)
    assert wait == pytest.approx(300 + 60 + 3 - 40)
    # Uploads every 240 s, published 30 s later; polls come when the schedule says.
    now = T0 + timedelta(seconds=40)
    hits = misses = 0
    for _ in range(40):
        now += timedelta(seconds=wait)
        latest = T0 + timedelta(seconds=240 * (((now - T0).total_seconds() - 30) // 240))
        is_new = latest > (schedule.last_upload or T0 - timedelta(days=1))
        hits += is_new
        misses += not is_new
        wait = schedule.next_poll(now, latest)
    assert schedule.cadence == 240
    assert 25 <= schedule.publish_delay <= 40
    assert misses <= hits * 0.3


def test_schedule_backs_off_and_sleeps_at_night() -> None:
    schedule = UploadSchedule()
    schedule.next_poll(T0 + timedelta(seconds=30), T0)
    expected = T0 + timedelta(seconds=363)
    # Woken early: wait until the expected availability.
    assert schedule.next_poll(expected - timedelta(seconds=100), T0) == pytest.approx(100)
    waits = [schedule.next_poll(expected + timedelta(seconds=s), T0) for s in (0, 8, 24)]
    assert waits == [8, 16, 32]
    # Three cadences and the delay without a new upload: offline, poll every 15 min.
    assert schedule.next_poll(T0 + timedelta(seconds=961), T0) == 900
    assert schedule.is_offline(T0 + timedelta(seconds=961))
    assert schedule.next_poll(T0, None) == 60


async def test_one_call_per_upload(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    writes: list[Event[EventStateChangedData]] = []

    @callback
    def record(event: Event[EventStateChangedData]) -> None:
        writes.append(event)

    hass.bus.async_listen(EVENT_STATE_CHANGED, record)
    start = len(calls(cloud))
    await time_machine.run(2 * 3600, step=5)
    made = calls(cloud)[start:]
    uploads = {record.upload_index for record in cloud.requests[start:]}
    assert len(uploads) == 24
    assert len(made) <= 24 * 1.3
    # State writes happen only with a new upload: at most one per entity per upload.
    entities = len(hass.states.async_entity_ids(("sensor", "binary_sensor")))
    assert len(writes) <= entities * len(uploads)


async def test_unchanged_upload_writes_no_state(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
) -> None:
    writes: list[Event[EventStateChangedData]] = []
    hass.bus.async_listen(EVENT_STATE_CHANGED, writes.append)
    coordinator = init_integration.runtime_data
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert writes == []


async def test_ban_pauses_all_calls_and_raises_issue(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    issue_registry: ir.IssueRegistry,
) -> None:
    cloud.inject(Fault(FaultKind.BAN))
    await time_machine.run(400)
    banned_calls = len(calls(cloud))
    assert cloud.requests[-1].outcome == "banned"
    issue_id = ban_issue_id(init_integration.entry_id)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    await time_machine.run(3000)
    assert len(calls(cloud)) == banned_calls
    await time_machine.run(1200)
    assert len(calls(cloud)) > banned_calls
    assert cloud.requests[-1].outcome == "ok"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_rate_limit_backs_off(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    # Code 104 names no time: the pause doubles from 60 s.
    cloud.inject(Fault(FaultKind.RATE_LIMITED, count=None))
    await time_machine.run(1200, step=5)
    limited = [r.time for r in cloud.requests if r.outcome == "rate_limited"]
    gaps = [round((b - a).total_seconds()) for a, b in pairwise(limited)]
    assert gaps[:3] == [
        pytest.approx(60, abs=2),
        pytest.approx(120, abs=2),
        pytest.approx(240, abs=2),
    ]
    cloud.clear_faults()
    await time_machine.run(1200, step=5)
    assert cloud.requests[-1].outcome == "ok"
    assert init_integration.runtime_data.budget.backoff == 0
    # HTTP 429 names its time (Retry-After: 120).
    cloud.inject(Fault(FaultKind.HTTP_429, count=2))
    await time_machine.run(600, step=5)
    failing = [r.time for r in cloud.requests if r.outcome == "http_429"]
    assert [round((b - a).total_seconds()) for a, b in pairwise(failing)] == [
        pytest.approx(120, abs=2)
    ]


async def test_night_back_off(
    hass: HomeAssistant,
    sim_url: str,
    freezer: FrozenDateTimeFactory,
    cloud: SunvecCloud,
    sim_clock: ManualClock,
) -> None:
    # 20:00 UTC is 22:00 in Amsterdam: the PV-only inverter has gone to sleep.
    sim_clock.set(datetime(2026, 6, 21, 20, 0, tzinfo=UTC))
    machine = TimeMachine(hass, freezer, sim_clock)
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    await setup_entry(hass, entry_for(sim_url, PV_ONLY_WIFI_SN))
    start = len(calls(cloud, PV_ONLY_WIFI_SN))
    await machine.run(3 * 3600, step=60)
    night_calls = calls(cloud, PV_ONLY_WIFI_SN)[start:]
    assert len(night_calls) <= 3 * 4 + 1
    gaps = [(b - a).total_seconds() for a, b in pairwise(night_calls)]
    assert min(gaps) >= 890


async def test_fixed_interval_option(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    entry = entry_for(sim_url, options={CONF_SCAN_INTERVAL: 120})
    await setup_entry(hass, entry)
    start = len(calls(cloud))
    await time_machine.run(1200, step=10)
    assert len(calls(cloud)) - start == 10


async def test_entries_on_one_token_share_the_budget(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    hybrid = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    pv_only = await setup_entry(hass, entry_for(sim_url, PV_ONLY_WIFI_SN))
    assert hybrid.runtime_data.budget is pv_only.runtime_data.budget


def test_schedule_learns_cadence_across_missed_uploads() -> None:
    schedule = UploadSchedule()
    for upload in (0, 600, 900, 1500, 1800):  # uploads at 300 and 1200 were never seen
        schedule.next_poll(T0 + timedelta(seconds=upload + 30), T0 + timedelta(seconds=upload))
    assert schedule.cadence == 300
    slow = UploadSchedule()
    for upload in range(0, 6000, 600):  # an inverter that uploads every 10 minutes
        slow.next_poll(T0 + timedelta(seconds=upload + 30), T0 + timedelta(seconds=upload))
    assert slow.cadence == 600
