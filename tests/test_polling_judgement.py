"""Steady delay or delays drawn at random: what the schedule judges from its polls.

A steady delay moves by its jitter and its trend from one upload to the next; an upload
out well after where the one before it was found is a delay drawn at random.
"""

from __future__ import annotations

from datetime import UTC, datetime
import random

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.sunvec_connect.polling import (
    JUDGED_RUN_GAIN,
    JUMP,
    MIN_RUNS,
    RANDOM_FADE,
    RANDOM_LONG_RUNS,
    RANDOM_RISE,
    RUN_GAIN,
    SCHEDULING_SLACK,
    UploadSchedule,
)

from .test_polling_misses import Run

SETTINGS = settings(max_examples=100, derandomize=True, deadline=None)
LOST = 10_000.0
"""A publish delay no poll waits for: the upload never comes out before the next."""


def _regular() -> UploadSchedule:
    """A schedule that has seen regular runs of hits between misses: a steady delay."""
    schedule = UploadSchedule(run_length=10.0, run_variation=1.0, runs_seen=3)
    assert schedule.trust == 1.0
    return schedule


def _trust_after(delays: list[float]) -> float:
    run = Run(delays, schedule=_regular())
    run.poll()
    return run.schedule.trust


def test_an_upload_out_far_later_than_the_one_before_is_a_random_delay() -> None:
    """A 30 s jump from one upload to the next: found after the second retry, judged random."""
    assert _trust_after([40.0] * 30) >= 0.5
    assert _trust_after([40.0] * 30 + [70.0]) == 0.0


def _estimate_after(run: Run, index: int) -> float:
    """The delay estimate when upload `index` came out."""
    return [value for now, value in run.estimates if now <= run.available(index)][-1]


def test_random_delays_creep_through_a_long_run_and_a_fall_is_followed() -> None:
    """After the jump, 200 uploads out 20 s after their times: all hits at the first poll.

    Delays drawn at random and polled at a high quantile give runs of hits several
    times the usual length now and then; the step that doubles after 15 hits (for a
    steady delay falling faster than its trend) took the polls 30 s down within 40
    uploads of such a run. Now the estimate creeps a `decrease_step` per hit until the
    run is `RANDOM_LONG_RUNS` usual runs long, then the step doubles: a fall of the
    delays by 50 s is followed within 120 uploads (ten hours of daylight).
    """
    jump = 30
    run = Run([40.0] * jump + [70.0] + [20.0] * 200, schedule=_regular())
    run.poll()
    schedule = run.schedule
    assert schedule.random_seen
    after_jump = _estimate_after(run, jump + 1)
    # Runs learned at the jump: 10 hits, then 30 (about 16 at their weights); 40 hits are
    # well within four of them.
    creeping = 40
    assert _estimate_after(run, jump + 1 + creeping) >= after_jump - (
        creeping * schedule.decrease_step + 0.01
    )
    late = [shown for index, shown in run.shown.items() if index > jump + 120]
    assert late
    assert max(late) <= schedule.guard + 2 * schedule.rise + SCHEDULING_SLACK


def test_a_steady_delay_that_falls_is_caught_up_with() -> None:
    """No jump seen: after 15 hits the step doubles every 4 and follows a fall of 50 s."""
    run = Run([70.0] * 30 + [20.0] * 120, schedule=_regular())
    run.poll()
    assert not run.schedule.random_seen
    late = [shown for index, shown in run.shown.items() if index > 30 + 60]
    assert max(late) <= run.schedule.guard + 2 * run.schedule.rise + SCHEDULING_SLACK


def test_a_rise_within_the_jump_leaves_the_judgement() -> None:
    """A delay a few seconds later than the last (a steady one's jitter) is found by a retry."""
    assert _trust_after([40.0] * 30 + [40.0 + JUMP - 1]) >= 0.5


def test_an_upload_that_never_came_is_not_a_jump() -> None:
    """An upload the cloud never got: the retries miss it, the next upload says nothing."""
    assert _trust_after([40.0] * 30 + [LOST, 80.0, 40.0]) >= 0.5


def test_the_descents_miss_tells_no_trend() -> None:
    """A constant 30 s delay met by a descent while the trend is trusted (a steady delay).

    The descent's failed poll (24 s) lay most of a step below the delay; taken as a bound,
    the slope from it to a later miss took the estimate to 38 s, 8 s above the delay.
    """
    run = Run([30.0] * 100, schedule=_regular())
    run.poll()
    schedule = run.schedule
    first_failed, _found, _estimate = run.brackets[0]
    assert first_failed < 30.0 - schedule.max_first_descent / 2
    later = [value for now, value in run.estimates if now > run.available(12)]
    assert max(later) <= 30.0 + 2 * schedule.rise
    assert min(later) >= 30.0 - schedule.guard - schedule.max_step - SCHEDULING_SLACK


