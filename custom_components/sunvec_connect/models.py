"""What an account's entry holds while it runs, and what its inverters' entities read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_point_in_utc_time

from .api import RealtimeData, SunvecClient
from .budget import TokenBudget, TokenCalls
from .const import STALE_AFTER

if TYPE_CHECKING:
    from .coordinator import SunvecCoordinator

type SunvecConfigEntry = ConfigEntry[SunvecRuntimeData]


@dataclass(slots=True)
class SunvecRuntimeData:
    """What an account's entry holds while it runs."""

    client: SunvecClient
    """The account's client (its address and token): every inverter's calls go through it."""
    calls: TokenCalls
    """The token's budget and calls, shared by the account's inverters and its forms."""
    coordinators: dict[str, SunvecCoordinator] = field(default_factory=dict)
    """A coordinator per inverter, by subentry id."""
    reload_pending: bool = False
    """A change of the entry (options, token, inverters) will reload it."""

    @property
    def budget(self) -> TokenBudget:
        """The token's call budget."""
        return self.calls.budget


@dataclass(frozen=True, slots=True)
class SunvecData:
    """The latest upload, with its time placed by the plant clock (UTC)."""

    realtime: RealtimeData
    upload_time: datetime | None
    stale_after: timedelta = field(default=STALE_AFTER, compare=False)
    restored: bool = False
    """Kept from before a restart: no call has confirmed it since."""

    def is_fresh(self, now: datetime) -> bool:
        """Whether the upload still describes the inverter's present state."""
        return self.upload_time is not None and now - self.upload_time <= self.stale_after


class StaleTimer:
    """Calls `update` once more when the upload shown turns stale.

    Polls that return the upload already shown notify no listener: without this the
    entities would not notice that the upload got old.
    """

    def __init__(self, hass: HomeAssistant, update: Callable[[], None]) -> None:
        """Track nothing yet."""
        self._hass, self._update = hass, update
        self._cancel: CALLBACK_TYPE | None = None

    @callback
    def track(self, data: SunvecData) -> None:
        """Fire a second after `data` turns stale (instead of when the last upload did)."""
        self.cancel()
        if data.upload_time is not None:
            self._cancel = async_track_point_in_utc_time(
                self._hass, self._fire, data.upload_time + data.stale_after + timedelta(seconds=1)
            )

    @callback
    def cancel(self) -> None:
        """Fire no more."""
        if self._cancel is not None:
            self._cancel()
            self._cancel = None

    @callback
    def _fire(self, _now: datetime) -> None:
        self._cancel = None
        self._update()
