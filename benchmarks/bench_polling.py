"""Benchmark of the polling strategies over a simulated day (run by scripts/bench).

Not part of scripts/test: it measures, on a virtual clock, what the strategies cost
and deliver, writes docs/benchmarks.md and docs/images/, and fails when the
upload-aligned strategy misses a target. The inverters produce under broken clouds
(`bench_cloud`'s default), seeded per inverter, and every scenario seeds Python's
random numbers (Home Assistant staggers refreshes at random), so every run sees the
same day and writes the same figures; only the CPU times are measured anew.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
import random

from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from simulator import ManualClock, create_app

from .harness import (
    VirtualRun,
    bench_cloud,
    energy_figures,
    figures,
    pacing_figures,
    pv_energy_snapshot,
    restart_figures,
)
from .report import (
    RANDOM_AFTER_SETUP,
    SEEDED_INVERTERS,
    SEEDED_RUNS,
    BenchResults,
    write_report,
)

START = datetime(2026, 6, 20, 22, 0, 3, tzinfo=UTC)
"""Midnight in Amsterdam: a whole local day, night included."""
DAY = timedelta(hours=24)
AMSTERDAM = (52.37, 4.90)
"""Home Assistant's location: the plants' (the sun's times give the first day's pace)."""
RESULTS = BenchResults()
DOCS = Path(__file__).resolve().parent.parent / "docs"

DAILY = 24 * 3600.0
SCENARIOS = [
    ("fixed 60 s", 1, 60, DAILY),
    ("fixed 300 s", 1, 300, DAILY),
    ("upload-aligned", 1, None, DAILY),
    ("upload-aligned, 10 inverters", 10, None, DAILY),
    ("upload-aligned, 30 inverters", 30, None, DAILY),
    ("stress: upload-aligned, delay cycling every 3 h", 1, None, 3 * 3600.0),
    ("stress: upload-aligned, independent random delays", 1, None, None),
    ("stress: fixed 60 s, independent random delays", 1, 60, None),
    ("stress: fixed 300 s, independent random delays", 1, 300, None),
]
MANY_INVERTERS = 100
MANY_DAYS = 2
"""The 100 inverters run two days: the second, measured, paces from a learned day."""
FIXED_LONG_INTERVAL = 30 * 60
"""The fixed interval of the energy row: its polls are 30 minutes apart."""
RESTART_INVERTERS = 30
RESTART_AT = timedelta(hours=12)
"""Noon, after the morning's uploads."""
SEEDED_SEED = 501
"""The seeds of the skies and delays of the seeded rows' inverters: 501, 502, ... (the
polling was tried out on others while it was developed)."""
SETUP_INVERTERS = 10
SETUP_AT = timedelta(hours=10)
"""10:00, in daylight: the learning after setup is measured on uploads, not on a night."""
AFTER_SETUP = timedelta(hours=2)


@asynccontextmanager
async def bench_run(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    name: str,
    inverters: int,
    delay_period: float | None,
    start: datetime = START,
    *,
    own_tokens: bool = False,
    seed: int = 11,
) -> AsyncIterator[VirtualRun]:
    """A seeded run of `inverters` on one token (or each on its own) from `start`."""
    # Home Assistant staggers refreshes at random: seeded, the run repeats.
    random.seed(name)
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    hass.config.latitude, hass.config.longitude = AMSTERDAM
    # The virtual clock jumps: asyncio's slow-callback warnings would report virtual time.
    hass.loop.set_debug(False)
    clock = ManualClock(start)
    cloud = bench_cloud(
        clock, inverters, delay_period=delay_period, own_tokens=own_tokens, seed=seed
    )
    server = TestServer(create_app(cloud), host="127.0.0.1")
    await server.start_server(access_log=None)
    try:
        yield VirtualRun(hass, freezer, clock, cloud, str(server.make_url("/")).rstrip("/"))
    finally:
        cloud.release_hangs.set()
        await server.close()


@pytest.mark.parametrize(("name", "inverters", "interval", "delay_period"), SCENARIOS)
async def test_scenario(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
    name: str,
    inverters: int,
    interval: int | None,
    delay_period: float | None,
) -> None:
    async with bench_run(hass, freezer, name, inverters, delay_period) as run:
        await run.add_entries(interval)
        await run.run_until(START + DAY)
        RESULTS.strategies[name] = figures(name, run, START, START + DAY)
        await run.stop()


