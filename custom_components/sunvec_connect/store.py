"""What an inverter keeps across restarts: its last upload and what it learned.

Kept in `.storage/sunvec_connect.<subentry id>`, at version 2. Version 1 is what the
releases up to 0.2.0 wrote; its shape grew with them, and `migrate_from_v1` turns every
one of its shapes into version 2 when Home Assistant loads it. A key that a shape lacks
and that meant its default all the same (a trend not learned yet) is left to the
readers, which take the default for what is missing or does not fit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, override

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey
from homeassistant.util.ulid import ulid_now

from .api import RealtimeData
from .const import DOMAIN
from .kept import aware_time
from .plant_clock import PlantClock

STORE_VERSION: Final = 2
THIS_RUN: HassKey[str] = HassKey(f"{DOMAIN}_run")
"""An id of this run of Home Assistant: an upload kept in this run (a reload) is not restored."""


@callback
def this_run(hass: HomeAssistant) -> str:
    """The id of this run of Home Assistant, made on first use."""
    if (run := hass.data.get(THIS_RUN)) is None:
        run = hass.data[THIS_RUN] = ulid_now()
    return run


@dataclass(frozen=True, slots=True)
class KeptUpload:
    """The last upload shown: the answer's fields (free of the token) and its time."""

    raw: dict[str, Any]
    time: datetime
    """Where the plant clock placed it (UTC)."""


@dataclass(frozen=True, slots=True)
class Kept:
    """What an inverter keeps; schedule, online history and clock as their `as_dict`."""

    saved_at: datetime | None
    run: str | None
    """The run of Home Assistant that saved it (a reload within a run is no restart)."""
    upload: KeptUpload | None
    schedule: dict[str, Any]
    online: dict[str, Any]
    clock: dict[str, Any]

    def as_stored(self) -> dict[str, Any]:
        """The JSON-ready data of version 2."""
        upload = self.upload
        return {
            "saved_at": self.saved_at.isoformat() if self.saved_at else None,
            "run": self.run,
            "upload": (
                None
                if upload is None
                else {"raw": upload.raw, "upload_time": upload.time.isoformat()}
            ),
            "schedule": self.schedule,
            "online": self.online,
            "clock": self.clock,
        }

    @classmethod
    def from_stored(cls, stored: Any) -> Kept | None:
        """Read data of version 2: None if it is no mapping; a part that does not fit is empty."""
        if not isinstance(stored, dict):
            return None
        run = stored.get("run")
        return cls(
            saved_at=aware_time(stored.get("saved_at")),
            run=run if isinstance(run, str) else None,
            upload=_upload(stored.get("upload")),
            schedule=_mapping(stored.get("schedule")),
            online=_mapping(stored.get("online")),
            clock=_mapping(stored.get("clock")),
        )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _upload(stored: Any) -> KeptUpload | None:
    if not isinstance(stored, dict) or not isinstance(raw := stored.get("raw"), dict):
        return None
    time = aware_time(stored.get("upload_time"))
    return None if time is None else KeptUpload(raw, time)


def migrate_from_v1(data: Any) -> Any:
    """Data of version 1, in any shape a release wrote, as version 2 (a copy).

    What is no mapping is left as it is: the readers ignore it.
    """
    if not isinstance(data, dict):
        return data
    migrated = dict(data)
    schedule = data.get("schedule")
    if isinstance(schedule, dict) and "delay_bounded" not in schedule:
        # Written before the schedule said whether a miss had bounded its delay
        # estimate: by then it had been learning for a while.
        migrated["schedule"] = {**schedule, "delay_bounded": True}
    if not isinstance(data.get("clock"), dict):
        # Written before the plant clock: the kept upload, as it was placed.
        clock = PlantClock()
        if (upload := _upload(data.get("upload"))) is not None:
            clock.last_text = RealtimeData.from_dict(upload.raw).upload_time_text
            clock.last_time = upload.time
        migrated["clock"] = clock.as_dict()
    return migrated


class InverterStore(Store[dict[str, Any]]):
    """An inverter's storage; data of an earlier version is migrated as it loads."""

    def __init__(self, hass: HomeAssistant, subentry_id: str) -> None:
        """Keyed by the inverter's subentry id.

        The upgrade to accounts gave each subentry the id of the entry the inverter
        had before, so what it kept stays where it was.
        """
        super().__init__(hass, STORE_VERSION, f"{DOMAIN}.{subentry_id}")
        self._save_pending = False

    async def async_load_kept(self) -> Kept | None:
        """What the inverter kept, if anything."""
        return Kept.from_stored(await self.async_load())

    async def async_save_kept(self, kept: Kept) -> None:
        """Write `kept` now (instead of a save planned)."""
        self._save_pending = False
        await self.async_save(kept.as_stored())

    @callback
    def async_delay_save_kept(self, kept: Callable[[], Kept], delay: float) -> None:
        """Write what `kept` returns within `delay` seconds (or when Home Assistant stops).

        A save already planned stays where it is: planned anew at every upload, it
        would never come.
        """
        if self._save_pending:
            return
        self._save_pending = True

        def data() -> dict[str, Any]:
            self._save_pending = False
            return kept().as_stored()

        self.async_delay_save(data, delay)

    @override
    async def _async_migrate_func(
        self, old_major_version: int, old_minor_version: int, old_data: Any
    ) -> Any:
        """Migrate what an earlier version wrote."""
        data = old_data
        if old_major_version < 2:
            data = migrate_from_v1(data)
        return data


def inverter_store(hass: HomeAssistant, subentry_id: str) -> InverterStore:
    """Where an inverter keeps its last upload and what it learned, across restarts."""
    return InverterStore(hass, subentry_id)
