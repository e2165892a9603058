"""Base entity for Sunvec Connect."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, override

from homeassistant.core import callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity
from homeassistant.util import dt as dt_util

from .const import DOMAIN, MANUFACTURER
from .coordinator import SunvecCoordinator
from .models import SunvecData

ATTR_RESTORED: Final = "restored"
"""State attribute: the value comes from the upload kept before a restart, not yet
confirmed by a call."""


@dataclass(frozen=True, kw_only=True)
class SunvecEntityDescription(EntityDescription):
    """What every Sunvec entity description has."""

    exists_fn: Callable[[SunvecData], bool] | None = None
    """Whether the inverter reports this entity's data; by default, whether its value is known."""
    requires_fresh_upload: bool = True
    """When True the entity is unavailable while the latest upload is stale."""

    def has_data(self, data: SunvecData) -> bool:
        """Whether the inverter reports this entity's data."""
        return self.exists_fn(data) if self.exists_fn is not None else self.value_known(data)

    def value_known(self, data: SunvecData) -> bool:
        """Whether the entity's value is known in `data`."""
        raise NotImplementedError


class SunvecEntity(CoordinatorEntity[SunvecCoordinator]):
    """An entity of one inverter of an account."""

    _attr_has_entity_name = True
    entity_description: SunvecEntityDescription

    def __init__(
        self, coordinator: SunvecCoordinator, description: SunvecEntityDescription
    ) -> None:
        """Attach the entity to the inverter's device."""
        super().__init__(coordinator)
        self.entity_description = description
        wifi_sn = coordinator.wifi_sn
        self._attr_unique_id = f"{wifi_sn}_{description.key}"
        # Without an upload yet (set up while the token's minute was used up), the
        # device gets its model and serial number with the first entity that has data.
        realtime = coordinator.data.realtime if coordinator.data is not None else None
        inverter_type = realtime.inverter_type if realtime is not None else None
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, wifi_sn)},
            manufacturer=MANUFACTURER,
            name=coordinator.title,
            model=f"Inverter type {inverter_type}" if inverter_type else None,
            serial_number=realtime.inverter_sn if realtime is not None else None,
        )

    @property
    @override
    def available(self) -> bool:
        """Unavailable without data, when polling fails, or while the upload is stale."""
        if not super().available or self.coordinator.data is None:
            return False
        if not self.entity_description.requires_fresh_upload:
            return True
        return self.coordinator.data.is_fresh(dt_util.utcnow())

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """`restored: true` while the upload shown is the one kept before a restart."""
        data = self.coordinator.data
        return {ATTR_RESTORED: True} if data is not None and data.restored else None


def async_add_entities_with_data[DescriptionT: SunvecEntityDescription](
    coordinator: SunvecCoordinator,
    platform_domain: str,
    descriptions: Sequence[DescriptionT],
    create: Callable[[SunvecCoordinator, DescriptionT], Entity],
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add an entity per description once its field carries data, on the inverter's subentry.

    Entities already in the entity registry are added with the first data (kept
    from before a restart, or the first upload), so a restart at night (when some
    fields are null) does not orphan them.
    """
    entry = coordinator.config_entry
    wifi_sn = coordinator.wifi_sn
    registry = er.async_get(coordinator.hass)
    added: set[str] = set()

    @callback
    def add_new_entities() -> None:
        if len(added) == len(descriptions) or coordinator.data is None:
            return
        new_entities = []
        for description in descriptions:
            if description.key in added:
                continue
            unique_id = f"{wifi_sn}_{description.key}"
            if description.has_data(coordinator.data) or registry.async_get_entity_id(
                platform_domain, DOMAIN, unique_id
            ):
                added.add(description.key)
                new_entities.append(create(coordinator, description))
        if new_entities:
            async_add_entities(new_entities, config_subentry_id=coordinator.subentry_id)

    add_new_entities()
    entry.async_on_unload(coordinator.async_add_listener(add_new_entities))
