"""Where a plant's uploads lie in time: its offset from UTC, learned from the uploads.

Pure logic without Home Assistant imports; times are timezone-aware (UTC) datetimes,
except the upload's local time, which is naive as the cloud writes it.

uploadTime is the plant's local time without a zone. Its offset from UTC (the plant's
zone, `local - utc`) is learned from the uploads seen to be new: an upload whose text
differs from the last one seen was not in the cloud at the poll before, so it was
made after that poll less the publish delay (`MAX_PUBLISH_DELAY`) and after the last
upload placed, and before this poll (`SLACK` allows for clocks a little apart). Its
age is at least 0 (so the offset is at least its local time less the fetch time, for
it and the two new uploads before it), and the latest upload of a live inverter is
younger than a cadence and a publish delay. Offsets are whole quarter hours; the one
that places an upload youngest within those bounds is the upload's candidate.

- An offset is adopted when two consecutive new uploads have the same candidate.
  Until then Home Assistant's zone is assumed, as long as it places the upload within
  the bounds without the age bound (an upload may be old: an inverter gone to sleep).
- The learned offset places every upload it keeps within those bounds, so a
  late-seen upload stays at its own time. An upload it cannot place (the plant's
  daylight-saving change: its local clock jumped forward, so the upload would be in
  the future, or back, so it would not come after the last one) is placed by its
  candidate when that is 30 or 60 minutes away, and the next upload adopts it. After
  any other jump the upload is rejected until the next one agrees.
- Placed times of successive new uploads only ever rise and are never after the fetch.
- Once learned, every new upload of a live inverter is placed at its true time, from
  the third new upload after a start or a change of the offset (the property tests
  show it over zones, polls, outages, restarts and daylight-saving changes).
- An upload that no quarter hour places within the bounds (an inverter clock a few
  minutes off, a stray stamp) is rejected; `SKEW_UPLOADS` of them in a row mean the
  inverter's clock is off (`clock_off`): from then on uploads are placed at the time
  they were fetched, and the offset their ages allow is named to the minute, rounded
  up (e.g. "+1:07"; the true one is at most a publish delay more), until uploads fit.

A clock r minutes ahead of a quarter hour fits while r is less than the upload's age
and half a minute (placed that much late, never after its fetch), or more than 7.5
minutes plus the age (a slow clock: placed up to 7.5 minutes early); between, it is
off. Polled soon after each upload (ages under about 2 minutes), clocks 2.5 to 7.5
minutes fast (or 7.5 to 12.5 slow) of any quarter hour are found.

utcDateTime, which some answers carry, is not trusted as such. Of the real bodies
known, one (v2 API, 2026) is right (uploadTime - 2 h for a plant on CEST); three (v1
API) are uploadTime - 8 h, two of them of plants on CEST (the cloud's own zone, China,
taken for the plant's); some carry milliseconds. So it is used only when it is a
whole quarter hour (to the second) from uploadTime and that offset places the upload
within all the bounds, age included: then it is the upload's candidate, and the
upload is placed by it at once (two sources agree).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum
import math
from typing import Any

from .const import FUTURE_TOLERANCE
from .kept import aware_time, finite_number, past_time

QUARTER = timedelta(minutes=15)
MIN_OFFSET = timedelta(hours=-12)
MAX_OFFSET = timedelta(hours=14)
MAX_PUBLISH_DELAY = timedelta(seconds=120)
"""The longest an upload takes to become available in the cloud."""
SLACK = timedelta(seconds=30)
"""Allowance for clocks (Home Assistant's, the cloud's) a little apart."""
DEFAULT_CADENCE = timedelta(minutes=5)
SKEW_UPLOADS = 3
"""New uploads in a row that fit no quarter-hour offset: the inverter's clock is off."""
SEASONAL_STEPS = frozenset({timedelta(minutes=30), timedelta(hours=1)})
"""How far a daylight-saving change moves a plant's offset."""
HINT_TOLERANCE = timedelta(seconds=1)
"""utcDateTime may carry milliseconds that uploadTime does not."""
MAX_TEXT = 40
MAX_MEASURED = timedelta(days=36525)
"""A kept lead or measured offset further from UTC than this is junk (an inverter clock
reset after a power cut may be decades behind)."""


def assumed_offset(local: datetime, zone: tzinfo, now: datetime) -> timedelta:
    """The offset of `zone` at the naive `local` time.

    In the hour repeated when daylight-saving time ends, a local time happens twice:
    take the later reading unless it lies in the future.
    """
    first = local.replace(tzinfo=zone, fold=0)
    second = local.replace(tzinfo=zone, fold=1)
    first_utc, second_utc = first.astimezone(UTC), second.astimezone(UTC)
    chosen = second if second_utc != first_utc and second_utc - now <= FUTURE_TOLERANCE else first
    offset = chosen.utcoffset()
    return offset if offset is not None else timedelta(0)


def format_offset(offset: timedelta) -> str:
    """An offset as sign, hours and minutes: "+1:07", "-3:30"."""
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{rest:02d}"