def test_a_climb_to_a_long_delay_tells_no_trend() -> None:
    """A constant 106 s delay, above the 60 s default, met by misses in a row.

    The climb's last failed poll lay up to a whole rise below the delay; taken as a bound
    with the trend trusted, the slope from it to the next miss took the estimate 8 s above
    the delay (in test_polling_jitter.py, polls 14 s after the uploads were out).
    """
    run = Run([106.0] * 60)
    run.poll()
    climb = [failed for failed, _found, _estimate in run.brackets if failed < 106.0 - 8.0]
    assert climb
    later = [value for now, value in run.estimates if now > run.available(8)]
    schedule = run.schedule
    assert max(later) <= 106.0 + 2 * schedule.rise
    assert min(later) >= 106.0 - schedule.guard - schedule.max_step - SCHEDULING_SLACK


def test_the_morning_after_a_sleep_is_not_a_jump() -> None:
    """The evening's retries find nothing; the morning's first upload is out 30 s later.

    Hours apart, the two uploads say nothing of how a delay moves from one to the next.
    """
    assert _trust_after([40.0] * 30 + [LOST] * 20 + [70.0] + [40.0] * 5) >= 0.5


class _Recording(UploadSchedule):
    """A schedule that notes, at each miss, what bounds the estimate it sets."""

    def __init__(self) -> None:
        super().__init__(run_length=10.0, run_variation=1.0, runs_seen=3)
        self.misses_seen: list[tuple[float, float, float, bool, float]] = []

    def _after_miss(self, upload_time: datetime, low: float, high: float) -> None:
        super()._after_miss(upload_time, low, high)
        judged_random = self.drawn_at_random
        highest = max(self.failed_polls, default=low)
        self.misses_seen.append((low, high, self.publish_delay, judged_random, highest))


@SETTINGS
@given(spread=st.floats(10.0, 70.0), seed=st.integers(0, 2**32 - 1))
def test_random_delays_are_polled_no_later_than_the_misses_showed(spread: float, seed: int) -> None:
    """Once judged random, a miss takes the estimate at most `RANDOM_RISE` higher.

    Above the highest failed poll of the last misses, that is; never to or below the
    failed poll of the miss itself.
    """
    rng = random.Random(seed)
    schedule = _Recording()
    drawn = [rng.uniform(90.0 - spread, 90.0) for _ in range(120)]
    run = Run([40.0] * 30 + [70.0] + drawn, schedule=schedule)
    run.poll()
    assert schedule.random_seen
    judged = [miss for miss in schedule.misses_seen if miss[3]]
    assert judged
    for low, high, estimate, _judged, highest in judged:
        assert low < estimate <= min(high, highest + RANDOM_RISE)


@SETTINGS
@given(slope=st.floats(0.2, 0.7), seed=st.integers(0, 2**32 - 1))
def test_a_rising_first_morning_is_followed_from_the_first_misses(slope: float, seed: int) -> None:
    """A new schedule meets a delay rising through six hours (jitter 2 s): six misses at most.

    Nothing judged yet, its trend is trusted from the first two misses after the descent.
    Judged as random until runs of hits said otherwise, the schedule left the trend aside
    and missed up to eight times in those six hours (every five to eight uploads).
    """
    rng = random.Random(seed)
    run = Run([40.0 + slope * index + rng.uniform(-2.0, 2.0) for index in range(72)])
    run.poll()
    assert len(run.brackets) <= 6
    assert not run.schedule.random_seen


def test_the_creep_halves_only_once_runs_of_hits_showed_a_followed_trend() -> None:
    """Trusted at first, the trend is not yet known to be followed: the creep stays whole."""
    schedule = UploadSchedule(publish_delay=50.0, delay_bounded=True)
    assert schedule.trust == 1.0
    schedule._after_hit()
    assert schedule.publish_delay == pytest.approx(50.0 - schedule.decrease_step)
    schedule.runs_seen = MIN_RUNS
    schedule._after_hit()
    assert schedule.publish_delay == pytest.approx(50.0 - 1.5 * schedule.decrease_step)


