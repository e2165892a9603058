"""Rules that keep energy counters right for the energy dashboard.

Pure logic without Home Assistant imports. Every rule takes readings with the
time of the upload they came from, and can be saved and restored across restarts.

Home Assistant books a `total_increasing` sensor from the values it shows: a value
below 0.9 times the one before starts a new cycle counted from 0, any other change is
added as it is. So a wrong value shown for one upload can book a whole lifetime total
again. The inverter's own counters (`LifetimeCounter`, `DailyCounter`) keep two
promises, checked against Home Assistant's own rule on generated histories by
tests/test_booked_energy.py and tests/test_counters_properties.py:

- Safety: within a meter cycle the value shown never decreases, and a reading that
  does not follow the value shown (null, zero for a lifetime counter, lower, a rise
  faster than `max_power_kw` plus the counters' 0.1 kWh resolution, or for yield
  today a rise onto a new day in the first hour after the inverter's midnight) is held
  back: alone it never becomes the value shown, nor does a series of them that lasts
  less than `CONFIRM_SPAN`.
- Liveness: readings that follow one another for `CONFIRM_UPLOADS` uploads spanning
  `CONFIRM_SPAN` become the value shown, whatever came before. Held-back readings
  confirmed that way are either a new meter cycle (lower: counted in `resets`) or a
  real jump (higher: `jumps`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Final, Protocol

from .kept import aware_time, finite_number, past_time

COUNTER_RESOLUTION: Final = 0.1
"""kWh. The cloud rounds counters to one decimal, so a rise can read this much high."""
CONFIRM_UPLOADS: Final = 3
"""Held-back readings that follow one another for this many uploads..."""
CONFIRM_SPAN: Final = timedelta(hours=1)
"""...and at least this long are believed. Clouds serve wrong series for minutes (another
device's counter, a cache): believing one would book the lifetime total again when the
true series returns. Waiting loses no energy: a new cycle is booked from its value when
it is accepted."""
CONFIRM_BOUND: Final = timedelta(hours=3)
"""A series that lasts is shown within this time of its first reading while polls are
at most `CONFIRM_SPAN` apart (a longer gap starts its hour again: two wrong series
around an outage are not one)."""
PEAK_MARGIN: Final = 3.0
"""A reading is shown at once only if it rises at most this many times as fast as the
counter was seen rising before (its plant's power, learned)..."""
PEAK_FLOOR_KW: Final = 30.0
"""...or at most this fast (a home's largest loads, a small plant on its first day)."""
PEAK_SPAN: Final = timedelta(minutes=4)
"""Rises over a shorter time teach nothing about the power (0.1 kWh resolution)."""
INVERTER_MAX_POWER_KW: Final = 200.0
"""Fastest rise of an inverter's output counters: twice the top of the residential and
commercial range (100 kW). Too low a bound would freeze a bigger plant's counters:
each of its rises would be held back, and so would the series they form."""
GRID_IMPORT_MAX_POWER_KW: Final = 1000.0
"""Fastest rise of grid import: the site's connection limits it, not the inverter."""
_SLACK: Final = 1e-9
"""Room for binary floating point in the rise comparison."""


class EnergyCounter(Protocol):
    """A rule turning a stream of readings into a value safe for long-term statistics."""

    rejected: int
    """How many readings were held back or ignored as implausible."""
    resets: int
    """How many times held-back lower readings were accepted as a new meter cycle."""
    jumps: int
    """How many times held-back higher readings were accepted as a real jump."""

    @property
    def shown(self) -> float | None:
        """The value to show now."""

    def offer(
        self,
        reading: float | None,
        upload_time: datetime | None,
        plant_time: datetime | None = None,
    ) -> float | None:
        """Take a reading from the upload made at `upload_time`; return the value to show.

        `plant_time` is the upload's time as the inverter wrote it (its local time).
        """

    def as_dict(self) -> dict[str, Any]:
        """The history to keep across restarts (JSON-ready)."""

    def restore(self, stored: dict[str, Any], now: datetime) -> None:
        """Restore the history saved by `as_dict`; ignore what does not fit.

        A time after `now` was kept while the clock ran ahead: it holds no reading back.
        """


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(slots=True)
class HeldSeries:
    """Readings held back that follow one another: possibly a new series of the cloud."""

    first_value: float
    first_time: datetime
    value: float
    time: datetime
    uploads: int = 1
    cycle_day: date | None = None
    """Daily counters: the plant date of the series' count."""
    steady_time: datetime | None = None
    """Since when the series rose no faster than the counter's plant was seen to (None:
    from its first reading). A faster step (a glitch followed by another device's
    counter) starts the hour again; a series as a whole is believed after
    `CONFIRM_BOUND` all the same (a bigger plant behind the module)."""
    steady_uploads: int = 1

    def confirmed(self) -> bool:
        """Whether the series has lasted long enough to be believed."""
        steady_since = self.steady_time or self.first_time
        return (
            self.steady_uploads >= CONFIRM_UPLOADS and self.time - steady_since >= CONFIRM_SPAN
        ) or (self.uploads >= CONFIRM_UPLOADS and self.time - self.first_time >= CONFIRM_BOUND)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "first_value": self.first_value,
            "first_time": self.first_time.isoformat(),
            "value": self.value,
            "time": self.time.isoformat(),
            "uploads": self.uploads,
            "cycle_day": self.cycle_day.isoformat() if self.cycle_day else None,
            "steady_time": self.steady_time.isoformat() if self.steady_time else None,
            "steady_uploads": self.steady_uploads,
        }

    @classmethod
    def from_dict(cls, stored: Any) -> HeldSeries | None:
        """The series saved by `as_dict`, or None when `stored` does not fit."""
        if not isinstance(stored, dict):
            return None
        first_value = finite_number(stored.get("first_value"))
        value = finite_number(stored.get("value"))
        first_time, time = aware_time(stored.get("first_time")), aware_time(stored.get("time"))
        uploads = stored.get("uploads")
        if (
            first_value is None
            or value is None
            or first_time is None
            or time is None
            or time < first_time
            or isinstance(uploads, bool)
            or not isinstance(uploads, int)
            or uploads < 1
        ):
            return None
        steady_time = aware_time(stored.get("steady_time"))
        steady_uploads = stored.get("steady_uploads")
        if (
            steady_time is None
            or not first_time <= steady_time <= time
            or isinstance(steady_uploads, bool)
            or not isinstance(steady_uploads, int)
            or not 1 <= steady_uploads <= uploads
        ):
            steady_time, steady_uploads = None, uploads
        return cls(
            first_value,
            first_time,
            value,
            time,
            uploads,
            _date(stored.get("cycle_day")),
            steady_time,
            steady_uploads,
        )


@dataclass(slots=True, kw_only=True)
class _CheckedCounter:
    """What lifetime and daily counters share: hold back, confirm, accept."""

    max_power_kw: float = INVERTER_MAX_POWER_KW
    value: float | None = None
    """The value shown: the last accepted reading."""
    time: datetime | None = None
    """The upload time of the last accepted reading (None: unknown)."""
    held: HeldSeries | None = None
    peak_kw: float = 0.0
    """The fastest the counter was seen rising (kWh per hour) between readings shown."""
    rejected: int = 0
    resets: int = 0
    jumps: int = 0
    _last_offer: tuple[float | None, datetime | None] | None = field(default=None, repr=False)
    _plant_time: datetime | None = field(default=None, repr=False)
    """The inverter's own time of the reading being offered."""

    @property
    def shown(self) -> float | None:
        """The value to show now: the last accepted reading."""
        return self.value

    def offer(
        self,
        reading: float | None,
        upload_time: datetime | None,
        plant_time: datetime | None = None,
    ) -> float | None:
        """Accept `reading` if it follows the value shown or confirms a held series."""
        if (reading, upload_time) == self._last_offer:
            return self.value  # the same upload again: nothing new
        self._last_offer = (reading, upload_time)
        if upload_time is not None and upload_time.tzinfo is not UTC:
            # Aware times of one zone compare by wall clock: a day with a DST change breaks that.
            upload_time = upload_time.astimezone(UTC)
        if reading is None or upload_time is None or not self._readable(reading):
            if reading is not None or self.value is not None:
                self.rejected += 1
            return self.value
        day = self._plant_day(upload_time, plant_time)
        self._plant_time = plant_time
        if self.value is None:
            self._accept(reading, upload_time, day)
            return self.value
        if self.time is not None and upload_time <= self.time:
            # An upload not newer than the one shown tells nothing new.
            if reading != self.value:
                self.rejected += 1
            return self.value
        if self._follows(self.value, self.time, self._cycle_day(), reading, upload_time, day=day):
            next_day = self._next_day(self.value, self._cycle_day(), reading, day)
            self._learn_peak(reading, upload_time, next_day)
            self._accept(reading, upload_time, next_day)
            return self.value
        held = self.held
        if held is not None and (reading, upload_time) == (held.value, held.time):
            return self.value  # the held upload again (offered once more after a restart)
        self._hold(self.value, reading, upload_time, day)
        return self.value

    def _hold(self, shown: float, reading: float, upload_time: datetime, day: date | None) -> None:
        held = self.held
        if (
            held is not None
            and held.time < upload_time <= held.time + CONFIRM_SPAN
            and self._follows(
                held.value, held.time, held.cycle_day, reading, upload_time, day=day, learned=False
            )
        ):
            if self._follows(held.value, held.time, held.cycle_day, reading, upload_time, day=day):
                held.steady_uploads += 1
            else:
                held.steady_time, held.steady_uploads = upload_time, 1
            held.cycle_day = self._next_day(held.value, held.cycle_day, reading, day)
            held.value, held.time, held.uploads = reading, upload_time, held.uploads + 1
        else:
            held = self.held = HeldSeries(reading, upload_time, reading, upload_time, cycle_day=day)
        if not held.confirmed():
            self.rejected += 1
            return
        if held.value < shown:
            self.resets += 1
        else:
            self.jumps += 1
        self._accept(held.value, held.time, held.cycle_day)

    def _accept(self, reading: float, upload_time: datetime, cycle_day: date | None) -> None:
        self.value, self.time, self.held = reading, upload_time, None

    @property
    def learned_power_kw(self) -> float:
        """The fastest rise taken at once: a margin over the plant's power seen so far."""
        return min(self.max_power_kw, max(PEAK_FLOOR_KW, PEAK_MARGIN * self.peak_kw))

    def _learn_peak(self, reading: float, upload_time: datetime, day: date | None) -> None:
        """Learn the plant's power from a rise taken at once (within one count's day)."""
        if self.value is None or self.time is None or day != self._cycle_day():
            return
        elapsed = upload_time - self.time
        if elapsed >= PEAK_SPAN and reading > self.value:
            rate = (reading - self.value - COUNTER_RESOLUTION) / (elapsed.total_seconds() / 3600)
            self.peak_kw = min(self.max_power_kw, max(self.peak_kw, rate))

    def _plausible_rise(
        self,
        before: float,
        before_time: datetime | None,
        reading: float,
        upload_time: datetime,
        *,
        learned: bool = True,
    ) -> bool:
        """Whether going from `before` to `reading` is a rise this plant (or any) could make."""
        if reading < before:
            return False
        if before_time is None:
            return True
        power = self.learned_power_kw if learned else self.max_power_kw
        hours = max((upload_time - before_time).total_seconds(), 0.0) / 3600
        return reading - before <= power * hours + COUNTER_RESOLUTION + _SLACK

    def _readable(self, reading: float) -> bool:
        raise NotImplementedError

    def _follows(
        self,
        before: float,
        before_time: datetime | None,
        cycle_day: date | None,
        reading: float,
        upload_time: datetime,
        *,
        day: date | None,
        learned: bool = True,
    ) -> bool:
        raise NotImplementedError

    def _plant_day(self, upload_time: datetime, plant_time: datetime | None) -> date | None:
        return None

    def _next_day(
        self, before: float, cycle_day: date | None, reading: float, day: date | None
    ) -> date | None:
        return None

    def _cycle_day(self) -> date | None:
        return None

    def _history(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "time": self.time.isoformat() if self.time else None,
            "held": self.held.as_dict() if self.held else None,
            "peak_kw": self.peak_kw,
        }

    def _restore_history(self, stored: dict[str, Any], now: datetime) -> bool:
        """Restore value, time and held series; False when there is no usable value."""
        value = finite_number(stored.get("value"))
        if value is None or not self._readable(value):
            return False
        self.value = value
        # Left out when from the future, as in data kept without a time: the next rise is taken.
        self.time = past_time(stored.get("time"), now)
        held = HeldSeries.from_dict(stored.get("held"))
        self.held = held if held is not None and held.time <= now else None
        peak = finite_number(stored.get("peak_kw"))
        self.peak_kw = min(max(peak or 0.0, 0.0), self.max_power_kw)
        return True


@dataclass(slots=True, kw_only=True)
class LifetimeCounter(_CheckedCounter):
    """A lifetime counter (total yield, grid export, grid import).

    Zero is never a reading: the cloud sends 0 for counters it has no data for (an
    inverter without a meter reports 0 grid energies). One zero accepted after a
    real total would make Home Assistant book the whole lifetime total again.
    """

    def _readable(self, reading: float) -> bool:
        return reading > 0

    def _follows(
        self,
        before: float,
        before_time: datetime | None,
        cycle_day: date | None,
        reading: float,
        upload_time: datetime,
        *,
        day: date | None,
        learned: bool = True,
    ) -> bool:
        return self._plausible_rise(before, before_time, reading, upload_time, learned=learned)

    def as_dict(self) -> dict[str, Any]:
        """The last accepted value, its upload time and the held-back series."""
        return self._history()

    def restore(self, stored: dict[str, Any], now: datetime) -> None:
        """Restore what `as_dict` saved."""
        self._restore_history(stored, now)


@dataclass(slots=True, kw_only=True)
class DailyCounter(_CheckedCounter):
    """A counter that restarts every day (yield today).

    The count belongs to a plant date (`day`): the date, as the inverter wrote it, of
    the latest reading that moved the count (a rise, or a fall taken as a new day). A
    reading that only repeats the value shown does not move it: the cloud may serve
    yesterday's count after the inverter's midnight. A fall is taken at once only on a
    later plant date than the count's; a fall within the plant date is held back like
    any implausible reading, and so is a rise onto a later date within `CONFIRM_SPAN`
    of the inverter's midnight (`_maybe_yesterdays`).
    """

    zone: tzinfo = UTC
    """Where the date of an upload comes from when the inverter's own time is not given."""
    day: date | None = None
    """The plant date of the count shown."""
    previous: float | None = None
    """The count of the day before: the cloud serves it again after the inverter's
    midnight, and it is never a rise of the new day."""

    def _since_midnight(self) -> timedelta | None:
        """Time since the inverter's midnight at the reading being offered (None: unknown)."""
        moment = self._plant_time
        if moment is None:
            return None
        return moment - moment.replace(hour=0, minute=0, second=0, microsecond=0)

    def _fits_the_day(self, reading: float) -> bool:
        """Whether this plant could count `reading` since the inverter's midnight."""
        if (since := self._since_midnight()) is None:
            return True
        hours = since.total_seconds() / 3600
        return reading <= self.learned_power_kw * hours + COUNTER_RESOLUTION + _SLACK

    def _readable(self, reading: float) -> bool:
        return reading >= 0

    def _follows(
        self,
        before: float,
        before_time: datetime | None,
        cycle_day: date | None,
        reading: float,
        upload_time: datetime,
        *,
        day: date | None,
        learned: bool = True,
    ) -> bool:
        if reading == before:
            return True
        new_day = cycle_day is not None and day is not None and day > cycle_day
        if new_day and not self._fits_the_day(reading):
            return False
        if reading > before:
            if new_day and self._maybe_yesterdays():
                return False
            return not self._repeats_yesterday(before, reading) and self._plausible_rise(
                before, before_time, reading, upload_time, learned=learned
            )
        return new_day

    def _maybe_yesterdays(self) -> bool:
        """Whether a new day's count above the day before's shown may be the day before's.

        Within `CONFIRM_SPAN` of the inverter's midnight the cloud may still serve the
        day before's count, which rose further while nobody polled (Home Assistant was
        down across midnight): taken as the new day's, a day's energy would be booked
        twice. Such a count (also one whose time of day is not known) is held back like
        a wrong series; the new day's real count is taken at once (a fall on a later
        date), a lasting one when confirmed.
        """
        since = self._since_midnight()
        return since is None or since < CONFIRM_SPAN

    def _repeats_yesterday(self, before: float, reading: float) -> bool:
        """Whether a rise is the day before's count served again.

        A rise of more than half a day's count in one poll that lands exactly on the
        day before's count is that count repeated, not the plant's production.
        """
        return reading == self.previous and reading - before > reading / 2

    def _plant_day(self, upload_time: datetime, plant_time: datetime | None) -> date | None:
        if plant_time is not None:
            return plant_time.date()
        return upload_time.astimezone(self.zone).date()

    def _next_day(
        self, before: float, cycle_day: date | None, reading: float, day: date | None
    ) -> date | None:
        if reading == before or day is None:
            return cycle_day
        return day if cycle_day is None else max(day, cycle_day)

    def _accept(self, reading: float, upload_time: datetime, cycle_day: date | None) -> None:
        if self.value is not None and reading < self.value and cycle_day != self.day:
            self.previous = self.value

        self.value, self.time, self.held, self.day = reading, upload_time, None, cycle_day

    def _cycle_day(self) -> date | None:
        return self.day

    def as_dict(self) -> dict[str, Any]:
        """The last accepted value and its time, the day's date and the held-back series."""
        return {
            **self._history(),
            "day": self.day.isoformat() if self.day else None,
            "previous": self.previous,
        }

    def restore(self, stored: dict[str, Any], now: datetime) -> None:
        """Restore what `as_dict` saved."""
        day = _date(stored.get("day"))
        if day is None or not self._restore_history(stored, now):
            self.value, self.time, self.held = None, None, None
            return
        self.day = day
        self.previous = finite_number(stored.get("previous"))


@dataclass(frozen=True, slots=True)
class YieldSample:
    """What bounds the PV energy of an inverter without battery across a long gap."""

    yield_total: float
    """The inverter's lifetime yield counter in kWh (AC, 0.1 kWh resolution)."""
    ac_power: float | None
    """The inverter's AC output in W, for the DC/AC ratio."""


RATIO_MIN_AC_POWER: Final = 100.0
"""W. Below this the DC/AC ratio is mostly the inverter's standby draw: not measured."""
RATIO_RANGE: Final = (0.8, 1.5)
ANCHOR_TOLERANCE: Final = 1e-6
"""kWh: rounding of a kept total against the counter's."""
"""A DC/AC ratio outside this range is a glitch of one field, not the inverter's losses."""


def dc_ac_ratio(dc_power: float | None, ac_power: float | None) -> float | None:
    """PV power over AC output at one sample, where it is measurable."""
    if dc_power is None or ac_power is None or ac_power < RATIO_MIN_AC_POWER:
        return None
    ratio = dc_power / ac_power
    return ratio if RATIO_RANGE[0] <= ratio <= RATIO_RANGE[1] else None


@dataclass(slots=True)
class PowerIntegrator:
    """Energy in kWh as the trapezoidal integral of power samples in W.

    Time comes from the uploads, never from the moment of polling. A gap up to
    `max_gap` (the time the entry expects between the uploads it fetches, plus a
    cadence) is bridged by the trapezoid. A longer one is bridged only where a
    counter bounds the energy: given `YieldSample`s (PV energy of an inverter without
    battery), by the yield counter's rise across it, scaled by the DC/AC ratio seen
    around it; otherwise it is left out and counted. Computed here, the total never
    decreases, so nothing is ever held back.

    Where the counter bounds the gaps, it also anchors the trapezoid: `counted` sums
    its rises (scaled by the ratio), and the total is kept within the counter's
    resolution (0.1 kWh times the ratio) of it. Sampled every 15 or 30 minutes, the
    trapezoid alone misses clouds between the samples (16 % off over a day, measured);
    anchored, a day's PV energy is the counter's to 0.1 kWh.
    """

    max_gap: timedelta
    total: float = 0.0
    last_time: datetime | None = None
    last_power: float | None = None
    last_yield: float | None = None
    """The yield counter at `last_time` (None: no counter bounds the next gap)."""
    ratio: float | None = None
    """The DC/AC ratio last measured."""
    peak_power: float = 0.0
    """The highest power sampled, in W: a yield rise across a gap must fit it."""
    rejected: int = 0
    resets: int = 0
    jumps: int = 0
    gaps_left_out: int = 0
    """Gaps between samples longer than `max_gap`, not bridged (this run)..."""
    hours_left_out: float = 0.0
    """...and the hours they span."""
    gaps_bridged: int = 0
    """Gaps longer than `max_gap` bridged by the yield counter (this run)."""
    counted: float = 0.0
    """The total as the counter tells it: its rises where it bounds a gap, else the trapezoid."""

    @property
    def shown(self) -> float | None:
        """The total to show now."""
        return round(self.total, 4)

    def offer(
        self,
        reading: float | None,
        upload_time: datetime | None,
        plant_time: datetime | None = None,
        *,
        bound: YieldSample | None = None,
    ) -> float | None:
        """Add the sample taken at `upload_time` (with its yield `bound`); return the total."""
        if upload_time is None:
            return round(self.total, 4)
        if reading is None:
            self.last_time, self.last_power, self.last_yield = None, None, None
            return round(self.total, 4)
        ratio = dc_ac_ratio(reading, bound.ac_power) if bound else None
        if self.last_time is not None and self.last_power is not None:
            if upload_time <= self.last_time:
                return round(self.total, 4)
            gap = upload_time - self.last_time
            hours = gap.total_seconds() / 3600
            ratios = [r for r in (self.ratio, ratio) if r is not None]
            mean_ratio = sum(ratios) / len(ratios) if ratios else 1.0
            counted = self._bridge(hours, bound, mean_ratio, reading)
            if gap <= self.max_gap:
                self._add((self.last_power + reading) / 2 * hours / 1000, counted, mean_ratio)
            elif counted is not None:
                self._add(counted, counted, mean_ratio)
                self.gaps_bridged += 1
            else:
                self.gaps_left_out += 1
                self.hours_left_out += hours
        self.last_time, self.last_power = upload_time, reading
        self.last_yield = bound.yield_total if bound else None
        self.ratio = ratio or self.ratio
        if 0 < reading <= INVERTER_MAX_POWER_KW * 1000:
            self.peak_power = max(self.peak_power, reading)
        return round(self.total, 4)

    def _bridge(
        self, hours: float, bound: YieldSample | None, ratio: float, reading: float
    ) -> float | None:
        """The energy of a gap from the yield counter's rise, or None if unbounded."""
        if bound is None or self.last_yield is None:
            return None
        rise = bound.yield_total - self.last_yield
        # The counter's rise must fit the power this plant was seen producing.
        peak = max(self.peak_power, min(reading, INVERTER_MAX_POWER_KW * 1000))
        limit = peak / 1000 * PEAK_MARGIN * hours + COUNTER_RESOLUTION
        if not 0 <= rise <= limit + _SLACK:
            return None
        return rise * ratio

    def _add(self, energy: float, counted: float | None, ratio: float) -> None:
        """Add a gap's energy; where the counter bounds it, stay within its resolution."""
        self.counted += energy if counted is None else counted
        total = self.total + energy
        if counted is not None:
            width = COUNTER_RESOLUTION * ratio + _SLACK
            total = min(max(total, self.counted - width), self.counted + width)
        self.total = max(self.total, total)

    def as_dict(self) -> dict[str, Any]:
        """The total, the last sample and what bounds the next gap."""
        return {
            "total": self.total,
            "counted": self.counted,
            "last_time": self.last_time.isoformat() if self.last_time else None,
            "last_power": self.last_power,
            "last_yield": self.last_yield,
            "ratio": self.ratio,
            "peak_power": self.peak_power,
        }

    def restore(self, stored: dict[str, Any], now: datetime) -> None:
        """Restore what `as_dict` saved."""
        total = finite_number(stored.get("total"))
        if total is None or total < 0:
            return
        self.total = total
        counted = finite_number(stored.get("counted"))
        # The total stays within the counter's resolution of it; junk is anchored from here.
        width = COUNTER_RESOLUTION * RATIO_RANGE[1] + ANCHOR_TOLERANCE
        usable = counted is not None and abs(counted - total) <= width
        self.counted = counted if counted is not None and usable else total
        last_time = aware_time(stored.get("last_time"))
        last_power = finite_number(stored.get("last_power"))
        if last_time is not None and last_power is not None:
            # From the future: the gap to the next sample is bridged from now (its yield).
            self.last_time, self.last_power = min(last_time, now), last_power
            last_yield = finite_number(stored.get("last_yield"))
            self.last_yield = last_yield if last_yield is not None and last_yield >= 0 else None
        ratio = finite_number(stored.get("ratio"))
        if ratio is not None and RATIO_RANGE[0] <= ratio <= RATIO_RANGE[1]:
            self.ratio = ratio
        peak = finite_number(stored.get("peak_power"))
        if peak is not None and 0 < peak <= INVERTER_MAX_POWER_KW * 1000:
            self.peak_power = peak
