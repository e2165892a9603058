"""Tests for upload-aligned polling, bans and the night back-off (the budget: test_budget)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
import json

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.const import CONF_SCAN_INTERVAL, DOMAIN
from custom_components.sunvec_connect.issues import ban_issue_id
from custom_components.sunvec_connect.pacing import Pace, UploadSkipper
from custom_components.sunvec_connect.polling import OnlineHistory, UploadSchedule
from custom_components.sunvec_connect.store import migrate_from_v1
from simulator import Fault, FaultKind, ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import (
    TimeMachine,
    account_budget,
    account_for,
    coordinator_of,
    entry_for,
    inverter_of,
    setup_entry,
)

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
    # An answer without a readable upload time is no new upload (not a retry a minute).
    assert schedule.next_poll(T0 + timedelta(seconds=961), None) == 900
    assert UploadSchedule().next_poll(T0, None) == 300


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
    coordinator = coordinator_of(init_integration)
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
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    # The end of the ban with its date (a ban may last into the next day).
    banned_until = dt_util.as_local(coordinator_of(init_integration).budget.paused_until)
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["until"] == banned_until.strftime("%Y-%m-%d %H:%M")
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
    assert coordinator_of(init_integration).budget.backoff == 0
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


async def test_inverters_on_one_token_share_the_budget(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    """The inverters of a token are one account's: they poll on one budget of its calls."""
    account = await setup_entry(hass, account_for(sim_url, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]))
    hybrid, pv_only = inverter_of(account, HYBRID_WIFI_SN), inverter_of(account, PV_ONLY_WIFI_SN)
    assert hybrid.budget is pv_only.budget is account_budget(hass)
    assert set(hybrid.budget.demands) == {hybrid.subentry_id, pv_only.subentry_id}
    start = dt_util.utcnow()
    await time_machine.run(900, step=10)
    # Every call of either inverter is a call of the one budget.
    assert len(calls(cloud, HYBRID_WIFI_SN)) >= 3
    assert len(calls(cloud, PV_ONLY_WIFI_SN)) >= 3
    assert hybrid.budget.calls_since(start, dt_util.utcnow()) == len(cloud.requests)


def test_schedule_learns_cadence_across_missed_uploads() -> None:
    schedule = UploadSchedule()
    for upload in (0, 600, 900, 1500, 1800):  # uploads at 300 and 1200 were never seen
        schedule.next_poll(T0 + timedelta(seconds=upload + 30), T0 + timedelta(seconds=upload))
    assert schedule.cadence == 300
    slow = UploadSchedule()
    for upload in range(0, 6000, 600):  # an inverter that uploads every 10 minutes
        slow.next_poll(T0 + timedelta(seconds=upload + 30), T0 + timedelta(seconds=upload))
    assert slow.cadence == 600


# Skipping uploads under the token's pace ---------------------------------------


def _found(schedule: UploadSchedule, now: datetime, upload: datetime) -> float:
    """A poll at `now` that found `upload`; the seconds until the next poll."""
    return schedule.next_poll(now, upload)


def test_schedule_skips_uploads_evenly_under_the_pace() -> None:
    """2.5 uploads per call: the polls aim 3, 2, 3, 2 uploads ahead, each found at once."""
    schedule = UploadSchedule(publish_delay=30.0)
    schedule.follow(Pace(uploads_per_call=2.5, night_interval=1800.0))
    upload, now = T0, T0 + timedelta(seconds=33)
    aimed = []
    wait = _found(schedule, now, upload)
    for _ in range(6):
        aimed.append(schedule.steps)
        now += timedelta(seconds=wait)
        upload = schedule.target or upload
        assert now == upload + timedelta(seconds=schedule.publish_delay + schedule.guard)
        wait = _found(schedule, now, upload)
    assert aimed == [3, 2, 3, 2, 3, 2]
    # Found where it aimed: the cadence learned from the gaps stays the upload cadence.
    assert schedule.cadence == 300
    # Entities refreshed every third upload stay fresh until two cadences after that.
    assert schedule.stale_after == timedelta(seconds=(3 + 2) * 300)