def _is_quarter(offset: timedelta) -> bool:
    return MIN_OFFSET <= offset <= MAX_OFFSET and offset % QUARTER == timedelta(0)


def _stored_offset(minutes: Any) -> timedelta | None:
    """A kept offset in minutes, if it is a whole quarter hour within the zones."""
    number = finite_number(minutes)
    if number is None or not _is_quarter(offset := timedelta(minutes=number)):
        return None
    return offset


class Verdict(StrEnum):
    """What became of an upload."""

    SAME = "same"
    """The upload seen before: placed as it was then."""
    PLACED = "placed"
    """A new upload, placed by an offset."""
    FETCHED = "fetched"
    """A new upload of an inverter whose clock is off: placed at the time it was fetched."""
    REJECTED = "rejected"
    """An upload that cannot be placed (yet): not shown."""


@dataclass(frozen=True, slots=True)
class Placement:
    """An upload's place in time."""

    verdict: Verdict
    time: datetime | None
    """UTC; None when rejected."""

    @property
    def is_new(self) -> bool:
        """A new upload to show."""
        return self.verdict in (Verdict.PLACED, Verdict.FETCHED)


@dataclass(slots=True)
class PlantClock:
    """Learns a plant's offset from UTC and places its uploads in time."""

    offset: timedelta | None = None
    """The learned offset (local - UTC), a whole quarter hour; None until learned."""
    last_text: str | None = None
    last_time: datetime | None = None
    """Where the last new upload shown was placed."""
    last_rejected: bool = False
    """The last upload seen was rejected."""
    last_fit: datetime | None = None
    """Where the last upload placed by an offset was placed."""
    last_poll: datetime | None = None
    """The last poll that returned a readable upload."""
    candidate: timedelta | None = None
    """The candidate of the last new upload (None: it fitted no quarter hour)."""
    misfits: int = 0
    """New uploads in a row that fitted no quarter-hour offset."""
    measured: timedelta | None = None
    """While they do: the least offset their ages allow (`local - fetched`)."""
    leads: deque[timedelta] = field(default_factory=lambda: deque(maxlen=SKEW_UPLOADS - 1))
    """Local time less fetch time of the new uploads before the last one."""

    @property
    def clock_off(self) -> bool:
        """The inverter's clock is off by minutes: uploads show at their fetch time."""
        return self.misfits >= SKEW_UPLOADS

    @property
    def measured_offset(self) -> str | None:
        """The offset the inverter's clock shows, to the minute ("+1:07"), while off."""
        if not self.clock_off or self.measured is None:
            return None
        return format_offset(timedelta(minutes=math.ceil(self.measured / timedelta(minutes=1))))

    def place(
        self,
        local: datetime,
        text: str,
        now: datetime,
        *,
        zone: tzinfo,
        cadence: timedelta = DEFAULT_CADENCE,
        utc_hint: datetime | None = None,
    ) -> Placement:
        """Place the upload stamped `local` (text `text`) fetched at `now`.

        `zone` is Home Assistant's time zone; `cadence` the time between two uploads;
        `utc_hint` the answer's utcDateTime, if any.
        """
        assumed = assumed_offset(local, zone, now)
        previous_poll, self.last_poll = self.last_poll, now
        if text == self.last_text:
            if self.last_rejected or self.last_time is None:
                return Placement(Verdict.REJECTED, None)
            return Placement(Verdict.SAME, self.last_time)
        self.last_text = text
        lead = local.replace(tzinfo=UTC) - now
        cap = cadence + MAX_PUBLISH_DELAY + SLACK
        # Every upload's age is at least 0, so its lead (local time less fetch time) is
        # at most the offset: of the last uploads, those not an hour or so above this
        # one's (an offset fallen back since) bound the offset from below.
        least = max([lead, *(kept for kept in self.leads if kept <= lead + cap)]) - SLACK
        self.leads.append(lead)
        bounds = _Bounds(local, now, previous_poll, self.last_fit, cap, least)
        hint = self._hint(local, utc_hint, bounds)
        candidate = hint if hint is not None else bounds.youngest()
        if candidate is None:
            self.misfits += 1
            self.measured = lead if self.measured is None else max(self.measured, lead)
        else:
            self.misfits, self.measured = 0, None
            if candidate == self.candidate:
                self.offset = candidate
        self.candidate = candidate
        if self.clock_off:
            return self._placed(now, now, fit=False)
        if self.offset is not None and bounds.admits(self.offset):
            return self._placed(bounds.time(self.offset), now, fit=True)
        if hint is not None:
            return self._placed(bounds.time(hint), now, fit=True)
        if self.offset is None and bounds.admits(assumed):
            return self._placed(bounds.time(assumed), now, fit=True)
        known = self.offset if self.offset is not None else assumed
        if candidate is not None and abs(candidate - known) in SEASONAL_STEPS:
            return self._placed(bounds.time(candidate), now, fit=True)
        self.last_rejected = True
        return Placement(Verdict.REJECTED, None)

    def _hint(
        self, local: datetime, utc_hint: datetime | None, bounds: _Bounds
    ) -> timedelta | None:
        """The offset utcDateTime tells, if it is a quarter hour that fits the bounds."""
        if utc_hint is None or utc_hint.tzinfo is None:
            return None
        told = local.replace(tzinfo=UTC) - utc_hint
        offset = QUARTER * round(told / QUARTER)
        if abs(told - offset) > HINT_TOLERANCE or not _is_quarter(offset):
            return None
        return offset if bounds.fits(offset) else None

    def _placed(self, moment: datetime, now: datetime, *, fit: bool) -> Placement:
        """Place a new upload at `moment`: after the one before, not after the fetch."""
        if fit:
            self.last_fit = moment
        placed = moment
        if self.last_time is not None and placed <= self.last_time:
            placed = self.last_time + timedelta(seconds=1)
        placed = min(placed, now)
        self.last_time, self.last_rejected = placed, False
        return Placement(Verdict.PLACED if fit else Verdict.FETCHED, placed)

    def as_dict(self) -> dict[str, Any]:
        """What is learned, to keep across restarts (JSON-ready)."""

        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment is not None else None

        return {
            "offset_minutes": (
                None if self.offset is None else int(self.offset / timedelta(minutes=1))
            ),
            "candidate_minutes": (
                None if self.candidate is None else int(self.candidate / timedelta(minutes=1))
            ),
            "last_text": self.last_text,
            "last_time": iso(self.last_time),
            "last_rejected": self.last_rejected,
            "last_fit": iso(self.last_fit),
            "last_poll": iso(self.last_poll),
            "misfits": self.misfits,
            "leads_seconds": [lead.total_seconds() for lead in self.leads],
            "measured_seconds": (None if self.measured is None else self.measured.total_seconds()),
        }

    @classmethod
    def restore(cls, stored: Any, now: datetime) -> PlantClock:
        """Take back what `as_dict` saved; what does not fit is left out.

        Times after `now` too (kept while the clock ran ahead): they would reject every
        upload placed before them.
        """
        clock = cls()
        if not isinstance(stored, dict):
            return clock
        clock.offset = _stored_offset(stored.get("offset_minutes"))
        clock.candidate = _stored_offset(stored.get("candidate_minutes"))
        text = stored.get("last_text")
        last_time = aware_time(stored.get("last_time"))
        # An upload placed after `now` is forgotten with its text: the next is placed anew.
        if isinstance(text, str) and len(text) <= MAX_TEXT and not (last_time and last_time > now):
            clock.last_text, clock.last_time = text, last_time
            clock.last_rejected = stored.get("last_rejected") is True
        clock.last_fit = past_time(stored.get("last_fit"), now)
        clock.last_poll = past_time(stored.get("last_poll"), now)
        if isinstance(leads := stored.get("leads_seconds"), list):
            clock.leads.extend(
                timedelta(seconds=seconds)
                for seconds in map(finite_number, leads)
                if seconds is not None and abs(seconds) <= MAX_MEASURED.total_seconds()
            )
        misfits = stored.get("misfits")
        measured = finite_number(stored.get("measured_seconds"))
        if isinstance(misfits, int) and not isinstance(misfits, bool) and misfits > 0:
            clock.misfits = min(misfits, SKEW_UPLOADS)
            if measured is not None and abs(measured) <= MAX_MEASURED.total_seconds():
                clock.measured = timedelta(seconds=measured)
        return clock


