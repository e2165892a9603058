"""Safety and liveness of the counter rules, on generated sequences of readings.

Each example is a long sequence of uploads of a simulated meter (lifetime or daily)
with every kind of trouble mixed in: zero, null, lower and spiked readings, a stuck
meter, outages, a new meter, out-of-order and repeated uploads, uploads without a
time, a fast cadence, a plant near the power bound, daily counters that restart
before or after Home Assistant's midnight, and restarts of Home Assistant (history
saved as JSON and restored) in between. Checked:

- Safety: the value shown falls only when a new meter cycle is counted (or, for
  yield today, once per local date); it never changes to a reading that neither
  follows the value shown nor ends a confirmed series; a single glitch in a clean
  series is held at its upload and changes nothing after it.
- Liveness: after any such prefix, readings that follow one another for the bound
  (CONFIRM_UPLOADS uploads spanning CONFIRM_SPAN, flat or not)
  make the value shown the cloud's.
- A restart changes nothing that is shown.

Hypothesis is derandomized (a fixed seed per test), so a failure reproduces.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
import itertools
import json
import random
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings, strategies as st

from custom_components.sunvec_connect.counters import (
    CONFIRM_SPAN,
    CONFIRM_UPLOADS,
    COUNTER_RESOLUTION,
    INVERTER_MAX_POWER_KW,
    PEAK_FLOOR_KW,
    DailyCounter,
    LifetimeCounter,
)

ZONE = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 3, 28, 20, 0, tzinfo=UTC)
"""21:00 in Amsterdam the evening before daylight-saving time begins. Upload times are
in UTC, as the coordinator gives them; the zone only decides the local date."""
CAP = INVERTER_MAX_POWER_KW
UPLOAD = timedelta(minutes=5)
GLITCH_MARK = 0.0123
"""Added to glitch values so that the true meter (one decimal) never reads them."""

SETTINGS = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=1500,
    suppress_health_check=[HealthCheck.too_slow],
)
"""1,500 sequences for safety and liveness, 1,000 for a single glitch: 2,500 per counter."""
GLITCH_SETTINGS = settings(SETTINGS, max_examples=1000)


def codes(min_size: int, max_size: int) -> st.SearchStrategy[tuple[int, int]]:
    """Event codes, one per upload, as a length and a seed that Hypothesis draws.

    Drawing each code through Hypothesis would cost most of this file's time;
    the length still shrinks to the shortest failing sequence. `expand` them.
    """
    return st.tuples(st.integers(min_size, max_size), st.integers(0, 2**32 - 1))


def expand(drawn: tuple[int, int]) -> list[int]:
    """The codes of a drawn length and seed."""
    size, seed = drawn
    rng = random.Random(seed)
    return [rng.getrandbits(31) for _ in range(size)]


class Kind(StrEnum):
    """The two counter rules of the inverter's own counters."""

    LIFETIME = "lifetime"
    DAILY = "daily"


type Counter = LifetimeCounter | DailyCounter


def new_counter(kind: Kind) -> Counter:
    """A counter of `kind` without history."""
    return LifetimeCounter() if kind is Kind.LIFETIME else DailyCounter(zone=ZONE)


def local_time(moment: datetime) -> datetime:
    """The plant's local time of `moment`, as the inverter writes it."""
    return moment.astimezone(ZONE).replace(tzinfo=None)


def local_date(moment: datetime) -> date:
    """The plant's local date of `moment`."""
    return moment.astimezone(ZONE).date()


@dataclass(frozen=True, slots=True)
class Offer:
    """One upload's reading as the sensor offers it to the counter."""

    reading: float | None
    time: datetime | None
    restart_before: bool = False
    """Home Assistant restarts before this upload (history saved and restored)."""
    plant_time: datetime | None = None
    """The time of the upload as the inverter wrote it (its local time)."""