def test_upload_found_before_the_one_aimed_at_is_shown_and_the_aim_kept() -> None:
    """The poll comes before its upload is out and finds an earlier one: a retry follows."""
    schedule = UploadSchedule(publish_delay=30.0)
    schedule.follow(Pace(uploads_per_call=3.0))
    _found(schedule, T0 + timedelta(seconds=33), T0)
    target = schedule.target
    assert target == T0 + timedelta(seconds=900)
    # At the expected time only the upload before the target is out (the delay grew).
    poll = target + timedelta(seconds=33)
    earlier = target - timedelta(seconds=300)
    assert _found(schedule, poll, earlier) == schedule.first_retry
    assert schedule.last_upload == earlier
    assert schedule.target == target
    # The retry finds the target: the delay lay between the failed poll (33 s after the
    # target) and the retry (41 s); the estimate goes just above the failed poll. The
    # cadence is unchanged.
    retry = poll + timedelta(seconds=8)
    _found(schedule, retry, target)
    assert schedule.publish_delay == pytest.approx(33 + schedule.rise)
    assert schedule.cadence == 300
    for _ in range(20):
        # Every poll comes early and finds the upload before its target: the cadence
        # learned must not shrink (found on the way, those uploads tell nothing).
        aimed = schedule.target
        assert aimed is not None
        now = aimed + timedelta(seconds=schedule.publish_delay + schedule.guard)
        _found(schedule, now, aimed - timedelta(seconds=300))
        _found(schedule, now + timedelta(seconds=8), aimed)
    assert schedule.cadence == 300


def test_sleeping_inverter_polls_at_the_night_interval_and_watches_the_wake() -> None:
    schedule = UploadSchedule(publish_delay=30.0)
    schedule.follow(Pace(uploads_per_call=2.0, night_interval=2400.0))
    _found(schedule, T0 + timedelta(seconds=33), T0)
    # No new upload for longer than the stale limit (4 cadences) and the delay: asleep.
    asleep = T0 + timedelta(seconds=4 * 300 + 40)
    assert schedule.is_offline(asleep)
    assert schedule.next_poll(asleep, T0) == 2400
    # The wake is watched for from in about an hour: the night polls stop short of it...
    start = asleep + timedelta(hours=1)
    schedule.wake_watch = (start, start + timedelta(minutes=30))
    assert schedule.next_poll(asleep, T0) == 2400
    # ...at the first of the slots of the last upload seen (every 300 s from T0) when its
    # upload should be out: the delay, how late uploads came (nothing seen yet: 30 s)
    # and the guard after it.
    out_after = 30 + 30 + 3
    first = T0 + timedelta(seconds=16 * 300 + out_after)
    assert start <= first < start + timedelta(seconds=300)
    before = start - timedelta(seconds=1000)
    assert schedule.next_poll(before, T0) == (first - before).total_seconds()
    # Watching, at the daylight pace: every second slot.
    assert schedule.next_poll(first, T0) == 600
    assert schedule.next_poll(first + timedelta(seconds=2), T0) == 598
    after = start + timedelta(minutes=40)
    assert schedule.next_poll(after, T0) == 2400
    # Nothing seen ever: the watch polls from its start, at the pace.
    blind = UploadSchedule()
    blind.wake_watch = schedule.wake_watch
    assert blind.next_poll(before, None) == 300
    blind.last_upload = None
    assert blind._night_wait(before) == 900
    assert blind._night_wait(start + timedelta(seconds=60)) == 300


def test_the_wake_watch_waits_for_the_latest_random_delay() -> None:
    """Delays drawn at random: the watch polls when the latest of the last uploads was out.

    The watch has no retry: at the estimate and the guard, a morning's first upload out at
    the top of the delays (88-90 s of 20-90 s) came 1-2 s after the watch's poll and was
    never shown (6 uploads in 432 simulated random days; 2 since).
    """
    schedule = UploadSchedule(publish_delay=80.0, delay_bounded=True)
    _found(schedule, T0 + timedelta(seconds=83), T0)
    schedule.found_at.extend([40.0, 89.0, 83.0])
    schedule.overruns.extend([0.0, 2.0])
    # Watched from a slot of the last upload (every 300 s from T0).
    start = T0 + timedelta(hours=3)
    schedule.wake_watch = (start, start + timedelta(minutes=30))
    before = start - timedelta(seconds=100)
    # A steady delay: the estimate, how late uploads came after their polls, the guard.
    assert schedule.next_poll(before, T0) == pytest.approx(100 + 80 + 2 + 3)
    schedule.random_seen = True
    schedule.run_variation = schedule.run_length
    assert schedule.drawn_at_random
    assert schedule.next_poll(before, T0) == pytest.approx(100 + 89)