@pytest.mark.parametrize(("name", "first_day", "delay_period"), SEEDED_RUNS)
async def test_seeded_second_day(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
    name: str,
    first_day: str,
    delay_period: float | None,
) -> None:
    """Inverters of users of their own (a token each), set up at midnight, over two days.

    The second day is what a user sees on any day; the first, after the setup, is
    measured too. One inverter's day varies from seed to seed by several per cent:
    their sum does not.
    """
    async with bench_run(
        hass, freezer, name, SEEDED_INVERTERS, delay_period, own_tokens=True, seed=SEEDED_SEED
    ) as run:
        await run.add_entries(None)
        await run.run_until(START + DAY)
        RESULTS.strategies[first_day] = figures(first_day, run, START, START + DAY)
        writes = run.probe.state_writes
        await run.run_until(START + 2 * DAY)
        RESULTS.strategies[name] = figures(
            name, run, START + DAY, START + 2 * DAY, writes_before=writes
        )
        await run.stop()


async def test_random_delays_after_setup(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, socket_enabled: None
) -> None:
    """Independent random delays, measured over the first two hours after a setup at 10:00.

    Ten inverters: two hours hold 24 uploads of one, too few for a mean that repeats
    across seeds.
    """
    name = RANDOM_AFTER_SETUP
    setup = START + SETUP_AT
    async with bench_run(hass, freezer, name, SETUP_INVERTERS, None, setup) as run:
        await run.add_entries(None)
        end = setup + AFTER_SETUP + timedelta(minutes=10)
        await run.run_until(end)
        RESULTS.strategies[name] = figures(name, run, setup, end)
        await run.stop()


async def test_many_inverters_share_the_token(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, socket_enabled: None
) -> None:
    """100 PV-only inverters on one token, more than its calls allow: fair pacing."""
    name = f"fair pacing, {MANY_INVERTERS} inverters"
    async with bench_run(hass, freezer, name, MANY_INVERTERS, DAILY) as run:
        await run.add_entries(None)
        end = START + MANY_DAYS * DAY
        await run.run_until(end - DAY)
        midnight = pv_energy_snapshot(run)
        await run.run_until(end)
        RESULTS.pacing = pacing_figures(run, end - DAY, end)
        RESULTS.energies[name] = energy_figures(name, run, midnight, pv_energy_snapshot(run))
        await run.stop()


async def test_fixed_thirty_minutes_energy(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, socket_enabled: None
) -> None:
    """100 PV-only inverters on one token, each polled every 30 minutes: PV energy."""
    name = f"fixed {FIXED_LONG_INTERVAL // 60} min, {MANY_INVERTERS} inverters"
    async with bench_run(hass, freezer, name, MANY_INVERTERS, DAILY) as run:
        await run.add_entries(FIXED_LONG_INTERVAL)
        midnight = pv_energy_snapshot(run, starting=True)
        await run.run_until(START + DAY)
        RESULTS.energies[name] = energy_figures(name, run, midnight, pv_energy_snapshot(run))
        await run.stop()


async def test_restart_at_noon(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, socket_enabled: None
) -> None:
    """30 inverters on one token; Home Assistant restarts at noon."""
    name = f"restart at noon, {RESTART_INVERTERS} inverters"
    async with bench_run(hass, freezer, name, RESTART_INVERTERS, DAILY) as run:
        await run.add_entries(None)
        await run.run_until(START + RESTART_AT)
        wall, virtual = await run.restart()
        await run.run_until(START + DAY)
        RESULTS.restart = restart_figures(run, wall, virtual, START + DAY)
        RESULTS.strategies[name] = figures(name, run, START, START + DAY)
        await run.stop()


def test_report_and_targets() -> None:
    rows = len(SCENARIOS) + 2 * len(SEEDED_RUNS) + 2
    assert RESULTS.complete(rows), "run the whole file: the scenarios feed it"
    misses = write_report(RESULTS, DOCS)
    print((DOCS / "benchmarks.md").read_text())
    print("\n".join(misses) if misses else "All targets met.")
    assert not misses