@dataclass(slots=True)
class Meter:
    """The inverter's true counter."""

    kind: Kind
    value: float
    time: datetime
    clock_offset: timedelta = timedelta()
    """Daily: how far the inverter's clock is ahead of Home Assistant's."""
    dark_after_midnight: timedelta = timedelta()
    """Daily: how long after the inverter's midnight it makes nothing (any time: a hybrid)."""

    def advance(self, elapsed: timedelta, power_kw: float) -> None:
        """Let `elapsed` pass producing `power_kw` (below the bound)."""
        before = self.time
        plant_before = self.plant_time()
        self.time += elapsed
        if self.kind is Kind.DAILY and self._inverter_date(self.time) > self._inverter_date(before):
            # The day's count starts again at the inverter's midnight: it holds what
            # was made since then.
            plant = self.plant_time()
            self.value = 0.0
            elapsed = plant - plant.replace(hour=0, minute=0, second=0, microsecond=0)
            plant_before = plant - elapsed
        elapsed -= dark(plant_before, self.plant_time(), self.dark_after_midnight)
        self.value += power_kw * elapsed.total_seconds() / 3600

    def reading(self) -> float:
        """What the cloud reports: one decimal."""
        return round(self.value, 1)

    def plant_time(self) -> datetime:
        """The time the inverter writes on its upload now."""
        return (self.time + self.clock_offset).astimezone(ZONE).replace(tzinfo=None)

    def _inverter_date(self, moment: datetime) -> date:
        return local_date(moment + self.clock_offset)


def dark(start: datetime, end: datetime, span: timedelta) -> timedelta:
    """How much of `start` to `end` (plant times) lies within `span` after a midnight."""
    total = timedelta()
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    while span and midnight < end:
        total += max(timedelta(), min(end, midnight + span) - max(start, midnight))
        midnight += timedelta(days=1)
    return total


def _fraction(code: int, shift: int) -> float:
    """A number in [0, 1) taken from the bits of `code`."""
    return ((code >> shift) % 1000) / 1000


def troubled_uploads(kind: Kind, codes: Sequence[int], clock_offset_minutes: int) -> list[Offer]:
    """The uploads of a meter with every kind of trouble, one event per code."""
    meter = Meter(
        kind,
        value=0.0 if kind is Kind.DAILY else 100.0 + 5000 * _fraction(codes[0], 7),
        time=START,
        clock_offset=timedelta(minutes=clock_offset_minutes),
    )
    offers: list[Offer] = []
    restart = False
    for code in codes:
        event, a, b = code % 100, _fraction(code, 7), _fraction(code, 17)
        elapsed = UPLOAD + timedelta(seconds=(a - 0.5) * 120)
        power = 12.0 * b
        if 90 <= event < 96:  # Home Assistant restarts before the next upload
            restart = True
            continue
        if (83 <= event < 87 or event >= 96) and offers:
            # An older upload served again, or the same upload polled again.
            old = offers[int(a * len(offers))] if event < 87 else offers[-1]
            offers.append(Offer(old.reading, old.time, restart, old.plant_time))
            restart = False
            continue
        if event < 47:  # normal uploads; from 40 on the meter is stuck
            meter.advance(elapsed, power if event < 40 else 0.0)
        elif event < 51:  # a plant near the bound
            meter.advance(elapsed, 0.9 * CAP * b)
        elif event < 55:  # a fast cadence
            meter.advance(timedelta(minutes=1), power)
        elif event < 59:  # an outage of 15 minutes to 10 hours
            meter.advance(timedelta(minutes=15 + a * 585), power * b)
        elif 79 <= event < 83:  # a new meter (lower or higher), or a daily restart
            meter.value *= 2 * a
            meter.advance(elapsed, power)
        else:
            meter.advance(elapsed, power)
        reading: float | None = meter.reading()
        time: datetime | None = meter.time
        if 59 <= event < 64:  # a zero reading
            reading = 0.0
        elif event < 69:  # a null reading
            reading = None if event >= 64 else reading
        elif event < 74:  # lower than the meter
            reading = meter.reading() * a * 0.99 + GLITCH_MARK
        elif event < 79:  # a spike
            spike = CAP * elapsed.total_seconds() / 3600 + 1 + 10**5 * a
            reading = meter.reading() + spike + GLITCH_MARK
        elif 87 <= event < 90:  # an upload time that could not be read
            time = None
        offers.append(Offer(reading, time, restart, meter.plant_time() if time else None))
        restart = False
    return offers


