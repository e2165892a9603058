"""The call budget of each token, shared by every entry and form check that uses it.

`TokenBudget` is pure logic (times are timezone-aware datetimes). `TokenBudgets`
keeps one per token in `hass.data` and drops those that no entry uses once they
can no longer hold back a call.
"""

from __future__ import annotations

from bisect import insort
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
import hashlib
import math

from homeassistant.const import CONF_API_TOKEN, EVENT_HOMEASSISTANT_STOP
from homeassistant.core import CALLBACK_TYPE, Event, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN, RATE_LIMIT_MARGIN, RATE_LIMIT_PER_DAY, RATE_LIMIT_PER_MINUTE

WINDOW = timedelta(seconds=60)
"""The cloud counts calls per minute."""
SLOT_SLACK = timedelta(seconds=2)
"""Calls go up to a second before their slot (timer granularity): keep windows apart by this."""
FIRST_BACKOFF = 60.0
MAX_BACKOFF = 3600.0
"""Seconds of the pause after a rate-limit answer that names no time: doubling, capped."""
MAX_PAUSE = timedelta(days=1)
"""The longest pause a rate-limit answer can impose: the daily quota renews within a day."""


@dataclass(slots=True)
class TokenBudget:
    """The call budget of one token, shared by every entry that uses it.

    Calls are handed out as slots, kept in time order: any `window_limit + 1` of them
    span at least `WINDOW + SLOT_SLACK`, so no 60 s holds more than `per_minute - margin`
    calls; entries' slots are at least `spacing` apart so that entries on one token are
    spread rather than polled in a burst; at most `per_day - 10 * margin` calls fall on
    one calendar day (UTC). During a rate-limit pause no call may go.
    """

    per_minute: int = 10
    per_day: int = 10_000
    margin: int = 1
    """Calls per minute (and ten times as many per day) kept in reserve."""
    paused_until: datetime | None = None
    backoff: float = 0.0
    calls_by_day: dict[date, int] = field(default_factory=dict)
    slots: deque[datetime] = field(default_factory=deque)

    @property
    def window_limit(self) -> int:
        """Calls this integration allows itself in any 60 s."""
        return max(1, self.per_minute - self.margin)

    @property
    def spacing(self) -> timedelta:
        """Least time between two spaced calls of this token."""
        return timedelta(seconds=60.0 / self.window_limit)

    @property
    def daily_limit(self) -> int:
        """Calls per calendar day this integration allows itself."""
        return max(1, self.per_day - 10 * self.margin)

    def is_paused(self, at: datetime) -> bool:
        """Whether a rate-limit pause forbids a call at `at`."""
        return self.paused_until is not None and self.paused_until > at

    def calls_in_last_minute(self, now: datetime) -> int:
        """Slots handed out in the 60 s up to `now`."""
        return sum(1 for slot in self.slots if now - WINDOW < slot <= now)

    def reserve(self, now: datetime, *, spaced: bool = True) -> datetime:
        """Reserve the next call slot at or after `now` and return its time.

        The slot comes after every slot already handed out. `spaced=False` skips the
        spacing (not the limits), for the one call that sets an entry up. The caller
        checks `is_paused` again when the slot comes: a pause may start meanwhile.
        """
        slot = now
        if self.paused_until is not None:
            slot = max(slot, self.paused_until)
        if self.slots:
            slot = max(slot, self.slots[-1] + self.spacing if spaced else self.slots[-1])
            if len(self.slots) >= self.window_limit:
                slot = max(slot, self.slots[-self.window_limit] + WINDOW + SLOT_SLACK)
        while self.calls_by_day.get(slot.date(), 0) >= self.daily_limit:
            slot = datetime.combine(slot.date() + timedelta(days=1), time.min, slot.tzinfo)
        self._record(slot, now)
        return slot

    def try_call_now(self, now: datetime) -> bool:
        """Count a call at `now` if the budget has room for it; else return False.

        For a call that cannot wait (the setup form's check). Unlike `reserve`, it
        does not queue behind slots reserved for later: it fits the call in at `now`
        when no 60 s window around `now` would then exceed the limit, counting past
        calls and slots reserved ahead alike. Refused during a pause and when the
        day's calls are used up.
        """
        if self.is_paused(now) or self.calls_by_day.get(now.date(), 0) >= self.daily_limit:
            return False
        reach = WINDOW + SLOT_SLACK
        nearby = sorted([slot for slot in self.slots if abs(slot - now) < reach] + [now])
        position = nearby.index(now)
        limit = self.window_limit
        # Every run of limit + 1 calls that includes this one must span a full window.
        for first in range(max(0, position - limit), position + 1):
            last = first + limit
            if last < len(nearby) and nearby[last] - nearby[first] < reach:
                return False
        self._record(now, now)
        return True

    def release(self, slot: datetime) -> None:
        """Give back a reserved slot that will not be used."""
        if slot in self.slots:
            self.slots.remove(slot)
        day = slot.date()
        if day in self.calls_by_day:
            self.calls_by_day[day] = max(0, self.calls_by_day[day] - 1)

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
        until = now + timedelta(seconds=seconds)
        if self.paused_until is None or until > self.paused_until:
            self.paused_until = until
        return self.paused_until

    def succeeded(self) -> None:
        """A call went through: forget the back-off."""
        self.backoff = 0.0

    def relevant_until(self) -> datetime | None:
        """Until when what this budget recorded can hold back a call (None: no longer)."""
        ends = [self.slots[-1] + WINDOW + SLOT_SLACK] if self.slots else []
        if self.paused_until is not None:
            ends.append(self.paused_until)
        return max(ends, default=None)

    def _record(self, slot: datetime, now: datetime) -> None:
        """Count a call at `slot` (at or after `now`), keeping the slots in time order."""
        insort(self.slots, slot)
        self.calls_by_day[slot.date()] = self.calls_by_day.get(slot.date(), 0) + 1
        # Calls more than a window before now no longer count. (Trimming by time, not
        # by count, keeps the window right when a slot is released.)
        while self.slots[0] < now - WINDOW - SLOT_SLACK:
            self.slots.popleft()
        for day in [day for day in self.calls_by_day if day < now.date()]:
            del self.calls_by_day[day]