def test_a_wake_skips_from_the_inverters_own_phase() -> None:
    """Two inverters that wake at the same upload slot aim at different uploads."""
    aims = []
    for phase in (0.1, 0.5, 0.9):
        schedule = UploadSchedule(publish_delay=30.0, skipper=UploadSkipper(phase=phase))
        schedule.follow(Pace(uploads_per_call=3.0, night_interval=1800.0))
        _found(schedule, T0 + timedelta(seconds=33), T0)
        _found(schedule, T0 + timedelta(hours=8, seconds=33), T0 + timedelta(hours=8))
        aims.append(schedule.steps)
    assert aims == [3, 2, 1]


def _meet(schedule: UploadSchedule, upload: datetime, delay: float) -> None:
    """The planned poll for `upload` (out `delay` s after it), and a retry if it missed."""
    planned = schedule.next_upload_available()
    assert planned is not None
    if planned >= upload + timedelta(seconds=delay):
        _found(schedule, planned, upload)
    else:
        schedule.next_poll(planned, upload - timedelta(seconds=300))
        _found(schedule, upload + timedelta(seconds=delay + 1), upload)


def test_a_wake_starts_from_the_last_morning() -> None:
    """A delay that moves through the day: the morning starts where the last one did."""
    schedule = UploadSchedule()
    _found(schedule, T0 + timedelta(seconds=70), T0)
    upload = T0
    # A steady delay of 40 s: the estimate comes down, then misses at regular intervals.
    for _ in range(200):
        upload += timedelta(seconds=300)
        _meet(schedule, upload, 40)
    assert schedule.delay_bounded
    assert schedule.trust >= 0.5
    assert schedule.morning_delay is None  # no wake seen yet
    # Asleep overnight; it wakes and keeps its slots.
    evening = upload
    schedule.publish_delay = 80.0  # the evening's delay was higher
    wake = evening + timedelta(hours=10)
    schedule.wake_watch = (wake - timedelta(minutes=5), wake + timedelta(minutes=25))
    assert schedule.next_poll(wake - timedelta(hours=1), evening) == 900
    _found(schedule, wake + timedelta(seconds=90), wake)
    assert schedule.woke_at == wake
    # Nothing was noted of a morning: the evening's estimate, coming down in doubling steps.
    assert schedule.publish_delay == 80.0
    assert not schedule.delay_bounded
    upload = wake
    for _ in range(12):
        upload += timedelta(seconds=300)
        _meet(schedule, upload, 40)
    # Twelve uploads after the wake the estimate is noted for the next morning.
    assert schedule.woke_at is None
    assert schedule.morning_delay == pytest.approx(40, abs=4)
    # The next morning starts there, and its watch allows for the spread of the delays.
    schedule.publish_delay = 80.0
    next_wake = wake + timedelta(days=1)
    assert schedule.watch_delay == 80.0
    _found(schedule, next_wake + timedelta(seconds=90), next_wake)
    assert schedule.publish_delay == schedule.morning_delay
    assert schedule.spread == max(schedule.overruns)


def test_schedule_survives_a_restart() -> None:
    schedule = UploadSchedule()
    for upload in range(0, 3000, 240):
        schedule.next_poll(T0 + timedelta(seconds=upload + 30), T0 + timedelta(seconds=upload))
    kept = UploadSchedule()
    now = T0 + timedelta(seconds=3000)
    kept.restore(json.loads(json.dumps(schedule.as_dict())), now)
    assert (kept.cadence, kept.publish_delay, kept.last_upload) == (
        schedule.cadence,
        schedule.publish_delay,
        schedule.last_upload,
    )
    assert kept.cadence == 240
    assert (kept.morning_delay, list(kept.overruns)) == (
        schedule.morning_delay,
        list(schedule.overruns),
    )
    noted = UploadSchedule()
    noted.restore({"morning_delay": 42.5, "overruns": [0.0, 8.2, -1, "x", 1e9]}, now)
    assert (noted.morning_delay, list(noted.overruns)) == (42.5, [0.0, 8.2])
    noted.restore({"morning_delay": -3}, now)
    assert noted.morning_delay == 42.5
    # Whether a miss has bounded the delay from below (then it follows the misses).
    assert kept.delay_bounded is schedule.delay_bounded
    # Kept by a release that did not keep it: learned already (the storage's migration).
    older = UploadSchedule()
    older.restore(
        migrate_from_v1({"schedule": {"cadence": 240, "publish_delay": 30}})["schedule"], now
    )
    assert older.delay_bounded
    # What the schedule of version 2 does not say is not so.
    unsaid = UploadSchedule()
    unsaid.restore({"cadence": 240, "publish_delay": 30}, now)
    assert not unsaid.delay_bounded
    # Still coming down from the default before the restart: it goes on doing so.
    fresh = UploadSchedule()
    fresh.restore({"cadence": 300, "publish_delay": 45, "delay_bounded": False}, now)
    assert not fresh.delay_bounded
    # Kept values that do not fit are ignored.
    broken = UploadSchedule()
    broken.restore({"cadence": 5, "publish_delay": "x", "gaps": [True, 1e9], "last_upload": 3}, now)
    assert (broken.cadence, broken.publish_delay, list(broken.gaps), broken.last_upload) == (
        300.0,
        60.0,
        [],
        None,
    )


