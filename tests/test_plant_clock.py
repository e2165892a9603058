"""The plant clock: a plant's offset from UTC learned from its uploads (plant_clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.sunvec_connect.plant_clock import (
    MAX_TEXT,
    SKEW_UPLOADS,
    Placement,
    PlantClock,
    Verdict,
    assumed_offset,
    format_offset,
)

from .plant_sim import STAMP, Replay, Scenario, replay

HOUR = timedelta(hours=1)
PROPERTY_SETTINGS = settings(
    derandomize=True,
    database=None,
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ZONES = (
    "UTC",
    "Europe/Amsterdam",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tehran",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Australia/Eucla",
    "Pacific/Chatham",
    "Pacific/Marquesas",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "Etc/GMT+12",
)
DST_CHANGES = (
    datetime(2026, 3, 8, 10, 0, tzinfo=UTC),  # North America, spring
    datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # Europe, spring
    datetime(2026, 4, 4, 14, 0, tzinfo=UTC),  # Chatham, autumn
    datetime(2026, 4, 4, 15, 0, tzinfo=UTC),  # Lord Howe, autumn (30 minutes)
    datetime(2026, 4, 4, 16, 0, tzinfo=UTC),  # Sydney, autumn
    datetime(2026, 9, 26, 14, 0, tzinfo=UTC),  # Chatham, spring
    datetime(2026, 10, 3, 15, 30, tzinfo=UTC),  # Lord Howe, spring
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # Europe, autumn
    datetime(2026, 11, 1, 6, 0, tzinfo=UTC),  # North America, autumn
    datetime(2026, 6, 21, 10, 0, tzinfo=UTC),  # none
)
WINTER = datetime(2026, 1, 14, 9, 0, 2, tzinfo=UTC)
LATER = WINTER + timedelta(days=1)
"""A restart after the uploads of a test."""


def _local(moment: datetime, zone: str, skew: timedelta = timedelta(0)) -> datetime:
    return moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None) + skew


def _place(
    clock: PlantClock,
    moment: datetime,
    now: datetime,
    *,
    plant: str = "Europe/Amsterdam",
    ha: str = "Europe/Amsterdam",
    skew: timedelta = timedelta(0),
    hint: datetime | None = None,
) -> Placement:
    """Let `clock` place the upload made at `moment` in `plant`, fetched at `now`."""
    local = _local(moment, plant, skew)
    return clock.place(
        local,
        local.strftime(STAMP),
        now,
        zone=ZoneInfo(ha),
        utc_hint=hint,
    )


def _uploads(
    clock: PlantClock, start: datetime, count: int, delay: float = 40.0, **kwargs: Any
) -> list[Placement]:
    """Place `count` uploads five minutes apart, each fetched `delay` seconds after it."""
    return [
        _place(
            clock,
            start + timedelta(minutes=5 * index),
            start + timedelta(minutes=5 * index, seconds=delay),
            **kwargs,
        )
        for index in range(count)
    ]


def test_assumed_offset_takes_the_later_reading_in_the_repeated_hour() -> None:
    """02:30 happens twice on 25 October in Amsterdam: the later one unless ahead."""
    zone = ZoneInfo("Europe/Amsterdam")
    local = datetime(2026, 10, 25, 2, 30)
    # 02:30 CEST is 00:30 UTC, 02:30 CET is 01:30 UTC.
    assert assumed_offset(local, zone, datetime(2026, 10, 25, 1, 31, tzinfo=UTC)) == HOUR
    assert assumed_offset(local, zone, datetime(2026, 10, 25, 0, 31, tzinfo=UTC)) == 2 * HOUR
    assert assumed_offset(datetime(2026, 6, 1, 12), zone, WINTER) == 2 * HOUR


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(67, "+1:07"), (-210, "-3:30"), (7, "+0:07"), (-51, "-0:51"), (0, "+0:00"), (825, "+13:45")],
)
def test_offsets_are_written_as_hours_and_minutes(minutes: int, text: str) -> None:
    assert format_offset(timedelta(minutes=minutes)) == text


def test_home_assistant_an_hour_behind_the_plant_places_uploads_at_their_time() -> None:
    """Home Assistant in London, the plant in Amsterdam: every upload is placed exactly.

    Fails before this issue: read in London's zone, each upload lay an hour ahead and
    was rejected as "in the future" (localize_upload_time).
    """
    clock = PlantClock()
    placements = _uploads(clock, WINTER, 4, ha="Europe/London")
    assert [p.time for p in placements] == [
        WINTER + timedelta(minutes=5 * index) for index in range(4)
    ]
    assert clock.offset == HOUR


def test_home_assistant_an_hour_ahead_learns_the_plant_at_the_second_upload() -> None:
    """Home Assistant in Helsinki: the first upload is read in its zone, then learned."""
    clock = PlantClock()
    first, second, third = _uploads(clock, WINTER, 3, ha="Europe/Helsinki")
    assert first.time == WINTER - HOUR
    assert (second.time, third.time) == (
        WINTER + timedelta(minutes=5),
        WINTER + timedelta(minutes=10),
    )
    assert clock.offset == HOUR


def test_a_plant_far_away_waits_for_two_uploads_that_agree() -> None:
    """A plant in Tokyo, eight hours ahead of Home Assistant: learned at the second upload.

    The first upload waits (it is not shown, asked again as well).
    """
    clock = PlantClock()
    tokyo = {"plant": "Asia/Tokyo"}
    first = _place(clock, WINTER, WINTER + timedelta(seconds=40), **tokyo)
    again = _place(clock, WINTER, WINTER + timedelta(seconds=90), **tokyo)
    assert first == again == Placement(Verdict.REJECTED, None)
    later = WINTER + timedelta(minutes=5)
    second = _place(clock, later, later + timedelta(seconds=40), **tokyo)
    assert second == Placement(Verdict.PLACED, later)
    assert clock.offset == 9 * HOUR


def test_the_same_upload_keeps_its_place() -> None:
    clock = PlantClock()
    placed = _place(clock, WINTER, WINTER + timedelta(seconds=40))
    again = _place(clock, WINTER, WINTER + timedelta(seconds=100))
    assert again == Placement(Verdict.SAME, placed.time)
    assert not again.is_new


@pytest.mark.parametrize("start", [datetime(2026, 10, 25, 0, 40, tzinfo=UTC)], ids=["autumn"])
def test_autumn_upload_with_an_earlier_local_time_is_new_and_placed(start: datetime) -> None:
    """At 01:00 UTC Amsterdam's clock goes from 03:00 back to 02:00.

    The upload after the change reads 02:00:43, earlier than the one before (02:55:43):
    it is new and placed at its UTC time; Home Assistant runs in UTC.
    """
    clock = PlantClock()
    moments = [start + timedelta(minutes=5 * index, seconds=43) for index in range(8)]
    placed = [_place(clock, moment, moment + timedelta(seconds=30), ha="UTC") for moment in moments]
    assert [p.time for p in placed[2:]] == moments[2:]
    assert clock.offset == HOUR
    texts = [_local(moment, "Europe/Amsterdam").strftime(STAMP) for moment in moments]
    assert texts[4] < texts[3]


def test_spring_upload_an_hour_ahead_is_placed() -> None:
    """At 01:00 UTC on 29 March Amsterdam's clock jumps from 02:00 to 03:00."""
    clock = PlantClock()
    start = datetime(2026, 3, 29, 0, 40, 43, tzinfo=UTC)
    placed = _uploads(clock, start, 8)
    assert [p.time for p in placed] == [start + timedelta(minutes=5 * i) for i in range(8)]
    assert clock.offset == 2 * HOUR


