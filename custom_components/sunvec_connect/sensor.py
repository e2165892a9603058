"""Sensors of a Sunvec Connect inverter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
import logging
from typing import Any, Final, override

from homeassistant.components.sensor import (
    DOMAIN as SENSOR_DOMAIN,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.util import dt as dt_util

from .api import BATTERY_STATUS, INVERTER_STATUS, RealtimeData
from .const import DOMAIN, LOGGER, MANUFACTURER, MAX_INTEGRATION_GAP
from .coordinator import SunvecCoordinator
from .counters import (
    GRID_IMPORT_MAX_POWER_KW,
    INVERTER_MAX_POWER_KW,
    DailyCounter,
    EnergyCounter,
    LifetimeCounter,
    PowerIntegrator,
    YieldSample,
)
from .entity import SunvecEntity, SunvecEntityDescription, async_add_entities_with_data
from .models import SunvecConfigEntry, SunvecData

PARALLEL_UPDATES = 0


class CounterRule(StrEnum):
    """How a sensor's value is kept right for the energy dashboard."""

    NONE = "none"
    LIFETIME = "lifetime"
    """Never goes backwards within a meter cycle; implausible readings are held back."""
    DAILY = "daily"
    """Falls at once only on a new local date; otherwise like a lifetime counter."""
    INTEGRAL = "integral"
    """Integral of a power over the upload timestamps."""


@dataclass(frozen=True, kw_only=True)
class SunvecSensorEntityDescription(SensorEntityDescription, SunvecEntityDescription):
    """Describes a Sunvec sensor."""

    value_fn: Callable[[SunvecData], float | str | datetime | None]
    rule: CounterRule = CounterRule.NONE
    max_power_kw: float = INVERTER_MAX_POWER_KW
    """Counters: the fastest rise a plant of this kind can make, in kW (kWh per hour)."""
    bound_fn: Callable[[RealtimeData], YieldSample | None] | None = None
    """Integrated energies: the counter that bounds the energy of a long gap, if any."""

    @override
    def value_known(self, data: SunvecData) -> bool:
        return self.value_fn(data) is not None


def _realtime[T](getter: Callable[[RealtimeData], T]) -> Callable[[SunvecData], T]:
    """Adapt a getter of the upload's fields to the coordinator's data."""
    return lambda data: getter(data.realtime)


def _power(
    key: str, getter: Callable[[RealtimeData], float | None], **kwargs: Any
) -> SunvecSensorEntityDescription:
    """A power sensor in W."""
    return SunvecSensorEntityDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=UnitOfPower.WATT,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_realtime(getter),
        **kwargs,
    )


def _energy(
    key: str, getter: Callable[[RealtimeData], float | None], rule: CounterRule, **kwargs: Any
) -> SunvecSensorEntityDescription:
    """An energy counter in kWh for the energy dashboard."""
    return SunvecSensorEntityDescription(
        key=key,
        translation_key=key,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        suggested_display_precision=2 if rule is CounterRule.INTEGRAL else 1,
        value_fn=_realtime(getter),
        rule=rule,
        requires_fresh_upload=False,
        **kwargs,
    )


def _positive(value: float | None) -> float | None:
    return None if value is None else max(value, 0.0)


def _negative(value: float | None) -> float | None:
    return None if value is None else (-value if value < 0 else 0.0)


def shows_no_grid_meter(realtime: RealtimeData) -> bool:
    """Whether the upload is that of an inverter without a grid meter.

    The cloud then sends feedinpower 0 and 0 for both grid counters while the
    inverter's own yield counter runs (the vendor document's example upload). An
    upload whose counters all read 0 is a glitch of the cloud, not a missing meter.
    """
    return (
        realtime.feedin_power == 0
        and not realtime.feedin_energy
        and not realtime.consume_energy
        and bool(realtime.yield_total)
    )


def metered_grid_power(realtime: RealtimeData) -> float | None:
    """The grid meter's power in W, positive while exporting; None without a meter."""
    return None if shows_no_grid_meter(realtime) else realtime.feedin_power


