"""Steady delay or delays drawn at random: what the schedule judges from its polls.

A steady delay moves by its jitter and its trend from one upload to the next; an upload
out well after where the one before it was found is a delay drawn at random.
"""

from __future__ import annotations

from custom_components.sunvec_connect.polling import JUMP, SCHEDULING_SLACK, UploadSchedule

from .test_polling_misses import Run

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


def test_a_rise_within_the_jump_leaves_the_judgement() -> None:
    """A delay a few seconds later than the last (a steady one's jitter) is found by a retry."""
    assert _trust_after([40.0] * 30 + [40.0 + JUMP - 1]) >= 0.5


def test_an_upload_that_never_came_is_not_a_jump() -> None:
    """An upload the cloud never got: the retries miss it, the next upload says nothing."""
    assert _trust_after([40.0] * 30 + [LOST, 80.0, 40.0]) >= 0.5


def test_the_descents_miss_tells_no_trend() -> None:
    """A constant 27 s delay met by a descent while the trend is trusted (a steady delay).

    The descent's failed poll (13 s) lay a whole step below the delay; taken as a bound,
    the slope from it to the next miss (about 1 s per upload) took the estimate to 40 s,
    13 s above the delay.
    """
    run = Run([27.0] * 100, schedule=_regular())
    run.poll()
    schedule = run.schedule
    first_failed, _found, _estimate = run.brackets[0]
    assert first_failed < 27.0 - schedule.max_first_descent / 2
    later = [value for now, value in run.estimates if now > run.available(12)]
    assert max(later) <= 27.0 + 2 * schedule.rise
    assert min(later) >= 27.0 - schedule.guard - schedule.max_step - SCHEDULING_SLACK


def test_the_morning_after_a_sleep_is_not_a_jump() -> None:
    """The evening's retries find nothing; the morning's first upload is out 30 s later.

    Hours apart, the two uploads say nothing of how a delay moves from one to the next.
    """
    assert _trust_after([40.0] * 30 + [LOST] * 20 + [70.0] + [40.0] * 5) >= 0.5
