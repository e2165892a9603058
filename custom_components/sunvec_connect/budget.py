"""The call budget of a token, shared by its account's inverters and forms' checks.

`TokenBudget` is pure logic (times are timezone-aware datetimes). `TokenCalls` is the
account's: the budget and its calls of the last 24 hours kept across restarts.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import itertools
import math
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import (
    BAN_ISSUE_AFTER,
    RATE_LIMIT_MARGIN,
    RATE_LIMIT_PER_DAY,
    RATE_LIMIT_PER_MINUTE,
)
from .kept import aware_time, finite_number
from .pacing import InverterDemand, Pace, plan_pace

WINDOW = timedelta(seconds=60)
"""The cloud counts calls per minute."""
DAY = timedelta(hours=24)
"""The cloud counts calls per day; on which clock its day turns is unknown, so the
budget keeps every 24 hours (a rolling window) within the daily limit."""
SLOT_SLACK = timedelta(seconds=2)
"""Calls go up to a second before their slot (timer granularity): keep windows apart by this."""
FIRST_BACKOFF = 60.0
MAX_BACKOFF = 3600.0
"""Seconds of the pause after a rate-limit answer that names no time: doubling, capped."""
MAX_PAUSE = timedelta(days=1)
"""The longest pause a rate-limit answer can impose: the daily quota renews within a day."""
STORAGE_VERSION = 1
SAVE_DELAY = 600.0
"""Seconds: the calls are written at most this often (and when Home Assistant stops)."""
CLOCK_JUMP = timedelta(minutes=10)
"""A `now` this far behind the latest seen is the system clock set back (a Raspberry Pi
without a real-time clock getting its time), not a late timer."""


@dataclass(slots=True)
class TokenBudget:
    """The call budget of one token, shared by every entry that uses it.

    Calls are handed out as slots, kept in time order: any `window_limit + 1` of them
    span at least `WINDOW + SLOT_SLACK`, so no 60 s holds more than `per_minute - margin`
    calls; entries' slots are at least `spacing` apart so that entries on one token are
    spread rather than polled in a burst; no 24 hours hold more than
    `per_day - 10 * margin` calls (the last resort: the pace keeps the token's entries
    well below it). During a rate-limit pause no call may go.

    The entries register what their inverters need; the budget plans one pace for
    all of them (`pace`), again whenever an entry comes, goes or learns something.
    """

    per_minute: int = 10
    per_day: int = 10_000
    margin: int = 1
    """Calls per minute (and ten times as many per day) kept in reserve while no entry
    names its own number."""
    paused_until: datetime | None = None
    banned_until: datetime | None = None
    """The end of the last long pause the cloud named itself (a ban)."""
    backoff: float = 0.0
    slots: list[datetime] = field(default_factory=list)
    """Every call of the last 24 hours and every slot reserved ahead, in time order."""
    demands: dict[str, InverterDemand] = field(default_factory=dict)
    kept_free: dict[str, int] = field(default_factory=dict)
    pace: Pace = field(default_factory=Pace)
    """How the token's inverters poll, for what they need and the limits."""
    on_change: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    """Called when a call or pause is recorded (to save them)."""
    latest_now: datetime | None = field(default=None, repr=False, compare=False)
    """The latest time a call was asked for at."""

    @property
    def calls_kept_free(self) -> int:
        """Calls per minute left to other apps: the most any entry of the token asks for."""
        return max(self.kept_free.values(), default=self.margin)

    @property
    def window_limit(self) -> int:
        """Calls this integration allows itself in any 60 s."""
        return max(1, self.per_minute - self.calls_kept_free)

    @property
    def spacing(self) -> timedelta:
        """Least time between two spaced calls of this token."""
        return timedelta(seconds=60.0 / self.window_limit)

    @property
    def daily_limit(self) -> int:
        """Calls in any 24 hours this integration allows itself."""
        return max(1, self.per_day - 10 * self.calls_kept_free)

    def register(
        self, entry_id: str, demand: InverterDemand, calls_kept_free: int | None = None
    ) -> None:
        """Add or update what an entry's inverter needs, and plan the pace again."""
        self.demands[entry_id] = demand
        if calls_kept_free is None:
            self.kept_free.pop(entry_id, None)
        else:
            self.kept_free[entry_id] = min(max(calls_kept_free, 0), self.per_minute - 1)
        self._plan()

    def unregister(self, entry_id: str) -> None:
        """Forget an entry that stopped polling, and plan the pace again."""
        self.demands.pop(entry_id, None)
        self.kept_free.pop(entry_id, None)
        self._plan()

    def _plan(self) -> None:
        self.pace = plan_pace(
            self.demands.values(),
            calls_per_day=self.daily_limit,
            calls_per_minute=self.window_limit,
        )

    def is_paused(self, at: datetime) -> bool:
        """Whether a rate-limit pause forbids a call at `at`."""
        return self.paused_until is not None and self.paused_until > at

    def calls_in_last_minute(self, now: datetime) -> int:
        """Slots handed out in the 60 s up to `now`."""
        return bisect_right(self.slots, now) - bisect_right(self.slots, now - WINDOW)

    def calls_since(self, moment: datetime, until: datetime | None = None) -> int:
        """Calls at or after `moment` (within the last 24 hours) and at or before `until`.

        Without `until`, slots reserved ahead count too.
        """
        end = len(self.slots) if until is None else bisect_right(self.slots, until)
        return max(0, end - bisect_left(self.slots, moment))

    def reserve(self, now: datetime, *, spaced: bool = True) -> datetime:
        """Reserve the next call slot at or after `now` and return its time.

        The slot comes after every slot already handed out. `spaced=False` skips the
        spacing (not the limits), for the one call that sets an entry up. The caller
        checks `is_paused` again when the slot comes: a pause may start meanwhile.
        """
        self.follow_clock(now)
        slot = now
        if self.paused_until is not None:
            slot = max(slot, self.paused_until)
        if self.slots:
            slot = max(slot, self.slots[-1] + self.spacing if spaced else self.slots[-1])
            if len(self.slots) >= self.window_limit:
                slot = max(slot, self.slots[-self.window_limit] + WINDOW + SLOT_SLACK)
            if len(self.slots) >= self.daily_limit:
                # The last resort: wait until the oldest call of the 24 hours expires.
                slot = max(slot, self.slots[-self.daily_limit] + DAY + SLOT_SLACK)
        self._record(slot, now)
        return slot

    def try_call_now(self, now: datetime) -> bool:
        """Count a call at `now` if the budget has room for it; else return False.

        For a call that cannot wait (the setup form's check). Unlike `reserve`, it
        does not queue behind slots reserved for later: it fits the call in at `now`
        when no 60 s window around `now` would then exceed the limit, counting past
        calls and slots reserved ahead alike. Refused during a pause and when the
        calls of the last 24 hours (and those reserved ahead) are used up.
        """
        self.follow_clock(now)
        if self.is_paused(now) or self.calls_since(now - DAY) >= self.daily_limit:
            return False
        reach = WINDOW + SLOT_SLACK
        nearby = self.slots[
            bisect_right(self.slots, now - reach) : bisect_left(self.slots, now + reach)
        ]
        insort(nearby, now)
        position = nearby.index(now)
        limit = self.window_limit
        # Every run of limit + 1 calls that includes this one must span a full window.
        for first in range(max(0, position - limit), position + 1):
            last = first + limit
            if last < len(nearby) and nearby[last] - nearby[first] < reach:
                return False
        self._record(now, now)
        return True

    def follow_clock(self, now: datetime) -> None:
        """Move every call and pause with the system clock when it was set back.

        Otherwise the calls of the last day would lie ahead of the clock, and no slot
        could be had until it caught up with them, hours later.
        """
        latest = self.latest_now
        if latest is not None and now < latest - CLOCK_JUMP:
            back = latest - now
            self.slots = [slot - back for slot in self.slots]
            if self.paused_until is not None:
                self.paused_until -= back
            if self.banned_until is not None:
                self.banned_until -= back
            latest = now
        self.latest_now = now if latest is None else max(latest, now)

    def holds(self, slot: datetime) -> bool:
        """Whether `slot` is a call or a reserved slot of this budget."""
        index = bisect_left(self.slots, slot)
        return index < len(self.slots) and self.slots[index] == slot

    def release(self, slot: datetime) -> None:
        """Give back a reserved slot that will not be used."""
        index = bisect_left(self.slots, slot)
        if index < len(self.slots) and self.slots[index] == slot:
            del self.slots[index]

    def pause(self, now: datetime, retry_after: float | None) -> datetime:
        """Stop calls after a rate-limit answer; return until when.

        `retry_after` (seconds) is what the cloud named, clamped to 0..`MAX_PAUSE`;
        when it named nothing (or NaN), the pause doubles from a minute up to an hour.
        """
        if retry_after is None or math.isnan(retry_after):
            self.backoff = min(MAX_BACKOFF, max(FIRST_BACKOFF, self.backoff * 2))
            seconds = self.backoff
        else:
            seconds = min(max(retry_after, 0.0), MAX_PAUSE.total_seconds())
            if seconds >= BAN_ISSUE_AFTER:
                self.banned_until = now + timedelta(seconds=seconds)
        until = now + timedelta(seconds=seconds)
        if self.paused_until is None or until > self.paused_until:
            self.paused_until = until
        self._changed()
        return self.paused_until

    def succeeded(self) -> None:
        """A call went through: forget the back-off."""
        self.backoff = 0.0

    def _record(self, slot: datetime, now: datetime) -> None:
        """Count a call at `slot` (at or after `now`), keeping the slots in time order."""
        insort(self.slots, slot)
        # Calls more than a day before now no longer count. (Trimming by time, not by
        # count, keeps the windows right when a slot is released.)
        del self.slots[: bisect_left(self.slots, now - DAY - SLOT_SLACK)]
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def as_stored(self, now: datetime) -> dict[str, Any]:
        """The calls made up to `now` and the pause, to keep across a restart (JSON-ready).

        Call times are kept to a tenth of a second, each as the step from the one
        before (compact: up to 10,000 calls a day).
        """
        times = [round(slot.timestamp(), 1) for slot in self.slots if slot <= now]
        steps = [times[0]] if times else []
        steps += [round(b - a, 1) for a, b in itertools.pairwise(times)]
        return {
            "calls": steps,
            "paused_until": _iso(self.paused_until),
            "banned_until": _iso(self.banned_until),
            "backoff": self.backoff,
        }

    def restore(self, stored: Mapping[str, Any], now: datetime) -> None:
        """Add the calls and the pause `as_stored` kept; ignore what does not fit.

        Calls this budget already holds are not added twice: what is read back may be
        this run's own write still pending (Home Assistant's storage returns that),
        made after the budget's first calls (a setup form's check before the first
        entry's setup).
        """
        steps = stored.get("calls")
        numbers = [finite_number(step) for step in steps] if isinstance(steps, list) else []
        if all(step is not None for step in numbers):
            held = Counter(round(slot.timestamp(), 1) for slot in self.slots)
            latest = now.timestamp()
            earliest = latest - DAY.total_seconds()
            moment = 0.0
            for step in numbers:
                moment = round(moment + (step or 0.0), 1)
                if held[moment] > 0:
                    held[moment] -= 1
                    continue
                # Compared as numbers first: a corrupt step may lie beyond any date.
                if earliest < moment <= latest:
                    insort(self.slots, datetime.fromtimestamp(moment, UTC))
        if (until := _future_time(stored.get("paused_until"), now)) is not None:
            self.paused_until = max(until, self.paused_until or until)
        if (until := _future_time(stored.get("banned_until"), now)) is not None:
            self.banned_until = max(until, self.banned_until or until)
        backoff = finite_number(stored.get("backoff"))
        if backoff is not None and 0 <= backoff <= MAX_BACKOFF:
            self.backoff = max(self.backoff, backoff)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _future_time(value: Any, now: datetime) -> datetime | None:
    """A timezone-aware time after `now` from its ISO text; None for anything else.

    No later than `MAX_PAUSE` from now: no pause is longer (a clock that ran ahead, or a
    store edited by hand, would stop the token's calls until then).
    """
    moment = aware_time(value)
    return min(moment, now + MAX_PAUSE) if moment is not None and moment > now else None