def grid_export_power(realtime: RealtimeData) -> float | None:
    """Power sent to the grid in W; 0 while importing."""
    return _positive(metered_grid_power(realtime))


def grid_import_power(realtime: RealtimeData) -> float | None:
    """Power drawn from the grid in W; 0 while exporting."""
    return _negative(metered_grid_power(realtime))


def battery_charge_power(realtime: RealtimeData) -> float | None:
    """Power into the battery in W (batPower is positive while charging); 0 otherwise."""
    return _positive(realtime.battery_power)


def battery_discharge_power(realtime: RealtimeData) -> float | None:
    """Power out of the battery in W; 0 otherwise."""
    return _negative(realtime.battery_power)


def pv_yield_sample(realtime: RealtimeData) -> YieldSample | None:
    """What bounds PV energy across a long gap: the yield counter, without a battery.

    With a battery, PV energy also charges it, and the yield counter no longer says
    how much the strings produced.
    """
    if realtime.yield_total is None or realtime.battery_power is not None:
        return None
    if realtime.soc is not None:
        return None
    return YieldSample(realtime.yield_total, realtime.ac_power)


def pv_production_power(realtime: RealtimeData) -> float | None:
    """The power the PV strings produce in W: a string drawing power (negative) adds 0.

    What PV energy integrates: a string's standby draw is no negative production.
    """
    strings = [
        max(value, 0.0)
        for value in (
            realtime.pv_power_1,
            realtime.pv_power_2,
            realtime.pv_power_3,
            realtime.pv_power_4,
        )
        if value is not None
    ]
    return sum(strings) if strings and realtime.pv_power is not None else None


def house_load_power(realtime: RealtimeData) -> float | None:
    """The power the house draws in W.

    The balance of the house's AC side, behind the grid meter:

        house load = acpower - feedinpower + max(feedinpowerM2, 0)

    `acpower` is what the inverter puts out on its AC side (PV and battery together,
    negative while it charges the battery from the grid), `feedinpower` what leaves
    through the grid meter (negative while importing). Meter 2 measures a branch of the
    house's AC side: a second inverter (AC-coupled PV) feeds power in, positive, and
    that power is a source of the balance; a branch that draws, negative (a metered
    load, or a second inverter's standby at night, as the simulator's meter 2 does), is
    part of the house's consumption, which the grid meter's balance already holds.
    Everything the house draws is consumption, so the balance is at least 0: a lower
    value only comes from readings that do not fit together (the meter and the inverter
    sampled at slightly different moments, or a generator no meter sees) and reads 0.

    Not defined (None) without a grid meter (`feedinpower` null, or reported as 0 with
    zero grid counters) or without `acpower`.
    """
    grid = metered_grid_power(realtime)
    if realtime.ac_power is None or grid is None:
        return None
    second_source = max(realtime.feedin_power_meter2 or 0.0, 0.0)
    return max(realtime.ac_power - grid + second_source, 0.0)


