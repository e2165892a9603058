"""When to call the cloud: polls aligned to the inverter's uploads.

Pure logic without Home Assistant imports; times are timezone-aware datetimes. The
token's rate budget, which every poll also needs, is in budget.py; the share of the
token's calls each inverter gets (the pace) in pacing.py.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
from statistics import median
from typing import Any

from .kept import aware_time, finite_number, past_time
from .pacing import NIGHT_INTERVAL, WAKE_WATCH, Pace, UploadSkipper

DEFAULT_CADENCE = 300.0
"""Seconds between two uploads until the real cadence has been seen."""
DEFAULT_PUBLISH_DELAY = 60.0
"""Seconds from an upload's time to its availability in the cloud, until learned."""
MIN_GAPS_TRUSTED = 3
"""Until this many gaps were seen, a long gap counts as several default cadences."""
MIN_CADENCE = 30.0
MAX_CADENCE = 1800.0
STALE_EXTRA_CADENCES = 2
"""An upload stays fresh this many cadences longer than the polls are apart."""
SCHEDULING_SLACK = 1.0
"""Seconds a coordinator's refresh may fire before the time asked for: Home Assistant
counts the interval from the whole second before now (and adds under half a second)."""
TREND_SPAN = (4.0, 72.0)
"""Uploads between two misses whose failed polls tell the delay's trend (fewer: too
noisy a slope; more: too old)."""
MAX_TREND = 1.0
"""Seconds per upload the delay is assumed to move at most."""
REGULAR_RUNS = (0.4, 0.9)
"""The runs of first-try hits between misses vary by this share of their length or
less: the trend is trusted wholly; by this or more: not at all."""
MIN_RUNS = 3
"""Runs of hits between misses seen before misses are judged to come at random."""
JUMP = 6.0
"""Seconds a delay may rise from one upload to the next and still be a steady delay
(which moves by its jitter and the trend): an upload out later than that after where the
one before it was found is a delay drawn at random."""
RANDOM_LONG_RUNS = 4.0
"""Learned run lengths after which a run of hits is long once delays were seen drawn at
random: their runs vary as much as they are long, and one over four times the usual
length (about 2 % of them) says the delays moved. A run longer than that counts as that
long in the learned runs (an outlier that would hold them high for many runs)."""
FAILED_POLLS_KEPT = 16
"""The last misses whose failed polls bound where delays drawn at random go."""
RANDOM_RISE = 1.0
"""Seconds above the highest of those failed polls a miss takes the estimate at most
while delays are drawn at random."""
RANDOM_FADE = 2.0
"""How much faster a rising trend fades once delays were seen drawn at random (where
a trend is mostly noise)."""
RUN_GAIN = 0.3
"""Weight of the latest run of hits in the learned run length and its variation."""
JUDGED_RUN_GAIN = 0.1
"""That weight once delays were seen drawn at random. Polled at a high quantile, such
delays give runs of hits that look regular now and then (at the full weight, polls
trusted a trend that was noise a third of the time) while a jump, the sign that is not
noise, comes once or twice a day; a steady delay taken for random after one outlier is
trusted again after two to five days of daylight (400 to 750 uploads)."""
SPREAD_UPLOADS = 24
"""The last uploads whose lateness after their planned polls tells the delays' spread."""
DEFAULT_SPREAD = 30.0
"""Seconds an upload may come out after its planned poll, until uploads were seen."""
MORNING_SETTLE = 12
"""Uploads after a wake at which the estimate is noted for the next morning."""
DAY = timedelta(hours=24)
MAX_UNOBSERVED = timedelta(hours=1)
"""A restart that left the inverter unobserved longer than this starts a new day."""


