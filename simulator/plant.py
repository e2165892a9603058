"""Physics of one simulated plant: PV strings, house load, battery, grid and uploads.

The plant integrates its powers at 1-second resolution into the true energies
(`Plant.truth`), independent of what it uploads: the lifetime counters it uploads
are these energies rounded to 0.1 kWh, as the real cloud reports them.
"""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
import math
import random
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from .weather import CloudModel, Weather

type Series = NDArray[np.float64]

RESOLUTION_SECONDS: Final = 1.0
"""The powers are integrated over cells of this many seconds (epoch-aligned)."""
MAX_CHUNK_SECONDS: Final = 3600.0
INVERTER_EFFICIENCY: Final = 0.97
"""AC power out per W of PV power in."""
SECONDS_PER_DAY: Final = 86400.0

STATUS_WAITING = "100"
STATUS_NORMAL = "102"
STATUS_SLEEP = "109"
ONLINE_MARGIN_HOURS = 0.25
"""A plant without battery uploads from this long before sunrise to this long after sunset."""
SOC_FULL = 100.0
SOC_RESERVE = 10.0
"""The battery stops discharging at this state of charge."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlantConfig:
    """What a simulated plant is made of."""

    wifi_sn: str
    inverter_sn: str
    module_sn: str
    peak_power: float = 6000.0
    strings: int = 2
    battery_kwh: float | None = None
    battery_max_power: float = 3000.0
    eps_phases: int = 0
    meter2: bool = False
    inverter_type: str = "4"
    timezone: str = "Europe/Amsterdam"
    clock_skew: float = 0.0
    """Seconds the inverter's clock runs ahead of its zone (uploadTime is that far off)."""
    sunrise_hour: float = 6.5
    sunset_hour: float = 20.0
    base_load: float = 300.0
    upload_interval: float = 300.0
    upload_offset: float = 43.0
    publish_delay: tuple[float, float] = (20.0, 90.0)
    publish_delay_period: float | None = None
    """Seconds of a slow cycle of the publish delay through its range (cloud load);
    None draws each upload's delay at random from the range instead."""
    publish_delay_jitter: float = 2.0
    """With a cycle: seconds of random jitter around it."""
    weather: Weather = Weather.PASSING
    """The cloud cover, seeded by `seed`."""
    seed: int = 1
    yield_total_start: float = 2420.5
    feedin_energy_start: float = 1210.0
    consume_energy_start: float = 830.0

    def __post_init__(self) -> None:
        """Reject impossible plants early."""
        if not 1 <= self.strings <= 4:
            raise ValueError("a plant has 1 to 4 PV strings")
        if not 0 <= self.eps_phases <= 3:
            raise ValueError("EPS has 0 to 3 phases")
        if self.upload_interval <= 0 or self.peak_power <= 0:
            raise ValueError("upload interval and peak power must be positive")


@dataclass(slots=True)
class EnergyTruth:
    """Exact energies in kWh since the plant was created, at 1-second resolution."""

    pv_dc: float = 0.0
    """PV energy of all strings (what the PV power fields sample)."""
    pv_ac: float = 0.0
    """PV energy after conversion to AC: what the yield counters meter."""
    ac_output: float = 0.0
    """The inverter's AC output: PV minus battery charge plus battery discharge."""
    battery_charge: float = 0.0
    battery_discharge: float = 0.0
    grid_export: float = 0.0
    grid_import: float = 0.0
    load: float = 0.0
    """The house's consumption."""

    def __sub__(self, other: EnergyTruth) -> EnergyTruth:
        """The energies between two snapshots."""
        return EnergyTruth(
            **{
                item.name: getattr(self, item.name) - getattr(other, item.name)
                for item in fields(self)
            }
        )

    def copy(self) -> EnergyTruth:
        """A snapshot that later integration does not change."""
        return replace(self)

    def as_dict(self) -> dict[str, float]:
        """JSON-ready, in kWh."""
        return asdict(self)


@dataclass(slots=True)
class Upload:
    """One upload of the inverter to the cloud."""

    index: int
    time: datetime
    available_at: datetime
    result: dict[str, Any]
    truth: EnergyTruth = field(default_factory=EnergyTruth)
    """The plant's true energies at the upload's time."""


@dataclass(slots=True)
class PowerFlows:
    """Instantaneous powers in W (battery positive while charging, grid positive exporting)."""

    pv_strings: list[float]
    pv_ac: float
    load: float
    battery: float
    ac: float
    grid: float
    eps: list[float] = field(default_factory=list)


