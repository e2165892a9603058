"""An inverter's calls in its token's budget: the slot it waits for and its share of refreshes."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .budget import TokenBudget
from .const import LOGGER, SLOT_TOLERANCE


class CallAction(StrEnum):
    """What a refresh does, given the token's budget."""

    CALL = "call"
    """The slot is now: call the cloud."""
    KEEP_DATA = "keep_data"
    """The slot is later: keep showing the data and come back at the slot."""
    FAIL = "fail"
    """The slot is later and nothing valid is shown meanwhile: fail this refresh."""


@dataclass(frozen=True, slots=True)
class CallSlot:
    """The outcome of waiting for the token's next call slot."""

    action: CallAction
    time: datetime
    """When the call goes (for CALL, now)."""


class InverterCalls:
    """One inverter's use of its token's budget."""

    def __init__(self, budget: TokenBudget, inverter: str) -> None:
        """Hold no slot yet; `inverter` names it in the log."""
        self.budget = budget
        self.inverter = inverter
        self._told_share_spent = False
        self.reserved: datetime | None = None
        """The slot reserved for the next call."""
        self._call_at: datetime | None = None
        """The slot of the call under way (given back if it never left)."""
        self._requested: deque[datetime] = deque()
        """Calls of refreshes asked for (not planned) of the last 24 hours (this run)."""

    def reserve(self, now: datetime, *, spaced: bool = True) -> datetime:
        """Reserve the next slot (`spaced=False`: the call that sets the inverter up)."""
        self.reserved = self.budget.reserve(now, spaced=spaced)
        return self.reserved

    @property
    def daily_share(self) -> int:
        """The refreshes asked for that may call the cloud in 24 hours for this inverter.

        An even share of what the token's planned polls leave of its day: spent before
        the planned polls that come after it, more would take their calls.
        """
        budget = self.budget
        free = budget.daily_limit - budget.pace.planned_calls_per_day
        return max(0, int(free // max(1, len(budget.demands))))

    def share_spent(self, now: datetime) -> bool:
        """Whether the refreshes asked for in the last 24 hours used this inverter's share."""
        while self._requested and self._requested[0] <= now - timedelta(hours=24):
            self._requested.popleft()
        return len(self._requested) >= self.daily_share

    def refuse_requested(self, now: datetime) -> bool:
        """Whether a refresh asked for goes without a call: the share is spent (logged once)."""
        if not self.share_spent(now):
            return False
        if not self._told_share_spent:
            self._told_share_spent = True
            LOGGER.info(
                "%s spent its share of the token's calls today (%s); refreshes asked for"
                " are answered from the last upload, planned polls go on",
                self.inverter,
                self.daily_share,
            )
        return True

    def take(self, now: datetime, *, has_data: bool, requested: bool) -> CallSlot:
        """Take the token's next slot: call now, or keep the data (or fail) until then."""
        slot = self._take(now, spaced=has_data)
        if slot is None:
            if requested:
                self._requested.append(now)
            return CallSlot(CallAction.CALL, now)
        if not has_data:
            # Nothing valid to show meanwhile: entities stay away or unavailable.
            return CallSlot(CallAction.FAIL, slot)
        return CallSlot(CallAction.KEEP_DATA, slot)

    def _take(self, now: datetime, *, spaced: bool) -> datetime | None:
        """Return None when a call may go now, else the reserved time to come back.

        The pause is checked when the call would go, not only at reservation: another
        inverter of the token may have been rate limited since this slot was reserved.
        """
        budget = self.budget
        # First, so a slot reserved before the clock was set back is seen to have moved.
        budget.follow_clock(now)
        slot = self.reserved
        if slot is not None and not budget.holds(slot):
            slot = None  # moved with a clock set back
        if slot is not None and budget.is_paused(max(slot, now)):
            budget.release(slot)
            slot = None
        if slot is None:
            slot = self.reserve(now, spaced=spaced)
        if slot - now > SLOT_TOLERANCE or budget.is_paused(now):
            return slot
        self.reserved = None
        self._call_at = slot
        return None

    def not_sent(self, *, requested: bool) -> None:
        """The call never reached the cloud: it spent no call of the day (nor of the share)."""
        if self._call_at is not None:
            self.budget.release(self._call_at)
            if requested and self._requested:
                self._requested.pop()

    def release(self) -> None:
        """Give back the slot reserved (polling stops)."""
        if self.reserved is not None:
            self.budget.release(self.reserved)
            self.reserved = None
