"""After a miss, the failed poll bounds the publish delay from below (issue 18, item 5).

The release before set the estimate to where the retry found the upload and brought it
down a second per upload: a delay of 86 s found by the retry 87 s after the upload
time left the polls that late for the uploads after it. The test marked so fails on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import json
import random

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.sunvec_connect.polling import SCHEDULING_SLACK, UploadSchedule

T0 = datetime(2026, 6, 21, 8, 0, tzinfo=UTC)
CADENCE = 300.0
SETTINGS = settings(max_examples=200, derandomize=True, deadline=None)


@dataclass
class Run:
    """Polls of one schedule against uploads every 5 minutes with the given delays."""

    delays: list[float]
    microsecond: float = 0.3
    schedule: UploadSchedule = field(default_factory=UploadSchedule)
    brackets: list[tuple[float, float, float]] = field(default_factory=list)
    """Per upload found after a miss: the failed poll's offset, the offset it was found
    at, and the estimate then."""
    shown: dict[int, float] = field(default_factory=dict)
    """Per upload: seconds from its availability to the poll that found it."""
    estimates: list[tuple[datetime, float]] = field(default_factory=list)
    """The delay estimate after each poll."""

    def available(self, index: int) -> datetime:
        """When upload `index` is out in the cloud."""
        return T0 + timedelta(seconds=index * CADENCE + self.delays[index])

    def latest(self, now: datetime) -> int:
        """The newest upload out at `now`."""
        index = min(len(self.delays) - 1, int((now - T0).total_seconds() // CADENCE))
        while self.available(index) > now:
            index -= 1
        return index

    def poll(self) -> None:
        """Poll as a coordinator does (Home Assistant fires at whole seconds + offset)."""
        now = self.available(0) + timedelta(seconds=1)
        failed: float | None = None
        while now < self.available(len(self.delays) - 1) + timedelta(seconds=CADENCE):
            index = self.latest(now)
            upload = T0 + timedelta(seconds=index * CADENCE)
            new = index not in self.shown
            if new:
                self.shown[index] = (now - self.available(index)).total_seconds()
            aimed = upload + timedelta(seconds=CADENCE)
            wait = self.schedule.next_poll(now, upload)
            self.estimates.append((now, self.schedule.publish_delay))
            if new and failed is not None:
                seen = (now - upload).total_seconds()
                self.brackets.append((failed, seen, self.schedule.publish_delay))
                failed = None
            elif not new and now > aimed:
                failed = (now - aimed).total_seconds()
            loop_time = (now - T0).total_seconds()
            fired = int(loop_time) + self.microsecond + wait
            now += timedelta(seconds=fired - loop_time)


def test_the_retry_bounds_the_delay_from_above_and_the_failed_poll_from_below() -> None:
    """The issue's run: an 86 s delay after the default of 60 s (fails before the change).

    The planned poll 63 s after the upload time and the retry at 71 s miss it, the one
    at 87 s finds it. The estimate goes just above 71 s, not to 87 s.
    """
    run = Run([30.0, 86.0] + [30.0] * 10)
    run.poll()
    failed, found, estimate = run.brackets[0]
    assert (failed, found) == pytest.approx((71.0, 87.0), abs=1.0)
    assert failed < estimate < found
    assert estimate == pytest.approx(failed + run.schedule.rise)


@SETTINGS
@given(
    delays=st.lists(st.floats(5.0, 150.0), min_size=10, max_size=60),
    microsecond=st.floats(0.05, 0.5),
)
def test_after_a_miss_the_estimate_lies_in_the_bracket(
    delays: list[float], microsecond: float
) -> None:
    """Whatever the delays, after a miss the estimate is in (failed poll, found]."""
    run = Run(delays, microsecond)
    run.poll()
    for failed, found, estimate in run.brackets:
        assert failed < estimate <= found, (failed, estimate, found)


@SETTINGS
@given(
    delay=st.floats(5.0, 150.0),
    jitter=st.floats(0.0, 2.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_steady_delay_is_met_within_two_hours(delay: float, jitter: float, seed: int) -> None:
    """A steady delay (with up to +-2 s of jitter) is met within 24 uploads.

    From then on the estimate stays within the guard and the largest step below the
    delay and twice the rise above it (a delay climbed to in steps overshoots by at
    most one), and every upload is shown within the rise and the guard, or a retry,
    of becoming available (a retry comes no later than where the last uploads were found).
    """
    rng = random.Random(seed)
    run = Run([delay + rng.uniform(-jitter, jitter) for _ in range(120)])
    run.poll()
    schedule = run.schedule
    estimates = [value for now, value in run.estimates if now > T0 + timedelta(hours=2)]
    below = schedule.guard + schedule.max_step + SCHEDULING_SLACK + jitter
    above = 2 * schedule.rise + 2 * jitter
    assert delay - below <= min(estimates)
    assert max(estimates) <= delay + above
    # A retry comes after `first_retry` or, while misses look random, where the last
    # uploads were found: at most at the highest estimate and the guard.
    latest_found = above + schedule.guard + SCHEDULING_SLACK
    bound = (
        max(schedule.rise + schedule.guard, schedule.first_retry, latest_found) + 2 * jitter + 1.5
    )
    assert max(s for index, s in run.shown.items() if index >= 24) <= bound


def test_what_is_learned_survives_a_restart_and_older_releases_restore() -> None:
    run = Run([40.0 + index % 3 for index in range(60)])
    run.poll()
    run.schedule.random_seen = True
    kept = UploadSchedule()
    now = T0 + timedelta(seconds=len(run.delays) * CADENCE)
    kept.restore(json.loads(json.dumps(run.schedule.as_dict())), now)
    learned = (
        "publish_delay",
        "trend",
        "run_length",
        "run_variation",
        "delay_bounded",
        "random_seen",
    )
    assert [getattr(kept, name) for name in learned] == [
        getattr(run.schedule, name) for name in learned
    ]
    # What the release before kept: no trend, no runs of hits (judged afresh: at first
    # a steady delay, its trend trusted).
    older = UploadSchedule()
    older.restore({"cadence": 300, "publish_delay": 45.5, "delay_bounded": True, "gaps": []}, now)
    assert (older.publish_delay, older.trend, older.trust, older.random_seen) == (
        45.5,
        0.0,
        1.0,
        False,
    )
    assert older.runs_seen == 0
    broken = UploadSchedule()
    broken.restore({"trend": 1e9, "hit_runs": [0, -1]}, now)
    assert (broken.trend, broken.run_length) == (1.0, 10.0)


def test_the_descents_miss_tries_the_middle_of_its_step() -> None:
    """The descent's last step (8 s) bracketed a 44 s delay: the next poll tries its middle.

    That poll finds the upload: the first two hours miss once. (With steps of up to 16 s,
    the step from 48 s to 32 s left a bracket twice as wide and its middle missed too.)
    """
    run = Run([44.0] * 24)
    run.poll()
    failed, found, estimate = run.brackets[0]
    assert (failed, found) == pytest.approx((40.0, 48.0), abs=1.0)
    assert estimate == pytest.approx(failed + run.schedule.max_first_descent / 2)
    assert len(run.brackets) == 1


def test_steady_delays_are_met_with_fewer_misses_after_the_descent() -> None:
    """Over steady delays of 20..60 s, the first two hours miss 1.5 uploads or fewer on average.

    Climbing 3 s at a time from the descent's failed poll missed 1.8 on average (3 for one
    in six); trying the middle of the step misses 1.4 (3 for two delays).
    """
    misses = []
    for tenth in range(200, 600, 5):
        run = Run([tenth / 10] * 24)
        run.poll()
        misses.append(len(run.brackets))
    assert sum(misses) / len(misses) <= 1.5
    assert sum(count >= 3 for count in misses) <= 2