class Plant:
    """A plant whose counters are the integral of its powers over simulated time."""

    def __init__(self, config: PlantConfig, start: datetime) -> None:
        """Create the plant as it was at `start` (timezone-aware)."""
        self.config = config
        self.zone = ZoneInfo(config.timezone)
        self.clouds = CloudModel(config.weather, config.seed)
        self.time = start
        self.soc = 50.0 if config.battery_kwh else None
        self.truth = EnergyTruth()
        self.yield_today = 0.0
        self.local_date = start.astimezone(self.zone).date()
        self._next_midnight = self._midnight_after(self.local_date)
        shares = [1.0 + 0.1 * index for index in range(config.strings)]
        self._string_shares = [share / sum(shares) for share in shares]
        self.uploads: deque[Upload] = deque(maxlen=64)
        self.upload_log: list[tuple[int, datetime, datetime]] = []
        """(index, upload time, available at) of every upload, for benchmarks."""
        self.uploading = True
        self.zero_counters_next_upload = False
        self.status_override: str | None = None
        """An inverterStatus the uploads carry instead of the modelled one (a fault)."""
        self._next_upload = self._upload_time(self._upload_index(start) + 1)
        self._sample_time: datetime | None = None
        self._sample = (0.0, 0.0)
        """The time of the end of the last integration step, with (PV, load) powers then."""

    # Counters as the cloud reports them ------------------------------------
    @property
    def yield_total(self) -> float:
        """Lifetime AC yield in kWh, unrounded."""
        return self.config.yield_total_start + self.truth.pv_ac

    @property
    def feedin_energy(self) -> float:
        """Lifetime grid export in kWh, unrounded."""
        return self.config.feedin_energy_start + self.truth.grid_export

    @property
    def consume_energy(self) -> float:
        """Lifetime grid import in kWh, unrounded."""
        return self.config.consume_energy_start + self.truth.grid_import

    @property
    def pv_energy(self) -> float:
        """True DC energy of all strings since creation, kWh."""
        return self.truth.pv_dc

    @property
    def battery_charge_energy(self) -> float:
        """True energy into the battery since creation, kWh."""
        return self.truth.battery_charge

    @property
    def battery_discharge_energy(self) -> float:
        """True energy out of the battery since creation, kWh."""
        return self.truth.battery_discharge

    # Time helpers -------------------------------------------------------
    def _upload_index(self, moment: datetime) -> int:
        seconds = moment.timestamp() - self.config.upload_offset
        return math.floor(seconds / self.config.upload_interval)

    def _upload_time(self, index: int) -> datetime:
        seconds = index * self.config.upload_interval + self.config.upload_offset
        return datetime.fromtimestamp(seconds, tz=self.time.tzinfo)

    def _midnight_after(self, day: date) -> datetime:
        local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
        return local.astimezone(self.time.tzinfo)

    def _local_hours(self, times: Series) -> Series:
        """Local clock hours (0 to 24) at `times` (epoch seconds)."""
        first, last = (self._utc_offset(float(times[index])) for index in (0, -1))
        if first == last:
            offsets: Series | float = first
        else:  # a daylight-saving change within these times
            offsets = np.array([self._utc_offset(float(moment)) for moment in times])
        return ((times + offsets) % SECONDS_PER_DAY) / 3600

    def _utc_offset(self, timestamp: float) -> float:
        offset = datetime.fromtimestamp(timestamp, self.zone).utcoffset()
        return offset.total_seconds() if offset is not None else 0.0

    # Physics ------------------------------------------------------------
    def _sun(self, hours: Series) -> Series:
        """Clear-sky PV output as a fraction of peak power."""
        rise, set_ = self.config.sunrise_hour, self.config.sunset_hour
        daylight = (hours > rise) & (hours < set_)
        angle = np.pi * (np.clip(hours, rise, set_) - rise) / (set_ - rise)
        return np.where(daylight, np.sin(angle) ** 1.5, 0.0)

    def _load(self, hours: Series) -> Series:
        """House consumption in W: base load plus morning and evening peaks."""
        morning: Series = np.where((hours >= 7) & (hours < 9), 800.0, 0.0)
        evening: Series = np.where((hours >= 18) & (hours < 22), 1200.0, 0.0)
        wobble: Series = 100.0 * np.sin(hours * 3.1)
        return self.config.base_load + morning + evening + wobble

    def _pv_and_load(self, times: Series) -> tuple[Series, Series]:
        """Total DC power of the strings and the house's consumption in W at `times`."""
        hours = self._local_hours(times)
        pv = self.config.peak_power * self._sun(hours) * self.clouds.factor(times)
        return pv, self._load(hours)

    def sun_fraction(self, moment: datetime) -> float:
        """Clear-sky PV output as a fraction of peak power (without clouds)."""
        return float(self._sun(self._local_hours(_at(moment)))[0])

    def cloud_factor(self, moment: datetime) -> float:
        """The clear-sky index at `moment` (see `simulator.weather`)."""
        return self.clouds.factor_at(moment.timestamp())

    def house_load(self, moment: datetime) -> float:
        """House consumption in W."""
        return float(self._load(self._local_hours(_at(moment)))[0])

    def _battery_power(self, surplus: Series, can_charge: bool, can_discharge: bool) -> Series:
        """Battery power in W that absorbs the surplus (or covers the deficit) within limits."""
        limit = self.config.battery_max_power
        charge = np.minimum(surplus, limit) if can_charge else np.zeros_like(surplus)
        discharge = np.maximum(surplus, -limit) if can_discharge else np.zeros_like(surplus)
        return np.where(surplus > 0, charge, np.where(surplus < 0, discharge, 0.0))

    def flows(self, moment: datetime) -> PowerFlows:
        """Instantaneous powers at `moment` given the battery's state of charge."""
        if moment == self._sample_time:
            return self._flows(*self._sample)
        pv, load = self._pv_and_load(_at(moment))
        return self._flows(float(pv[0]), float(load[0]))

    def _flows(self, pv_total: float, load: float) -> PowerFlows:
        config = self.config
        pv_ac = pv_total * INVERTER_EFFICIENCY
        battery = 0.0
        if config.battery_kwh and self.soc is not None:
            surplus = np.array([pv_ac - load])
            battery = float(
                self._battery_power(surplus, self.soc < SOC_FULL, self.soc > SOC_RESERVE)[0]
            )
        ac = pv_ac - battery
        eps = [load / 10 / max(config.eps_phases, 1)] * config.eps_phases
        return PowerFlows(
            pv_strings=[pv_total * share for share in self._string_shares],
            pv_ac=pv_ac,
            load=load,
            battery=battery,
            ac=ac,
            grid=ac - load,
            eps=eps,
        )

    def is_online(self, moment: datetime) -> bool:
        """Whether the inverter is awake and uploading at `moment`."""
        if not self.uploading:
            return False
        if self.config.battery_kwh:
            return True
        local = moment.astimezone(self.zone)
        hours = local.hour + local.minute / 60 + local.second / 3600
        return (
            self.config.sunrise_hour - ONLINE_MARGIN_HOURS
            <= hours
            <= self.config.sunset_hour + ONLINE_MARGIN_HOURS
        )

    # Simulation ---------------------------------------------------------
    def advance_to(self, moment: datetime) -> None:
        """Integrate the plant up to `moment`, recording uploads on the way."""
        while self.time < moment:
            step_end = min(
                moment,
                self._next_upload,
                self._next_midnight,
                self.time + timedelta(seconds=MAX_CHUNK_SECONDS),
            )
            self._integrate(step_end)
            if self.time >= self._next_midnight:
                self.local_date = self.time.astimezone(self.zone).date()
                self._next_midnight = self._midnight_after(self.local_date)
                self.yield_today = 0.0
            if self.time >= self._next_upload:
                self._record_upload()
                self._next_upload += timedelta(seconds=self.config.upload_interval)

    def _integrate(self, step_end: datetime) -> None:
        """Integrate the powers from now to `step_end` over 1-second cells (midpoint rule).

        The cells are whole epoch seconds, cut at both ends; the battery's state of
        charge is followed cell by cell.
        """
        begin, end = self.time.timestamp(), step_end.timestamp()
        inner = np.arange(
            math.floor(begin) + RESOLUTION_SECONDS, math.ceil(end), RESOLUTION_SECONDS
        )
        edges = np.concatenate(([begin], inner, [end]))
        hours_per_cell = np.diff(edges) / 3600
        middles = (edges[:-1] + edges[1:]) / 2
        # The powers at the end too: the sample an upload made there reports.
        pv, load = self._pv_and_load(np.append(middles, end))
        self._sample_time, self._sample = step_end, (float(pv[-1]), float(load[-1]))
        pv, load = pv[:-1], load[:-1]
        pv_ac = pv * INVERTER_EFFICIENCY
        battery = self._follow_battery(pv_ac - load, hours_per_cell)
        grid = pv_ac - battery - load

        def kwh(power: Series) -> float:
            return float(np.dot(power, hours_per_cell)) / 1000

        truth = self.truth
        truth.pv_dc += kwh(pv)
        produced = kwh(pv_ac)
        truth.pv_ac += produced
        self.yield_today += produced
        truth.ac_output += kwh(pv_ac - battery)
        truth.battery_charge += kwh(np.maximum(battery, 0.0))
        truth.battery_discharge += kwh(np.maximum(-battery, 0.0))
        truth.grid_export += kwh(np.maximum(grid, 0.0))
        truth.grid_import += kwh(np.maximum(-grid, 0.0))
        truth.load += kwh(load)
        self.time = step_end

    def _follow_battery(self, surplus: Series, hours_per_cell: Series) -> Series:
        """Battery power per cell; updates the state of charge.

        Whether the battery may charge (below full) or discharge (above the reserve)
        is decided by the state of charge before each cell: runs of cells with the same
        permissions are computed at once.
        """
        capacity = self.config.battery_kwh
        if not capacity or self.soc is None:
            return np.zeros_like(surplus)
        power = np.zeros_like(surplus)
        soc, start = self.soc, 0
        while start < surplus.size:
            can_charge, can_discharge = soc < SOC_FULL, soc > SOC_RESERVE
            run = self._battery_power(surplus[start:], can_charge, can_discharge)
            path = soc + np.cumsum(run * hours_per_cell[start:]) / 1000 / capacity * 100
            before = np.concatenate(([soc], path[:-1]))
            changed = ((before < SOC_FULL) != can_charge) | (
                (before > SOC_RESERVE) != can_discharge
            )
            length = int(np.argmax(changed)) if changed.any() else run.size
            power[start : start + length] = run[:length]
            soc = min(SOC_FULL, max(0.0, float(path[length - 1])))
            start += length
        self.soc = soc
        return power

    def status(self, moment: datetime, flows: PowerFlows) -> str:
        """Return inverterStatus: waiting at dawn, normal while producing, sleep at night."""
        if sum(flows.pv_strings) >= self.config.peak_power * 0.01 or flows.battery < 0:
            return STATUS_NORMAL
        if float(self._local_hours(_at(moment))[0]) < self.config.sunrise_hour + 1:
            return STATUS_WAITING
        return STATUS_SLEEP

    def _record_upload(self) -> None:
        if not self.is_online(self.time):
            return
        config = self.config
        flows = self.flows(self.time)
        index = self._upload_index(self.time)
        delay = self.publish_delay(index)
        zero = self.zero_counters_next_upload
        self.zero_counters_next_upload = False

        def counter(value: float) -> float:
            return 0.0 if zero else round(value, 1)

        strings: list[float | None] = [round(power) for power in flows.pv_strings]
        strings += [None] * (4 - len(strings))
        eps: list[float | None] = [round(power) for power in flows.eps]
        eps += [None] * (3 - len(eps))
        has_battery = self.soc is not None
        result: dict[str, Any] = {
            "inverterSN": config.inverter_sn,
            "sn": config.module_sn,
            "acpower": round(flows.ac),
            "yieldtoday": counter(self.yield_today),
            "yieldtotal": counter(self.yield_total),
            "feedinpower": round(flows.grid),
            "feedinenergy": counter(self.feedin_energy),
            "consumeenergy": counter(self.consume_energy),
            "feedinpowerM2": round(-flows.load / 20) if config.meter2 else None,
            "soc": round(self.soc) if self.soc is not None else None,
            "peps1": eps[0],
            "peps2": eps[1],
            "peps3": eps[2],
            "inverterType": config.inverter_type,
            "inverterStatus": self.status_override or self.status(self.time, flows),
            "uploadTime": (
                self.time.astimezone(self.zone) + timedelta(seconds=config.clock_skew)
            ).strftime("%Y-%m-%d %H:%M:%S"),
            "batPower": round(flows.battery) if has_battery else None,
            "powerdc1": strings[0],
            "powerdc2": strings[1],
            "powerdc3": strings[2],
            "powerdc4": strings[3],
            "batStatus": "0" if has_battery else None,
        }
        self.upload_log.append((index, self.time, self.time + timedelta(seconds=delay)))
        self.uploads.append(
            Upload(
                index=index,
                time=self.time,
                available_at=self.time + timedelta(seconds=delay),
                result=result,
                truth=self.truth.copy(),
            )
        )

    def publish_delay(self, index: int) -> float:
        """Seconds from upload `index` to its availability in the cloud."""
        config = self.config
        low, high = config.publish_delay
        rng = random.Random(f"{config.seed}:delay:{index}")
        if config.publish_delay_period is None:
            return rng.uniform(low, high)
        phase = 2 * math.pi * index * config.upload_interval / config.publish_delay_period
        level = low + (high - low) * (0.5 + 0.5 * math.sin(phase + config.seed))
        jitter = rng.uniform(-config.publish_delay_jitter, config.publish_delay_jitter)
        return min(high, max(low, level + jitter))

    def latest_available(self, moment: datetime) -> Upload | None:
        """The newest upload the cloud can serve at `moment`."""
        # Integrating only up to the last upload time saves work on every other call.
        last_upload = self._upload_time(self._upload_index(moment))
        if last_upload > self.time:
            self.advance_to(last_upload)
        for upload in reversed(self.uploads):
            if upload.available_at <= moment:
                return upload
        return None


def _at(moment: datetime) -> Series:
    """One moment as a series of epoch seconds."""
    return np.array([moment.timestamp()])