def test_a_clock_seven_minutes_fast_raises_the_repair_and_shows_the_fetch_time() -> None:
    """A plant on CET whose inverter clock runs 7 minutes fast reads "+1:07" from UTC.

    Two uploads are rejected, from the third the data shows at the time it was fetched;
    the first upload that fits again clears it.
    """
    clock = PlantClock()
    skew = timedelta(minutes=7)
    placed = _uploads(clock, WINTER, SKEW_UPLOADS + 2, skew=skew)
    assert [p.verdict for p in placed[: SKEW_UPLOADS - 1]] == [Verdict.REJECTED] * 2
    for index, placement in enumerate(placed[SKEW_UPLOADS - 1 :], start=SKEW_UPLOADS - 1):
        assert placement == Placement(
            Verdict.FETCHED, WINTER + timedelta(minutes=5 * index, seconds=40)
        )
    assert clock.clock_off
    assert clock.measured_offset == "+1:07"
    # The clock set right: once the fast uploads have left the last three, they fit.
    later = WINTER + timedelta(minutes=5 * (SKEW_UPLOADS + 2))
    fixed = _uploads(clock, later, SKEW_UPLOADS)
    assert [p.verdict for p in fixed] == [Verdict.FETCHED] * (SKEW_UPLOADS - 1) + [Verdict.PLACED]
    assert fixed[-1].time == later + timedelta(minutes=5 * (SKEW_UPLOADS - 1))
    assert not clock.clock_off
    assert clock.measured_offset is None


