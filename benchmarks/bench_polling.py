"""Benchmark of the polling strategies over a simulated day (run by scripts/bench).

Not part of scripts/test: it measures, on a virtual clock, what the strategies cost
and deliver, writes docs/benchmarks.md and docs/images/, and fails when the
upload-aligned strategy misses a target. The inverters produce under broken clouds
(`bench_cloud`'s default), seeded per inverter, so every run sees the same day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from simulator import ManualClock, create_app

from .harness import StrategyFigures, VirtualRun, bench_cloud, figures
from .report import write_report

START = datetime(2026, 6, 20, 22, 0, 3, tzinfo=UTC)
"""Midnight in Amsterdam: a whole local day, night included."""
DAY = timedelta(hours=24)
RESULTS: dict[str, StrategyFigures] = {}
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
]


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
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    # The virtual clock jumps: asyncio's slow-callback warnings would report virtual time.
    hass.loop.set_debug(False)
    clock = ManualClock(START)
    cloud = bench_cloud(clock, inverters, delay_period=delay_period)
    server = TestServer(create_app(cloud), host="127.0.0.1")
    await server.start_server(access_log=None)
    try:
        run = VirtualRun(hass, freezer, clock, cloud, str(server.make_url("/")).rstrip("/"))
        await run.add_entries(interval)
        await run.run_until(START + DAY)
        RESULTS[name] = figures(name, run, START, START + DAY)
        await run.stop()
    finally:
        cloud.release_hangs.set()
        await server.close()


def test_report_and_targets() -> None:
    assert len(RESULTS) == len(SCENARIOS), "run the whole file: the scenarios feed the report"
    misses = write_report(RESULTS, DOCS)
    print((DOCS / "benchmarks.md").read_text())
    print("\n".join(misses) if misses else "All targets met.")
    assert not misses
