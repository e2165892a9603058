"""The best staleness any polling schedule can reach for a given number of calls per upload.

An upload becomes available in the cloud a random publish delay `D` after its upload
time. A schedule that knows the distribution of `D` (not the draw) polls at fixed
offsets `t_1 < t_2 < ... < t_n` after the upload time and stops at the first poll that
finds the upload. It makes `K = min {i : t_i >= D}` calls and shows the upload
`t_K - D` seconds after it became available. Over many uploads the schedule costs
`E[K]` calls per upload and gives a mean staleness of `E[t_K - D]`.

The frontier is the lowest mean staleness for each `E[K]`: for a price `lam` of a call,
dynamic programming over a fine grid of offsets finds the schedule minimising
`E[t_K - D] + lam * E[K]`; searching the prices at which two such schedules tie finds
every vertex of the lower convex envelope, which is the frontier (mixing two
schedules across uploads reaches any point between them). The
delay density is taken as uniform within each grid cell, so for a uniform delay the
expectations are exact on the grid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import itertools

import numpy as np


@dataclass(frozen=True, slots=True)
class Schedule:
    """Poll offsets (seconds after the upload time) and what they cost and give."""

    offsets: tuple[float, ...]
    calls_per_upload: float
    mean_staleness: float


@dataclass(frozen=True, slots=True)
class DelayDistribution:
    """A publish delay with a density that is uniform within each cell of a grid."""

    edges: np.ndarray
    """Cell boundaries in seconds, increasing."""
    weights: np.ndarray
    """Probability of each cell (sums to 1)."""

    @classmethod
    def uniform(cls, low: float, high: float, step: float = 0.25) -> DelayDistribution:
        """A delay uniform in `low..high`."""
        cells = max(1, round((high - low) / step))
        edges = np.linspace(low, high, cells + 1)
        return cls(edges, np.full(cells, 1.0 / cells))

    def schedule_cost(self, offsets: Sequence[float]) -> Schedule:
        """Calls per upload and mean staleness of polling at `offsets` (the last >= every delay)."""
        times = sorted(offsets)
        if not times or times[-1] < self.edges[-1]:
            raise ValueError("the last poll must come after the longest delay")
        calls = staleness = 0.0
        previous = float(self.edges[0])
        for time in times:
            if time < previous:
                # Before the shortest delay: a call that cannot find the upload.
                calls += 1.0
                continue
            # A poll at `time` is made when the upload was not found before: D > previous.
            calls += 1.0 - self.probability_below(previous)
            found = self.probability_below(time) - self.probability_below(previous)
            staleness += time * found - (self.mean_below(time) - self.mean_below(previous))
            previous = time
        return Schedule(tuple(times), calls, staleness)

    def probability_below(self, time: float) -> float:
        """P(D <= time)."""
        cumulative = np.concatenate(([0.0], np.cumsum(self.weights)))
        return float(np.interp(time, self.edges, cumulative))

    def mean_below(self, time: float) -> float:
        """E[D; D <= time] (the density is uniform within each cell)."""
        middles = (self.edges[:-1] + self.edges[1:]) / 2
        first_moment = np.concatenate(([0.0], np.cumsum(self.weights * middles)))
        if time <= self.edges[0]:
            return 0.0
        if time >= self.edges[-1]:
            return float(first_moment[-1])
        cell = int(np.searchsorted(self.edges, time, side="right")) - 1
        start, width = float(self.edges[cell]), float(self.edges[cell + 1] - self.edges[cell])
        density = float(self.weights[cell]) / width
        return float(first_moment[cell]) + density * (time**2 - start**2) / 2


def optimal_schedule(distribution: DelayDistribution, call_price: float) -> Schedule:
    """The schedule minimising mean staleness + `call_price` * calls per upload.

    Polls are placed on the distribution's grid edges; a schedule free to poll inside
    a cell gains at most about density * cell width^2 (under 0.01 s for a uniform
    20..90 s delay on a 0.25 s grid).
    """
    edges, weights = distribution.edges, distribution.weights
    middles = (edges[:-1] + edges[1:]) / 2
    # cumulative[i] = P(D < edges[i]); first_moment[i] = E[D; D < edges[i]]
    cumulative = np.concatenate(([0.0], np.cumsum(weights)))
    first_moment = np.concatenate(([0.0], np.cumsum(weights * middles)))
    count = len(edges)
    best = np.zeros(count)
    """best[j]: least cost from a poll at edge j (that missed) to the end."""
    choice = np.full(count, count - 1)
    for j in range(count - 2, -1, -1):
        following = np.arange(j + 1, count)
        poll_cost = call_price * (1.0 - cumulative[j])
        waiting = edges[following] * (cumulative[following] - cumulative[j]) - (
            first_moment[following] - first_moment[j]
        )
        totals = poll_cost + waiting + best[following]
        index = int(np.argmin(totals))
        best[j] = totals[index]
        choice[j] = following[index]
    # The first poll comes at some edge k; polling before the shortest delay is wasted,
    # so the schedule starts from edge 0 "missed" at no cost and polls at choice[0].
    offsets = []
    position = 0
    while position < count - 1:
        position = int(choice[position])
        offsets.append(float(edges[position]))
    return distribution.schedule_cost(offsets)


def frontier(distribution: DelayDistribution, cheapest_call: float = 2.0) -> list[Schedule]:
    """Every vertex of the frontier (the lower convex envelope), by calls per upload.

    It spans from one call per upload to the optimum at a call price of `cheapest_call`
    seconds of staleness (for a uniform 20..90 s delay about 3.3 calls per upload at
    the default, 6 at 0.5).

    Between two vertices A and B, the price at which both cost the same is the slope
    of AB; the optimum at that price is either on AB (A and B are neighbours) or a new
    vertex below it, and the search goes on on both sides.
    """
    most = optimal_schedule(distribution, cheapest_call)
    fewest = optimal_schedule(distribution, 1e6)
    vertices = [most, fewest]
    pending = [(most, fewest)]
    while pending:
        many, few = pending.pop()
        if many.calls_per_upload - few.calls_per_upload < 1e-12:
            continue
        price = (few.mean_staleness - many.mean_staleness) / (
            many.calls_per_upload - few.calls_per_upload
        )
        middle = optimal_schedule(distribution, price)
        chord = few.mean_staleness + price * few.calls_per_upload
        if middle.mean_staleness + price * middle.calls_per_upload < chord - 1e-9:
            vertices.append(middle)
            pending += [(many, middle), (middle, few)]
    return sorted(vertices, key=lambda s: s.calls_per_upload)


def best_staleness(hull: Sequence[Schedule], calls_per_upload: float) -> float:
    """The frontier's mean staleness at `calls_per_upload` (linear between hull points)."""
    if calls_per_upload <= hull[0].calls_per_upload:
        return hull[0].mean_staleness
    for left, right in itertools.pairwise(hull):
        if calls_per_upload <= right.calls_per_upload:
            share = (calls_per_upload - left.calls_per_upload) / (
                right.calls_per_upload - left.calls_per_upload
            )
            return left.mean_staleness + share * (right.mean_staleness - left.mean_staleness)
    return hull[-1].mean_staleness


def on_draws(schedule: Schedule, delays: Sequence[float]) -> Schedule:
    """What polling at `schedule`'s offsets costs and gives for the drawn `delays`."""
    calls = staleness = 0.0
    for delay in delays:
        found = next(index for index, time in enumerate(schedule.offsets) if time >= delay)
        calls += found + 1
        staleness += schedule.offsets[found] - delay
    return Schedule(schedule.offsets, calls / len(delays), staleness / len(delays))


def best_staleness_on(
    hull: Sequence[Schedule], calls_per_upload: float, delays: Sequence[float]
) -> float:
    """What the frontier's schedules give for these drawn `delays` at `calls_per_upload`.

    The frontier is an expectation: one day's draws put even its schedules a few per
    cent either side of it. Each of its schedules is measured on the draws (its calls
    too) and mixed with its neighbour to spend `calls_per_upload` on them; a schedule's
    ratio to that is free of the draws' luck.
    """
    measured = sorted(
        (on_draws(schedule, delays) for schedule in hull), key=lambda s: s.calls_per_upload
    )
    return best_staleness(measured, calls_per_upload)