class TokenCalls:
    """A token's budget and its calls of the last 24 hours, kept across restarts.

    An account's entry holds one while it runs. A form that checks numbers for a token
    whose account is not running reads one from storage and writes it back, so the
    account that setup then starts counts the form's calls.
    """

    def __init__(self, hass: HomeAssistant, key: str) -> None:
        """A budget kept under `key` (`AccountIds.calls_key`), empty until `async_load`."""
        self.budget = TokenBudget(
            per_minute=RATE_LIMIT_PER_MINUTE, per_day=RATE_LIMIT_PER_DAY, margin=RATE_LIMIT_MARGIN
        )
        self.budget.on_change = self._schedule_save
        self.key = key
        self._store: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, self.key)
        self._save_pending = False

    async def async_load(self) -> None:
        """Take in the calls and the pause the last run (or a form) kept."""
        stored = await self._store.async_load()
        if isinstance(stored, dict):
            self.budget.restore(stored, dt_util.utcnow())

    @callback
    def _schedule_save(self) -> None:
        """Write the calls within `SAVE_DELAY` (at most once in that time)."""
        if not self._save_pending:
            self._save_pending = True
            self._store.async_delay_save(self._data_to_save, SAVE_DELAY)

    @callback
    def _data_to_save(self) -> dict[str, Any]:
        self._save_pending = False
        return self.budget.as_stored(dt_util.utcnow())

    async def async_save(self) -> None:
        """Write the calls now (a form is done: the account set up next reads them)."""
        await self._store.async_save(self._data_to_save())

    async def async_close(self) -> None:
        """Write the calls, and write no more (the account unloads; its next setup reads them).

        A call still under way when the account unloads must not save this budget over
        the one the next setup made.
        """
        self.budget.on_change = None
        await self.async_save()

    async def async_remove(self) -> None:
        """Forget the calls (the account was removed, or its token replaced)."""
        await self._store.async_remove()