@dataclass(frozen=True, slots=True)
class _Bounds:
    """Where a new upload may lie.

    After the poll before (less the publish delay) and the last upload placed, not
    after this poll; to fit, younger than a cadence and a publish delay.
    """

    local: datetime
    now: datetime
    previous_poll: datetime | None
    last_fit: datetime | None
    cap: timedelta
    """The oldest a live inverter's latest upload may be."""
    least: timedelta
    """The lowest offset that puts none of the last uploads in the future."""

    def time(self, offset: timedelta) -> datetime:
        """The upload's UTC time if the plant's offset is `offset`."""
        return self.local.replace(tzinfo=UTC) - offset

    def admits(self, offset: timedelta) -> bool:
        """Whether `offset` places the upload within the bounds (any age)."""
        moment = self.time(offset)
        if moment > self.now + SLACK:
            return False
        if self.last_fit is not None and moment <= self.last_fit:
            return False
        return (
            self.previous_poll is None or moment >= self.previous_poll - MAX_PUBLISH_DELAY - SLACK
        )

    def fits(self, offset: timedelta) -> bool:
        """Whether `offset` places the upload within the bounds of a live inverter."""
        age = self.now - self.time(offset)
        return offset >= self.least and age <= self.cap and self.admits(offset)

    def youngest(self) -> timedelta | None:
        """The quarter hour that makes the upload youngest within the bounds, if it fits."""
        offset = QUARTER * math.ceil(self.least / QUARTER)
        offset = max(offset, MIN_OFFSET)
        return offset if offset <= MAX_OFFSET and self.fits(offset) else None