def test_a_rising_trend_fades_faster_once_delays_were_seen_drawn_at_random() -> None:
    """A rise of the delay ends slowly; where delays are drawn at random it is mostly noise."""
    steady = UploadSchedule(publish_delay=50.0, delay_bounded=True, trend=0.5)
    steady._after_hit()
    drawn = UploadSchedule(publish_delay=50.0, delay_bounded=True, trend=0.5, random_seen=True)
    drawn._after_hit()
    assert steady.trend == pytest.approx(0.5 - steady.trend_fade)
    assert drawn.trend == pytest.approx(0.5 - RANDOM_FADE * drawn.trend_fade)


class _Judging(UploadSchedule):
    """A regular schedule that notes, at each poll after a jump, whether it trusts the trend."""

    def __init__(self) -> None:
        super().__init__(run_length=10.0, run_variation=1.0, runs_seen=3)
        self.trusted: list[tuple[datetime, bool]] = []

    def next_poll(self, now: datetime, upload_time: datetime | None) -> float:
        wait = super().next_poll(now, upload_time)
        if self.random_seen and upload_time is not None:
            self.trusted.append((upload_time, self.trust >= 0.5))
        return wait


@SETTINGS
@given(spread=st.floats(10.0, 70.0), seed=st.integers(0, 2**32 - 1))
def test_delays_drawn_at_random_stay_judged_so(spread: float, seed: int) -> None:
    """After the jump, 400 delays drawn at random: no trend trusted at 60 % of the polls or more.

    Their runs of hits look regular now and then; learned at the full weight they had
    the noise trusted as a trend at half of the polls in a tenth of these histories (and
    at three quarters in the worst).
    """
    rng = random.Random(seed)
    schedule = _Judging()
    Run(
        [40.0] * 30 + [70.0] + [rng.uniform(90.0 - spread, 90.0) for _ in range(400)],
        schedule=schedule,
    ).poll()
    judged_random = [not trusted for _upload, trusted in schedule.trusted]
    assert len(judged_random) >= 400
    assert sum(judged_random) >= 0.6 * len(judged_random)


@SETTINGS
@given(level=st.floats(30.0, 60.0), slope=st.floats(-0.02, 0.02), seed=st.integers(0, 2**32 - 1))
def test_a_steady_delay_taken_for_random_after_one_outlier_is_trusted_again(
    level: float, slope: float, seed: int
) -> None:
    """One upload 30 s late, then a steady delay (jitter 2 s): trusted within 900 uploads.

    The runs learn slowly once delays were seen drawn at random; regular ones overturn
    the jump's judgement after 400 to 750 uploads (two to five days of daylight). The
    uploads are met meanwhile: a mean lateness of at most 15 s (about 8 s typically).
    """
    rng = random.Random(seed)
    steady = [level + slope * index + rng.uniform(-2.0, 2.0) for index in range(1000)]
    schedule = _Judging()
    run = Run([40.0] * 30 + [level + 30.0, *steady], schedule=schedule)
    run.poll()
    jumped = schedule.trusted[0][0]
    trusted = [upload for upload, trusted in schedule.trusted if trusted]
    assert trusted
    assert (trusted[0] - jumped).total_seconds() <= 900 * 300
    first_day = [run.shown[index] for index in range(31, 31 + 288)]
    assert sum(first_day) / len(first_day) <= 15.0


def test_a_run_far_longer_than_the_usual_counts_as_four_of_them() -> None:
    """A run of 200 hits (the delays moved) teaches the runs as one of 40 would."""
    schedule = UploadSchedule(
        publish_delay=50.0, delay_bounded=True, run_length=10.0, run_variation=5.0, runs_seen=3
    )
    schedule.hits_in_row = 199
    schedule._after_miss(datetime(2026, 6, 1, 12, 0, tzinfo=UTC), 49.0, 52.0)
    assert schedule.run_length == pytest.approx(10.0 + RUN_GAIN * (RANDOM_LONG_RUNS * 10.0 - 10.0))


def test_runs_learn_slowly_once_delays_were_seen_drawn_at_random() -> None:
    """A run of 20 hits after 10s: a third of the weight once a jump was seen."""
    steady = UploadSchedule(publish_delay=50.0, delay_bounded=True, run_length=10.0)
    drawn = UploadSchedule(
        publish_delay=50.0, delay_bounded=True, run_length=10.0, random_seen=True
    )
    for schedule in (steady, drawn):
        schedule.hits_in_row = 19
        schedule._after_miss(datetime(2026, 6, 1, 12, 0, tzinfo=UTC), 49.0, 52.0)
    assert steady.run_length == pytest.approx(10.0 + RUN_GAIN * 10.0)
    assert drawn.run_length == pytest.approx(10.0 + JUDGED_RUN_GAIN * 10.0)