@pytest.mark.parametrize("stray", [False, True], ids=["next", "after_a_stray_stamp"])
def test_after_uploads_shown_at_their_fetch_time_the_next_is_not_placed_before_them(
    stray: bool,
) -> None:
    """An upload made before the last fetch (published after it) is placed just after it.

    Also when a stray stamp (six hours ahead, rejected) came in between.
    """
    clock = PlantClock()
    _uploads(clock, WINTER, SKEW_UPLOADS, skew=timedelta(minutes=7))
    assert clock.clock_off
    start = WINTER + timedelta(minutes=5 * SKEW_UPLOADS)
    right = _uploads(clock, start, SKEW_UPLOADS - 1)
    fetched = start + timedelta(minutes=5 * (SKEW_UPLOADS - 2), seconds=40)
    assert right[-1] == Placement(Verdict.FETCHED, fetched)
    # Made 30 s before that fetch, available 100 s after it was made.
    made = fetched - timedelta(seconds=30)
    if stray:
        stamp = _place(clock, made, made + timedelta(seconds=50), skew=6 * HOUR)
        assert stamp == Placement(Verdict.REJECTED, None)
    placed = _place(clock, made, made + timedelta(seconds=100))
    assert placed == Placement(Verdict.PLACED, fetched + timedelta(seconds=1))
    assert not clock.clock_off


def test_an_inverter_clock_reset_years_back_shows_the_fetch_time() -> None:
    """After a power cut the inverter's clock restarts in 2000: the clock is off."""
    clock = PlantClock()
    _uploads(clock, WINTER, 2)
    reset = WINTER.replace(year=2000) - WINTER
    start = WINTER + timedelta(minutes=10)
    placed = _uploads(clock, start, SKEW_UPLOADS, skew=reset)
    assert [p.verdict for p in placed] == [Verdict.REJECTED] * 2 + [Verdict.FETCHED]
    assert clock.measured_offset is not None
    # 9,497 days back, and the plant's hour ahead of UTC.
    assert clock.measured_offset == "-227927:00"
    kept = PlantClock.restore(json.loads(json.dumps(clock.as_dict())), LATER)
    assert kept.measured_offset == clock.measured_offset


def test_an_old_upload_is_placed_by_the_known_offset() -> None:
    """An inverter's last upload seen 40 minutes late (it went to sleep) keeps its time."""
    clock = PlantClock()
    _uploads(clock, WINTER, 3)
    moment = WINTER + timedelta(minutes=15)
    placed = _place(clock, moment, moment + timedelta(minutes=40))
    assert placed == Placement(Verdict.PLACED, moment)
    assert clock.misfits == 1
    assert not clock.clock_off


def test_a_true_utc_date_time_places_the_first_upload_of_a_far_plant() -> None:
    """A utcDateTime consistent with the upload's age is believed at once."""
    clock = PlantClock()
    placed = _place(
        clock,
        WINTER,
        WINTER + timedelta(seconds=40),
        plant="America/New_York",
        hint=WINTER + timedelta(milliseconds=399),
    )
    assert placed == Placement(Verdict.PLACED, WINTER)


@pytest.mark.parametrize(
    "hint",
    [
        datetime(2026, 1, 14, 2, 0, 2, 936000, tzinfo=UTC),  # uploadTime - 8 h (v1 answers)
        datetime(2026, 1, 14, 9, 7, 2, tzinfo=UTC),  # not a quarter hour from uploadTime
        datetime(2026, 1, 14, 9, 0, 2),  # without a zone
        datetime(2026, 1, 30, 9, 0, 2, tzinfo=UTC),  # beyond any zone
    ],
    ids=["minus_8h", "not_a_quarter", "naive", "beyond_zones"],
)
def test_a_utc_date_time_that_does_not_fit_is_ignored(hint: datetime) -> None:
    """An upload of an Amsterdam plant, Home Assistant in Amsterdam: the hint is left."""
    clock = PlantClock()
    placed = _place(clock, WINTER, WINTER + timedelta(seconds=40), hint=hint)
    assert placed == Placement(Verdict.PLACED, WINTER)


