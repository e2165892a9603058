"""When one inverter polls, and what it tells its token's budget it needs.

Its uploads' cadence and publish delay, its token's pace, its online history and the
sun; its waits after errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant

from .api import (
    SunvecError,
    SunvecInvalidParameterError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecNotSentError,
)
from .budget import TokenBudget
from .const import (
    ACCESS_RETRY_INTERVAL,
    CONF_CALLS_KEPT_FREE,
    CONF_SCAN_INTERVAL,
    DEMAND_REFRESH,
    ERROR_RETRY_INTERVAL,
    FIRST_CALL_HOLD,
    FIRST_WATCH,
    FUTURE_TOLERANCE,
    INVALID_REQUEST_RETRY_INTERVAL,
    MAX_ERROR_RETRY_INTERVAL,
    MAX_INTEGRATION_GAP,
    RATE_LIMIT_MARGIN,
    STALE_AFTER,
    UPLOAD_INTERVAL,
)
from .pacing import WAKE_WATCH, InverterDemand, UploadSkipper, skip_phase
from .polling import OnlineHistory, UploadSchedule
from .store import Kept, KeptUpload
from .sun import daylight_fraction, is_deep_night, next_sunrise


class InverterPlan:
    """An inverter's polling plan: upload-aligned at its token's pace, or at a fixed interval."""

    def __init__(
        self,
        hass: HomeAssistant,
        budget: TokenBudget,
        inverter_id: str,
        *,
        wifi_sn: str,
        options: Mapping[str, Any],
    ) -> None:
        """Learn from nothing yet; `inverter_id` names the inverter in the budget.

        The account's `options` may fix the polling interval and set the calls kept
        free. Which uploads it skips under the pace starts from a phase derived from its
        registration number (`wifi_sn`): the same in every run.
        """
        self.hass = hass
        self.budget = budget
        self.inverter_id = inverter_id
        seconds = options.get(CONF_SCAN_INTERVAL)
        self.fixed_interval = timedelta(seconds=seconds) if seconds else None
        self.calls_kept_free = int(options.get(CONF_CALLS_KEPT_FREE, RATE_LIMIT_MARGIN))
        self.schedule = UploadSchedule()
        phase = skip_phase(wifi_sn)
        self.schedule.skipper = UploadSkipper(credit=phase, phase=phase)
        self.online = OnlineHistory()
        self.demand: InverterDemand | None = None
        self._demand_told: datetime | None = None
        self._last_call: datetime | None = None
        self._failures_in_row = 0

    @property
    def stale_after(self) -> timedelta:
        """How old an upload may be and still describe the present.

        The time between two polls (uploads skipped included) and two cadences more.
        """
        if self.fixed_interval is not None:
            return max(
                STALE_AFTER, self.fixed_interval + timedelta(seconds=2 * self.schedule.cadence)
            )
        return self.schedule.stale_after

    @property
    def integration_gap(self) -> timedelta:
        """The longest gap between samples an integrated energy bridges.

        The time expected between the uploads fetched (the fixed interval, or the cadence
        times the uploads per call of the pace) and one cadence more; never less than
        `MAX_INTEGRATION_GAP`.
        """
        cadence = timedelta(seconds=self.schedule.cadence)
        expected = self.fixed_interval or cadence * self.schedule.uploads_between_polls
        return max(MAX_INTEGRATION_GAP, expected + cadence)

    @property
    def cadence(self) -> timedelta:
        """The uploads' cadence as learned (polls at a fixed interval do not tell it)."""
        if self.fixed_interval is not None:
            return UPLOAD_INTERVAL
        return timedelta(seconds=self.schedule.cadence)

    def restore(self, kept: Kept, now: datetime) -> KeptUpload | None:
        """Take back what the inverter learned before a restart or reload.

        Return the kept upload, unless there is none or it lies in the future.
        """
        self.schedule.restore(kept.schedule, now)
        self.online.restore(kept.online, now, kept.saved_at)
        upload = kept.upload
        if upload is None or upload.time - now > FUTURE_TOLERANCE:
            return None
        self.schedule.last_upload = max(upload.time, self.schedule.last_upload or upload.time)
        return upload

    def first_poll(self, now: datetime, *, confirm: bool) -> datetime | None:
        """When to call first when the entities start from a kept upload (None: at a slot).

        An upload fetched in this run (a reload) needs no confirming call (`confirm`
        false): polling goes on where it was. An upload kept from before a restart is
        confirmed by the call that fetches its successor if that is due soon.
        """
        upcoming = self.schedule.next_upload_available()
        if not confirm:
            if self.fixed_interval is not None:
                return now + self.fixed_interval
            if upcoming is not None and upcoming > now:
                return upcoming
        if upcoming is not None and now < upcoming <= now + FIRST_CALL_HOLD:
            return upcoming
        return None

    def start(self, now: datetime) -> None:
        """Start the online history and tell the budget what the inverter needs."""
        self.online.start(now)
        self.tell_demand(now, force=True)

    def tell_demand(self, now: datetime, *, force: bool = False) -> None:
        """Tell the token's budget what this inverter needs, when that changed or hourly."""
        if self.fixed_interval is not None:
            demand = InverterDemand(self.fixed_interval.total_seconds(), 1.0, paced=False)
        else:
            fraction = self.online.fraction(
                now,
                self.schedule.cadence,
                self.schedule.stale_after.total_seconds(),
                daylight_fraction(self.hass, now),
            )
            demand = InverterDemand(self.schedule.cadence, round(fraction, 3))
        hourly = self._demand_told is None or now - self._demand_told >= DEMAND_REFRESH
        if force or hourly or demand.cadence != (self.demand and self.demand.cadence):
            self.demand = demand
            self._demand_told = now
            self.budget.register(self.inverter_id, demand, self.calls_kept_free)

    def after_upload(
        self, now: datetime, upload_time: datetime | None, *, is_new: bool
    ) -> timedelta:
        """Learn from an upload a call returned; return the wait until the next poll."""
        if is_new and upload_time is not None:
            self._observe(upload_time, now)
        self._last_call = now
        if self.fixed_interval is None:
            self.schedule.follow(self.budget.pace)
            self.schedule.wake_watch = self._wake_watch(now)
        wait = timedelta(seconds=self.schedule.next_poll(now, upload_time))
        self.tell_demand(now)
        return self.fixed_interval or wait

    def _wake_watch(self, now: datetime) -> tuple[datetime, datetime] | None:
        """When to watch for the sleeping inverter's wake, at the daylight pace.

        From a cadence before the time it woke on the last morning seen, for
        `WAKE_WATCH`. Before a wake was seen, from a cadence before sunrise for
        `FIRST_WATCH` (the day's pace counts those hours as daylight already).
        """
        cadence = timedelta(seconds=self.schedule.cadence)
        if (wake := self.online.next_wake(now)) is not None:
            return wake - cadence, wake - cadence + timedelta(seconds=WAKE_WATCH)
        if (sunrise := next_sunrise(self.hass, now - FIRST_WATCH)) is None:
            return None
        return sunrise - cadence, sunrise + FIRST_WATCH

    def _observe(self, upload_time: datetime, now: datetime) -> None:
        """Note a new upload for the online fraction (an upload at night: awake all day)."""
        # The upload was not there at the poll before (less the publish delay).
        not_before = (
            self._last_call - timedelta(seconds=self.schedule.publish_delay)
            if self._last_call is not None
            else None
        )
        self.online.record(
            upload_time,
            now,
            bridge=self.schedule.stale_after.total_seconds(),
            cadence=self.schedule.cadence,
            not_before=not_before,
        )
        if not self.online.uploads_at_night and is_deep_night(self.hass, upload_time):
            self.online.uploads_at_night = True
            self.tell_demand(now, force=True)

    def call_worked(self) -> None:
        """A call went through: the back-off after errors starts over."""
        self._failures_in_row = 0

    def retry_wait(self, err: SunvecError) -> timedelta:
        """The wait after a failed call (a rate limit's pause is the budget's)."""
        if isinstance(err, SunvecNotAuthorizedError | SunvecNotFoundError):
            # The account lost the inverter: check now and then without spending the quota.
            return ACCESS_RETRY_INTERVAL
        if isinstance(err, SunvecInvalidParameterError):
            # The cloud refuses the request itself: retrying soon cannot help.
            return INVALID_REQUEST_RETRY_INTERVAL
        if isinstance(err, SunvecNotSentError):
            # Costs no quota: keep trying every minute, to be back soon after the outage.
            return self.fixed_interval or ERROR_RETRY_INTERVAL
        self._failures_in_row += 1
        backoff: timedelta = min(
            ERROR_RETRY_INTERVAL * 2 ** min(self._failures_in_row - 1, 10),
            MAX_ERROR_RETRY_INTERVAL,
        )
        return max(self.fixed_interval or backoff, backoff)

    def leave(self) -> None:
        """The inverter stops polling: the token's pace is planned without it."""
        self.budget.unregister(self.inverter_id)
