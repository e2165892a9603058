"""The fair share of a token's calls: within the limits, as fresh as the limits allow."""

from __future__ import annotations

import math

from hypothesis import given, seed, settings, strategies as st
import pytest

from custom_components.sunvec_connect.pacing import (
    CALL_OVERHEAD,
    DAY_HEADROOM,
    DAY_SECONDS,
    MAX_NIGHT_INTERVAL,
    MINUTE_HEADROOM,
    NIGHT_INTERVAL,
    InverterDemand,
    Pace,
    UploadSkipper,
    awake_fraction,
    plan_pace,
    skip_phase,
)

PER_DAY, PER_MINUTE = 9_990, 9
DAYLIGHT = 14 / 24


def _pv_only(count: int, fraction: float = DAYLIGHT) -> list[InverterDemand]:
    return [InverterDemand(cadence=300.0, online_fraction=fraction)] * count


def _plan(inverters: list[InverterDemand]) -> Pace:
    return plan_pace(inverters, calls_per_day=PER_DAY, calls_per_minute=PER_MINUTE)


def _calls_per_day(inverters: list[InverterDemand], pace: Pace) -> float:
    """The calls a day of the pace: daylight (with the wake watch) and night polls."""
    paced = [i for i in inverters if i.paced]
    daylight = (
        sum(awake_fraction(i.online_fraction) * DAY_SECONDS / i.cadence for i in paced)
        * CALL_OVERHEAD
        / pace.uploads_per_call
    )
    night = sum(1 - i.online_fraction for i in paced) * DAY_SECONDS / pace.night_interval
    fixed = sum(DAY_SECONDS / i.cadence for i in inverters if not i.paced)
    return daylight + night + fixed


def test_no_inverters_keeps_the_default() -> None:
    assert _plan([]) == Pace()


def test_few_inverters_poll_every_upload() -> None:
    pace = _plan(_pv_only(10))
    assert pace.uploads_per_call == 1.0
    assert pace.night_interval == NIGHT_INTERVAL


def test_thirty_four_hybrids_need_no_skipping_but_a_hundred_do() -> None:
    """A hybrid uploads all day: 288 uploads a day each, about 34 fit in 9,990 calls."""
    assert _plan(_pv_only(25, fraction=1.0)).uploads_per_call == 1.0
    hundred = _plan(_pv_only(100, fraction=1.0))
    assert hundred.uploads_per_call == pytest.approx(
        100 * 288 * CALL_OVERHEAD / (PER_DAY * DAY_HEADROOM)
    )


def test_a_hundred_pv_inverters_stay_within_fifteen_minutes() -> None:
    """100 PV-only inverters on a long day: every second or third upload, night slower.

    The minute's limit sets the uploads per call (all awake at once); the sleeping
    inverters give up calls first: the night interval takes what daylight leaves.
    """
    pace = _plan(_pv_only(100))
    per_minute = 100 * 60 / 300 * CALL_OVERHEAD
    assert pace.uploads_per_call == pytest.approx(per_minute / (PER_MINUTE * MINUTE_HEADROOM))
    assert 2.0 < pace.uploads_per_call <= 3.0
    assert NIGHT_INTERVAL < pace.night_interval <= MAX_NIGHT_INTERVAL
    assert pace.planned_calls_per_day == pytest.approx(PER_DAY * DAY_HEADROOM)


def test_sleeping_inverters_give_up_calls_before_the_awake_ones() -> None:
    """Over budget, the night interval grows to an hour before uploads are skipped more."""
    # Up to about 225 PV-only inverters the minute's limit is the one that binds
    # (daylight takes its share of the day, the nights the rest). 300 would need
    # more than the day leaves even when each sleeping one is polled once an hour.
    pace = _plan(_pv_only(300))
    minute_bound = 300 * 60 / 300 * CALL_OVERHEAD / (PER_MINUTE * MINUTE_HEADROOM)
    assert pace.night_interval == MAX_NIGHT_INTERVAL
    assert pace.uploads_per_call > minute_bound
    assert pace.planned_calls_per_day == pytest.approx(PER_DAY * DAY_HEADROOM)


def test_the_wake_watch_is_planned_for_sleeping_inverters_only() -> None:
    assert awake_fraction(0.5) == pytest.approx(0.5 + 1800 / DAY_SECONDS)
    assert awake_fraction(1.0) == 1.0
    assert awake_fraction(0.99) == 1.0


def test_fixed_intervals_take_their_calls_first() -> None:
    """Entries at a fixed interval poll regardless: the paced ones share what is left."""
    paced = _pv_only(60)
    fixed = [InverterDemand(cadence=60.0, online_fraction=1.0, paced=False)] * 3
    alone, beside = _plan(paced), _plan([*paced, *fixed])
    assert beside.uploads_per_call > alone.uploads_per_call
    assert beside.planned_calls_per_day == pytest.approx(_calls_per_day([*paced, *fixed], beside))
    assert beside.planned_calls_per_day <= PER_DAY * DAY_HEADROOM * (1 + 1e-9)
    # Fixed intervals alone: nothing to pace, their calls are planned all the same.
    only_fixed = _plan(fixed)
    assert only_fixed.uploads_per_call == 1.0
    assert only_fixed.planned_calls_per_day == pytest.approx(3 * 1440)


