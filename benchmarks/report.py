"""Write docs/benchmarks.md and its plots from the benchmark's figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
import math
from pathlib import Path
import statistics
from zoneinfo import ZoneInfo

import matplotlib as mpl

mpl.use("Agg")
import matplotlib.pyplot as plt

from .frontier import DelayDistribution, Schedule, best_staleness, frontier
from .harness import EnergyFigures, PacingFigures, RestartFigures, StrategyFigures

ZONE = ZoneInfo("Europe/Amsterdam")
SINGLE = ("fixed 60 s", "fixed 300 s", "upload-aligned")
ALIGNED = "upload-aligned"
MANY = "upload-aligned, 30 inverters"
RANDOM_ALIGNED = "stress: upload-aligned, independent random delays"
RANDOM_AFTER_SETUP = (
    "stress: upload-aligned, independent random delays, first 2 h after a setup at 10:00"
)
SEEDED_INVERTERS = 24
STEADY_SEEDED = f"upload-aligned, {SEEDED_INVERTERS} users, second day"
RANDOM_SEEDED = (
    f"stress: upload-aligned, independent random delays, {SEEDED_INVERTERS} users, second day"
)
SEEDED_RUNS = [
    (STEADY_SEEDED, STEADY_SEEDED.replace("second day", "first day"), 24 * 3600.0),
    (RANDOM_SEEDED, RANDOM_SEEDED.replace("second day", "first day"), None),
]
"""(row measured on the second day, row of the first day after the setup, delay period)
of the runs of inverters each on a token of its own (users)."""
STEADY_FIRST_DAY = SEEDED_RUNS[0][1]
RANDOM_FIRST_DAY = SEEDED_RUNS[1][1]
RANDOM_FIXED = (
    "stress: fixed 60 s, independent random delays",
    "stress: fixed 300 s, independent random delays",
)
PUBLISH_DELAY = (20.0, 90.0)
"""The simulator's publish delays: uniform in this range in the random-delay scenario."""
DAILY_LIMIT = 9_990
SETUP_WALL_LIMIT = 5.0
ENERGY_ERROR_LIMIT = 2.0
"""%: PV energy booked over the day against the simulator's 1-second truth."""
ENERGY_RUNS = 2
"""Runs with an energy row: fair pacing of 100 inverters, a fixed 30-minute interval."""


@dataclass
class BenchResults:
    """Everything the benchmark measured."""

    strategies: dict[str, StrategyFigures] = field(default_factory=dict)
    pacing: PacingFigures | None = None
    restart: RestartFigures | None = None
    energies: dict[str, EnergyFigures] = field(default_factory=dict)

    def complete(self, strategies: int) -> bool:
        """Whether every run that makes a strategy row ran, and the others."""
        return (
            self.pacing is not None
            and self.restart is not None
            and len(self.strategies) == strategies
            and len(self.energies) == ENERGY_RUNS
        )


@dataclass(frozen=True)
class FrontierPoint:
    """A strategy of the random-delay scenario against the best any schedule can do."""

    name: str
    calls_per_upload: float
    staleness_mean: float
    best: float

    @property
    def ratio(self) -> float:
        """Our mean staleness over the frontier's at the same calls per upload."""
        return self.staleness_mean / self.best


@dataclass(frozen=True)
class Spread:
    """How a figure of one inverter varies across the inverters of a seeded row."""

    low: float
    high: float
    error: float
    """The standard error of their mean."""


def spread(values: list[float]) -> Spread:
    """The range and the standard error of the mean of per-inverter figures."""
    error = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return Spread(min(values), max(values), error)


def _hours(moment: datetime) -> float:
    local = moment.astimezone(ZONE)
    return local.hour + local.minute / 60 + local.second / 3600


def frontier_points(results: BenchResults, hull: list[Schedule]) -> dict[str, FrontierPoint]:
    """Each random-delay strategy at its daylight calls per upload, with the frontier's best."""
    points = {}
    seeded = (RANDOM_SEEDED, RANDOM_FIRST_DAY)
    for name in (*seeded, RANDOM_ALIGNED, RANDOM_AFTER_SETUP, *RANDOM_FIXED):
        figures = results.strategies[name]
        points[name] = FrontierPoint(
            name,
            figures.calls_per_upload_day,
            figures.staleness_mean,
            best_staleness(hull, figures.calls_per_upload_day),
        )
    return points