def consistent_suffix(
    kind: Kind, codes: Sequence[int], after: datetime, *, flat: bool, clock_offset_minutes: int = 0
) -> list[Offer]:
    """Readings that follow one another, just long enough for the liveness bound.

    A day's count starts again at the plant's midnight, as a real one does, and makes
    nothing in its first `CONFIRM_SPAN` (above the day before's count then, it would not
    follow: the day before's count served again looks alike).
    """
    first = _fraction(codes[0], 7) * (200 if kind is Kind.DAILY else 10**5)
    value = round(first + (0.0 if kind is Kind.DAILY else 0.1), 1)
    time = after + timedelta(seconds=1 + 600 * _fraction(codes[0], 17))
    ahead = timedelta(minutes=clock_offset_minutes)
    offers = [Offer(value, time, plant_time=local_time(time + ahead))]
    needed = CONFIRM_SPAN
    index = 1
    while len(offers) < CONFIRM_UPLOADS or time - offers[0].time < needed:  # type: ignore[operator]
        code = codes[index % len(codes)]
        index += 1
        elapsed = timedelta(seconds=60 + 540 * _fraction(code, 7))
        counted = elapsed
        if kind is Kind.DAILY:
            plant_before, plant = local_time(time + ahead), local_time(time + elapsed + ahead)
            if plant.date() > plant_before.date():
                # A day's count starts again at the plant's midnight.
                plant_before = plant.replace(hour=0, minute=0, second=0, microsecond=0)
                value, counted = 0.0, plant - plant_before
            counted -= dark(plant_before, plant, CONFIRM_SPAN)
        time += elapsed
        if not flat:
            # At a pace a plant is believed at once (faster ones need CONFIRM_BOUND).
            rise = 0.9 * PEAK_FLOOR_KW * counted.total_seconds() / 3600 * _fraction(code, 17)
            least = COUNTER_RESOLUTION if index == 2 and counted > timedelta() else 0.0
            value = round(value + max(rise, least), 1)
        offers.append(Offer(value, time, plant_time=local_time(time + ahead)))
    return offers


