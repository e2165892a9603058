"""Rules that keep energy counters right for the energy dashboard.

Pure logic without Home Assistant imports. Every rule takes readings with the
time of the upload they came from, and can be saved and restored across restarts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Protocol


class EnergyCounter(Protocol):
    """A rule turning a stream of readings into a value safe for long-term statistics."""

    rejected: int
    """How many readings were rejected as implausible."""

    def offer(self, reading: float | None, upload_time: datetime | None) -> float | None:
        """Take a reading from the upload made at `upload_time`; return the value to show."""

    def as_dict(self) -> dict[str, Any]:
        """The history to keep across restarts (JSON-ready)."""

    def restore(self, stored: dict[str, Any]) -> None:
        """Restore the history saved by `as_dict`; ignore what does not fit."""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


@dataclass(slots=True)
class LifetimeCounter:
    """A lifetime counter that never goes backwards.

    A reading that is missing, zero or lower than the last accepted one is a glitch
    of the cloud: it is rejected and the last accepted value stays. Without this,
    one upload reading 0 makes Home Assistant book the whole lifetime total again.
    """

    value: float | None = None
    rejected: int = 0

    def offer(self, reading: float | None, upload_time: datetime | None) -> float | None:
        """Accept `reading` if it is plausible; return the value to show."""
        if reading is None or reading <= 0 or (self.value is not None and reading < self.value):
            if reading is not None or self.value is not None:
                self.rejected += 1
            return self.value
        self.value = reading
        return self.value

    def as_dict(self) -> dict[str, Any]:
        """The last accepted value."""
        return {"value": self.value}

    def restore(self, stored: dict[str, Any]) -> None:
        """Restore the last accepted value."""
        value = _number(stored.get("value"))
        if value is not None and value > 0:
            self.value = value


@dataclass(slots=True)
class DailyCounter:
    """A counter that restarts at local midnight and may fall only on a new day."""

    zone: tzinfo
    """The plant's time zone, in which the day changes."""
    value: float | None = None
    day: date | None = None
    rejected: int = 0

    def offer(self, reading: float | None, upload_time: datetime | None) -> float | None:
        """Accept `reading` unless it falls within the same day; return the value to show."""
        if reading is None or upload_time is None:
            if self.value is not None:
                self.rejected += 1
            return self.value
        upload_day = upload_time.astimezone(self.zone).date()
        same_day_drop = upload_day == self.day and self.value is not None and reading < self.value
        if reading < 0 or same_day_drop or (self.day is not None and upload_day < self.day):
            self.rejected += 1
            return self.value
        self.value = reading
        self.day = upload_day
        return self.value

    def as_dict(self) -> dict[str, Any]:
        """The last accepted value and the day it was taken."""
        return {"value": self.value, "day": self.day.isoformat() if self.day else None}

    def restore(self, stored: dict[str, Any]) -> None:
        """Restore the last accepted value and its day."""
        value, day = _number(stored.get("value")), stored.get("day")
        if value is None or not isinstance(day, str):
            return
        try:
            self.day = date.fromisoformat(day)
        except ValueError:
            return
        self.value = value


@dataclass(slots=True)
class PowerIntegrator:
    """Energy in kWh as the trapezoidal integral of power samples in W.

    Time comes from the uploads, never from the moment of polling, and a gap
    longer than `max_gap` is not bridged: the integral restarts after it.
    """

    max_gap: timedelta
    total: float = 0.0
    last_time: datetime | None = None
    last_power: float | None = None
    rejected: int = 0

    def offer(self, reading: float | None, upload_time: datetime | None) -> float | None:
        """Add the sample taken at `upload_time`; return the new total."""
        if upload_time is None:
            return round(self.total, 4)
        if reading is None:
            self.last_time, self.last_power = None, None
            return round(self.total, 4)
        if self.last_time is not None and self.last_power is not None:
            if upload_time <= self.last_time:
                return round(self.total, 4)
            if upload_time - self.last_time <= self.max_gap:
                hours = (upload_time - self.last_time).total_seconds() / 3600
                self.total += (self.last_power + reading) / 2 * hours / 1000
        self.last_time, self.last_power = upload_time, reading
        return round(self.total, 4)

    def as_dict(self) -> dict[str, Any]:
        """The total and the last sample."""
        return {
            "total": self.total,
            "last_time": self.last_time.isoformat() if self.last_time else None,
            "last_power": self.last_power,
        }

    def restore(self, stored: dict[str, Any]) -> None:
        """Restore the total and the last sample."""
        total = _number(stored.get("total"))
        if total is None or total < 0:
            return
        self.total = total
        last_time, last_power = stored.get("last_time"), _number(stored.get("last_power"))
        if isinstance(last_time, str) and last_power is not None:
            try:
                self.last_time = datetime.fromisoformat(last_time)
            except ValueError:
                return
            self.last_power = last_power