TOKEN_BUDGETS: HassKey[TokenBudgets] = HassKey(f"{DOMAIN}_token_budgets")


def _token_key(token: str) -> str:
    """The key of a token's budget: its hash, so that the token is not kept twice."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenBudgets:
    """The budget of every token in use, shared by its entries and the form's checks.

    A budget whose token no config entry uses (a token typed into a form, or that of
    a removed entry) is dropped as soon as nothing it recorded can hold back a call:
    no pause ahead and no call or request in the last minute.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        """Start empty; stop the drop timer when Home Assistant stops."""
        self._hass = hass
        self._budgets: dict[str, TokenBudget] = {}
        self._requested: dict[str, datetime] = {}
        self._cancel_drop_timer: CALLBACK_TYPE | None = None
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, self._async_stop)

    def __len__(self) -> int:
        """Number of budgets held."""
        return len(self._budgets)

    @callback
    def get(self, token: str) -> TokenBudget:
        """The budget of `token`, created on first use."""
        key = _token_key(token)
        if (budget := self._budgets.get(key)) is None:
            budget = self._budgets[key] = TokenBudget(
                per_minute=RATE_LIMIT_PER_MINUTE,
                per_day=RATE_LIMIT_PER_DAY,
                margin=RATE_LIMIT_MARGIN,
            )
        self._requested[key] = dt_util.utcnow()
        self.async_drop_unused()
        return budget

    @callback
    def async_drop_unused(self) -> None:
        """Drop the budgets no entry uses that no longer matter; plan the next look."""
        now = dt_util.utcnow()
        in_use = {
            _token_key(token)
            for entry in self._hass.config_entries.async_entries(DOMAIN)
            if isinstance(token := entry.data.get(CONF_API_TOKEN), str)
        }
        next_look: datetime | None = None
        for key in [key for key in self._budgets if key not in in_use]:
            kept_until = self._requested[key] + WINDOW + SLOT_SLACK
            if (relevant := self._budgets[key].relevant_until()) is not None:
                kept_until = max(kept_until, relevant)
            if kept_until <= now:
                del self._budgets[key], self._requested[key]
            elif next_look is None or kept_until < next_look:
                next_look = kept_until
        self._schedule_drop(next_look)

    @callback
    def _schedule_drop(self, when: datetime | None) -> None:
        if self._cancel_drop_timer is not None:
            self._cancel_drop_timer()
            self._cancel_drop_timer = None
        if when is not None and not self._hass.is_stopping:
            self._cancel_drop_timer = async_track_point_in_utc_time(
                self._hass, self._handle_drop_timer, when
            )

    @callback
    def _handle_drop_timer(self, _now: datetime) -> None:
        self._cancel_drop_timer = None
        self.async_drop_unused()

    @callback
    def _async_stop(self, _event: Event) -> None:
        self._schedule_drop(None)


@callback
def token_budgets(hass: HomeAssistant) -> TokenBudgets:
    """The registry of token budgets of this Home Assistant."""
    if (budgets := hass.data.get(TOKEN_BUDGETS)) is None:
        budgets = hass.data[TOKEN_BUDGETS] = TokenBudgets(hass)
    return budgets


@callback
def token_budget(hass: HomeAssistant, token: str) -> TokenBudget:
    """The budget shared by every entry, and every form's check, that uses `token`."""
    return token_budgets(hass).get(token)
