"""What an inverter keeps across restarts: taken back at its start, written after uploads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .api import RealtimeData
from .const import STORE_SAVE_DELAY
from .models import SunvecData
from .plan import InverterPlan
from .plant_clock import PlantClock
from .store import Kept, KeptUpload, inverter_store, this_run


class InverterMemory:
    """An inverter's store, read into its plan and plant clock and written from them."""

    def __init__(self, hass: HomeAssistant, subentry_id: str, plan: InverterPlan) -> None:
        """Kept under the inverter's subentry id (store.py)."""
        self._hass = hass
        self._plan = plan
        self._store = inverter_store(hass, subentry_id)

    async def async_restore(
        self, now: datetime, token: str
    ) -> tuple[PlantClock, SunvecData | None]:
        """Give what was kept back to the plan; return the plant clock and the kept upload.

        An upload kept in this run (before a reload of the entry) was fetched in it: it
        is not marked restored.
        """
        if (kept := await self._store.async_load_kept()) is None:
            return PlantClock(), None
        upload = self._plan.restore(kept, now)
        clock = PlantClock.restore(kept.clock, now)
        if upload is None:
            return clock, None
        realtime = RealtimeData.from_dict(upload.raw, token=token)
        restored = kept.run != this_run(self._hass)
        data = SunvecData(
            realtime, upload.time, stale_after=self._plan.stale_after, restored=restored
        )
        return clock, data

    @callback
    def kept(self, data: SunvecData | None, clock: PlantClock) -> Kept:
        """What the inverter keeps: never the token (the upload's raw fields are free of it)."""
        upload = None
        if data is not None and data.upload_time is not None:
            upload = KeptUpload(dict(data.realtime.raw), data.upload_time)
        return Kept(
            saved_at=dt_util.utcnow(),
            run=this_run(self._hass),
            upload=upload,
            schedule=self._plan.schedule.as_dict(),
            online=self._plan.online.as_dict(),
            clock=clock.as_dict(),
        )

    async def async_save(self, data: SunvecData | None, clock: PlantClock) -> None:
        """Write what the inverter keeps now (it unloads: a setup may follow at once)."""
        await self._store.async_save_kept(self.kept(data, clock))

    async def async_forget(self) -> None:
        """Remove what the inverter kept, a save waiting to be written included."""
        await self._store.async_remove()

    @callback
    def save_soon(self, kept: Callable[[], Kept]) -> None:
        """Write what `kept` returns within `STORE_SAVE_DELAY` (once planned, it stays)."""
        self._store.async_delay_save_kept(kept, STORE_SAVE_DELAY)
