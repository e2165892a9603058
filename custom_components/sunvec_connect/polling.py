"""When to call the cloud: polls aligned to the inverter's uploads.

Pure logic without Home Assistant imports; times are timezone-aware datetimes. The
token's rate budget, which every poll also needs, is in budget.py.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