@dataclass(slots=True)
class Run:
    """A counter fed with offers, restarted where the offers say, next to one never restarted."""

    kind: Kind
    counter: Counter = field(init=False)
    reference: Counter = field(init=False)
    """The same offers without restarts: what is shown must be the same."""
    shown: list[float | None] = field(default_factory=list)
    offers: list[Offer] = field(default_factory=list)
    accepted: tuple[int, datetime] | None = None
    """Where and at which upload time the value shown was last accepted: the first
    offer of the newest upload that read it (an upload may be served again later)."""
    cycle_date: date | None = None
    """Daily: the local date of the last drop taken without a counted reset (or earlier)."""

    def __post_init__(self) -> None:
        """Both counters without history."""
        self.counter = new_counter(self.kind)
        self.reference = new_counter(self.kind)

    def feed(self, offers: Sequence[Offer]) -> None:
        """Offer each reading, checking safety and restart invariance at every step."""
        for offer in offers:
            if offer.restart_before:
                self._restart()
            before = self.shown[-1] if self.shown else None
            resets, jumps = self.counter.resets, self.counter.jumps
            shown = self.counter.offer(offer.reading, offer.time, offer.plant_time)
            assert shown == self.reference.offer(offer.reading, offer.time, offer.plant_time), (
                "restart changed it"
            )
            reset = self.counter.resets > resets
            self.shown.append(shown)
            self.offers.append(offer)
            self._check_safety(before, shown, offer, reset, self.counter.jumps > jumps)
            if shown is not None and offer.reading == shown and offer.time is not None:
                newest = self.accepted is None or offer.time > self.accepted[1]
                if shown != before or newest:
                    self.accepted = (len(self.offers) - 1, offer.time)

    def _restart(self) -> None:
        """Save the history as Home Assistant does, restore it, offer the current upload."""
        saved = json.loads(json.dumps(self.counter.as_dict()))
        self.counter = new_counter(self.kind)
        # Home Assistant starts again after the last upload offered.
        now = max((offer.time for offer in self.offers if offer.time), default=START)
        self.counter.restore(saved, now)
        if self.offers:
            last = self.offers[-1]
            assert self.counter.offer(last.reading, last.time, last.plant_time) == self.shown[-1]
            assert (self.counter.resets, self.counter.jumps) == (0, 0)

    def _check_safety(
        self, before: float | None, shown: float | None, offer: Offer, reset: bool, jump: bool
    ) -> None:
        if before is None:
            if shown is not None:
                assert shown == offer.reading
                self.cycle_date = offer.plant_time.date() if offer.plant_time else None
            return
        assert shown is not None, "a value once shown stays"
        if self.kind is Kind.LIFETIME:
            assert shown > 0, "a lifetime counter never shows 0"
        if shown == before:
            assert not reset
            assert not jump
            return
        assert shown == offer.reading, "only the reading just offered can be shown"
        assert offer.time is not None
        if reset or jump:
            assert reset != jump
            assert (shown < before) is reset
            self._check_confirmed_series()
            if reset and self.kind is Kind.DAILY:
                # The confirmed series began at most a day earlier (outages are shorter).
                assert offer.plant_time is not None
                self.cycle_date = offer.plant_time.date() - timedelta(days=1)
            return
        if shown < before:
            assert self.kind is Kind.DAILY, "a lifetime counter fell without a new meter"
            assert self.cycle_date is not None
            assert offer.plant_time is not None
            assert offer.plant_time.date() > self.cycle_date, "yield today fell twice in a day"
            self.cycle_date = offer.plant_time.date()
            return
        # A rise taken at once: no faster than the bound since the value shown was read.
        assert self.accepted is not None
        hours = (offer.time - self.accepted[1]).total_seconds() / 3600
        assert shown - before <= CAP * hours + COUNTER_RESOLUTION + 1e-9, "a spike got through"

    def _check_confirmed_series(self) -> None:
        """A new value that does not follow the old one ends a series long enough.

        The uploads since the value shown before was accepted end in readings that
        follow one another for the bound.
        """
        assert self.accepted is not None
        shown_at, shown_time = self.accepted
        candidates: list[tuple[float, datetime, datetime | None]] = []
        for offer in self.offers[shown_at + 1 :]:
            if offer.reading is None or offer.time is None or offer.time <= shown_time:
                continue
            if self.kind is Kind.LIFETIME and offer.reading <= 0:
                continue
            if offer.reading < 0 or (
                candidates and candidates[-1][:2] == (offer.reading, offer.time)
            ):
                continue
            candidates.append((offer.reading, offer.time, offer.plant_time))
        series = [candidates[-1]]
        for reading, time, day in reversed(candidates[:-1]):
            later, later_time, later_day = series[0]
            if time >= later_time or not self._follows(
                (reading, time, day), (later, later_time, later_day)
            ):
                break
            series.insert(0, (reading, time, day))
        needed = CONFIRM_SPAN
        assert len(series) >= CONFIRM_UPLOADS, f"confirmed by {len(series)} uploads"
        assert series[-1][1] - series[0][1] >= needed, "confirmed too early"

    def _follows(
        self,
        earlier: tuple[float, datetime, datetime | None],
        later_reading: tuple[float, datetime, datetime | None],
    ) -> bool:
        reading, time, day = earlier
        later, later_time, later_day = later_reading
        if later < reading:
            return (
                self.kind is Kind.DAILY
                and day is not None
                and later_day is not None
                and later_day.date() > day.date()
            )
        hours = (later_time - time).total_seconds() / 3600
        return later - reading <= CAP * hours + COUNTER_RESOLUTION + 1e-9