def test_what_is_kept_comes_back() -> None:
    clock = PlantClock()
    _uploads(clock, WINTER, 3, plant="Asia/Kathmandu")
    kept = PlantClock.restore(json.loads(json.dumps(clock.as_dict())), LATER)
    assert kept.offset == timedelta(hours=5, minutes=45)
    assert (kept.last_text, kept.last_time, kept.last_fit, kept.last_poll) == (
        clock.last_text,
        clock.last_time,
        clock.last_fit,
        clock.last_poll,
    )
    assert PlantClock.restore(PlantClock().as_dict(), LATER) == PlantClock()


def test_times_kept_from_the_future_are_left_out() -> None:
    """Kept while Home Assistant's clock ran a day ahead: the next upload is placed."""
    clock = PlantClock()
    ahead = WINTER + timedelta(days=1)
    _uploads(clock, ahead, 3)
    kept = PlantClock.restore(json.loads(json.dumps(clock.as_dict())), WINTER)
    assert (kept.last_time, kept.last_fit, kept.last_poll) == (None, None, None)
    assert kept.offset == timedelta(hours=1)
    placed = _place(kept, WINTER, WINTER + timedelta(seconds=40))
    assert placed == Placement(Verdict.PLACED, WINTER)


def test_a_clock_off_stays_off_across_a_restart() -> None:
    clock = PlantClock()
    _uploads(clock, WINTER, SKEW_UPLOADS, skew=timedelta(minutes=7))
    kept = PlantClock.restore(json.loads(json.dumps(clock.as_dict())), LATER)
    assert kept.clock_off
    assert kept.measured_offset == "+1:07"
    assert list(kept.leads) == list(clock.leads)
    junk = {
        **clock.as_dict(),
        "misfits": 99,
        "measured_seconds": 1e12,
        "leads_seconds": [1e12, "x", None, 60],
    }
    restored = PlantClock.restore(junk, LATER)
    assert list(restored.leads) == [timedelta(minutes=1)]
    assert restored.misfits == SKEW_UPLOADS
    assert restored.measured is None
    assert restored.measured_offset is None


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        {"offset_minutes": 61},
        {"offset_minutes": 15 * 60},
        {"offset_minutes": True},
        {"offset_minutes": "60"},
        {"offset_minutes": float("nan")},
        {"last_text": 7, "last_time": "2026-01-14T09:00:00+00:00"},
        {"last_text": "x" * (MAX_TEXT + 1), "last_time": "2026-01-14T09:00:00+00:00"},
        {"last_text": "2026-01-14 10:00:00", "last_time": "2026-01-14T09:00:00"},
        {"last_fit": 3, "last_poll": "yesterday"},
        {"misfits": True, "measured_seconds": 60},
        {"misfits": -1, "measured_seconds": 60},
    ],
)
def test_junk_kept_is_left_out(stored: Any) -> None:
    clock = PlantClock.restore(stored, LATER)
    assert clock.offset is None
    assert clock.last_time is None
    assert clock.last_fit is None
    assert clock.last_poll is None
    assert clock.misfits == 0
    assert clock.measured is None


# Properties over generated histories ----------------------------------------------