def targets(results: BenchResults, points: dict[str, FrontierPoint]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each target of the issues; all figures repeat run to run.

    Item 5's targets are met on one inverter's first day and on the second day of
    many users' inverters both.
    """
    strategies = results.strategies
    aligned, many = strategies[ALIGNED], strategies[MANY]
    steady = strategies[STEADY_SEEDED]
    pacing, restart = results.pacing, results.restart
    assert pacing is not None
    assert restart is not None
    known_writes = sum(figures.writes_on_known_upload for figures in strategies.values())
    fairness = pacing.shown_max / max(pacing.shown_min, 1)
    single, ours = points[RANDOM_ALIGNED], points[RANDOM_SEEDED]
    learning = points[RANDOM_AFTER_SETUP]
    return [
        *(
            (
                f"{name}: calls per new upload in daylight <= 1.04",
                f"{figures.calls_per_upload_day:.3f}",
                figures.calls_per_upload_day <= 1.04,
            )
            for name, figures in ((ALIGNED, aligned), (STEADY_SEEDED, steady))
        ),
        *(
            (
                f"{name}: mean staleness <= 7 s",
                f"{figures.staleness_mean:.1f} s",
                figures.staleness_mean <= 7,
            )
            for name, figures in ((ALIGNED, aligned), (STEADY_SEEDED, steady))
        ),
        (
            "upload-aligned: p95 staleness <= 60 s",
            f"{aligned.staleness_p95:.1f} s",
            aligned.staleness_p95 <= 60,
        ),
        (
            "upload-aligned: calls per inverter per day <= 400",
            f"{aligned.calls_per_inverter_day:.0f}",
            aligned.calls_per_inverter_day <= 400,
        ),
        (
            "30 inverters on one token: rate-limit responses = 0",
            str(many.rate_limited),
            many.rate_limited == 0,
        ),
        (
            "30 inverters on one token: calls in any 60 s <= 10",
            str(many.peak_calls_per_minute),
            many.peak_calls_per_minute <= 10,
        ),
        (
            "state writes for polls that returned an already-seen upload = 0",
            str(known_writes),
            known_writes == 0,
        ),
        (
            f"{pacing.inverters} inverters on one token: calls in any 24 h <= {DAILY_LIMIT:,}",
            f"{pacing.max_calls_24h:,}",
            pacing.max_calls_24h <= DAILY_LIMIT,
        ),
        (
            f"{pacing.inverters} inverters on one token: rate-limit responses = 0",
            str(pacing.rate_limited),
            pacing.rate_limited == 0,
        ),
        (
            (
                f"{pacing.inverters} inverters on one token: longest time between the upload times"
                " of two consecutive uploads shown, in daylight <= 15 min"
            ),
            _minutes(pacing.longest_upload_gap),
            pacing.longest_upload_gap <= 15 * 60,
        ),
        (
            (
                f"{pacing.inverters} inverters on one token: fairness, uploads shown per inverter"
                " (most / fewest) <= 1.2"
            ),
            f"{pacing.shown_max} / {pacing.shown_min} = {fairness:.3f}",
            fairness <= 1.2,
        ),
        (
            (
                f"restart at noon, {restart.inverters} inverters: the setup of every entry waits"
                " for nothing (virtual time = 0 s; wall time below)"
            ),
            f"{restart.setup_virtual_seconds:.0f} s",
            restart.setup_virtual_seconds == 0,
        ),
        (
            (
                f"restart at noon, {restart.inverters} inverters: every inverter shows an upload"
                " fetched after the restart < 5 min"
            ),
            _minutes(restart.all_confirmed_after),
            restart.all_confirmed_after < 300,
        ),
        (
            f"restart at noon, {restart.inverters} inverters: calls in the first 5 minutes <= 45",
            str(restart.calls_first_5_min),
            restart.calls_first_5_min <= 45,
        ),
        (
            f"restart at noon, {restart.inverters} inverters: rate-limit responses = 0",
            str(restart.rate_limited),
            restart.rate_limited == 0,
        ),
        *(
            (
                (
                    f"independent random delays{where}: mean staleness / the frontier's at the"
                    " same calls per upload <= 1.03"
                ),
                f"{point.staleness_mean:.1f} s / {point.best:.1f} s = {point.ratio:.3f}",
                point.ratio <= 1.03,
            )
            for where, point in (("", single), (f", {SEEDED_INVERTERS} users, second day", ours))
        ),
        (
            (
                "independent random delays, the first 2 h after a setup (10 inverters):"
                " mean staleness / the frontier's at the same calls per upload <= 1.1"
            ),
            f"{learning.staleness_mean:.1f} s / {learning.best:.1f} s = {learning.ratio:.3f}",
            learning.ratio <= 1.1,
        ),
        *(
            (
                (
                    f"{energy.name}: PV energy booked over the day against the 1-second truth,"
                    f" within {ENERGY_ERROR_LIMIT:.0f} %"
                ),
                f"{energy.booked:,.1f} / {energy.truth:,.1f} kWh: {energy.error:+.2f} %",
                abs(energy.error) <= ENERGY_ERROR_LIMIT,
            )
            for energy in results.energies.values()
        ),
    ]


def measured_targets(results: BenchResults) -> list[tuple[str, str, bool]]:
    """Targets on real time, measured anew on every run (they vary with the machine)."""
    restart = results.restart
    assert restart is not None
    return [
        (
            (
                f"restart at noon: every one of the {restart.inverters} entries loaded (wall time)"
                f" < {SETUP_WALL_LIMIT:.0f} s"
            ),
            f"{restart.setup_wall_seconds:.2f} s",
            restart.setup_wall_seconds < SETUP_WALL_LIMIT,
        )
    ]


def seeded_section(results: BenchResults, hull: list[Schedule]) -> list[str]:
    """Why the item-5 targets are measured on many users' second day, and the spread."""
    strategies = results.strategies
    steady, steady_first = strategies[STEADY_SEEDED], strategies[STEADY_FIRST_DAY]
    random_day, random_first = strategies[RANDOM_SEEDED], strategies[RANDOM_FIRST_DAY]
    aligned, single = strategies[ALIGNED], strategies[RANDOM_ALIGNED]
    staleness = spread([mean for _, mean in steady.per_inverter])
    calls = spread([cpu for cpu, _ in steady.per_inverter])
    ratios = spread([mean / best_staleness(hull, cpu) for cpu, mean in random_day.per_inverter])

    return [
        "The targets of the steady day (calls per upload, mean staleness) and of the",
        "independent random delays (against the frontier) are measured on the second day",
        f"of {SEEDED_INVERTERS} inverters, each on a token of its own, set up at midnight,",
        "as well as on one inverter's first day:",
        "",
        "- one inverter's day holds 168 uploads: with independent random delays its mean",
        "  staleness varies from seed to seed by about 5 % of the frontier, more than the",
        "  target's 3 %; the sum of many inverters' days does not (their standard error",
        "  is shown below), and each inverter has a token of its own, so none waits for",
        "  another's call;",
        "- the second day is what a user sees on any day: an integration runs for days.",
        "  The first day after a setup at midnight also holds the learning from nothing",
        "  (the publish delay starts at 60 s) and a first morning without a wake seen",
        "  (watched around sunrise); the learning is measured apart (the first two hours",
        "  after a setup at 10:00), and the first day is shown below too.",
        "",
        "The targets were first measured on the rows 'upload-aligned' (one inverter,",
        "first day) and 'stress: upload-aligned, independent random delays': those",
        "targets are kept, both must be met.",
        "",
        "| row | calls per new upload, daylight | mean staleness | against the frontier |",
        "|---|---|---|---|",
        *(
            _seeded_row(name, figures, hull if against else None)
            for name, figures, against in (
                (STEADY_SEEDED, steady, False),
                (STEADY_FIRST_DAY, steady_first, False),
                (f"{ALIGNED} (one inverter, first day)", aligned, False),
                (RANDOM_SEEDED, random_day, True),
                (RANDOM_FIRST_DAY, random_first, True),
                (f"{RANDOM_ALIGNED} (one inverter, first day)", single, True),
            )
        ),
        "",
        (
            "After +-: the standard error of the mean of the inverters' own figures (each"
            " inverter's calls per upload, mean staleness, and mean staleness over the"
            " frontier's at its calls per upload); a row of one inverter has none."
        ),
        "",
        (
            f"Across the {len(steady.per_inverter)} inverters of the steady day, one"
            f" inverter's calls per upload lie between {calls.low:.3f} and {calls.high:.3f}"
            f" (standard error of the mean {calls.error:.4f}), its mean staleness between"
            f" {staleness.low:.1f} s and {staleness.high:.1f} s ({staleness.error:.2f} s);"
            " with independent random delays one inverter's ratio to the frontier lies"
            f" between {ratios.low:.3f} and {ratios.high:.3f} (standard error"
            f" {ratios.error:.3f})."
        ),
    ]


def _error(values: list[float], digits: int) -> str:
    """' +- ' the standard error of the mean of per-inverter figures ('' for one inverter)."""
    return f" +- {spread(values).error:.{digits}f}" if len(values) > 1 else ""


def _seeded_row(name: str, figures: StrategyFigures, hull: list[Schedule] | None) -> str:
    """A row of the item-5 figures, with standard errors; against the frontier with `hull`."""
    calls = [cpu for cpu, _ in figures.per_inverter]
    staleness = [mean for _, mean in figures.per_inverter]
    against = ""
    if hull is not None:
        best = best_staleness(hull, figures.calls_per_upload_day)
        ratios = [mean / best_staleness(hull, cpu) for cpu, mean in figures.per_inverter]
        against = f"{figures.staleness_mean / best:.3f}{_error(ratios, 3)}"
    return (
        f"| {name} | {figures.calls_per_upload_day:.3f}{_error(calls, 4)}"
        f" | {figures.staleness_mean:.2f}{_error(staleness, 2)} s | {against} |"
    )


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min ({seconds:.0f} s)"


def _plot_calls(results: dict[str, StrategyFigures], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(9, 4))
    bins = [hour / 2 for hour in range(49)]
    for name in SINGLE:
        axes.hist(
            [_hours(moment) for moment in results[name].call_times],
            bins=bins,
            histtype="step",
            linewidth=1.6,
            label=f"{name} ({len(results[name].call_times)} calls)",
        )
    axes.set_xlabel("local time (h)")
    axes.set_ylabel("API calls per 30 min")
    axes.set_title("API calls over the simulated day, one PV-only inverter")
    axes.set_xlim(0, 24)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)


