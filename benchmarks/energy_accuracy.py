"""How far the integration's energies are from the simulator's 1-second truth.

A pure measurement, without Home Assistant: a simulated plant uploads every 5 minutes,
the integration's own `PowerIntegrator` integrates the uploaded powers exactly as the
PV energy and battery energy sensors do, and the yield counters are read as the
inverter reports them (to 0.1 kWh). Each estimate is compared with the energy the
simulator integrated at 1-second resolution over the same span (`EnergyTruth`).
`tests/test_energy_accuracy.py` checks these figures; `tests/test_soak.py` measures the
real integration over loopback through a broken-cloud week with faults.

`python -m benchmarks.energy_accuracy` prints the table docs/accuracy.md quotes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
import importlib
import statistics
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from custom_components.sunvec_connect.const import MAX_INTEGRATION_GAP
from simulator import EnergyTruth, Plant, PlantConfig, Upload, Weather
from simulator.demo import hybrid_config, pv_only_config

ZONE: Final = ZoneInfo("Europe/Amsterdam")
DAY: Final = date(2026, 6, 21)
"""The day measured: the benchmark's summer day."""
WEEK: Final = (date(2026, 6, 15), date(2026, 6, 22))
"""The first day of the week measured and the day after its last."""
WARM_UP: Final = timedelta(days=1)
"""Each plant runs this long before the span measured, so its battery is in its rhythm."""

PLANTS: Final[dict[str, Callable[..., PlantConfig]]] = {
    "PV-only": pv_only_config,
    "hybrid": hybrid_config,
}
"""The demo plants: 4 kW on 2 strings; 8 kW on 3 strings with a 10 kWh, 3 kW battery."""


class Integrator(Protocol):
    """The integration's power integrator (`PowerIntegrator`)."""

    def offer(self, reading: float | None, upload_time: datetime | None) -> float | None:
        """Add the sample of the upload made at `upload_time`; return the total in kWh."""


def power_integrator() -> Integrator:
    """A new `PowerIntegrator` of the integration, configured as its sensors use it."""
    # energy.py is being renamed counters.py (Home Assistant loads energy.py as a platform).
    for module_name in ("counters", "energy"):
        try:
            module = importlib.import_module(f"custom_components.sunvec_connect.{module_name}")
        except ImportError:
            continue
        if (factory := getattr(module, "PowerIntegrator", None)) is not None:
            integrator: Integrator = factory(max_gap=MAX_INTEGRATION_GAP)
            return integrator
    raise ImportError("custom_components.sunvec_connect has no PowerIntegrator")


@dataclass(slots=True)
class PlantRun:
    """What a plant uploaded over a span, with its true energies along the way."""

    uploads: list[Upload] = field(default_factory=list)
    """Every upload from the span's start to its end, in order (each carries its truth)."""
    truth_at_midnight: dict[date, EnergyTruth] = field(default_factory=dict)
    """The true energies at the start of each local day of the span."""


def run_plant(config: PlantConfig, first_day: date, end_day: date) -> PlantRun:
    """Run a plant through the local days `first_day` up to (not including) `end_day`."""
    start, end = local_midnight(first_day), local_midnight(end_day)
    plant = Plant(config, start - WARM_UP)
    run = PlantRun()
    day = first_day
    while day < end_day:
        plant.advance_to(local_midnight(day))
        run.truth_at_midnight[day] = plant.truth.copy()
        day_end = local_midnight(day + timedelta(days=1))
        moment = local_midnight(day)
        while moment < day_end:
            # One upload at most per step: the plant keeps only its recent ones.
            moment = min(day_end, moment + timedelta(seconds=config.upload_interval))
            plant.advance_to(moment)
            newest = plant.uploads[-1] if plant.uploads else None
            if (
                newest is not None
                and start <= newest.time < end
                and (not run.uploads or newest.index > run.uploads[-1].index)
            ):
                run.uploads.append(newest)
        day += timedelta(days=1)
    return run


def local_midnight(day: date) -> datetime:
    """The start of `day` in the plants' time zone."""
    return datetime.combine(day, time(0), tzinfo=ZONE)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One sensor's energy over a span against the truth, in kWh."""

    estimate: float
    truth: float

    @property
    def error(self) -> float:
        """Relative error in %; positive when the sensor reads too much."""
        return (self.estimate - self.truth) / self.truth * 100 if self.truth else 0.0


def _pv_power(result: dict[str, object]) -> float | None:
    strings = [
        float(value)
        for key in ("powerdc1", "powerdc2", "powerdc3", "powerdc4")
        if isinstance(value := result.get(key), int | float)
    ]
    return sum(strings) if strings else None


def _battery(sign: float) -> Callable[[dict[str, object]], float | None]:
    def power(result: dict[str, object]) -> float | None:
        value = result.get("batPower")
        return max(sign * float(value), 0.0) if isinstance(value, int | float) else None

    return power


def _integral(uploads: list[Upload], power: Callable[[dict[str, object]], float | None]) -> float:
    integrator = power_integrator()
    total: float | None = 0.0
    for upload in uploads:
        total = integrator.offer(power(upload.result), upload.time)
    return total or 0.0


def _counter(upload: Upload, key: str) -> float:
    value = upload.result[key]
    assert isinstance(value, int | float)
    return float(value)