SENSORS_OF_THE_UPLOAD: tuple[SunvecSensorEntityDescription, ...] = (
    _power("ac_power", lambda r: r.ac_power),
    _power("pv_power", lambda r: r.pv_power),
    _power("pv1_power", lambda r: r.pv_power_1),
    _power("pv2_power", lambda r: r.pv_power_2),
    _power("pv3_power", lambda r: r.pv_power_3),
    _power("pv4_power", lambda r: r.pv_power_4),
    _power("grid_power", lambda r: r.feedin_power),
    _power(
        "meter2_power",
        lambda r: r.feedin_power_meter2,
        entity_registry_enabled_default=False,
    ),
    _power("battery_power", lambda r: r.battery_power),
    _power("grid_import_power", grid_import_power),
    _power("grid_export_power", grid_export_power),
    _power("battery_charge_power", battery_charge_power),
    _power("battery_discharge_power", battery_discharge_power),
    _power("house_load_power", house_load_power),
    _power("eps_power_a", lambda r: r.eps_power_a, entity_registry_enabled_default=False),
    _power("eps_power_b", lambda r: r.eps_power_b, entity_registry_enabled_default=False),
    _power("eps_power_c", lambda r: r.eps_power_c, entity_registry_enabled_default=False),
    SunvecSensorEntityDescription(
        key="battery_soc",
        native_unit_of_measurement=PERCENTAGE,
        device_class=SensorDeviceClass.BATTERY,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=_realtime(lambda r: r.soc),
    ),
    SunvecSensorEntityDescription(
        key="battery_status",
        translation_key="battery_status",
        device_class=SensorDeviceClass.ENUM,
        options=list(dict.fromkeys(BATTERY_STATUS.values())),
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=_realtime(lambda r: BATTERY_STATUS.get(r.battery_status or "")),
        # A bogus code must not give a PV-only inverter a battery entity.
        exists_fn=_realtime(lambda r: r.battery_status in BATTERY_STATUS),
    ),
    SunvecSensorEntityDescription(
        key="inverter_status",
        translation_key="inverter_status",
        device_class=SensorDeviceClass.ENUM,
        options=list(INVERTER_STATUS.values()),
        value_fn=_realtime(lambda r: INVERTER_STATUS.get(r.inverter_status or "")),
        exists_fn=_realtime(lambda r: r.inverter_status is not None),
    ),
    SunvecSensorEntityDescription(
        key="last_upload",
        translation_key="last_upload",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.upload_time,
        requires_fresh_upload=False,
    ),
    _energy("yield_today", lambda r: r.yield_today, CounterRule.DAILY),
    _energy("yield_total", lambda r: r.yield_total, CounterRule.LIFETIME),
    _energy(
        "grid_export_energy",
        lambda r: r.feedin_energy,
        CounterRule.LIFETIME,
        exists_fn=_realtime(lambda r: r.feedin_energy is not None and not shows_no_grid_meter(r)),
    ),
    _energy(
        "grid_import_energy",
        lambda r: r.consume_energy,
        CounterRule.LIFETIME,
        max_power_kw=GRID_IMPORT_MAX_POWER_KW,
        # Without a grid meter both read 0 forever: no entity that stays unknown.
        exists_fn=_realtime(lambda r: r.consume_energy is not None and not shows_no_grid_meter(r)),
    ),
    _energy("pv_energy", pv_production_power, CounterRule.INTEGRAL, bound_fn=pv_yield_sample),
    _energy("battery_charge_energy", battery_charge_power, CounterRule.INTEGRAL),
    _energy("battery_discharge_energy", battery_discharge_power, CounterRule.INTEGRAL),
    _energy("house_energy", house_load_power, CounterRule.INTEGRAL),
)
"""The sensors whose values come from the inverter's latest upload."""


@dataclass(frozen=True, kw_only=True)
class SunvecApiCallsEntityDescription(SensorEntityDescription):
    """Describes the sensor of the calls the account's token made (added with the account)."""


API_CALLS_TODAY = SunvecApiCallsEntityDescription(
    key="api_calls_today",
    translation_key="api_calls_today",
    entity_category=EntityCategory.DIAGNOSTIC,
    entity_registry_enabled_default=False,
    # A count that starts again at midnight, like an energy counter of the day: the
    # recorder's statistics then sum the calls over any period.
    state_class=SensorStateClass.TOTAL_INCREASING,
)