@dataclass(slots=True)
class UploadSchedule:
    """Plans the next poll just after the upload it aims at should be available.

    It learns the upload cadence from successive upload times and tracks the
    publish delay. A miss bounds the delay from below (the failed poll) and above
    (the retry that found the upload): the estimate goes just above the failed
    poll, within that bracket (to its middle after the first descent's miss).
    After each first-try hit it follows the delay's trend and creeps down, faster
    the longer the run of hits, so that a miss now and then tells where the delay
    is. The trend is the slope between the failed polls of the last two misses (not
    those of the descent or of a climb through misses in a row), trusted as far as the
    runs of hits between misses are regular: a steady delay is met at regular
    intervals, delays drawn at random at random ones (where the slope is noise). Until
    runs say otherwise it is trusted wholly (a steady delay). An upload out over `JUMP`
    later than the one before it is a delay drawn at random at once, a judgement the
    runs overturn only slowly (they learn at a third of their weight); from then on,
    while the misses come at random, the step doubles only after runs far longer than
    the usual ones, and a miss takes the estimate no higher than a second above the
    highest failed poll of the last misses.

    Under the token's pace it aims `UploadSkipper` uploads ahead (every second,
    third, ... upload, evenly) and, while the inverter sleeps, polls at the pace's
    night interval.
    """

    guard: float = 3.0
    """Seconds added to the delay estimate."""
    rise: float = 3.0
    """Seconds above the failed poll the estimate goes after a miss (doubled for each
    upload missed in a row before)."""
    decrease_step: float = 0.1
    """Seconds the delay estimate shrinks after each first-try hit (besides the trend)."""
    long_run: int = 15
    """First-try hits in a row after which the step doubles every `run_doubling` hits:
    a delay that falls faster than the trend says is caught up with."""
    run_doubling: float = 4.0
    max_step: float = 2.0
    trend_fade: float = 0.01
    """Seconds per upload a rising trend loses at each first-try hit (a rise ends): about
    as fast as the slope of a daily cycle of the cloud's load changes."""
    max_first_descent: float = 8.0
    """Until a miss first bounds the delay from below, each first-try hit doubles the
    step the estimate shrinks by, up to this: the 60 s default comes down to a short
    real delay within a few uploads instead of one second per upload."""
    delay_bounded: bool = False
    """A poll has missed an upload: the estimate has met the real delay from below."""
    descent: float = 1.0
    """Seconds the estimate shrinks at the next first-try hit until the first miss."""
    last_descent: float = 0.0
    """Seconds of the last step down before the first miss (the upload before was out
    at that much more)."""
    trend: float = 0.0
    """Seconds per upload the delay is moving, as the misses tell (trust applied)."""
    hits_in_row: int = 0
    """First-try hits since the last miss."""
    missed_in_row: int = 0
    """Uploads in a row found only by a retry."""
    runs_seen: int = 0
    """Runs of hits between two misses seen (up to `MIN_RUNS`; kept runs count as many)."""
    run_length: float = 10.0
    run_variation: float = 2.0
    """Learned runs of first-try hits between misses: their length and its mean
    absolute deviation (at first regular: a steady delay, until runs of hits or a jump
    show delays drawn at random)."""
    failed_offset: float | None = None
    """Seconds after the aimed upload time of the last poll that missed it."""
    last_found: tuple[datetime, float] | None = None
    """The last upload seen and the seconds after its time it was found."""
    last_bound: tuple[datetime, float] | None = None
    """The upload time and the failed poll's offset of the last miss that tells a trend."""
    random_seen: bool = False
    """An upload was out over `JUMP` later than the one before it: delays drawn at random."""
    failed_polls: deque[float] = field(default_factory=lambda: deque(maxlen=FAILED_POLLS_KEPT))
    """Seconds after their aimed upload times of the last failed polls (once bounded)."""
    first_retry: float = 8.0
    """Seconds before the first retry when the expected upload is not there yet."""
    min_wait: float = 5.0
    cadence: float = DEFAULT_CADENCE
    publish_delay: float = DEFAULT_PUBLISH_DELAY
    last_upload: datetime | None = None
    misses: int = 0
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=12))
    uploads_per_call: float = 1.0
    """The pace in force: 1 polls every upload, 2.5 every second and third in turn."""
    night_interval: float = NIGHT_INTERVAL
    """Seconds between polls while the inverter is offline (at night)."""
    skipper: UploadSkipper = field(default_factory=UploadSkipper)
    target: datetime | None = None
    """The upload time the next poll aims at (None: the next upload)."""
    steps: int = 1
    """How many uploads past `aimed_from` `target` lies."""
    aimed_from: datetime | None = None
    """The upload from which the poll aims `steps` uploads ahead."""
    wake_watch: tuple[datetime, datetime] | None = None
    """From when to when the sleeping inverter is watched for its wake (None: never)."""
    morning_delay: float | None = None
    """The estimate `MORNING_SETTLE` uploads after the last wake, moved back to the wake
    by the trend: where the next morning starts (the cloud's load follows the day)."""
    woke_at: datetime | None = None
    """The first upload after the last wake, until the morning's estimate was noted."""
    found_at: deque[float] = field(default_factory=lambda: deque(maxlen=SPREAD_UPLOADS))
    """Seconds after their upload times the last uploads were found."""
    overruns: deque[float] = field(default_factory=lambda: deque(maxlen=SPREAD_UPLOADS))
    """Seconds after its planned poll each of the last uploads was found (0: at it)."""

    def follow(self, pace: Pace) -> None:
        """Take the token's pace for the polls planned from now on."""
        self.uploads_per_call = max(1.0, pace.uploads_per_call)
        self.night_interval = pace.night_interval

    @property
    def uploads_between_polls(self) -> int:
        """The most uploads from one poll's upload to the next under the pace."""
        return max(1, math.ceil(self.uploads_per_call - 1e-9))

    @property
    def stale_after(self) -> timedelta:
        """Age from which an upload no longer describes the present.

        Two cadences more than the polls are apart, so that entities refreshed every
        third upload do not flicker to unavailable between two polls.
        """
        return timedelta(seconds=(self.uploads_between_polls + STALE_EXTRA_CADENCES) * self.cadence)

    def is_offline(self, now: datetime) -> bool:
        """No new upload for longer than the stale limit (and the publish delay)."""
        if self.last_upload is None:
            return False
        age = (now - self.last_upload).total_seconds()
        return age > self.stale_after.total_seconds() + self.publish_delay

    def next_poll(self, now: datetime, upload_time: datetime | None) -> float:
        """Record a successful poll that returned `upload_time`; return seconds to wait."""
        if upload_time is None:
            # No readable upload time: no new upload (a minute's retry would spend
            # 1,440 calls a day on a cloud that keeps answering so).
            if self.last_upload is None:
                return self.cadence
            return self._same_upload(now)
        if self.last_upload is None or upload_time > self.last_upload:
            if self._before_target(upload_time) and not self.is_offline(now):
                return self._intermediate_upload(now, upload_time)
            return self._new_upload(now, upload_time)
        return self._same_upload(now)

    def _before_target(self, upload_time: datetime) -> bool:
        """Whether a skipping poll found an upload before the one it aimed at."""
        return (
            self.steps > 1
            and self.target is not None
            and (self.target - upload_time).total_seconds() > self.cadence / 2
        )

    def _intermediate_upload(self, now: datetime, upload_time: datetime) -> float:
        """Show an upload older than the one aimed at, and keep aiming at that one."""
        self.last_upload = upload_time
        return self._retry(now, upload_time)

    def _new_upload(self, now: datetime, upload_time: datetime) -> float:
        if (known := self._gap_in_uploads(upload_time)) is not None:
            gap, uploads = known
            if MIN_CADENCE <= gap / uploads <= MAX_CADENCE:
                self._learn_cadence(gap / uploads)
        seen_after = (now - upload_time).total_seconds()
        if self.last_upload is not None and upload_time - self.last_upload > self.stale_after:
            self._after_sleep(upload_time)
        low = self.failed_offset
        if self.misses and low is not None and low < seen_after and self._aimed(upload_time):
            if self.delay_bounded:
                # (Not the miss that ends the first descent: its retry was the last step.)
                self.overruns.append(seen_after - low)
                self.found_at.append(seen_after)
            self._after_miss(upload_time, low, seen_after)
        elif self.misses:
            # Not the upload the failed poll aimed at: only bounded from above.
            self.publish_delay = seen_after
            self.delay_bounded = True
            self.hits_in_row = 0
        elif (
            self.last_upload is not None
            and seen_after <= self.publish_delay + self.guard + SCHEDULING_SLACK
        ):
            # Found at the planned poll (a refresh fires up to half a second late).
            if self.delay_bounded:
                # (Not the hits of the first descent: polls far above the delay.)
                self.found_at.append(seen_after)
            self._after_hit()
            self.overruns.append(0.0)
        if self.misses > 1 and low is not None and self._jumped(upload_time, low):
            # Not a steady delay: judged random (no trend) until runs of hits say otherwise.
            self.run_variation = max(self.run_variation, REGULAR_RUNS[1] * self.run_length)
            self.trend = 0.0
            self.random_seen = True
        self.last_found = (upload_time, seen_after)
        self.misses = 0
        self.failed_offset = None
        self._note_the_morning(upload_time)
        self.last_upload = self.aimed_from = upload_time
        if self.is_offline(now):
            # New to us but old (the first call at night): the inverter sleeps.
            return self._same_upload(now)
        self.steps = self.skipper.uploads_until_next_call(self.uploads_per_call)
        self.target = upload_time + timedelta(seconds=self.steps * self.cadence)
        return self._wait_for(now, self.target)

    def _jumped(self, upload_time: datetime, low: float) -> bool:
        """Whether the upload after the last one seen was out over `JUMP` later than it.

        Out after `low` seconds (a retry missed it there), where the one before was found
        earlier. An upload that never came (the inverter went to sleep) tells nothing.
        """
        if self.last_found is None or not self._aimed(upload_time):
            return False
        before, found = self.last_found
        return abs((upload_time - before).total_seconds() - self.cadence) < self.cadence / 2 and (
            low > found + JUMP
        )

    def _aimed(self, upload_time: datetime) -> bool:
        """Whether `upload_time` is the upload the polls aimed at."""
        aimed = self.target
        return aimed is None or abs((upload_time - aimed).total_seconds()) < self.cadence / 2

    @property
    def trust(self) -> float:
        """How far the trend is trusted: 1 when misses come regularly, 0 at random."""
        variation = self.run_variation / max(1.0, self.run_length)
        regular, random = REGULAR_RUNS
        return max(0.0, min(1.0, (random - variation) / (random - regular)))

    @property
    def drawn_at_random(self) -> bool:
        """Whether delays were seen drawn at random and the misses still come at random."""
        return self.random_seen and self.trust < 0.5

    def _after_miss(self, upload_time: datetime, low: float, high: float) -> None:
        """The delay of the upload found at `high` seconds lay above `low`."""
        if self.delay_bounded:
            # A run of hits between two misses (not the descent that found the delay).
            run = min(self.hits_in_row + 1, RANDOM_LONG_RUNS * self.run_length)
            gain = JUDGED_RUN_GAIN if self.random_seen else RUN_GAIN
            self.runs_seen = min(MIN_RUNS, self.runs_seen + 1)
            self.run_variation += gain * (abs(run - self.run_length) - self.run_variation)
            self.run_length += gain * (run - self.run_length)
        self.trend = 0.0
        if self.last_bound is not None:
            since, before = self.last_bound
            uploads = (upload_time - since).total_seconds() / self.cadence
            if TREND_SPAN[0] <= uploads <= TREND_SPAN[1]:
                slope = self.trust * (low - before) / uploads
                self.trend = max(-MAX_TREND, min(MAX_TREND, slope))
        # The failed poll of the descent, or of a climb through uploads missed in a row, lies
        # up to a whole step below the delay: no trend from it.
        climbing = self.missed_in_row > 0
        self.last_bound = (upload_time, low) if self.delay_bounded and not climbing else None
        # Just above the failed poll; further at each upload missed in a row (the delay
        # jumped).
        self.missed_in_row += 1
        rise = self.rise * 2 ** max(0, self.missed_in_row - 2)
        if not self.delay_bounded:
            # The descent's last step bracketed the delay: try the middle of that step.
            rise = max(rise, self.last_descent / 2)
        self.publish_delay = min(high, low + rise)
        if self.delay_bounded:
            self.failed_polls.append(low)
            if self.drawn_at_random:
                # Delays drawn at random: a poll above the highest delay the misses showed
                # only waits longer for the uploads out before it.
                highest = max(self.failed_polls) + RANDOM_RISE
                self.publish_delay = min(self.publish_delay, highest)
        self.delay_bounded = True
        self.hits_in_row = 0

    def _after_sleep(self, upload_time: datetime) -> None:
        """The inverter woke (or its uploads resumed): start as on the last morning.

        The trend and the misses of the evening before are over. Delays drawn at random
        keep the level the watch aimed at (the later of the estimate and the morning's);
        a delay that moves starts from the morning's, or descends without one.
        """
        self.trend = 0.0
        self.last_bound = None
        self.hits_in_row = self.missed_in_row = 0
        self.skipper.wake()
        self.publish_delay = self.watch_delay
        if self.trust >= 0.5:
            # A delay that moves was elsewhere the evening before: start from the last
            # morning's; without one, descend from the evening's in doubling steps
            # until a miss bounds it (delays drawn at random keep their level).
            if self.morning_delay is not None:
                self.publish_delay = self.morning_delay
            else:
                self.delay_bounded = False
                self.descent = 1.0
                self.last_descent = 0.0
                self.found_at.clear()
        self.woke_at = upload_time

    def _note_the_morning(self, upload_time: datetime) -> None:
        """`MORNING_SETTLE` uploads after a wake, note the estimate for the next morning."""
        if self.woke_at is None or not self.delay_bounded:
            return
        uploads = (upload_time - self.woke_at).total_seconds() / self.cadence
        if uploads >= MORNING_SETTLE:
            self.woke_at = None
            self.morning_delay = max(0.0, self.publish_delay - self.trend * uploads)

    def _after_hit(self) -> None:
        if not self.delay_bounded:
            # Coming down from the default in doubling steps until the first miss.
            self.publish_delay = max(0.0, self.publish_delay - self.descent)
            self.last_descent = self.descent
            self.descent = min(self.max_first_descent, self.descent * 2)
            return
        self.hits_in_row += 1
        self.missed_in_row = 0
        if self.trend > 0:
            fade = self.trend_fade * (RANDOM_FADE if self.random_seen else 1.0)
            self.trend = max(0.0, self.trend - fade)
        long_run: float = self.long_run
        if self.drawn_at_random:
            # Polled at a high quantile, delays drawn at random give long runs of hits now
            # and then: a step that doubles after them polls far below that quantile.
            long_run = max(long_run, RANDOM_LONG_RUNS * self.run_length)
        longer = max(0.0, self.hits_in_row - long_run)
        # Half the step for a delay its trend follows (as runs of hits showed): the creep
        # only looks for a change.
        followed = self.trust if self.runs_seen >= MIN_RUNS else 0.0
        creep = self.decrease_step * (1 - followed / 2)
        step = min(self.max_step, creep * 2 ** (longer / self.run_doubling))
        self.publish_delay = max(0.0, self.publish_delay + self.trend - step)

    def _gap_in_uploads(self, upload_time: datetime) -> tuple[float, int] | None:
        """Seconds from the upload aimed from, and how many cadences that spans, if known.

        Polling every upload, the cadence learning sorts out missed uploads itself.
        Skipping, a gap tells the cadence only when the poll found the upload it
        aimed at (counted from the upload it aimed from, not from an upload found
        on the way).
        """
        if self.steps <= 1:
            if self.last_upload is None:
                return None
            return (upload_time - self.last_upload).total_seconds(), 1
        if (
            self.target is None
            or self.aimed_from is None
            or abs((upload_time - self.target).total_seconds()) >= self.cadence / 2
        ):
            return None
        return (upload_time - self.aimed_from).total_seconds(), self.steps

    def _learn_cadence(self, gap: float) -> None:
        """Learn the cadence from a gap that may span uploads that were never seen."""
        self.gaps.append(gap)
        base = min(self.gaps)
        if len(self.gaps) < MIN_GAPS_TRUSTED:
            base = min(base, DEFAULT_CADENCE)
        self.cadence = median(g / max(1, round(g / base)) for g in self.gaps)

    def _same_upload(self, now: datetime) -> float:
        if self.last_upload is None or self.is_offline(now):
            self.misses = 0
            self.target = None
            self.steps = 1
            return self._night_wait(now)
        return self._retry(now, self.last_upload)

    def _night_wait(self, now: datetime) -> float:
        """Seconds to the next poll of a sleeping inverter.

        While the wake is watched for, it is polled at the daylight pace, each poll when
        the upload of a slot (the slots of the last upload seen) should be out; otherwise
        at the night interval.
        """
        wait = self.night_interval
        if self.wake_watch is None or now >= self.wake_watch[1]:
            return wait
        poll = self._watch_poll(now, self.wake_watch[0])
        return max(self.min_wait, min(wait, (poll - now).total_seconds()))

    def _watch_poll(self, now: datetime, start: datetime) -> datetime:
        """The next poll of the watch that starts at `start`.

        The pace's uploads after the one a poll now looks for; an inverter that keeps
        its upload slots through the night is found as soon as its first upload is out
        (while delays are drawn at random: when the latest of the last uploads was).
        """
        pace = timedelta(seconds=self.uploads_between_polls * self.cadence)
        if now < start:
            earliest = start
        else:
            earliest = now + pace - timedelta(seconds=self.cadence - self.min_wait)
        if self.last_upload is None:
            return earliest if now < start else now + pace
        out_after = timedelta(seconds=self.watch_delay + self.spread + self.guard)
        if self.drawn_at_random and self.found_at:
            # The watch does not retry: a morning's first upload out after its poll, at
            # the top of the delays drawn, would never be shown.
            out_after = max(out_after, timedelta(seconds=max(self.found_at)))
        slots = math.ceil((earliest - self.last_upload - out_after) / self.cadence_span)
        return self.last_upload + slots * self.cadence_span + out_after

    @property
    def cadence_span(self) -> timedelta:
        """The cadence as a time span."""
        return timedelta(seconds=self.cadence)

    @property
    def spread(self) -> float:
        """Seconds the last uploads came out after their planned polls, at most."""
        return max(self.overruns, default=DEFAULT_SPREAD)

    @property
    def watch_delay(self) -> float:
        """The publish delay the watch assumes: the later of the estimate and the morning's."""
        return max(self.publish_delay, self.morning_delay or 0.0)

    def _retry(self, now: datetime, last_upload: datetime) -> float:
        """The upload aimed at is not there: wait for it, or retry with a back-off."""
        expected = self._availability(self._aimed_at(last_upload))
        # A refresh that fired just before the planned time is the planned poll: the
        # upload was not there when expected. Waiting out the fraction of a second
        # instead would cost a second call for every upload, without ever learning.
        if (early := (expected - now).total_seconds()) > SCHEDULING_SLACK:
            return max(self.min_wait, early)
        self.misses += 1
        self.failed_offset = (now - self._aimed_at(last_upload)).total_seconds()
        if self.misses == 1 and not self.delay_bounded and self.last_descent:
            # Stepped down too far: the estimate before the step found the last upload.
            return max(self.min_wait, self.last_descent)
        if self.misses == 1 and self.trust < 0.5 and self.runs_seen >= MIN_RUNS and self.found_at:
            # Delays drawn at random: retry when the latest of the last uploads was out.
            latest = max(self.found_at) - self.failed_offset
            return min(self.cadence, max(self.first_retry, latest))
        return min(self.first_retry * 2.0 ** (self.misses - 1), self.cadence)

    def _aimed_at(self, last_upload: datetime) -> datetime:
        if self.target is not None:
            return self.target
        return last_upload + timedelta(seconds=self.cadence)

    def next_upload_available(self) -> datetime | None:
        """When the upload after the last one seen should be available (None: unknown)."""
        if self.last_upload is None:
            return None
        return self._availability(self.last_upload + timedelta(seconds=self.cadence))

    def _availability(self, upload_time: datetime) -> datetime:
        return upload_time + timedelta(seconds=self.publish_delay + self.guard)

    def _wait_for(self, now: datetime, upload_time: datetime) -> float:
        return max(self.min_wait, (self._availability(upload_time) - now).total_seconds())

    def as_dict(self) -> dict[str, Any]:
        """What is learned, to keep across restarts (JSON-ready)."""
        return {
            "cadence": self.cadence,
            "publish_delay": self.publish_delay,
            "delay_bounded": self.delay_bounded,
            "trend": self.trend,
            "hit_runs": [self.run_length, self.run_variation],
            "random_seen": self.random_seen,
            "morning_delay": self.morning_delay,
            "overruns": list(self.overruns),
            "gaps": list(self.gaps),
            "last_upload": self.last_upload.isoformat() if self.last_upload else None,
        }

    def restore(self, stored: dict[str, Any], now: datetime) -> None:
        """Take back what `as_dict` saved; ignore what does not fit."""
        cadence, delay = stored.get("cadence"), stored.get("publish_delay")
        gaps = stored.get("gaps")
        cadence = finite_number(cadence)
        if cadence is not None and MIN_CADENCE <= cadence <= MAX_CADENCE:
            self.cadence = cadence
        if (delay := finite_number(delay)) is not None and 0 <= delay <= MAX_CADENCE:
            self.publish_delay = delay
            self.delay_bounded = stored.get("delay_bounded") is True
        if (trend := finite_number(stored.get("trend"))) is not None:
            self.trend = max(-MAX_TREND, min(MAX_TREND, trend))
        morning = finite_number(stored.get("morning_delay"))
        if morning is not None and 0 <= morning <= MAX_CADENCE:
            self.morning_delay = morning
        if isinstance(overruns := stored.get("overruns"), list):
            numbers = [finite_number(overrun) for overrun in overruns]
            self.overruns.extend(
                late for late in numbers if late is not None and 0 <= late <= MAX_CADENCE
            )
        runs = stored.get("hit_runs")
        if isinstance(runs, list) and len(runs) == 2:
            length, variation = (finite_number(value) for value in runs)
            if length is not None and variation is not None and length >= 1 and variation >= 0:
                self.run_length, self.run_variation = length, variation
                self.runs_seen = MIN_RUNS
        self.random_seen = stored.get("random_seen") is True
        if isinstance(gaps, list):
            numbers = [finite_number(gap) for gap in gaps]
            self.gaps.extend(
                gap for gap in numbers if gap is not None and MIN_CADENCE <= gap <= MAX_CADENCE
            )
        # One from the future would hold every poll back until then.
        self.last_upload = past_time(stored.get("last_upload"), now)


