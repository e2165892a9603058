"""Binary sensors of a Sunvec Connect inverter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

# Home Assistant 2026.3 defines these in the package itself and has no
# binary_sensor.const; later releases moved them to binary_sensor.const and import them
# back into the package without __all__, which strict mypy calls an implicit re-export.
from homeassistant.components.binary_sensor import (  # type: ignore[attr-defined]
    DOMAIN as BINARY_SENSOR_DOMAIN,
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .const import BATTERY_FAULT_STATUS, FAULT_STATUSES
from .entity import SunvecEntity, SunvecEntityDescription, async_add_entities_with_data
from .models import SunvecConfigEntry, SunvecData

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class SunvecBinarySensorEntityDescription(BinarySensorEntityDescription, SunvecEntityDescription):
    """Describes a Sunvec binary sensor."""

    is_on_fn: Callable[[SunvecData], bool | None]

    @override
    def value_known(self, data: SunvecData) -> bool:
        return self.is_on_fn(data) is not None


def _has_problem(data: SunvecData) -> bool | None:
    status, battery = data.realtime.inverter_status, data.realtime.battery_status
    if status is None and battery is None:
        return None
    return status in FAULT_STATUSES or battery == BATTERY_FAULT_STATUS


BINARY_SENSORS: tuple[SunvecBinarySensorEntityDescription, ...] = (
    SunvecBinarySensorEntityDescription(
        key="problem",
        device_class=BinarySensorDeviceClass.PROBLEM,
        is_on_fn=_has_problem,
    ),
    SunvecBinarySensorEntityDescription(
        key="online",
        translation_key="online",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=lambda data: data.is_fresh(dt_util.utcnow()),
        exists_fn=lambda _data: True,
        requires_fresh_upload=False,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SunvecConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Set up each inverter's binary sensors whose data it reports, now and later."""
    for coordinator in entry.runtime_data.coordinators.values():
        async_add_entities_with_data(
            coordinator,
            BINARY_SENSOR_DOMAIN,
            BINARY_SENSORS,
            SunvecBinarySensor,
            async_add_entities,
        )


class SunvecBinarySensor(SunvecEntity, BinarySensorEntity):
    """A binary sensor derived from the latest upload."""

    entity_description: SunvecBinarySensorEntityDescription

    @property
    @override
    def is_on(self) -> bool | None:
        """Whether the condition holds for the latest upload."""
        return self.entity_description.is_on_fn(self.coordinator.data)
