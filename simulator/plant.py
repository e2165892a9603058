"""Physics of one simulated plant: PV strings, house load, battery, grid and uploads."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
import math
import random
from typing import Any
from zoneinfo import ZoneInfo

STEP_SECONDS = 10.0
"""Integration step of the energy counters (simulated seconds)."""

STATUS_WAITING = "100"
STATUS_NORMAL = "102"
STATUS_SLEEP = "109"
ONLINE_MARGIN_HOURS = 0.25
"""A plant without battery uploads from this long before sunrise to this long after sunset."""


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
class Upload:
    """One upload of the inverter to the cloud."""

    index: int
    time: datetime
    available_at: datetime
    result: dict[str, Any]


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
        self.time = start
        self.soc = 50.0 if config.battery_kwh else None
        self.yield_total = config.yield_total_start
        self.yield_today = 0.0
        self.feedin_energy = config.feedin_energy_start
        self.consume_energy = config.consume_energy_start
        self.pv_energy = 0.0
        """True DC energy of all strings since creation, kWh."""
        self.battery_charge_energy = 0.0
        self.battery_discharge_energy = 0.0
        self.local_date = start.astimezone(self.zone).date()
        self.uploads: deque[Upload] = deque(maxlen=64)
        self.upload_log: list[tuple[int, datetime, datetime]] = []
        """(index, upload time, available at) of every upload, for benchmarks."""
        self.uploading = True
        self.zero_counters_next_upload = False
        self._next_upload = self._upload_time(self._upload_index(start) + 1)

    # Time helpers -------------------------------------------------------
    def _upload_index(self, moment: datetime) -> int:
        seconds = moment.timestamp() - self.config.upload_offset
        return math.floor(seconds / self.config.upload_interval)

    def _upload_time(self, index: int) -> datetime:
        seconds = index * self.config.upload_interval + self.config.upload_offset
        return datetime.fromtimestamp(seconds, tz=self.time.tzinfo)

    def _local_hours(self, moment: datetime) -> float:
        local = moment.astimezone(self.zone)
        return local.hour + local.minute / 60 + local.second / 3600

    # Physics ------------------------------------------------------------
    def sun_fraction(self, moment: datetime) -> float:
        """Clear-sky PV output as a fraction of peak power."""
        hours = self._local_hours(moment)
        rise, set_ = self.config.sunrise_hour, self.config.sunset_hour
        if hours <= rise or hours >= set_:
            return 0.0
        return float(math.sin(math.pi * (hours - rise) / (set_ - rise)) ** 1.5)

    def cloud_factor(self, moment: datetime) -> float:
        """Deterministic passing clouds: 0.55 to 1.0, smooth between 15-minute slots."""
        slot_seconds = 900.0
        position = moment.timestamp() / slot_seconds
        slot = math.floor(position)

        def slot_value(index: int) -> float:
            return random.Random(f"{self.config.seed}:{index}").uniform(0.55, 1.0)

        weight = position - slot
        return slot_value(slot) * (1 - weight) + slot_value(slot + 1) * weight

    def house_load(self, moment: datetime) -> float:
        """House consumption in W: base load plus morning and evening peaks."""
        hours = self._local_hours(moment)
        load = self.config.base_load
        if 7 <= hours < 9:
            load += 800.0
        if 18 <= hours < 22:
            load += 1200.0
        return load + 100.0 * math.sin(hours * 3.1)

    def flows(self, moment: datetime) -> PowerFlows:
        """Instantaneous powers at `moment` given the battery's state of charge."""
        config = self.config
        pv_total = config.peak_power * self.sun_fraction(moment) * self.cloud_factor(moment)
        shares = [1.0 + 0.1 * index for index in range(config.strings)]
        pv_strings = [pv_total * share / sum(shares) for share in shares]
        pv_ac = pv_total * 0.97
        load = self.house_load(moment)
        battery = 0.0
        if config.battery_kwh and self.soc is not None:
            surplus = pv_ac - load
            if surplus > 0 and self.soc < 100.0:
                battery = min(surplus, config.battery_max_power)
            elif surplus < 0 and self.soc > 10.0:
                battery = -min(-surplus, config.battery_max_power)
        ac = pv_ac - battery
        eps = [load / 10 / max(config.eps_phases, 1)] * config.eps_phases
        return PowerFlows(
            pv_strings=pv_strings,
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
        hours = self._local_hours(moment)
        return (
            self.config.sunrise_hour - ONLINE_MARGIN_HOURS
            <= hours
            <= self.config.sunset_hour + ONLINE_MARGIN_HOURS
        )

    # Simulation ---------------------------------------------------------
    def advance_to(self, moment: datetime) -> None:
        """Integrate the plant up to `moment`, recording uploads on the way."""
        while self.time < moment:
            step_end = min(moment, self._next_upload, self.time + timedelta(seconds=STEP_SECONDS))
            self._integrate(step_end)
            if self.time >= self._next_upload:
                self._record_upload()
                self._next_upload += timedelta(seconds=self.config.upload_interval)

    def _integrate(self, step_end: datetime) -> None:
        seconds = (step_end - self.time).total_seconds()
        middle = self.time + timedelta(seconds=seconds / 2)
        flows = self.flows(middle)
        hours = seconds / 3600
        self.pv_energy += sum(flows.pv_strings) * hours / 1000
        self.yield_total += flows.pv_ac * hours / 1000
        self.yield_today += flows.pv_ac * hours / 1000
        self.feedin_energy += max(flows.grid, 0.0) * hours / 1000
        self.consume_energy += max(-flows.grid, 0.0) * hours / 1000
        if self.soc is not None and self.config.battery_kwh:
            charged = flows.battery * hours / 1000
            self.battery_charge_energy += max(charged, 0.0)
            self.battery_discharge_energy += max(-charged, 0.0)
            self.soc = min(100.0, max(0.0, self.soc + charged / self.config.battery_kwh * 100))
        self.time = step_end
        local_date = step_end.astimezone(self.zone).date()
        if local_date != self.local_date:
            self.local_date = local_date
            self.yield_today = 0.0

    def status(self, moment: datetime, flows: PowerFlows) -> str:
        """Return inverterStatus: waiting at dawn, normal while producing, sleep at night."""
        if sum(flows.pv_strings) >= self.config.peak_power * 0.01 or flows.battery < 0:
            return STATUS_NORMAL
        if self._local_hours(moment) < self.config.sunrise_hour + 1:
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
            "inverterStatus": self.status(self.time, flows),
            "uploadTime": self.time.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S"),
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
        self.advance_to(moment)
        for upload in reversed(self.uploads):
            if upload.available_at <= moment:
                return upload
        return None