def _plot_staleness(results: dict[str, StrategyFigures], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(9, 4))
    for name in SINGLE:
        points = results[name].staleness_points
        axes.scatter(
            [_hours(moment) for moment, _ in points],
            [value for _, value in points],
            s=9,
            label=f"{name} (mean {results[name].staleness_mean:.0f} s)",
        )
    axes.set_xlabel("local time the upload became available (h)")
    axes.set_ylabel("staleness (s)")
    axes.set_title("Time from an upload's availability to the entity showing it")
    axes.set_xlim(0, 24)
    axes.set_ylim(bottom=0)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)


def _plot_frontier(hull: list[Schedule], points: dict[str, FrontierPoint], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(9, 4.5))
    axes.plot(
        [s.calls_per_upload for s in hull],
        [s.mean_staleness for s in hull],
        color="black",
        linewidth=1.6,
        label="frontier: the least mean staleness of any poll schedule",
    )
    axes.fill_between(
        [s.calls_per_upload for s in hull],
        [s.mean_staleness for s in hull],
        0,
        color="0.9",
        label="unreachable",
    )
    for name, point in points.items():
        label = name.removeprefix("stress: ").replace(", independent random delays", "")
        axes.scatter(
            [point.calls_per_upload],
            [point.staleness_mean],
            s=40,
            zorder=3,
            label=f"{label}: {point.staleness_mean:.1f} s at {point.calls_per_upload:.2f}"
            f" calls per upload ({point.ratio:.2f} x the frontier)",
        )
    axes.set_xlabel("calls per new upload (daylight)")
    axes.set_ylabel("mean staleness (s)")
    axes.set_title("Publish delays drawn independently from 20..90 s for every upload")
    axes.set_xlim(0.9, 6.2)
    axes.set_ylim(0, 260)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(figure)


