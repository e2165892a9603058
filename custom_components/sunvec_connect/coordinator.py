"""Data update coordinator for Sunvec Connect."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .api import (
    INVERTER_STATUS,
    RealtimeData,
    SunvecApiError,
    SunvecAuthenticationError,
    SunvecClient,
    SunvecError,
    SunvecMalformedResponseError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecRateLimitError,
)
from .budget import TokenBudget
from .const import (
    ACCESS_RETRY_INTERVAL,
    BAN_ISSUE_AFTER,
    CONF_SCAN_INTERVAL,
    DOMAIN,
    ERROR_RETRY_INTERVAL,
    FIRST_CALL_MAX_WAIT,
    FUTURE_TOLERANCE,
    LOGGER,
    MIN_POLL_WAIT,
    OFFLINE_ISSUE_AFTER,
    SLOT_TOLERANCE,
    STALE_AFTER,
)
from .issues import EntryIssue, access_issue_id, ban_issue_id, offline_issue_id
from .polling import UploadSchedule

type SunvecConfigEntry = ConfigEntry[SunvecCoordinator]


@dataclass(frozen=True, slots=True)
class SunvecData:
    """The latest upload, with its time in Home Assistant's time zone."""

    realtime: RealtimeData
    upload_time: datetime | None
    stale_after: timedelta = field(default=STALE_AFTER, compare=False)

    def is_fresh(self, now: datetime) -> bool:
        """Whether the upload still describes the inverter's present state."""
        return self.upload_time is not None and now - self.upload_time <= self.stale_after


@dataclass(slots=True)
class PollStatistics:
    """Counts shown in diagnostics."""

    polls: int = 0
    failures: int = 0
    rejected_uploads: int = 0
    rejected_readings: dict[str, int] = field(default_factory=dict)
    meter_resets: dict[str, int] = field(default_factory=dict)
    """Per sensor key: persistent decreases accepted as a new meter cycle."""
    last_error_code: int | None = None
    last_error: str | None = None


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


def localize_upload_time(upload_time: datetime | None, now: datetime) -> datetime | None:
    """Read a plant-local uploadTime in Home Assistant's configured time zone.

    In the hour repeated when daylight-saving time ends, a local time happens twice:
    take the later reading unless it lies in the future. The result is in UTC, so
    that comparing two upload times never depends on the fold.
    """
    if upload_time is None:
        return None
    zone = dt_util.get_default_time_zone()
    first = upload_time.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = upload_time.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if second != first and second - now <= FUTURE_TOLERANCE:
        return second
    return first