def measure(run: PlantRun) -> dict[str, Measurement]:
    """Each energy sensor's reading over the run against the truth over the same span.

    Integrals and the lifetime yield span the first to the last upload; yield today
    spans each day from midnight to its last upload, summed over the days.
    """
    uploads = run.uploads
    first, last = uploads[0], uploads[-1]
    span = last.truth - first.truth
    pv_integral = _integral(uploads, _pv_power)
    ac_integral = _integral(uploads, lambda result: _counter_or_none(result, "acpower"))
    yield_total = _counter(last, "yieldtotal") - _counter(first, "yieldtotal")
    measurements = {
        "pv_energy": Measurement(pv_integral, span.pv_dc),
        "yield_total": Measurement(yield_total, span.pv_ac),
        "yield_today": _yield_today(run),
    }
    if any(upload.result.get("batPower") is not None for upload in uploads):
        measurements["battery_charge_energy"] = Measurement(
            _integral(uploads, _battery(1.0)), span.battery_charge
        )
        measurements["battery_discharge_energy"] = Measurement(
            _integral(uploads, _battery(-1.0)), span.battery_discharge
        )
    else:
        # A proposal, not a sensor: the metered AC yield scaled to DC by the ratio of
        # the sampled powers (an inverter without battery turns all PV into AC).
        scaled = yield_total * pv_integral / ac_integral if ac_integral else 0.0
        measurements["pv_energy_from_yield"] = Measurement(scaled, span.pv_dc)
    return measurements


def _counter_or_none(result: dict[str, object], key: str) -> float | None:
    value = result.get(key)
    return float(value) if isinstance(value, int | float) else None


def _yield_today(run: PlantRun) -> Measurement:
    estimate = truth = 0.0
    for day, at_midnight in run.truth_at_midnight.items():
        same_day = [u for u in run.uploads if u.time.astimezone(ZONE).date() == day]
        if same_day:
            estimate += _counter(same_day[-1], "yieldtoday")
            truth += (same_day[-1].truth - at_midnight).pv_ac
    return Measurement(estimate, truth)


def measure_plant(
    plant: str, weather: Weather, first_day: date, end_day: date, seed: int | None = None
) -> dict[str, Measurement]:
    """Measure one demo plant through the days given, in the weather given."""
    overrides: dict[str, object] = {"weather": weather}
    if seed is not None:
        overrides["seed"] = seed
    return measure(run_plant(PLANTS[plant](**overrides), first_day, end_day))


@dataclass(frozen=True, slots=True)
class Spread:
    """The spread of one sensor's error over many seeded skies, in %."""

    median_abs: float
    max_abs: float

    def __str__(self) -> str:
        """As docs/accuracy.md quotes it."""
        return f"{self.median_abs:.2f} / {self.max_abs:.2f} %"


def spread(plant: str, first_day: date, end_day: date, seeds: Iterable[int]) -> dict[str, Spread]:
    """Each sensor's error under broken clouds over the days given, for many seeded skies."""
    errors: dict[str, list[float]] = {}
    for seed in seeds:
        measurements = measure_plant(plant, Weather.BROKEN, first_day, end_day, seed)
        for sensor, measurement in measurements.items():
            errors.setdefault(sensor, []).append(abs(measurement.error))
    return {
        sensor: Spread(statistics.median(values), max(values)) for sensor, values in errors.items()
    }


DAY_SEEDS: Final = range(1, 31)
"""The skies of the broken-cloud days the spread is taken over."""
WEEK_SEEDS: Final = range(1, 21)
"""The skies of the broken-cloud weeks the spread is taken over."""
LABELS: Final = {
    "pv_energy": ("PV energy", "PV (DC) energy"),
    "pv_energy_from_yield": ("(proposal) Total yield scaled to DC", "PV (DC) energy"),
    "yield_total": ("Total yield", "AC energy from PV"),
    "yield_today": ("Yield today", "AC energy from PV"),
    "battery_charge_energy": ("Battery charge energy", "energy into the battery"),
    "battery_discharge_energy": ("Battery discharge energy", "energy out of the battery"),
}


def table() -> str:
    """docs/accuracy.md's table: each sensor's error against the 1-second truth, in %.

    Single skies are the demo plants' own (signed error); spreads are the median and
    the worst absolute error over many seeded skies.
    """
    day_after = DAY + timedelta(days=1)
    header = (
        "| Plant | Sensor | Against | Clear day | Broken-cloud day | Broken-cloud days, "
        f"median / worst of {len(DAY_SEEDS)} | Broken-cloud week | Broken-cloud weeks, "
        f"median / worst of {len(WEEK_SEEDS)} | Overcast day |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for plant in PLANTS:
        clear = measure_plant(plant, Weather.CLEAR, DAY, day_after)
        broken = measure_plant(plant, Weather.BROKEN, DAY, day_after)
        days = spread(plant, DAY, day_after, DAY_SEEDS)
        week = measure_plant(plant, Weather.BROKEN, *WEEK)
        weeks = spread(plant, *WEEK, WEEK_SEEDS)
        overcast = measure_plant(plant, Weather.OVERCAST, DAY, day_after)
        for sensor in broken:
            name, against = LABELS[sensor]
            lines.append(
                f"| {plant} | {name} | {against} | {clear[sensor].error:+.2f} % | "
                f"{broken[sensor].error:+.2f} % | {days[sensor]} | {week[sensor].error:+.2f} % | "
                f"{weeks[sensor]} | {overcast[sensor].error:+.2f} % |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