ATTR_DAILY_LIMIT: Final = "daily_limit"
ATTR_CALLS_LAST_24_HOURS: Final = "calls_last_24_hours"
API_CALLS_REFRESH: Final = timedelta(minutes=1)
"""How often the calls sensor counts again, whichever entry of the token made them."""
CALL_TIME_RESOLUTION: Final = timedelta(microseconds=1)
"""A call whose slot is now is being made: only slots after now are not calls yet."""


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunvecConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the account's calls sensor and each inverter's sensors, now and later."""
    async_add_entities([SunvecApiCallsSensor(entry, API_CALLS_TODAY)])
    for coordinator in entry.runtime_data.coordinators.values():
        async_add_entities_with_data(
            coordinator,
            SENSOR_DOMAIN,
            SENSORS_OF_THE_UPLOAD,
            lambda coordinator, description: (
                SunvecSensor(coordinator, description)
                if description.rule is CounterRule.NONE
                else SunvecCounterSensor(coordinator, description)
            ),
            async_add_entities,
        )


class SunvecSensor(SunvecEntity, SensorEntity):
    """A sensor showing a field of the latest upload."""

    entity_description: SunvecSensorEntityDescription

    @property
    @override
    def native_value(self) -> float | str | datetime | None:
        """The field's value in the latest upload."""
        return self.entity_description.value_fn(self.coordinator.data)


class SunvecApiCallsSensor(SensorEntity):
    """The calls of the account's token since local midnight, made by all its inverters.

    Counted from the token's budget once a minute and at each update of an inverter,
    so that every call shows within a minute. It sits on the account's service device.
    """

    _attr_has_entity_name = True
    _attr_should_poll = False
    entity_description: SunvecApiCallsEntityDescription

    def __init__(
        self, entry: SunvecConfigEntry, description: SunvecApiCallsEntityDescription
    ) -> None:
        """Start without a count."""
        self.entity_description = description
        self._entry = entry
        self.budget = entry.runtime_data.budget
        self._attr_unique_id = f"{entry.entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry.entry_id)},
            manufacturer=MANUFACTURER,
            name=entry.title,
            entry_type=DeviceEntryType.SERVICE,
        )
        self._day: date | None = None
        self._shown: tuple[int, dict[str, int]] | None = None

    @property
    @override
    def native_value(self) -> int | None:
        """Calls since local midnight."""
        return self._shown[0] if self._shown else None

    @property
    @override
    def extra_state_attributes(self) -> dict[str, int]:
        """The calls a day the integration allows itself, and the calls of the last 24 h."""
        return self._shown[1] if self._shown else {}

    @override
    async def async_added_to_hass(self) -> None:
        """Count now, once a minute and whenever an inverter of the account updates."""
        await super().async_added_to_hass()
        self._recount()
        self.async_on_remove(
            async_track_time_interval(self.hass, self._handle_refresh, API_CALLS_REFRESH)
        )
        for coordinator in self._entry.runtime_data.coordinators.values():
            self.async_on_remove(coordinator.async_add_listener(self._handle_update))

    @callback
    def _handle_update(self) -> None:
        if self._recount():
            self.async_write_ha_state()

    @callback
    def _handle_refresh(self, _now: datetime) -> None:
        self._handle_update()

    def _recount(self) -> bool:
        """Count the token's calls again; return whether what the sensor shows changed."""
        budget = self.budget
        now = dt_util.now()
        ahead = budget.calls_since(now + CALL_TIME_RESOLUTION)
        count = budget.calls_since(dt_util.start_of_local_day(now)) - ahead
        if self._day == now.date() and self._shown is not None:
            # Within a day the count never falls (a reserved slot given back).
            count = max(count, self._shown[0])
        self._day = now.date()
        shown = (
            count,
            {
                ATTR_DAILY_LIMIT: budget.daily_limit,
                ATTR_CALLS_LAST_24_HOURS: budget.calls_since(now - timedelta(hours=24)) - ahead,
            },
        )
        if shown == self._shown:
            return False
        self._shown = shown
        return True


NEW_CYCLE_RATIO: Final = 0.9
"""Home Assistant's statistics start a new cycle of a total_increasing sensor only on a
value below this share of the one before (sensor/recorder.py, `reset_detected`)."""


