"""A fast model of the seeded bench's polls: the real plan, without Home Assistant.

Each inverter's `InverterPlan` (its schedule, pace and online history, as the
integration runs them) polls one of the plants `bench_cloud` builds for the seeded rows
(the same uploads and publish delays), each on a token of its own, with Home Assistant's
refresh timing (a coordinator's refresh fires at whole seconds of the event loop's clock
plus the coordinator's fraction). Left out: the coordinator, its slots and entities, the
plant clock (upload times are taken as the cloud's) and the HTTP round trip.

It reproduces the seeded bench's figures closely (CONTRIBUTING.md, "Trying a change to
the polling") in about a hundredth of its time: for trying changes to polling.py over
hundreds of seeds. The bench (`scripts/bench`) decides.

    .venv/bin/python -m benchmarks.polling_model --seeds 301-348 [--set guard=3.5 ...] [--blocks]

`--trust 1` (or 0) tells every schedule the kind of delay instead of letting it judge
from its misses: what the schedule reaches with a perfect judgement. With random delays
each day is also measured against the frontier's schedules on that day's own delays.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
import hashlib
import math
import statistics
from types import SimpleNamespace
from typing import cast

from homeassistant.core import HomeAssistant

from custom_components.sunvec_connect.budget import TokenBudget
from custom_components.sunvec_connect.plan import InverterPlan
from custom_components.sunvec_connect.polling import UploadSchedule
from simulator.clock import ManualClock
from simulator.plant import Plant

from .bench_polling import AMSTERDAM, DAY, START
from .frontier import DelayDistribution, Schedule, best_staleness, best_staleness_on, frontier
from .harness import bench_cloud
from .report import PUBLISH_DELAY

STEADY_PERIOD = 24 * 3600.0
"""The steady rows' delay period (the random rows draw each delay)."""
MEASURED_BEFORE_END = timedelta(minutes=10)
"""Uploads out this close to a day's end are left out, as the bench does."""


@dataclass(frozen=True)
class DayFigures:
    """One inverter's day: calls per new upload in daylight, mean staleness, uploads lost."""

    calls_per_upload: float
    staleness: float
    never_shown: int
    delays: tuple[float, ...]
    """The publish delays of the day's uploads (for the frontier on the same draws)."""
    blocks: tuple[Block, ...] = ()
    """The day cut into `BLOCK` long parts from its first upload (where a day loses)."""


BLOCK = timedelta(hours=2)


@dataclass(frozen=True)
class Block:
    """Part of a day from its first upload: daylight calls, uploads, staleness of those shown."""

    calls: int
    uploads: int
    staleness: tuple[float, ...]


def _hass() -> HomeAssistant:
    """What the plan asks of Home Assistant: the location (for the sun's times)."""
    config = SimpleNamespace(
        latitude=AMSTERDAM[0], longitude=AMSTERDAM[1], elevation=0, time_zone="Europe/Amsterdam"
    )
    return cast("HomeAssistant", SimpleNamespace(config=config, data={}))


def _fraction(wifi_sn: str) -> float:
    """The coordinator's refresh fraction of a second (the bench derives it the same way)."""
    digest = hashlib.sha256(wifi_sn.encode()).digest()
    return (50_000 + int.from_bytes(digest[:4]) % 450_000) / 10**6


def run_plant(
    plant: Plant, days: int, settings: Sequence[tuple[str, float]] = ()
) -> list[DayFigures]:
    """Poll `plant` from `START` for `days` days, the schedule's `settings` changed."""
    uploads = sorted((available, time) for _index, time, available in plant.upload_log)
    plan = InverterPlan(_hass(), TokenBudget(), "model", wifi_sn=plant.config.wifi_sn, options={})
    for name, value in settings:
        setattr(plan.schedule, name, value)
    fraction = _fraction(plant.config.wifi_sn)
    now, end = START, START + days * DAY
    plan.start(now)
    calls: list[datetime] = []
    shown: dict[datetime, datetime] = {}
    newest: datetime | None = None
    seen = 0
    while now < end:
        while seen < len(uploads) and uploads[seen][0] <= now:
            newest = uploads[seen][1]
            seen += 1
        calls.append(now)
        is_new = newest is not None and newest not in shown
        if newest is not None and is_new:
            shown[newest] = now
        wait = max(plan.after_upload(now, newest, is_new=is_new), timedelta(seconds=5))
        # The bench's event loop runs on the frozen wall clock.
        loop = now.timestamp()
        now += timedelta(seconds=int(loop) + fraction + wait.total_seconds() - loop)
    return [_day(uploads, calls, shown, START + day * DAY) for day in range(days)]