# The online fraction ------------------------------------------------------------

PV_DAY = [T0 + timedelta(minutes=5 * step) for step in range(14 * 12)]
"""A PV-only inverter's uploads from T0 for 14 hours."""


def test_online_fraction_uses_the_sun_until_a_day_was_seen() -> None:
    history = OnlineHistory()
    history.start(T0)
    for upload in PV_DAY[:24]:
        history.record(upload, upload + timedelta(seconds=40), bridge=900)
    now = PV_DAY[23] + timedelta(seconds=40)
    assert history.fraction(now, 300, 900, daylight_prior=0.75) == 0.75
    # The sun's times unknown there (a polar day): assume it uploads all day.
    assert history.fraction(now, 300, 900, daylight_prior=None) == 1.0
    # An upload seen at night: an inverter with a battery, awake all day.
    history.uploads_at_night = True
    assert history.fraction(now, 300, 900, daylight_prior=0.75) == 1.0


def test_online_fraction_from_a_whole_run_then_from_the_last_day() -> None:
    history = OnlineHistory()
    evening_before = T0 - timedelta(hours=10)
    history.start(evening_before)
    history.record(evening_before, evening_before, bridge=900)
    for upload in PV_DAY:
        history.record(upload, upload + timedelta(seconds=40), bridge=900)
    # Asleep after its 14-hour run: that run tells the fraction before a day was seen.
    night = PV_DAY[-1] + timedelta(hours=1)
    fourteen_hours = (14 * 3600) / 86400
    assert history.fraction(night, 300, 900, daylight_prior=0.8) == pytest.approx(fourteen_hours)
    assert history.last_wake == T0
    # A day after it began observing, the last 24 hours are measured.
    later = evening_before + timedelta(hours=24, minutes=1)
    assert history.observed_a_day(later)
    assert history.fraction(later, 300, 900, daylight_prior=0.8) == pytest.approx(fourteen_hours)
    # The next wake is expected at the same time the next day.
    assert history.next_wake(later) == T0 + timedelta(hours=24)


def test_online_history_survives_a_short_restart_only() -> None:
    history = OnlineHistory()
    history.start(T0 - timedelta(hours=30))
    for upload in PV_DAY:
        history.record(upload, upload + timedelta(seconds=40), bridge=900)
    stored = json.loads(json.dumps(history.as_dict()))
    now = PV_DAY[-1] + timedelta(minutes=10)
    kept = OnlineHistory()
    kept.restore(stored, now, saved_at=now - timedelta(minutes=5))
    assert list(kept.uploads) == list(history.uploads)
    assert kept.observed_a_day(now)
    # Down for hours: nothing was observed meanwhile, the day starts again.
    long_gone = OnlineHistory()
    long_gone.restore(stored, now, saved_at=now - timedelta(hours=3))
    assert not long_gone.observed_a_day(now)
    assert long_gone.observed_since == now


def test_online_history_ignores_what_does_not_fit() -> None:
    kept = OnlineHistory()
    valid = (T0 - timedelta(hours=1)).isoformat()
    stored = {
        # Without zone, not a time, not text, in the future, a day old: all dropped.
        "uploads": [
            "2026-06-21T09:00:00",
            "dawn",
            5,
            (T0 + timedelta(hours=1)).isoformat(),
            (T0 - timedelta(hours=30)).isoformat(),
            valid,
        ],
        "uploads_at_night": "yes",
        "last_wake": "at dawn",
        "observed_since": "long ago",
    }
    kept.restore(stored, T0, saved_at=T0)
    assert [upload.isoformat() for upload in kept.uploads] == [valid]
    assert (kept.uploads_at_night, kept.last_wake, kept.observed_since) == (False, None, T0)
    assert kept.next_wake(T0) is None