def needs_zero_first(
    before: float | None, after: float | None, day_before: date | None, day_after: date | None
) -> bool:
    """Whether yield today must show 0 before `after` for Home Assistant to book it right.

    A count on a later plant date is a new day's, counted from 0, but Home Assistant's
    statistics start a new cycle only on a fall below `NEW_CYCLE_RATIO` of the value
    before: a new day first seen as a rise or a small fall (Home Assistant was down at
    the inverter's midnight) would be booked as a change of yesterday's count.
    """
    return (
        before is not None
        and after is not None
        and day_before is not None
        and day_after is not None
        and day_after > day_before
        and after >= NEW_CYCLE_RATIO * before
        and after != before
    )


ENTRY_ID_KEY = "entry_id"
"""The key of the inverter's subentry id in a counter's stored history (before accounts,
the id of the inverter's entry: the upgrade gave each subentry that id)."""
VERSION_KEY = "version"
COUNTER_DATA_VERSION: Final = 2
"""The version of a counter's restore data (1, written without the key: up to 0.2.0)."""


@dataclass(slots=True)
class CounterStoredData(ExtraStoredData):
    """What a counter sensor keeps across restarts: its history and whose it is."""

    entry_id: str
    """The inverter's subentry id."""
    history: dict[str, Any]

    @override
    def as_dict(self) -> dict[str, Any]:
        return {**self.history, ENTRY_ID_KEY: self.entry_id, VERSION_KEY: COUNTER_DATA_VERSION}


def migrate_counter_data(
    stored: dict[str, Any],
    last_updated: datetime | None,
    subentry_id: str,
    account_created: datetime,
) -> dict[str, Any]:
    """A counter's restore data of any version, in the shape of the current one.

    `last_updated` is when the entity's state was last written. Version 1 grew with
    the releases; what its first shapes lack is filled in (a key whose absence meant
    its default is left to `restore`):

    - Whose history it is. Removing an inverter and adding it again gives the new
      entity the old one's entity id, and with it the old one's history: history
      without the owner's id is this inverter's only if its state was written after
      the account was created (else it is no one's, and not restored).
    - The upload time of a count: the time its state was written bounds the next rise.
    - What anchors an integrated energy (`counted`): its total, from then on.
    """
    if stored.get(VERSION_KEY) is not None:
        return stored
    data = dict(stored)
    if data.get(ENTRY_ID_KEY) is None:
        written_since = last_updated is not None and last_updated >= account_created
        data[ENTRY_ID_KEY] = subentry_id if written_since else None
    if "value" in data and "time" not in data:
        data["time"] = last_updated.isoformat() if last_updated is not None else None
    if "total" in data and "counted" not in data:
        data["counted"] = data["total"]
    data[VERSION_KEY] = COUNTER_DATA_VERSION
    return data