def latest_time(offers: Sequence[Offer]) -> datetime:
    """The latest upload time among `offers` (START if none has one)."""
    return max((offer.time for offer in offers if offer.time is not None), default=START)


def check_safety_and_liveness(
    kind: Kind, prefix: tuple[int, int], suffix: tuple[int, int], offset: int, flat: bool
) -> None:
    """Safety on the whole sequence; liveness after the consistent suffix."""
    run = Run(kind)
    prefix_offers = troubled_uploads(kind, expand(prefix), offset)
    run.feed(prefix_offers)
    suffix_offers = consistent_suffix(
        kind, expand(suffix), latest_time(prefix_offers), flat=flat, clock_offset_minutes=offset
    )
    run.feed(suffix_offers)
    last = suffix_offers[-1]
    assert run.shown[-1] == last.reading, "the cloud's consistent series is not shown"
    # And it goes on being shown.
    assert last.time is not None
    assert last.reading is not None
    assert last.plant_time is not None
    following = last.plant_time + UPLOAD
    # A day's count starts again at the plant's midnight.
    new_day = kind is Kind.DAILY and following.date() > last.plant_time.date()
    reading = 0.0 if new_day else last.reading + 0.1
    run.feed([Offer(reading, last.time + UPLOAD, plant_time=following)])
    assert run.shown[-1] == reading


SAFETY_AND_LIVENESS: Callable[[Callable[..., None]], Callable[..., None]] = given(
    prefix=codes(1, 120),
    suffix=codes(1, 20),
    offset=st.integers(-90, 90),
    flat=st.booleans(),
)


@SETTINGS
@SAFETY_AND_LIVENESS
def test_lifetime_safety_and_liveness(
    prefix: tuple[int, int], suffix: tuple[int, int], offset: int, flat: bool
) -> None:
    check_safety_and_liveness(Kind.LIFETIME, prefix, suffix, offset, flat)


@SETTINGS
@SAFETY_AND_LIVENESS
def test_daily_safety_and_liveness(
    prefix: tuple[int, int], suffix: tuple[int, int], offset: int, flat: bool
) -> None:
    check_safety_and_liveness(Kind.DAILY, prefix, suffix, offset, flat)


def clean_uploads(
    kind: Kind, codes: Sequence[int], offset_minutes: int
) -> list[tuple[Offer, date]]:
    """A meter without trouble, each upload with the date of the last drop seen.

    Daily counters restart at or after Home Assistant's midnight (a clock behind).
    The first upload comes at once: a counter without history takes the date of its
    first reading as the day's start, which an upload just after midnight carrying
    the day before's total would make a day late. A day's count makes nothing in the
    first `CONFIRM_SPAN` after the inverter's midnight (the sun's night): a count above
    the day before's in that time is held back as the day before's served again.
    """
    meter = Meter(
        kind,
        value=0.0 if kind is Kind.DAILY else 100.0 + 5000 * _fraction(codes[0], 7),
        time=START,
        clock_offset=timedelta(minutes=-offset_minutes),
        dark_after_midnight=CONFIRM_SPAN if kind is Kind.DAILY else timedelta(),
    )
    cycle_date = meter.plant_time().date()
    uploads: list[tuple[Offer, date]] = []
    for code in codes:
        event, a, b = code % 10, _fraction(code, 7), _fraction(code, 17)
        elapsed = UPLOAD + timedelta(seconds=(a - 0.5) * 120)
        before = meter.reading()
        if event < 6 or not uploads:
            meter.advance(elapsed, 12.0 * b)
        elif event < 8:
            meter.advance(elapsed, 0.0)
        elif event < 9:  # near the fastest rise shown at once without history
            meter.advance(elapsed, 0.9 * PEAK_FLOOR_KW * b)
        else:
            meter.advance(timedelta(minutes=15 + a * 585), 12.0 * b)
        if meter.reading() < before:  # as the counter sees it: a drop
            cycle_date = meter.plant_time().date()
        uploads.append(
            (Offer(meter.reading(), meter.time, plant_time=meter.plant_time()), cycle_date)
        )
    return uploads


