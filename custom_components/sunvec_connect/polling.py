"""When to call the cloud: upload-aligned polling and a rate budget per token.

Pure logic without Home Assistant imports; times are timezone-aware datetimes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from statistics import median

DEFAULT_CADENCE = 300.0
"""Seconds between two uploads until the real cadence has been seen."""
DEFAULT_PUBLISH_DELAY = 60.0
"""Seconds from an upload's time to its availability in the cloud, until learned."""
MIN_GAPS_TRUSTED = 3
"""Until this many gaps were seen, a long gap counts as several default cadences."""
MIN_CADENCE = 30.0
MAX_CADENCE = 1800.0


@dataclass(slots=True)
class UploadSchedule:
    """Plans the next poll just after the next upload should be available.

    It learns the upload cadence from successive upload times and tracks the
    publish delay: after a poll that found the upload at the first try the delay
    estimate shrinks a little; after a miss it jumps to what was observed. So a
    slowly drifting delay costs one retry now and then, and the poll comes a few
    seconds after the upload becomes available.
    """

    guard: float = 3.0
    """Seconds added to the delay estimate."""
    decrease_step: float = 1.0
    """Seconds the delay estimate shrinks after each first-try hit."""
    first_retry: float = 8.0
    """Seconds before the first retry when the expected upload is not there yet."""
    offline_after_cadences: float = 3.0
    offline_interval: float = 900.0
    """Seconds between polls while the inverter is offline (at night)."""
    min_wait: float = 5.0
    cadence: float = DEFAULT_CADENCE
    publish_delay: float = DEFAULT_PUBLISH_DELAY
    last_upload: datetime | None = None
    misses: int = 0
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=12))

    @property
    def stale_after(self) -> timedelta:
        """Age from which an upload no longer describes the present."""
        return timedelta(seconds=self.offline_after_cadences * self.cadence)

    def is_offline(self, now: datetime) -> bool:
        """No new upload for several cadences (and the publish delay)."""
        if self.last_upload is None:
            return False
        age = (now - self.last_upload).total_seconds()
        return age > self.offline_after_cadences * self.cadence + self.publish_delay

    def next_poll(self, now: datetime, upload_time: datetime | None) -> float:
        """Record a successful poll that returned `upload_time`; return seconds to wait."""
        if upload_time is None:
            return max(self.min_wait, min(self.cadence, 60.0))
        if self.last_upload is None or upload_time > self.last_upload:
            return self._new_upload(now, upload_time)
        return self._same_upload(now)

    def _new_upload(self, now: datetime, upload_time: datetime) -> float:
        if self.last_upload is not None:
            gap = (upload_time - self.last_upload).total_seconds()
            if MIN_CADENCE <= gap <= MAX_CADENCE:
                self._learn_cadence(gap)
        seen_after = (now - upload_time).total_seconds()
        if self.misses:
            # Found after a retry: the delay was at most this, and may still be rising.
            self.publish_delay = seen_after
        elif self.last_upload is not None and seen_after <= self.publish_delay + self.guard:
            self.publish_delay = max(0.0, self.publish_delay - self.decrease_step)
        self.misses = 0
        self.last_upload = upload_time
        return self._wait_for_next_upload(now, upload_time)

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
            return self.offline_interval
        expected = self._expected_availability(self.last_upload)
        if now < expected:
            return max(self.min_wait, (expected - now).total_seconds())
        self.misses += 1
        return min(self.first_retry * 2.0 ** (self.misses - 1), self.cadence)

    def _expected_availability(self, upload_time: datetime) -> datetime:
        return upload_time + timedelta(seconds=self.cadence + self.publish_delay + self.guard)

    def _wait_for_next_upload(self, now: datetime, upload_time: datetime) -> float:
        expected = self._expected_availability(upload_time)
        return max(self.min_wait, (expected - now).total_seconds())


@dataclass(slots=True)
class TokenBudget:
    """The call budget of one token, shared by every entry that uses it.

    Calls are handed out as slots: at most `per_minute - margin` in any 60 s, at
    least `60 / (per_minute - margin)` seconds apart so entries on one token are
    spread rather than polled in a burst, and at most `per_day - 10 * margin` per
    calendar day (UTC). During a rate-limit pause there are no slots.
    """

    per_minute: int = 10
    per_day: int = 10_000
    margin: int = 1
    """Calls per minute (and ten times as many per day) kept in reserve."""
    paused_until: datetime | None = None
    backoff: float = 0.0
    day: date | None = None
    calls_today: int = 0
    slots: deque[datetime] = field(default_factory=deque)

    @property
    def window_limit(self) -> int:
        """Calls this integration allows itself in any 60 s."""
        return max(1, self.per_minute - self.margin)

    @property
    def spacing(self) -> timedelta:
        """Least time between two spaced calls of this token."""
        return timedelta(seconds=60.0 / self.window_limit)

    @property
    def daily_limit(self) -> int:
        """Calls per calendar day this integration allows itself."""
        return max(1, self.per_day - 10 * self.margin)

    def calls_in_last_minute(self, now: datetime) -> int:
        """Slots handed out in the 60 s up to `now`."""
        return sum(1 for slot in self.slots if now - WINDOW < slot <= now)

    def reserve(self, now: datetime, *, spaced: bool = True) -> datetime:
        """Reserve the next call slot at or after `now` and return its time.

        `spaced=False` skips the spacing (not the limits), for the one call that
        sets an entry up.
        """
        slot = now
        if self.paused_until is not None and self.paused_until > slot:
            slot = self.paused_until
        if self.slots:
            if spaced:
                slot = max(slot, self.slots[-1] + self.spacing)
            slot = max(slot, self.slots[-1])
            if len(self.slots) >= self.window_limit:
                slot = max(slot, self.slots[-self.window_limit] + WINDOW + SLOT_SLACK)
        if self.day != slot.date():
            self.day, self.calls_today = slot.date(), 0
        if self.calls_today >= self.daily_limit:
            slot = datetime.combine(
                slot.date() + timedelta(days=1), datetime.min.time(), slot.tzinfo
            )
            self.day, self.calls_today = slot.date(), 0
        self.calls_today += 1
        self.slots.append(slot)
        # Slots come in time order; those a window before this one no longer count.
        # (Trimming by time, not by count, keeps them right when this one is released.)
        while self.slots[0] < slot - WINDOW - SLOT_SLACK:
            self.slots.popleft()
        return slot

    def release(self, slot: datetime) -> None:
        """Give back a reserved slot that will not be used."""
        if slot in self.slots:
            self.slots.remove(slot)
            if self.day == slot.date():
                self.calls_today = max(0, self.calls_today - 1)

    def pause(self, now: datetime, retry_after: float | None) -> datetime:
        """Stop calls after a rate-limit answer; return until when."""
        if retry_after is None:
            self.backoff = min(3600.0, max(60.0, self.backoff * 2))
            retry_after = self.backoff
        until = now + timedelta(seconds=retry_after)
        if self.paused_until is None or until > self.paused_until:
            self.paused_until = until
        return self.paused_until

    def succeeded(self) -> None:
        """A call went through: forget the back-off."""
        self.backoff = 0.0


WINDOW = timedelta(seconds=60)
SLOT_SLACK = timedelta(seconds=2)
"""Calls go up to a second before their slot (timer granularity): keep windows apart by this."""