class SunvecCoordinator(DataUpdateCoordinator[SunvecData]):
    """Polls realtimeInfo for one inverter."""

    config_entry: SunvecConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        config_entry: SunvecConfigEntry,
        client: SunvecClient,
        budget: TokenBudget,
    ) -> None:
        """Poll aligned to the uploads, or at the interval the options fix."""
        seconds = config_entry.options.get(CONF_SCAN_INTERVAL)
        self.fixed_interval = timedelta(seconds=seconds) if seconds else None
        super().__init__(
            hass,
            LOGGER,
            config_entry=config_entry,
            name=f"{DOMAIN} {config_entry.title}",
            update_interval=self.fixed_interval or ERROR_RETRY_INTERVAL,
            # A poll that returns the upload the entities already show writes no state.
            always_update=False,
        )
        self.client = client
        self.budget = budget
        self.schedule = UploadSchedule()
        self._reserved_slot: datetime | None = None
        entry_id = config_entry.entry_id
        self._ban_issue = EntryIssue(hass, ban_issue_id(entry_id))
        self._access_issue = EntryIssue(hass, access_issue_id(entry_id))
        self._offline_issue = EntryIssue(hass, offline_issue_id(entry_id))
        self.statistics = PollStatistics()
        self.last_raw: dict[str, object] | None = None
        self._warned_status_codes: set[str] = set()
        self._cancel_stale_timer: CALLBACK_TYPE | None = None

    def count_rejected(self, key: str) -> None:
        """Record that an entity rejected an implausible reading of `key`."""
        rejected = self.statistics.rejected_readings
        rejected[key] = rejected.get(key, 0) + 1

    def count_meter_reset(self, key: str) -> None:
        """Record that the counter `key` accepted a persistent decrease as a new meter cycle."""
        resets = self.statistics.meter_resets
        resets[key] = resets.get(key, 0) + 1

    def _poll_in(self, wait: timedelta, minimum: timedelta = MIN_POLL_WAIT) -> None:
        """Make the coordinator's next refresh come after `wait`."""
        self.update_interval = max(wait, minimum)

    def _take_call_slot(self, now: datetime, *, spaced: bool) -> datetime | None:
        """Return None when a call may go now, else the reserved time to come back.

        The pause is checked when the call would go, not only at reservation: another
        entry on the token may have been rate limited since this slot was reserved.
        """
        slot = self._reserved_slot
        if slot is not None and self.budget.is_paused(max(slot, now)):
            self.budget.release(slot)
            slot = None
        if slot is None:
            slot = self._reserved_slot = self.budget.reserve(now, spaced=spaced)
        if slot - now > SLOT_TOLERANCE or self.budget.is_paused(now):
            return slot
        self._reserved_slot = None
        return None

    async def _wait_for_call_slot(self, previous: SunvecData | None) -> CallSlot:
        """Take the token's next call slot: call now, or keep the data or fail until then."""
        now = dt_util.utcnow()
        slot = self._take_call_slot(now, spaced=previous is not None)
        if slot is not None and previous is None and slot - now <= FIRST_CALL_MAX_WAIT:
            # Setting up: wait for our turn rather than failing the setup.
            await asyncio.sleep((slot - now).total_seconds())
            now = dt_util.utcnow()
            slot = self._take_call_slot(now, spaced=False)
        if slot is None:
            return CallSlot(CallAction.CALL, now)
        if previous is None:
            # Setting up during a long pause: give the slot back, let the setup be retried.
            self.budget.release(slot)
            self._reserved_slot = None
            return CallSlot(CallAction.FAIL, slot)
        if not self.last_update_success:
            # Entities stay unavailable until a call works again.
            return CallSlot(CallAction.FAIL, slot)
        return CallSlot(CallAction.KEEP_DATA, slot)

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
        slot = await self._wait_for_call_slot(previous)
        if slot.action is not CallAction.CALL:
            return self._wait_until(slot, previous)
        self.statistics.polls += 1
        try:
            realtime = await self.client.async_get_realtime_data()
        except SunvecError as err:
            self._record_failure(err)
            self._after_failure(err)
            raise self._translate(err) from err
        self.budget.succeeded()
        self._ban_issue.clear()
        self._access_issue.clear()
        self.last_raw = dict(realtime.raw)

        now = dt_util.utcnow()
        upload_time = localize_upload_time(realtime.upload_time, now)
        if upload_time is not None and upload_time - now > FUTURE_TOLERANCE:
            # An upload stamped in the future cannot be placed in time: keep what we had.
            self.statistics.rejected_uploads += 1
            LOGGER.debug("Ignoring an upload stamped in the future: %s", realtime.upload_time_text)
            if previous is not None:
                self._poll_in(self.fixed_interval or timedelta(seconds=self.schedule.cadence))
                return previous
            upload_time = None

        self._warn_unknown_status(realtime.inverter_status)
        self._update_offline_issue(upload_time, now)
        wait = timedelta(seconds=self.schedule.next_poll(now, upload_time))
        self._poll_in(self.fixed_interval or wait)
        data = SunvecData(
            realtime=realtime, upload_time=upload_time, stale_after=self.schedule.stale_after
        )
        if previous is None or upload_time != previous.upload_time:
            self._schedule_stale_update(upload_time, data.stale_after)
        return data

    def _after_failure(self, err: SunvecError) -> None:
        """Plan the next call after a failed one."""
        now = dt_util.utcnow()
        if isinstance(err, SunvecRateLimitError):
            until = self.budget.pause(now, err.retry_after)
            self._poll_in(until - now)
            if err.retry_after is not None and err.retry_after >= BAN_ISSUE_AFTER:
                self._raise_ban_issue(until)
            return
        if isinstance(err, SunvecNotAuthorizedError | SunvecNotFoundError):
            # Not a token problem (no reauth): the account lost the inverter. Say so, and
            # check again now and then without spending the quota.
            self._raise_access_issue(err)
            self._poll_in(ACCESS_RETRY_INTERVAL)
            return
        self._poll_in(self.fixed_interval or ERROR_RETRY_INTERVAL)

    def _raise_access_issue(self, err: SunvecError) -> None:
        self._access_issue.raise_issue(
            "wifi_sn_not_authorized"
            if isinstance(err, SunvecNotAuthorizedError)
            else "wifi_sn_not_found",
            ir.IssueSeverity.ERROR,
            {"name": self.config_entry.title, "wifi_sn": self.client.wifi_sn},
        )

    def _raise_ban_issue(self, until: datetime) -> None:
        self._ban_issue.raise_issue(
            "token_banned",
            ir.IssueSeverity.WARNING,
            {
                "name": self.config_entry.title,
                "until": dt_util.as_local(until).strftime("%H:%M"),
            },
        )

    def _schedule_stale_update(self, upload_time: datetime | None, stale_after: timedelta) -> None:
        """Update the entities once more when this upload turns stale.

        Polls that return the same upload do not notify listeners, so without this
        the entities would not notice that the upload got old.
        """
        self._cancel_stale()
        if upload_time is None:
            return
        self._cancel_stale_timer = async_track_point_in_utc_time(
            self.hass, self._handle_stale, upload_time + stale_after + timedelta(seconds=1)
        )

    @callback
    def _handle_stale(self, _now: datetime) -> None:
        self._cancel_stale_timer = None
        self.async_update_listeners()

    def _cancel_stale(self) -> None:
        if self._cancel_stale_timer is not None:
            self._cancel_stale_timer()
            self._cancel_stale_timer = None

    @override
    async def async_shutdown(self) -> None:
        """Cancel the staleness timer with the polling."""
        self._cancel_stale()
        await super().async_shutdown()

    def _record_failure(self, err: SunvecError) -> None:
        self.statistics.failures += 1
        self.statistics.last_error = type(err).__name__
        self.statistics.last_error_code = err.code if isinstance(err, SunvecApiError) else None

    def _translate(self, err: SunvecError) -> Exception:
        """The Home Assistant exception for a client error."""
        placeholders = {"error": str(err)}
        if isinstance(err, SunvecAuthenticationError):
            return ConfigEntryAuthFailed(translation_domain=DOMAIN, translation_key="invalid_auth")
        if isinstance(err, SunvecNotAuthorizedError):
            key = "wifi_sn_not_authorized"
        elif isinstance(err, SunvecNotFoundError):
            key = "wifi_sn_not_found"
        elif isinstance(err, SunvecRateLimitError):
            return UpdateFailed(
                translation_domain=DOMAIN,
                translation_key="rate_limited",
                translation_placeholders=placeholders,
                retry_after=err.retry_after,
            )
        elif isinstance(err, SunvecMalformedResponseError):
            key = "malformed_response"
        else:
            key = "cannot_connect"
        return UpdateFailed(
            translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
        )

    def _warn_unknown_status(self, code: str | None) -> None:
        if code is None or code in INVERTER_STATUS or code in self._warned_status_codes:
            return
        self._warned_status_codes.add(code)
        LOGGER.warning(
            "Inverter %s reported the unknown status code %s; its status shows as unknown",
            self.config_entry.title,
            code,
        )

    def _update_offline_issue(self, upload_time: datetime | None, now: datetime) -> None:
        if upload_time is not None and now - upload_time > OFFLINE_ISSUE_AFTER:
            self._offline_issue.raise_issue(
                "inverter_offline", ir.IssueSeverity.WARNING, {"name": self.config_entry.title}
            )
        else:
            self._offline_issue.clear()