def glitch(kind: Kind, previous: float, offer: Offer, cycle_date: date, code: int) -> Offer | None:
    """A glitch at `offer`'s upload that no rule could take for a reading, or None."""
    assert offer.time is not None
    assert offer.reading is not None
    a = _fraction(code, 7)
    elapsed_bound = CAP * 24 + 1  # above any rise the bound allows within a day
    same_cycle = kind is Kind.LIFETIME or (
        offer.plant_time is not None and offer.plant_time.date() == cycle_date
    )
    day = offer.plant_time
    match code % 4:
        case 0:
            return Offer(None, offer.time, plant_time=day)
        case 1:
            spike = max(previous, offer.reading) + elapsed_bound + 10**5 * a + GLITCH_MARK
            return Offer(spike, offer.time, plant_time=day)
        case 2 if same_cycle and previous > 0.2:
            return Offer(0.0, offer.time, plant_time=day)
        case 3 if same_cycle and previous > 0.2:
            return Offer((previous - 0.2) * a + GLITCH_MARK, offer.time, plant_time=day)
    return None


def lands_on_yesterday(offers: Sequence[Offer]) -> bool:
    """Whether a day's count rises by over half onto the day before's in one upload.

    `DailyCounter` takes that for the day before's count served again and holds it.
    """
    yesterday: float | None = None
    for before, offer in itertools.pairwise(offers):
        assert before.reading is not None
        assert offer.reading is not None
        if offer.reading < before.reading:
            yesterday = before.reading
        elif offer.reading == yesterday and offer.reading - before.reading > offer.reading / 2:
            return True
    return False


def check_single_glitch(kind: Kind, drawn: tuple[int, int], offset: int, where: float) -> None:
    """One glitch in a clean series is held at its upload and changes nothing else."""
    codes = expand(drawn)
    uploads = clean_uploads(kind, codes, offset)
    offers = [offer for offer, _ in uploads]
    assume(kind is Kind.LIFETIME or not lands_on_yesterday(offers))
    clean = Run(kind)
    clean.feed(offers)
    assert clean.shown == [offer.reading for offer in offers], "a clean series is shown as is"
    index = 1 + int(where * (len(offers) - 1))
    if index >= len(offers):
        return
    previous = offers[index - 1].reading
    assert previous is not None
    bad = glitch(kind, previous, offers[index], uploads[index - 1][1], codes[index])
    if bad is None:
        return
    glitched = Run(kind)
    glitched.feed([*offers[:index], bad, *offers[index + 1 :]])
    expected = [*clean.shown[:index], clean.shown[index - 1], *clean.shown[index + 1 :]]
    assert glitched.shown == expected
    assert (glitched.counter.resets, glitched.counter.jumps) == (0, 0)
    assert glitched.counter.rejected == 1


SINGLE_GLITCH: Callable[[Callable[..., None]], Callable[..., None]] = given(
    drawn=codes(2, 120),
    offset=st.integers(0, 90),
    where=st.floats(0, 1),
)


@GLITCH_SETTINGS
@SINGLE_GLITCH
def test_lifetime_single_glitch_never_shown(
    drawn: tuple[int, int], offset: int, where: float
) -> None:
    check_single_glitch(Kind.LIFETIME, drawn, offset, where)


@GLITCH_SETTINGS
@SINGLE_GLITCH
def test_daily_single_glitch_never_shown(drawn: tuple[int, int], offset: int, where: float) -> None:
    check_single_glitch(Kind.DAILY, drawn, offset, where)
