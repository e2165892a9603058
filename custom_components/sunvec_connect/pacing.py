"""A fair share of one token's calls for every inverter that uses it.

Pure logic without Home Assistant imports. One token may make a limited number of
calls a day and a minute. While its inverters need fewer, each polls every upload.
When they need more, every inverter gets the same share: it skips uploads evenly
(it polls every `uploads_per_call`-th upload, alternating between the two nearest
whole numbers when that is not whole) and polls less often while it sleeps, so the
budget lasts the whole day and no inverter goes dark.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
import hashlib
import math

DAY_SECONDS = 86_400.0
CALL_OVERHEAD = 1.1
"""Calls per polled upload, retries for a late upload included (measured about 1.05)."""
NIGHT_INTERVAL = 900.0
"""Seconds between polls of a sleeping inverter while the budget has room."""
MAX_NIGHT_INTERVAL = 3_600.0
"""A sleeping inverter is polled at least this often, however many share the token."""
WAKE_WATCH = 1800.0
"""Seconds around the time a sleeping inverter is expected to wake during which it is
polled at the daylight pace, so that the morning's first uploads show soon."""
MINUTE_HEADROOM = 0.95
DAY_HEADROOM = 0.97
"""Shares of the token's limits that the plan uses, the rest absorbing estimate errors."""


@dataclass(frozen=True, slots=True)
class InverterDemand:
    """What one inverter of the token needs."""

    cadence: float
    """Seconds between two uploads."""
    online_fraction: float
    """Share of a day during which the inverter uploads (0..1)."""
    paced: bool = True
    """False for an inverter polled at a fixed interval (`cadence`) all day, whatever the pace."""


@dataclass(frozen=True, slots=True)
class Pace:
    """How the inverters of one token poll."""

    uploads_per_call: float = 1.0
    """1 polls every upload; 2.5 polls every second and third upload in turn."""
    night_interval: float = NIGHT_INTERVAL
    """Seconds between polls while an inverter sleeps."""
    planned_calls_per_day: float = 0.0
    """What the token's inverters are expected to spend in 24 hours with this pace."""


def awake_fraction(online_fraction: float) -> float:
    """Share of a day polled at the daylight pace: online, and watching for the wake."""
    if online_fraction >= 1.0:
        return 1.0
    return min(1.0, online_fraction + WAKE_WATCH / DAY_SECONDS)


def _daylight_calls(inverters: Iterable[InverterDemand], uploads_per_call: float) -> float:
    return (
        sum(
            awake_fraction(inverter.online_fraction) * DAY_SECONDS / inverter.cadence
            for inverter in inverters
        )
        * CALL_OVERHEAD
        / uploads_per_call
    )


def _night_calls(inverters: Iterable[InverterDemand], night_interval: float) -> float:
    return sum((1.0 - inverter.online_fraction) for inverter in inverters) * (
        DAY_SECONDS / night_interval
    )


def plan_pace(
    inverters: Iterable[InverterDemand], *, calls_per_day: int, calls_per_minute: int
) -> Pace:
    """The pace that keeps the token's inverters within its daily and per-minute budget.

    Per minute, every uploading inverter is assumed awake at once. Per day, daylight
    polls cost `awake * 86400 / cadence * 1.1 / uploads_per_call`, where `awake` is the
    online fraction plus the half hour of watching for the morning's wake (1 for an
    inverter that uploads all day), and night polls `(1 - online_fraction) * 86400 /
    night_interval`. When the two do not fit,
    the night interval grows in proportion (up to an hour, or further only when the
    sleeping inverters would otherwise take more than half the day's calls), and the
    uploads per call grow until the daylight polls fit in what is left. Inverters
    polled at a fixed interval take their calls first; the pace shares the rest.
    """
    demands = [
        InverterDemand(
            max(inverter.cadence, 1.0),
            min(max(inverter.online_fraction, 0.0), 1.0),
            inverter.paced,
        )
        for inverter in inverters
    ]
    fixed = [inverter for inverter in demands if not inverter.paced]
    demands = [inverter for inverter in demands if inverter.paced]
    fixed_per_day = sum(DAY_SECONDS / inverter.cadence for inverter in fixed)
    if not demands:
        return Pace(planned_calls_per_day=fixed_per_day)
    # What the fixed intervals leave, never less than a hundredth of the limits.
    day_budget = max(calls_per_day * DAY_HEADROOM - fixed_per_day, calls_per_day / 100)
    minute_budget = max(
        calls_per_minute * MINUTE_HEADROOM - sum(60.0 / inverter.cadence for inverter in fixed),
        calls_per_minute / 100,
    )
    per_minute = sum(60.0 / inverter.cadence * CALL_OVERHEAD for inverter in demands)
    uploads_per_call = max(1.0, per_minute / minute_budget)
    total = _daylight_calls(demands, uploads_per_call) + _night_calls(demands, NIGHT_INTERVAL)
    if total <= day_budget:
        return Pace(uploads_per_call, NIGHT_INTERVAL, total + fixed_per_day)
    sleeping = _night_calls(demands, 1.0)
    left_for_nights = day_budget - _daylight_calls(demands, uploads_per_call)
    night_interval = (
        min(MAX_NIGHT_INTERVAL, max(NIGHT_INTERVAL, sleeping / left_for_nights))
        if left_for_nights > 0
        else MAX_NIGHT_INTERVAL
    )
    # Sleeping inverters take at most half the day's calls, however many share the token.
    night_interval = max(night_interval, sleeping / (day_budget / 2))
    room = day_budget - _night_calls(demands, night_interval)
    uploads_per_call = max(uploads_per_call, _daylight_calls(demands, 1.0) / room)
    planned = _daylight_calls(demands, uploads_per_call) + _night_calls(demands, night_interval)
    return Pace(uploads_per_call, night_interval, planned + fixed_per_day)


@dataclass(slots=True)
class UploadSkipper:
    """Spreads the polls of one inverter evenly over its uploads.

    Each upload earns `1 / uploads_per_call` of a call; the inverter is polled at the
    upload where the earned share reaches a whole call. With 2.5 uploads per call it
    polls after 3, 2, 3, 2, ... uploads.
    """

    credit: float = 0.0
    phase: float = 0.0
    """The inverter's own credit at a wake, in [0, 1): inverters of one token that wake
    together then poll different uploads, not the same ones (a burst on the token)."""

    def wake(self) -> None:
        """Start the day's polls at the inverter's own phase."""
        self.credit = self.phase

    def uploads_until_next_call(self, uploads_per_call: float) -> int:
        """How many uploads ahead the next poll goes (at least 1); takes that step."""
        share = 1.0 / max(uploads_per_call, 1.0)
        needed = 1.0 - self.credit
        steps = max(1, math.ceil(needed / share - 1e-9))
        self.credit = max(0.0, self.credit + steps * share - 1.0)
        return steps


def skip_phase(wifi_sn: str) -> float:
    """A fraction in [0, 1) of its own for each inverter (by its registration number)."""
    digest = hashlib.sha256(wifi_sn.encode()).digest()
    return int.from_bytes(digest[:4]) / 2**32
