"""Sensors of a Sunvec Connect inverter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, override

from homeassistant.components.sensor import (
    DOMAIN as SENSOR_DOMAIN,
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfEnergy, UnitOfPower
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.restore_state import ExtraStoredData, RestoreEntity
from homeassistant.util import dt as dt_util

from .api import BATTERY_STATUS, INVERTER_STATUS, RealtimeData
from .const import MAX_INTEGRATION_GAP
from .coordinator import SunvecConfigEntry, SunvecCoordinator, SunvecData
from .energy import DailyCounter, EnergyCounter, LifetimeCounter, PowerIntegrator
from .entity import SunvecEntity, SunvecEntityDescription, async_add_entities_with_data

PARALLEL_UPDATES = 0


class CounterRule(StrEnum):
    """How a sensor's value is kept right for the energy dashboard."""

    NONE = "none"
    LIFETIME = "lifetime"
    """Never goes backwards; zero, null and lower readings are rejected."""
    DAILY = "daily"
    """May fall only when the upload's local date changes."""
    INTEGRAL = "integral"
    """Integral of a power over the upload timestamps."""


@dataclass(frozen=True, kw_only=True)
class SunvecSensorEntityDescription(SensorEntityDescription, SunvecEntityDescription):
    """Describes a Sunvec sensor."""

    value_fn: Callable[[SunvecData], float | str | datetime | None]
    rule: CounterRule = CounterRule.NONE

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
    return None if value is None else max(-value, 0.0)


SENSORS: tuple[SunvecSensorEntityDescription, ...] = (
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
    _energy("grid_export_energy", lambda r: r.feedin_energy, CounterRule.LIFETIME),
    _energy("grid_import_energy", lambda r: r.consume_energy, CounterRule.LIFETIME),
    _energy("pv_energy", lambda r: r.pv_power, CounterRule.INTEGRAL),
    _energy("battery_charge_energy", lambda r: _positive(r.battery_power), CounterRule.INTEGRAL),
    _energy("battery_discharge_energy", lambda r: _negative(r.battery_power), CounterRule.INTEGRAL),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunvecConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up the sensors whose data the inverter reports, now and later."""
    async_add_entities_with_data(
        entry.runtime_data,
        SENSOR_DOMAIN,
        SENSORS,
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


@dataclass(slots=True)
class CounterStoredData(ExtraStoredData):
    """What a counter sensor keeps across restarts."""

    state: dict[str, Any]

    @override
    def as_dict(self) -> dict[str, Any]:
        return self.state


class SunvecCounterSensor(SunvecEntity, SensorEntity, RestoreEntity):
    """A counter whose readings are checked against its history before they are shown."""

    entity_description: SunvecSensorEntityDescription

    def __init__(
        self, coordinator: SunvecCoordinator, description: SunvecSensorEntityDescription
    ) -> None:
        """Start with the counter rule of the description and no history."""
        super().__init__(coordinator, description)
        self._counter = COUNTER_RULES[description.rule]()

    @override
    async def async_added_to_hass(self) -> None:
        """Restore the history, then take the current upload."""
        await super().async_added_to_hass()
        if (stored := await self.async_get_last_extra_data()) is not None:
            self._counter.restore(stored.as_dict())
        self._offer_upload()

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        self._offer_upload()
        super()._handle_coordinator_update()

    @property
    @override
    def extra_restore_state_data(self) -> CounterStoredData:
        return CounterStoredData(self._counter.as_dict())

    def _offer_upload(self) -> None:
        data = self.coordinator.data
        reading = self.entity_description.value_fn(data)
        rejected_before = self._counter.rejected
        self._attr_native_value = self._counter.offer(
            reading if isinstance(reading, float) else None, data.upload_time
        )
        if self._counter.rejected > rejected_before:
            self.coordinator.count_rejected(self.entity_description.key)


COUNTER_RULES: dict[CounterRule, Callable[[], EnergyCounter]] = {
    CounterRule.LIFETIME: LifetimeCounter,
    CounterRule.DAILY: lambda: DailyCounter(zone=dt_util.get_default_time_zone()),
    CounterRule.INTEGRAL: lambda: PowerIntegrator(max_gap=MAX_INTEGRATION_GAP),
}