@dataclass(slots=True)
class OnlineHistory:
    """When the inverter uploaded over the last 24 hours: its online fraction.

    The time between two uploads seen that are closer than `bridge` counts as
    online (with skipping, uploads seen are several cadences apart); each upload
    also covers its own cadence.
    """

    observed_since: datetime | None = None
    uploads: deque[datetime] = field(default_factory=deque)
    uploads_at_night: bool = False
    """An upload was seen while the sun was down: the inverter uploads all day."""
    last_wake: datetime | None = None
    """The first upload after the last long gap (the last morning)."""

    def start(self, now: datetime) -> None:
        """Begin observing (at setup, when nothing was kept)."""
        if self.observed_since is None:
            self.observed_since = now

    def record(
        self,
        upload_time: datetime,
        now: datetime,
        *,
        bridge: float,
        cadence: float = DEFAULT_CADENCE,
        not_before: datetime | None = None,
    ) -> None:
        """Note an upload seen (in time order) and forget those older than a day.

        An upload more than `bridge` seconds after the one before it is a wake. Polled
        rarely at night, the first upload seen may come well after the wake; the last
        poll that found nothing new tells how early it may have come (`not_before`):
        the wake noted is the earliest that a watch (from a cadence before the wake,
        `WAKE_WATCH` long) still ending a cadence after `upload_time` covers.
        """
        self.start(now)
        if not self.uploads or upload_time > self.uploads[-1]:
            if self.uploads and (upload_time - self.uploads[-1]).total_seconds() > bridge:
                earliest = upload_time - timedelta(seconds=WAKE_WATCH - 2 * cadence)
                self.last_wake = max(earliest, min(not_before or upload_time, upload_time))
            self.uploads.append(upload_time)
        while self.uploads and self.uploads[0] < now - DAY:
            self.uploads.popleft()

    def next_wake(self, now: datetime) -> datetime | None:
        """When the inverter should wake next: at the last morning's time of day.

        The last wake moved on by whole days to the first that is not over
        (its watch included); None before a wake was seen.
        """
        if self.last_wake is None:
            return None
        behind = (now - self.last_wake - timedelta(seconds=WAKE_WATCH)) / DAY
        return self.last_wake + DAY * max(0, math.ceil(behind))

    def observed_a_day(self, now: datetime) -> bool:
        """Whether a whole day has been observed, so the measured fraction holds."""
        return self.observed_since is not None and now - self.observed_since >= DAY

    def measured_fraction(self, now: datetime, cadence: float, bridge: float) -> float:
        """Share of the last 24 hours during which the inverter uploaded."""
        start = now - DAY
        first = bisect_right(self.uploads, start)
        times = [upload for upload in list(self.uploads)[first:] if upload <= now]
        online = 0.0
        for index, moment in enumerate(times):
            following = times[index + 1] if index + 1 < len(times) else None
            gap = (following - moment).total_seconds() if following is not None else None
            online += gap if gap is not None and gap <= bridge else cadence
        return min(1.0, online / DAY.total_seconds())

    def last_day_fraction(self, now: datetime, cadence: float, bridge: float) -> float | None:
        """The share of the day of the last whole run of uploads seen (a wake to a sleep).

        None until the inverter was seen waking and then going to sleep.
        """
        times = [upload for upload in self.uploads if upload <= now]
        sleeps = [
            index
            for index, moment in enumerate(times)
            if (times[index + 1] if index + 1 < len(times) else now) - moment
            > timedelta(seconds=bridge)
        ]
        # A whole run lies between two sleeps: it began with a wake and ended in a sleep.
        if len(sleeps) < 2:
            return None
        wake, sleep = times[sleeps[-2] + 1], times[sleeps[-1]]
        return min(1.0, ((sleep - wake).total_seconds() + cadence) / DAY.total_seconds())

    def fraction(
        self, now: datetime, cadence: float, bridge: float, daylight_prior: float | None
    ) -> float:
        """The online fraction: measured over the last day once a day was observed.

        Before that, uploads seen at night mean 1.0 (awake all day); a whole day's run
        of uploads seen (from a wake to a sleep) gives it; else the sun's prior does,
        or 1.0 without one: an inverter assumed to upload all day cannot overspend
        the token.
        """
        if self.observed_a_day(now):
            return self.measured_fraction(now, cadence, bridge)
        if self.uploads_at_night:
            return 1.0
        if (last_day := self.last_day_fraction(now, cadence, bridge)) is not None:
            return last_day
        if daylight_prior is None:
            return 1.0
        return max(daylight_prior, self.measured_fraction(now, cadence, bridge))

    def as_dict(self) -> dict[str, Any]:
        """What is observed, to keep across restarts (JSON-ready)."""
        return {
            "observed_since": self.observed_since.isoformat() if self.observed_since else None,
            "uploads": [upload.isoformat() for upload in self.uploads],
            "uploads_at_night": self.uploads_at_night,
            "last_wake": self.last_wake.isoformat() if self.last_wake else None,
        }

    def restore(self, stored: dict[str, Any], now: datetime, saved_at: datetime | None) -> None:
        """Take back what `as_dict` saved; a long gap since the save starts a new day.

        While Home Assistant was down nothing was observed: after a gap over
        `MAX_UNOBSERVED` the observation starts again (the prior holds for another day).
        """
        uploads = stored.get("uploads")
        if isinstance(uploads, list):
            times = sorted(t for t in map(aware_time, uploads) if t is not None and t <= now)
            self.uploads.extend(t for t in times if t >= now - DAY)
        self.uploads_at_night = stored.get("uploads_at_night") is True
        self.last_wake = past_time(stored.get("last_wake"), now)
        observed_since = aware_time(stored.get("observed_since"))
        if observed_since is not None and saved_at is not None and now - saved_at <= MAX_UNOBSERVED:
            self.observed_since = min(observed_since, now)
        else:
            self.observed_since = now
