"""The benchmark's staleness frontier: no schedule beats it, and it is reached."""

from __future__ import annotations

from functools import cache
import itertools

from hypothesis import assume, given, seed, settings, strategies as st
import pytest

from benchmarks.frontier import (
    DelayDistribution,
    Schedule,
    best_staleness,
    best_staleness_on,
    frontier,
    on_draws,
    optimal_schedule,
)

LOW, HIGH = 20.0, 90.0


@cache
def _uniform() -> tuple[DelayDistribution, tuple[Schedule, ...]]:
    distribution = DelayDistribution.uniform(LOW, HIGH)
    return distribution, tuple(frontier(distribution))


def test_one_call_per_upload_waits_for_the_longest_delay() -> None:
    """One call per upload means polling at the longest delay: mean staleness (90-20)/2."""
    _, hull = _uniform()
    assert best_staleness(hull, 1.0) == pytest.approx(35.0)


def test_two_poll_schedule_in_closed_form() -> None:
    """Polls at t and 90 cost 1 + (90-t)/70 calls and give ((t-20)^2 + (90-t)^2)/140 s."""
    distribution, _ = _uniform()
    schedule = distribution.schedule_cost([85.0, 90.0])
    assert schedule.calls_per_upload == pytest.approx(1 + 5 / 70)
    assert schedule.mean_staleness == pytest.approx((65**2 + 5**2) / 140)


def test_frontier_is_decreasing_and_convex() -> None:
    _, hull = _uniform()
    calls = [s.calls_per_upload for s in hull]
    staleness = [s.mean_staleness for s in hull]
    assert calls == sorted(calls)
    assert all(b < a for a, b in itertools.pairwise(staleness))
    slopes = [
        (b.mean_staleness - a.mean_staleness) / (b.calls_per_upload - a.calls_per_upload)
        for a, b in itertools.pairwise(hull)
    ]
    assert all(s2 >= s1 - 1e-9 for s1, s2 in itertools.pairwise(slopes))


def test_optimal_schedule_is_reachable() -> None:
    """The schedule the optimiser returns costs what it says."""
    distribution, _ = _uniform()
    schedule = optimal_schedule(distribution, 30.0)
    again = distribution.schedule_cost(schedule.offsets)
    assert again == schedule
    assert schedule.offsets[-1] == HIGH


@seed(20261125)
@settings(max_examples=1000, deadline=None)
@given(
    st.lists(st.floats(min_value=0.0, max_value=HIGH), max_size=6).map(
        lambda offsets: [*offsets, HIGH]
    )
)
def test_no_schedule_beats_the_frontier(offsets: list[float]) -> None:
    """Any fixed schedule lies on or above the frontier at its own calls per upload.

    The frontier's polls sit on a 0.25 s grid: a schedule polling between grid points
    may beat it by at most density * width^2 = 0.25^2 / 70 s.
    """
    distribution, hull = _uniform()
    schedule = distribution.schedule_cost(offsets)
    assume(schedule.calls_per_upload <= hull[-1].calls_per_upload)
    grid_gain = 0.25**2 / (HIGH - LOW)
    assert schedule.mean_staleness >= best_staleness(hull, schedule.calls_per_upload) - grid_gain


def test_last_poll_must_cover_every_delay() -> None:
    distribution, _ = _uniform()
    with pytest.raises(ValueError, match="last poll"):
        distribution.schedule_cost([60.0])


def test_the_frontier_on_even_draws_is_the_frontier() -> None:
    """Delays spread evenly over 20..90 s give the frontier's own expectation."""
    _, hull = _uniform()
    delays = [LOW + (HIGH - LOW) * (index + 0.5) / 7000 for index in range(7000)]
    for calls in (1.0, 1.02, 1.05, 1.1, 1.4, 2.0):
        assert best_staleness_on(hull, calls, delays) == pytest.approx(
            best_staleness(hull, calls), abs=0.01
        )


def test_a_schedule_on_drawn_delays_in_closed_form() -> None:
    """Polls at 85 and 90 s for delays of 30, 80 and 88 s: 4 calls and 55 + 5 + 2 s."""
    measured = on_draws(Schedule((85.0, 90.0), 0.0, 0.0), [30.0, 80.0, 88.0])
    assert measured.calls_per_upload == pytest.approx(4 / 3)
    assert measured.mean_staleness == pytest.approx(62 / 3)