def test_per_minute_limit_binds_when_all_are_awake() -> None:
    """In a short winter day the day's budget allows more than the minute's does."""
    pace = _plan(_pv_only(60, fraction=0.25))
    per_minute = 60 * 60 / 300 * CALL_OVERHEAD / pace.uploads_per_call
    assert per_minute == pytest.approx(PER_MINUTE * MINUTE_HEADROOM)


inverter_sets = st.lists(
    st.builds(
        InverterDemand,
        cadence=st.floats(min_value=30, max_value=1800),
        online_fraction=st.floats(min_value=0, max_value=1),
    ),
    min_size=1,
    max_size=400,
)


@seed(12)
@settings(max_examples=600, deadline=None)
@given(inverter_sets)
def test_plan_stays_within_both_limits(inverters: list[InverterDemand]) -> None:
    pace = _plan(inverters)
    assert pace.uploads_per_call >= 1.0
    assert pace.night_interval >= NIGHT_INTERVAL
    assert _calls_per_day(inverters, pace) <= PER_DAY * DAY_HEADROOM * (1 + 1e-9)
    awake_per_minute = sum(60 / i.cadence * CALL_OVERHEAD for i in inverters)
    assert awake_per_minute / pace.uploads_per_call <= PER_MINUTE * MINUTE_HEADROOM * (1 + 1e-9)
    assert pace.planned_calls_per_day == pytest.approx(_calls_per_day(inverters, pace))


@seed(13)
@settings(max_examples=300, deadline=None)
@given(
    inverter_sets,
    st.builds(
        InverterDemand,
        cadence=st.floats(min_value=30, max_value=1800),
        online_fraction=st.floats(min_value=0, max_value=1),
    ),
)
def test_another_inverter_never_makes_the_others_poll_more_in_daylight(
    inverters: list[InverterDemand], extra: InverterDemand
) -> None:
    """Uploads per call never fall when an inverter joins.

    The night interval may fall: when the per-minute limit makes the daylight polls
    sparser, the day's budget has room again for sleeping inverters (found by this
    test with 30 s cadences).
    """
    before, after = _plan(inverters), _plan([*inverters, extra])
    assert after.uploads_per_call >= before.uploads_per_call - 1e-9


@seed(14)
@settings(max_examples=500, deadline=None)
@given(st.floats(min_value=1.0, max_value=12.0), st.integers(min_value=20, max_value=400))
def test_skipping_is_even(uploads_per_call: float, calls: int) -> None:
    """Steps are the two whole numbers around the share, and they average to it."""
    skipper = UploadSkipper()
    steps = [skipper.uploads_until_next_call(uploads_per_call) for _ in range(calls)]
    assert set(steps) <= {math.floor(uploads_per_call), math.ceil(uploads_per_call)}
    assert abs(sum(steps) - calls * uploads_per_call) <= 1.0 + 1e-6


def test_skipping_follows_a_new_share() -> None:
    skipper = UploadSkipper()
    assert [skipper.uploads_until_next_call(2.5) for _ in range(4)] == [3, 2, 3, 2]
    assert [skipper.uploads_until_next_call(1.0) for _ in range(3)] == [1, 1, 1]


def test_inverters_waking_together_poll_different_uploads() -> None:
    """Each inverter skips from a phase of its own: the token's calls do not come in bursts.

    Found by the bench: 100 inverters on one token that woke within minutes of each
    other all polled the same third of every 15 minutes (a queue of calls 90 s deep
    all day, where it is 15 s spread evenly).
    """
    ids = [f"SUT{index:07d}" for index in range(300)]
    phases = [skip_phase(inverter_id) for inverter_id in ids]
    assert all(0.0 <= phase < 1.0 for phase in phases)
    assert phases == [skip_phase(inverter_id) for inverter_id in ids]  # the same every run
    load = [0, 0, 0]
    for phase in phases:
        skipper = UploadSkipper(credit=0.5, phase=phase)
        skipper.wake()  # every one wakes at the same upload slot (index 0)
        upload = 0
        for _ in range(10):
            upload += skipper.uploads_until_next_call(3.0)
            load[upload % 3] += 1
    # Every third of the cycle carries about a third of the polls (exactly even: 1,000).
    assert all(850 <= polls <= 1150 for polls in load), load
    # Without phases they would all poll the same third.
    same = UploadSkipper(credit=0.5)
    same.wake()
    assert same.uploads_until_next_call(3.0) == 3
