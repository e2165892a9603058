"""Clocks for the simulator: real time, accelerated time, or driven by tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import time
from typing import Protocol


class Clock(Protocol):
    """Source of the simulator's current time (timezone-aware, UTC)."""

    def now(self) -> datetime:
        """Return the current simulated time."""
        ...


class ScaledClock:
    """Real time, optionally sped up: `speed` simulated seconds per real second."""

    def __init__(self, start: datetime | None = None, speed: float = 1.0) -> None:
        """Start at `start` (default: now) and run `speed` times faster than real time."""
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start or datetime.now(UTC)
        self._origin = time.monotonic()
        self.speed = speed

    def now(self) -> datetime:
        """Return the current simulated time."""
        elapsed = (time.monotonic() - self._origin) * self.speed
        return self._start + timedelta(seconds=elapsed)


class ManualClock:
    """A clock that moves only when told to, for deterministic tests."""

    def __init__(self, start: datetime) -> None:
        """Start at `start`, which must be timezone-aware."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """Return the current simulated time."""
        return self._now

    def advance(self, seconds: float) -> datetime:
        """Move the clock forward and return the new time."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: datetime) -> None:
        """Jump to `moment` (forward only)."""
        moment = moment.astimezone(UTC)
        if moment < self._now:
            raise ValueError("a clock only moves forward")
        self._now = moment
