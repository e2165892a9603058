"""What an inverter's polls and counters counted, shown in diagnostics."""

from __future__ import annotations

from dataclasses import dataclass, field

from .api import INVERTER_STATUS, SunvecApiError, SunvecError
from .const import LOGGER

MAX_UNKNOWN_STATUS_CODES = 10
"""Unknown status codes noted at most (a cloud sending garbage cannot grow the list)."""


@dataclass(slots=True)
class PollStatistics:
    """Counts shown in diagnostics."""

    polls: int = 0
    failures: int = 0
    rejected_uploads: int = 0
    rejected_readings: dict[str, int] = field(default_factory=dict)
    meter_resets: dict[str, int] = field(default_factory=dict)
    """Per sensor key: persistent decreases accepted as a new meter cycle."""
    gaps_left_out: dict[str, int] = field(default_factory=dict)
    """Per integrated energy: gaps between uploads too long to bridge (an outage)."""
    hours_left_out: dict[str, float] = field(default_factory=dict)
    """Per integrated energy: the hours those gaps span."""
    last_error_code: int | None = None
    last_error: str | None = None
    unknown_status_codes: list[str] = field(default_factory=list)
    """The first status codes the inverter reported that the integration does not know."""

    def note_status(self, code: str | None, inverter: str) -> None:
        """Warn once per code about a status the integration does not know (shown unknown)."""
        known = self.unknown_status_codes
        if code is None or code in INVERTER_STATUS or code in known:
            return
        if len(known) >= MAX_UNKNOWN_STATUS_CODES:
            return
        self.unknown_status_codes.append(code)
        LOGGER.warning(
            "Inverter %s reported the unknown status code %s; its status shows as unknown",
            inverter,
            code,
        )

    def count_failure(self, err: SunvecError) -> None:
        """Record a failed call."""
        self.failures += 1
        self.last_error = type(err).__name__
        self.last_error_code = err.code if isinstance(err, SunvecApiError) else None

    def count_rejected(self, key: str) -> None:
        """Record that an entity rejected an implausible reading of `key`."""
        self.rejected_readings[key] = self.rejected_readings.get(key, 0) + 1

    def count_gap_left_out(self, key: str, hours: float) -> None:
        """Record that the integrated energy `key` left a gap of `hours` out."""
        self.gaps_left_out[key] = self.gaps_left_out.get(key, 0) + 1
        self.hours_left_out[key] = round(self.hours_left_out.get(key, 0.0) + hours, 3)

    def count_meter_reset(self, key: str) -> None:
        """Record that the counter `key` accepted a persistent decrease as a new meter cycle."""
        self.meter_resets[key] = self.meter_resets.get(key, 0) + 1