@st.composite
def scenarios(draw: st.DrawFn, *, skewed: bool = False) -> Scenario:
    """A plant and Home Assistant in any zones near a daylight-saving change."""
    scheme = draw(st.sampled_from(["every", "skip2", "skip3", "fixed"]))
    anchor = draw(st.sampled_from(DST_CHANGES))
    start = anchor + timedelta(minutes=draw(st.integers(-18 * 60, 6 * 60)))
    low = draw(st.floats(5.0, 120.0))
    high = draw(st.floats(low, 120.0))
    hours = draw(st.floats(6.0, 28.0))
    outage = draw(st.none() | st.tuples(st.floats(0.5, hours), st.floats(0.2, 10.0)))
    sleep = draw(st.none() | st.tuples(st.floats(0.5, hours), st.floats(0.5, 10.0)))
    restarts = tuple(draw(st.lists(st.floats(0.1, hours), max_size=3)))
    skew = timedelta(0)
    if skewed:
        fast = draw(st.integers(3 * 60, 7 * 60))
        skew = timedelta(minutes=15 * draw(st.integers(-2, 2)), seconds=fast)
        scheme = draw(st.sampled_from(["every", "skip2", "skip3"]))
        sleep = outage = None
        start = DST_CHANGES[-1] + timedelta(minutes=draw(st.integers(0, 600)))
        hours = min(hours, 10.0)
    return Scenario(
        plant_zone=draw(st.sampled_from(ZONES)),
        ha_zone=draw(st.sampled_from(ZONES)),
        start=start,
        hours=hours,
        phase=draw(st.floats(0.0, 299.0)),
        delays=(low, high),
        scheme=scheme,
        interval=float(draw(st.integers(20, 60)) * 60),
        early_polls=draw(st.sampled_from([0.0, 0.2])),
        outage=outage,
        sleep=sleep,
        restarts=restarts,
        skew=skew,
        hint=draw(st.sampled_from(["none", "true", "china"])),
        seed=draw(st.integers(0, 1000)),
    )


def _check_monotonic_and_not_ahead(result: Replay) -> None:
    """Placed new uploads only ever rise and are never after their fetch."""
    last: datetime | None = None
    for seen in result.seen:
        placed = seen.placement.time
        if placed is None:
            continue
        assert placed <= seen.now
        if seen.placement.is_new:
            assert last is None or placed > last
            last = placed
        else:
            assert placed == last


LEARNED_WITHIN = 2
"""Live new uploads in a row after a start or an offset change that may be misplaced."""
LIVE_AGE = timedelta(seconds=300 + 120)
"""The oldest a live inverter's latest upload is (a cadence and a publish delay)."""


@PROPERTY_SETTINGS
@given(scenarios())
def test_once_learned_every_new_upload_is_at_its_true_time(scenario: Scenario) -> None:
    """Once three live new uploads in a row were seen, every new upload is at its time.

    Counted from a start or a change of the plant's offset; live: seen within a cadence
    and a publish delay (an upload seen later, after the inverter went to sleep, breaks
    the row, and once learned is placed right too). In any zone, with any polls,
    outages, sleeps, restarts and utcDateTime; placed times rise and are never ahead.
    """
    result = replay(scenario)
    _check_monotonic_and_not_ahead(result)
    in_row = 0
    learned = False
    offset: timedelta | None = None
    for seen in result.seen:
        if not seen.new:
            continue
        if seen.upload.offset != offset:
            in_row, learned, offset = 0, False, seen.upload.offset
        in_row = in_row + 1 if seen.now - seen.upload.time <= LIVE_AGE else 0
        learned = learned or in_row > LEARNED_WITHIN
        if learned:
            assert seen.placement == Placement(Verdict.PLACED, seen.upload.time), seen
        assert not seen.clock_off


@PROPERTY_SETTINGS
@given(scenarios(skewed=True))
def test_a_clock_off_by_minutes_raises_the_repair_and_shows_the_fetch_time(
    scenario: Scenario,
) -> None:
    """An inverter clock 3 to 7 minutes fast of a quarter hour is off from the third upload.

    It names the offset to within the publish delay, and each new upload shows at its
    fetch time.
    """
    result = replay(scenario)
    _check_monotonic_and_not_ahead(result)
    new = [seen for seen in result.seen if seen.new]
    assert len(new) > SKEW_UPLOADS
    for seen in new[SKEW_UPLOADS - 1 :]:
        assert seen.clock_off
        assert seen.placement == Placement(Verdict.FETCHED, seen.now)
        true_offset = seen.upload.offset + scenario.skew
        assert seen.measured is not None
        sign = -1 if seen.measured.startswith("-") else 1
        hours, minutes = seen.measured[1:].split(":")
        measured = sign * timedelta(hours=int(hours), minutes=int(minutes))
        assert true_offset - timedelta(minutes=3) <= measured <= true_offset + timedelta(minutes=1)