class SunvecCounterSensor(SunvecEntity, SensorEntity, RestoreEntity):
    """A counter whose readings are checked against its history before they are shown."""

    entity_description: SunvecSensorEntityDescription

    def __init__(
        self, coordinator: SunvecCoordinator, description: SunvecSensorEntityDescription
    ) -> None:
        """Start with the counter rule of the description and no history."""
        super().__init__(coordinator, description)
        self._counter = new_counter(description)
        self._warned_same_day_reset = False
        self._zero_first = False

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the history if it is this entry's, then take the current upload."""
        await super().async_added_to_hass()
        stored = await self.async_get_last_extra_data()
        if stored is not None:
            last_state = await self.async_get_last_state()
            coordinator = self.coordinator
            history = migrate_counter_data(
                stored.as_dict(),
                last_state.last_updated if last_state else None,
                coordinator.subentry_id,
                coordinator.config_entry.created_at,
            )
            if history.get(ENTRY_ID_KEY) == coordinator.subentry_id:
                self._counter.restore(history, dt_util.utcnow())
            else:
                LOGGER.info(
                    "%s: not restoring the history of a removed entry of the same inverter;"
                    " starting from the cloud's reading",
                    self.entity_id,
                )
        self._offer_upload()
        if self._zero_first:
            # Home Assistant was down across the plant's midnight. The platform writes
            # the first state after this returns: 0, then today's count right after.
            self._zero_first = False
            self._attr_native_value = 0.0

            @callback
            def show_today(_now: datetime) -> None:
                self._attr_native_value = self._counter.shown
                self.async_write_ha_state()

            self.async_on_remove(async_call_later(self.hass, 0, show_today))

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self._offer_upload()
        self._write_zero_first()
        super()._handle_coordinator_update()

    def _write_zero_first(self) -> None:
        """Show 0 before a new day's count that Home Assistant would not see as a new cycle."""
        if not self._zero_first:
            return
        self._zero_first = False
        value = self._attr_native_value
        self._attr_native_value = 0.0
        self.async_write_ha_state()
        self._attr_native_value = value

    @property
    @override
    def extra_restore_state_data(self) -> CounterStoredData:
        return CounterStoredData(self.coordinator.subentry_id, self._counter.as_dict())

    @property
    def counter(self) -> EnergyCounter:
        """The rule that decides what this sensor shows (for diagnostics)."""
        return self._counter

    def _offer_upload(self) -> None:
        data = self.coordinator.data
        reading = self.entity_description.value_fn(data)
        counter = self._counter
        before = (counter.rejected, counter.resets, counter.jumps)
        shown_before = counter.shown
        day_before = counter.day if isinstance(counter, DailyCounter) else None
        number = reading if isinstance(reading, float) else None
        key = self.entity_description.key
        if isinstance(counter, PowerIntegrator):
            # The pace (and with it the gap between the uploads fetched) changes at run time.
            counter.max_gap = self.coordinator.plan.integration_gap
            gaps, hours = counter.gaps_left_out, counter.hours_left_out
            bound_fn = self.entity_description.bound_fn
            bound = bound_fn(data.realtime) if bound_fn else None
            self._attr_native_value = counter.offer(number, data.upload_time, bound=bound)
            if counter.gaps_left_out > gaps:
                self.coordinator.statistics.count_gap_left_out(key, counter.hours_left_out - hours)
        else:
            self._attr_native_value = counter.offer(
                number, data.upload_time, data.realtime.upload_time
            )
        rejected, resets, jumps = before
        self._zero_first = isinstance(counter, DailyCounter) and needs_zero_first(
            shown_before, counter.shown, day_before, counter.day
        )
        if counter.rejected > rejected:
            self.coordinator.statistics.count_rejected(key)
        if counter.resets > resets:
            self.coordinator.statistics.count_meter_reset(key)
            self._log_reset(shown_before)
        if counter.jumps > jumps:
            LOGGER.warning(
                "%s (%s) jumped from %s to %s kWh, faster than a plant of this kind can"
                " produce, and the following uploads confirmed it; the energy dashboard"
                " books the whole rise",
                self.name,
                self.entity_id,
                shown_before,
                self._attr_native_value,
            )

    def _log_reset(self, shown_before: float | None) -> None:
        """Say once why a counter fell (for yield today: the first time only)."""
        daily = self.entity_description.rule is CounterRule.DAILY
        if daily and self._warned_same_day_reset:
            level = logging.DEBUG
        else:
            level = logging.WARNING
            self._warned_same_day_reset = daily
        reason = (
            "within the inverter's day and the following uploads confirmed it for an"
            " hour: taken as a new count (the inverter restarted its day counter)"
            if daily
            else "and the following uploads confirmed it: taken as a new meter (the"
            " inverter was replaced or its counter restarted)"
        )
        LOGGER.log(
            level,
            "%s (%s) fell from %s to %s kWh %s; the energy dashboard books it as a meter reset",
            self.name,
            self.entity_id,
            shown_before,
            self._attr_native_value,
            reason,
        )


def new_counter(description: SunvecSensorEntityDescription) -> EnergyCounter:
    """The counter rule of a counter sensor's description."""
    match description.rule:
        case CounterRule.LIFETIME:
            return LifetimeCounter(max_power_kw=description.max_power_kw)
        case CounterRule.DAILY:
            return DailyCounter(max_power_kw=description.max_power_kw)
        case _:
            return PowerIntegrator(max_gap=MAX_INTEGRATION_GAP)
