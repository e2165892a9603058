"""Data update coordinator for Sunvec Connect: an inverter's calls, errors and uploads."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import override

from homeassistant.config_entries import ConfigSubentry
from homeassistant.const import CONF_API_TOKEN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryNotReady
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import RealtimeData, SunvecClient, SunvecError, SunvecRateLimitError
from .budget import TokenBudget
from .const import (
    BAN_ISSUE_AFTER,
    CONF_WIFI_SN,
    DOMAIN,
    ERROR_RETRY_INTERVAL,
    LOGGER,
    MIN_POLL_WAIT,
    OFFLINE_ISSUE_AFTER,
    SLOT_TOLERANCE,
)
from .errors import INVERTER_ERRORS, NOT_SENT_ERRORS, poll_error, update_error
from .issues import InverterIssues
from .memory import InverterMemory
from .models import StaleTimer, SunvecConfigEntry, SunvecData
from .plan import InverterPlan
from .plant_clock import Placement, PlantClock, Verdict
from .poll_stats import PollStatistics
from .slots import CallAction, CallSlot, InverterCalls


class SunvecCoordinator(DataUpdateCoordinator[SunvecData]):
    """Polls realtimeInfo for one inverter of an account.

    When is the inverter's plan (plan.py), within its token's budget (slots.py). Its
    last upload and what the plan learned are kept (memory.py): after a restart the
    entities come back at once with the kept upload (marked restored), and the first
    call goes at the inverter's slot without holding up setup.
    """

    config_entry: SunvecConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        config_entry: SunvecConfigEntry,
        subentry: ConfigSubentry,
        client: SunvecClient,
        budget: TokenBudget,
    ) -> None:
        """Poll aligned to the uploads, or at the interval the account's options fix."""
        self.subentry_id = subentry.subentry_id
        self.wifi_sn: str = subentry.data[CONF_WIFI_SN]
        self.title = subentry.title
        self.plan = InverterPlan(
            hass, budget, subentry.subentry_id, wifi_sn=self.wifi_sn, options=config_entry.options
        )
        super().__init__(
            hass,
            LOGGER,
            config_entry=config_entry,
            name=f"{DOMAIN} {subentry.title}",
            update_interval=self.plan.fixed_interval or ERROR_RETRY_INTERVAL,
            # A poll that returns the upload the entities already show writes no state.
            always_update=False,
        )
        self.client = client
        self.budget = budget
        self.calls = InverterCalls(budget, self.title)
        self.issues = InverterIssues(
            hass, config_entry.entry_id, subentry.subentry_id, subentry.title, self.wifi_sn
        )
        self._last_error: SunvecError | None = None
        self._requested = False
        """The refresh under way was asked for (`homeassistant.update_entity`), not planned."""
        self._next_poll_at: datetime | None = None
        self.clock = PlantClock()
        """The plant's offset from UTC, learned from its uploads (plant_clock.py)."""
        self.statistics = PollStatistics()
        self.last_raw: dict[str, object] | None = None
        self._stale = StaleTimer(hass, self.async_update_listeners)
        self._memory = InverterMemory(hass, subentry.subentry_id, self.plan)

    async def async_start(self) -> None:
        """Start polling without holding up the entry's setup.

        Without a kept upload and with a call slot free now, the first call is made
        here (its errors fail the setup as usual). With a kept upload the entities
        start from it; with neither, the entry starts without data and its entities
        come with the first upload.
        """
        now = dt_util.utcnow()
        token = self.config_entry.data[CONF_API_TOKEN]
        self.clock, restored = await self._memory.async_restore(now, token)
        self.plan.start(now)
        if (banned := self.budget.banned_until) is not None and banned > now:
            # Banned before the restart: no call until then, so say so now.
            self.issues.banned(self.config_entry.title, self.budget.paused_until or banned)
        if restored is not None:
            self.data = restored
            self.last_raw = dict(restored.realtime.raw)
            self._stale.track(restored)
            if (first := self.plan.first_poll(now, confirm=restored.restored)) is not None:
                self._poll_in(first - now)
                return
        slot = self.calls.reserve(now, spaced=restored is not None)
        if restored is not None or slot - now > SLOT_TOLERANCE:
            self._poll_in(slot - now, minimum=SLOT_TOLERANCE / 2)
            return
        try:
            # The refresh takes the slot just reserved.
            await self.async_config_entry_first_refresh()
        except ConfigEntryNotReady:
            if not isinstance(self._last_error, INVERTER_ERRORS):
                raise
            # This inverter's own problem (a repair says so): the account's other
            # inverters go on, and this one tries again at its time.

    async def async_unload(self, *, removed: bool) -> None:
        """Write what the inverter keeps for the setup that may follow, or forget it all."""
        if removed:
            await self._memory.async_forget()
            self.issues.forget()
        else:
            await self._memory.async_save(self.data, self.clock)

    def _poll_in(self, wait: timedelta, minimum: timedelta = MIN_POLL_WAIT) -> None:
        """Make the coordinator's next refresh come after `wait`."""
        self.update_interval = max(wait, minimum)
        self._next_poll_at = dt_util.utcnow() + self.update_interval

    @override
    async def async_request_refresh(self) -> None:
        """Refresh when asked (an automation's `homeassistant.update_entity`)."""
        self._requested = True
        await super().async_request_refresh()

    def _wait_until(self, slot: CallSlot, previous: SunvecData | None) -> SunvecData:
        """Come back at the slot; meanwhile keep showing `previous`, or fail."""
        # On time: the slots of the token after ours were planned from it.
        self._poll_in(slot.time - dt_util.utcnow(), minimum=SLOT_TOLERANCE / 2)
        if slot.action is CallAction.KEEP_DATA and previous is not None:
            return previous
        raise UpdateFailed(
            translation_domain=DOMAIN,
            translation_key="waiting_for_budget",
            translation_placeholders={"time": slot.time.isoformat(timespec="seconds")},
            retry_after=max(0.0, (slot.time - dt_util.utcnow()).total_seconds()),
        )

    @override
    async def _async_update_data(self) -> SunvecData:
        """Fetch the latest upload and check it before entities see it."""
        previous: SunvecData | None = self.data
        requested, self._requested = self._requested, False
        now = dt_util.utcnow()
        if requested and previous is not None and self.calls.refuse_requested(now):
            # Answered from the last upload: the planned poll stays where it was.
            self._poll_in((self._next_poll_at or now) - now, minimum=SLOT_TOLERANCE / 2)
            return previous
        slot = self.calls.take(
            now, has_data=previous is not None and self.last_update_success, requested=requested
        )
        if slot.action is not CallAction.CALL:
            return self._wait_until(slot, previous)
        self.statistics.polls += 1
        try:
            realtime = await self.client.async_get_realtime_data(self.wifi_sn)
        except SunvecError as raised:
            if isinstance(raised, NOT_SENT_ERRORS):
                self.calls.not_sent(requested=requested)
            self._last_error = err = poll_error(raised)
            self.statistics.count_failure(err)
            self._after_failure(err)
            raise update_error(err) from err
        self.plan.call_worked()
        self.budget.succeeded()
        self.issues.call_worked()
        return self._accept_upload(realtime, previous, dt_util.utcnow())

    def _accept_upload(
        self, realtime: RealtimeData, previous: SunvecData | None, now: datetime
    ) -> SunvecData:
        """Check an upload the cloud returned before entities see it; plan the next poll."""
        self.last_raw = dict(realtime.raw)
        placement = self._place_upload(realtime, now)
        upload_time = placement.time if placement is not None else None
        if placement is not None and placement.verdict is Verdict.REJECTED:
            # Not placed in time (yet): keep what we had.
            self.statistics.rejected_uploads += 1
            LOGGER.debug("Ignoring an upload not placed in time: %s", realtime.upload_time_text)
            if previous is not None:
                self._poll_in(self.plan.fixed_interval or self.plan.cadence)
                return replace(previous, restored=False)

        self.statistics.note_status(realtime.inverter_status, self.title)
        self.issues.offline(
            is_offline=upload_time is not None and now - upload_time > OFFLINE_ISSUE_AFTER
        )
        is_new = placement is not None and placement.is_new
        self._poll_in(self.plan.after_upload(now, upload_time, is_new=is_new))
        data = SunvecData(
            realtime=realtime, upload_time=upload_time, stale_after=self.plan.stale_after
        )
        if previous is None or previous.restored or upload_time != previous.upload_time:
            self._stale.track(data)
        if is_new:
            self._memory.save_soon(lambda: self._memory.kept(self.data, self.clock))
        return data

    def _place_upload(self, realtime: RealtimeData, now: datetime) -> Placement | None:
        """Place the upload in time by the plant's clock; None without a readable time."""
        if (local := realtime.upload_time) is None or (text := realtime.upload_time_text) is None:
            return None
        placement = self.clock.place(
            local,
            text,
            now,
            zone=dt_util.get_default_time_zone(),
            cadence=self.plan.cadence,
            utc_hint=realtime.utc_time,
        )
        self.issues.clock_off(self.clock.measured_offset)
        return placement

    def _after_failure(self, err: SunvecError) -> None:
        """Say what the failure means to the user, and plan the next call."""
        now = dt_util.utcnow()
        if isinstance(err, SunvecRateLimitError):
            until = self.budget.pause(now, err.retry_after)
            self._poll_in(until - now)
            if err.retry_after is not None and err.retry_after >= BAN_ISSUE_AFTER:
                self.issues.banned(self.config_entry.title, until)
            return
        # Not a token problem (no reauth): the account may have lost the inverter.
        self.issues.call_failed(err)
        self._poll_in(self.plan.retry_wait(err))

    @override
    async def async_shutdown(self) -> None:
        """Stop polling: cancel the staleness timer, give back the slot, leave the pace."""
        self._stale.cancel()
        self.calls.release()
        self.plan.leave()
        await super().async_shutdown()
