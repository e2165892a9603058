"""Reading back what the integration kept in Home Assistant's storage.

Pure functions without Home Assistant imports. Storage written by another release, or
by hand, may hold values of any type: each reader returns a typed value or None, never
raises.
"""

from __future__ import annotations

from datetime import datetime
import math
from typing import Any


def finite_number(value: Any) -> float | None:
    """A finite number (not a bool) as a float; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an integer beyond any float
        return None
    return number if math.isfinite(number) else None


def aware_time(value: Any) -> datetime | None:
    """A timezone-aware time from its ISO text; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def past_time(value: Any, now: datetime) -> datetime | None:
    """A timezone-aware time not after `now` from its ISO text; None for anything else.

    A time after `now` was kept while the clock ran ahead (or written by hand).
    """
    moment = aware_time(value)
    return moment if moment is not None and moment <= now else None