def _table(rows: list[tuple[str, str, bool]]) -> list[str]:
    return ["| target | measured | met |", "|---|---|---|"] + [
        f"| {target} | {measured} | {'yes' if met else '**no**'} |"
        for target, measured, met in rows
    ]


def write_report(results: BenchResults, docs: Path) -> list[str]:
    """Write the report; return the targets missed."""
    strategies = results.strategies
    pacing, restart = results.pacing, results.restart
    assert pacing is not None
    assert restart is not None
    # Far enough to hold the fixed 60 s interval's five calls per upload.
    hull = frontier(DelayDistribution.uniform(*PUBLISH_DELAY), cheapest_call=0.5)
    points = frontier_points(results, hull)
    images = docs / "images"
    images.mkdir(parents=True, exist_ok=True)
    _plot_calls(strategies, images / "bench_calls.png")
    _plot_staleness(strategies, images / "bench_staleness.png")
    _plot_frontier(hull, points, images / "bench_frontier.png")
    header = (
        "| strategy | inverters | calls per new upload, daylight | calls per new upload, 24 h "
        "| mean staleness | p95 staleness | uploads never shown | calls per inverter per day "
        "| peak calls in 60 s (token) | rate-limit responses | state writes per inverter per day |"
    )
    rows = [header, "|---|---|---|---|---|---|---|---|---|---|---|"]
    rows += [
        f"| {f.name} | {f.inverters} | {f.calls_per_upload_day:.2f} | {f.calls_per_upload_24h:.2f} "
        f"| {f.staleness_mean:.1f} s | {f.staleness_p95:.1f} s | {f.uploads_missed} "
        f"| {f.calls_per_inverter_day:.0f} | {f.peak_calls_per_minute} | {f.rate_limited} "
        f"| {f.state_writes_per_inverter_day:.0f} |"
        for f in strategies.values()
    ]
    cpu_rows = ["| strategy | CPU per update |", "|---|---|"] + [
        f"| {f.name} | {f.cpu_per_update_ms:.2f} ms |" for f in strategies.values()
    ]
    checks = targets(results, points)
    measured = measured_targets(results)
    ours, learning = points[RANDOM_SEEDED], points[RANDOM_AFTER_SETUP]
    single = points[RANDOM_ALIGNED]
    text = "\n".join(
        [
            "# Benchmarks",
            "",
            "Made by `scripts/bench` (rerun it to refresh this page and the plots). It runs",
            "Home Assistant with the integration against the simulator over loopback HTTP on",
            "a virtual clock through one simulated day (00:00 to 24:00 in Europe/Amsterdam,",
            "21 June: uploads from about 06:15 to 20:15, the inverters sleep at night).",
            "Inverters upload every 300 s; each upload becomes available 20 to 90 s later.",
            "The publish delay follows the cloud's load through the day: it goes once",
            "through 20..90 s and back in 24 h, with +-2 s jitter per upload. The",
            "'stress' rows make it harder: a full 20..90 s cycle every 3 hours, and delays",
            "drawn independently from 20..90 s for every upload.",
            "",
            f"The rows '{SEEDED_INVERTERS} users' run {SEEDED_INVERTERS} inverters, each on a",
            "token of its own (as many users, each with one inverter), set up at midnight, for two",
            "days; they are measured on the second day (and, apart, on the first): see",
            "'Many users, the second day' below.",
            "",
            "Every scenario is seeded (the skies, the delays, and the random offsets Home",
            "Assistant gives each refresh), so this page changes only when the behaviour",
            "does; only the times measured on the real clock (the last section) vary from",
            "run to run.",
            "",
            "Staleness is the time from an upload becoming available in the cloud to the",
            "entity state showing it.",
            "",
            "## Targets",
            "",
            *_table(checks),
            "",
            "## Figures",
            "",
            *rows,
            "",
            "![API calls over the day](images/bench_calls.png)",
            "",
            "![Staleness per upload](images/bench_staleness.png)",
            "",
            "## More inverters than the token's calls: fair pacing",
            "",
            f"{pacing.inverters} PV-only inverters on one token, over two simulated days; the",
            "figures are those of the second day, when each inverter's online fraction",
            "was learned from the first (the first day paces from the sun's times at Home",
            "Assistant's location, which assume a longer day: it spends fewer calls).",
            "",
            "| figure | value |",
            "|---|---|",
            f"| calls of the token, second day | {pacing.calls:,} |",
            f"| calls in any 24 hours of the two days (most) | {pacing.max_calls_24h:,} |",
            f"| peak calls in 60 s | {pacing.peak_calls_per_minute} |",
            f"| rate-limit responses | {pacing.rate_limited} |",
            f"| pace at the end: uploads per call | {pacing.uploads_per_call:.2f} |",
            f"| pace at the end: night interval | {pacing.night_interval:.0f} s |",
            (
                "| longest time between the upload times of two consecutive uploads shown,"
                f" in daylight | {_minutes(pacing.longest_upload_gap)} |"
            ),
            (
                "| longest time between the moments two consecutive uploads were shown,"
                f" in daylight | {_minutes(pacing.longest_shown_gap)} |"
            ),
            (
                "| longest time from the morning's first upload becoming available to the"
                f" first upload shown | {_minutes(pacing.longest_wake_delay)} |"
            ),
            (
                "| uploads shown per inverter in daylight, fewest / most"
                f" | {pacing.shown_min} / {pacing.shown_max} |"
            ),
            (
                f"| mean / p95 staleness of the uploads shown | {pacing.staleness_mean:.1f} s /"
                f" {pacing.staleness_p95:.1f} s |"
            ),
            "",
            "Daylight is, per inverter, from its first to its last upload of the day. An",
            "upload 'shown' is one the last-upload sensor showed; two consecutive uploads",
            "shown are at most `ceil(uploads per call)` cadences apart when every poll",
            "finds the upload it aims at.",
            "",
            "## Computed energies against the truth",
            "",
            "PV energy is the trapezoid of the string powers of the uploads an entry",
            "fetches; a gap longer than the entry expects is bridged by the yield",
            "counter's rise (these inverters have no battery). Booked is the rise of each",
            "inverter's PV energy sensor from midnight to midnight (what the energy",
            "dashboard books), truth the PV energy the simulator integrated at 1-second",
            "resolution, both summed over the inverters.",
            "",
            (
                "| run | inverters | booked | truth | error of the sum | mean / worst error of"
                " one inverter | gaps left out (hours) |"
            ),
            "|---|---|---|---|---|---|---|",
            *(
                f"| {e.name} | {e.inverters} | {e.booked:,.1f} kWh | {e.truth:,.1f} kWh"
                f" | {e.error:+.2f} % | {e.mean_absolute:.2f} % / {e.worst:+.2f} %"
                f" | {e.gaps_left_out} ({e.hours_left_out:.1f} h) |"
                for e in results.energies.values()
            ),
            "",
            "## A restart at noon",
            "",
            f"{restart.inverters} inverters on one token run the morning; at 12:00 every entry",
            "is unloaded (each keeps its last upload in storage, the entities their",
            "restore data) and set up again with fresh token budgets, as a restart of Home",
            "Assistant does (the budgets come back from storage, with the calls of the last",
            "24 hours). The day then runs to its end (its row in the table above).",
            "",
            "| figure | value |",
            "|---|---|",
            (
                "| virtual time the setup of all entries took"
                f" | {restart.setup_virtual_seconds:.0f} s |"
            ),
            (
                "| until every inverter shows an upload fetched after the restart"
                f" | {_minutes(restart.all_confirmed_after)} |"
            ),
            (
                "| until every inverter shows an upload made after the restart"
                f" | {_minutes(restart.all_new_after)} |"
            ),
            f"| calls in the first 5 minutes | {restart.calls_first_5_min} |",
            f"| rate-limit responses after the restart | {restart.rate_limited} |",
            "",
            "## Many users, the second day",
            "",
            *seeded_section(results, hull),
            "",
            "## Against the best any schedule can do",
            "",
            "With publish delays drawn independently from 20..90 s, no schedule has both",
            "one call per upload and a low staleness. `benchmarks/frontier.py` computes the",
            "frontier: the least mean staleness any poll schedule reaches with a given",
            "number of calls per upload, when it knows the delays' distribution but not the",
            (
                f"draw. At our {ours.calls_per_upload:.2f} calls per upload the frontier is"
                f" {ours.best:.1f} s; we show uploads {ours.staleness_mean:.1f} s after they are"
            ),
            f"available, {ours.ratio:.2f} times the frontier. Fixed intervals lie far above it.",
            "",
            "The learning is measured apart: 10 inverters on one token, set up at 10:00, when",
            "the inverters upload, with nothing learned (the day's runs are set up at",
            "midnight and learn on the morning's first uploads, the first of them found by",
            "a night poll). Over the first two hours they spend",
            (
                f"{learning.calls_per_upload:.2f} calls per upload and show uploads"
                f" {learning.staleness_mean:.1f} s after they are available, {learning.ratio:.2f}"
            ),
            f"times the frontier ({learning.best:.1f} s).",
            "",
            (
                f"One inverter's first day after its setup (the row '{RANDOM_ALIGNED}', the"
                f" measure before the seeded rows): {single.staleness_mean:.1f} s /"
                f" {single.best:.1f} s = {single.ratio:.3f} times the frontier at"
                f" {single.calls_per_upload:.2f} calls per upload."
            ),
            "",
            "![The staleness frontier](images/bench_frontier.png)",
            "",
            "## Reading the figures",
            "",
            "- Fixed 60 s spends about five calls per upload and still shows uploads up to",
            "  a minute late; fixed 300 s spends one call per upload but shows them up to",
            "  five minutes late.",
            "- Upload-aligned learns the 300 s cadence from `uploadTime` and tracks the",
            "  publish delay: a miss bounds it from below (the failed poll) and above (the",
            "  retry that found the upload), and the estimate goes just above the failed",
            "  poll; after each first-try hit it follows the delay's trend, learned from",
            "  the failed polls of the last two misses as far as misses come regularly",
            "  (at first wholly), and creeps down 0.1 s (half that once runs of hits",
            "  showed a delay its trend follows), faster in a long run of hits; an upload",
            "  out over 6 s later than where the one before it was found stops that trust",
            "  at once (delays drawn at random); a rising trend then fades twice as fast,",
            "  the creep speeds up only after runs four times the usual ones and a miss",
            "  takes the estimate at most 1 s above the highest of the last failed polls.",
            "  While misses come at random, a retry waits until the latest of the last",
            "  uploads was found. At night (no upload for three cadences) it polls every",
            "  15 minutes; it watches for the wake at the daylight pace, from a cadence",
            "  before the time it woke the day before (for",
            "  half an hour) or, before a wake was seen, before sunrise (for two hours),",
            "  each poll when an upload of the last upload's slots should be out; a",
            "  morning starts from the delay noted after the wake the day before.",
            "- Entries on one token share a budget of 9 calls in any 60 s, at least 6.7 s",
            "  apart (one call a minute is kept in reserve under the cloud's 10), and of",
            "  9,990 calls in any 24 hours. When the token's inverters need more, every",
            "  inverter skips uploads evenly, from a phase of its own each morning (see",
            "  docs/polling-and-quota.md).",
            "",
            "## Measured on the real clock",
            "",
            "These vary from run to run and with the machine (2 cores shared with other",
            "work when this page was made). CPU per update is the thread CPU time of a",
            "coordinator refresh with its state writes, minus the simulator's own handler",
            "time (they share the process), measured during the same virtual-clock run.",
            "",
            *_table(measured),
            "",
            *cpu_rows,
            "",
        ]
    )
    (docs / "benchmarks.md").write_text(text)
    return [
        f"missed: {target} (measured {value})"
        for target, value, met in [*checks, *measured]
        if not met
    ]