def _day(
    uploads: list[tuple[datetime, datetime]],
    calls: list[datetime],
    shown: dict[datetime, datetime],
    start: datetime,
) -> DayFigures:
    """The figures of the day from `start`, measured as `harness.figures` does."""
    day = [
        (available, time)
        for available, time in uploads
        if start <= available < start + DAY - MEASURED_BEFORE_END
    ]
    first, last = day[0][0], day[-1][0]
    daylight_calls = sum(first <= moment <= last for moment in calls)
    staleness = [
        (shown[time] - available).total_seconds() for available, time in day if time in shown
    ]
    blocks = []
    for number in range(max(1, math.ceil((last - first) / BLOCK))):
        low, high = first + number * BLOCK, min(last, first + (number + 1) * BLOCK)

        def inside(moment: datetime, low: datetime = low, high: datetime = high) -> bool:
            # The last block holds the day's last upload and the calls at its moment.
            return low <= moment < high or moment == high == last

        part = [(available, time) for available, time in day if inside(available)]
        blocks.append(
            Block(
                sum(inside(moment) for moment in calls),
                len(part),
                tuple(
                    (shown[time] - available).total_seconds()
                    for available, time in part
                    if time in shown
                ),
            )
        )
    return DayFigures(
        daylight_calls / len(day),
        statistics.fmean(staleness),
        len(day) - len(staleness),
        tuple((available - time).total_seconds() for available, time in day),
        tuple(blocks),
    )


def run(
    seeds: range, *, steady: bool, days: int = 2, settings: Sequence[tuple[str, float]] = ()
) -> list[list[DayFigures]]:
    """Per seed (one inverter each, as the seeded rows number them): its days' figures."""
    period = STEADY_PERIOD if steady else None
    first = seeds.start
    cloud = bench_cloud(
        ManualClock(START), len(seeds), delay_period=period, own_tokens=True, seed=first
    )
    figures = []
    for plant in cloud.plants.values():
        plant.advance_to(START + days * DAY + timedelta(hours=1))
        figures.append(run_plant(plant, days, settings))
    return figures


@contextmanager
def trust_told(trust: float | None) -> Iterator[None]:
    """Fix every schedule's trust in the trend at `trust` (None: the schedule judges)."""
    judged = UploadSchedule.trust
    if trust is not None:
        setattr(UploadSchedule, "trust", property(lambda _schedule: trust))  # noqa: B010
    try:
        yield
    finally:
        setattr(UploadSchedule, "trust", judged)  # noqa: B010


def _on_the_same_draws(hull: list[Schedule], days: list[DayFigures]) -> str:
    """The ratio to the frontier's schedule on each day's own delays, and that schedule's luck.

    Free of the draws' luck, this ratio compares changes with a few dozen seeds; the
    second figure counts the days on which the frontier's schedule itself lies over 3 %
    above the frontier (what one seed's day can tell).
    """
    ratios, lucky = [], 0
    for figure in days:
        on_draws = best_staleness_on(hull, figure.calls_per_upload, figure.delays)
        ratios.append(figure.staleness / on_draws)
        lucky += on_draws > 1.03 * best_staleness(hull, figure.calls_per_upload)
    return (
        f", against the frontier's schedule on the same delays {statistics.fmean(ratios):.4f}"
        f" (that schedule over 1.03 x the frontier on {lucky} of {len(days)} days)"
    )


def pooled_blocks(days: Sequence[DayFigures]) -> list[tuple[float, float]]:
    """Per block, over every inverter's day: calls per upload and mean staleness."""
    pooled = []
    for number in range(max(len(figure.blocks) for figure in days)):
        blocks = [figure.blocks[number] for figure in days if number < len(figure.blocks)]
        uploads = sum(block.uploads for block in blocks)
        staleness = [late for block in blocks for late in block.staleness]
        if uploads and staleness:
            calls = sum(block.calls for block in blocks)
            pooled.append((calls / uploads, statistics.fmean(staleness)))
    return pooled


def _parse_setting(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    if name not in UploadSchedule.__dataclass_fields__:
        raise argparse.ArgumentTypeError(f"UploadSchedule has no field {name}")
    return name, float(value)


def main(argv: list[str] | None = None) -> None:
    """Print calls per upload, staleness and the random rows' ratio to the frontier, per day."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seeds", default="301-348", help="first-last seed, inclusive")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--set", type=_parse_setting, action="append", default=[])
    parser.add_argument("--trust", type=float, help="fix the trust in the trend (0 to 1)")
    parser.add_argument(
        "--blocks", action="store_true", help="also by two hours from each day's first upload"
    )
    args = parser.parse_args(argv)
    low, _, high = str(args.seeds).partition("-")
    seeds = range(int(low), int(high or low) + 1)
    hull = frontier(DelayDistribution.uniform(*PUBLISH_DELAY))
    for steady in (True, False):
        with trust_told(args.trust):
            figures = run(seeds, steady=steady, days=args.days, settings=args.set)
        for day in range(args.days):
            days = [inverter[day] for inverter in figures]
            calls = statistics.fmean(figure.calls_per_upload for figure in days)
            staleness = statistics.fmean(figure.staleness for figure in days)
            line = f"{'steady' if steady else 'random'} day {day + 1}: calls per upload"
            line += f" {calls:.4f}, mean staleness {staleness:.2f} s"
            line += f", never shown {sum(figure.never_shown for figure in days)}"
            if not steady:
                line += f", against the frontier {staleness / best_staleness(hull, calls):.4f}"
                line += _on_the_same_draws(hull, days)
            print(line)
            if args.blocks:
                parts = (f"{calls:.3f} / {late:.1f} s" for calls, late in pooled_blocks(days))
                print("  by two hours (calls per upload / staleness):", ", ".join(parts))


if __name__ == "__main__":
    main()
