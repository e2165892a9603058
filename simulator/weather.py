"""Cloud cover of a simulated plant: the clear-sky index over time, seeded.

The clear-sky index is the PV output as a fraction of what a clear sky would give.
Every model is piecewise linear between knots drawn per hour of epoch time from a
random generator seeded with the plant's seed, the model and the hour: any moment's
value can be computed on its own, and a run reproduces exactly.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from enum import StrEnum
import math
import random
from typing import Final

import numpy as np
from numpy.typing import NDArray

BLOCK_SECONDS: Final = 3600.0
"""Knots are drawn per block of this many seconds of epoch time."""
_CACHED_BLOCKS: Final = 16

PASSING_SLOT_SECONDS: Final = 900.0
OVERCAST_SLOT_SECONDS: Final = 600.0
BROKEN_SUN_LEVEL: Final = (0.92, 1.08)
"""Clear-sky index while the sun is out (slightly above 1: bright cloud edges)."""
BROKEN_SHADE_LEVEL: Final = (0.22, 0.45)
"""Clear-sky index in a cloud's shadow: 51 % to 80 % below the sunny level."""
BROKEN_MEAN_SUN_SECONDS: Final = 240.0
BROKEN_MEAN_SHADE_SECONDS: Final = 150.0
BROKEN_MIN_HOLD_SECONDS: Final = 20.0
BROKEN_RAMP_SECONDS: Final = (10.0, 60.0)
"""A cloud edge passes the panels within a minute."""


class Weather(StrEnum):
    """Cloud cover models."""

    PASSING = "passing"
    """Smooth passing clouds, 0.55 to 1.0 linearly between 15-minute slots. The unit
    tests' default; 5-minute samples reproduce its energy almost exactly."""
    CLEAR = "clear"
    """A clear sky all day."""
    BROKEN = "broken"
    """Broken cumulus: sun and shadow alternate every few minutes (exponentially
    distributed, at least 20 s), the power ramps by 50 % to 80 % within 10 to 60 s."""
    OVERCAST = "overcast"
    """A thick, slowly changing cloud deck letting 15 % to 40 % through."""


type Knots = tuple[list[float], list[float]]
"""Epoch seconds and clear-sky index of the knots of one block, times ascending."""


class CloudModel:
    """The clear-sky index of one plant's sky."""

    def __init__(self, weather: Weather, seed: int) -> None:
        """Model `weather` with knots seeded by `seed`."""
        self.weather = weather
        self.seed = seed
        self._blocks: OrderedDict[int, Knots] = OrderedDict()

    def factor(self, times: NDArray[np.float64]) -> NDArray[np.float64]:
        """The clear-sky index at each of `times` (epoch seconds)."""
        if self.weather is Weather.CLEAR or times.size == 0:
            return np.ones_like(times)
        first = math.floor(float(times.min()) / BLOCK_SECONDS)
        last = math.floor(float(times.max()) / BLOCK_SECONDS)
        knot_times: list[float] = []
        knot_values: list[float] = []
        # The neighbouring blocks give the knots on either side of a block's edges.
        for block in range(first - 1, last + 2):
            block_times, block_values = self._knots(block)
            knot_times += block_times
            knot_values += block_values
        return np.interp(times, knot_times, knot_values)

    def factor_at(self, timestamp: float) -> float:
        """The clear-sky index at one moment (epoch seconds)."""
        return float(self.factor(np.array([timestamp]))[0])

    def _knots(self, block: int) -> Knots:
        if (cached := self._blocks.get(block)) is not None:
            self._blocks.move_to_end(block)
            return cached
        knots = self._draw(block)
        self._blocks[block] = knots
        if len(self._blocks) > _CACHED_BLOCKS:
            self._blocks.popitem(last=False)
        return knots

    def _draw(self, block: int) -> Knots:
        start = block * BLOCK_SECONDS
        if self.weather is Weather.PASSING:
            return _slots(start, PASSING_SLOT_SECONDS, lambda i: f"{self.seed}:{i}", (0.55, 1.0))
        if self.weather is Weather.OVERCAST:
            return _slots(
                start, OVERCAST_SLOT_SECONDS, lambda i: f"{self.seed}:overcast:{i}", (0.15, 0.4)
            )
        return _broken(start, random.Random(f"{self.seed}:broken:{block}"))


def _slots(
    start: float,
    slot_seconds: float,
    slot_seed: Callable[[int], str],
    levels: tuple[float, float],
) -> Knots:
    """One knot per slot, each slot's level drawn from a generator of its own."""
    first = round(start / slot_seconds)
    count = round(BLOCK_SECONDS / slot_seconds)
    indices = range(first, first + count)
    times = [index * slot_seconds for index in indices]
    values = [random.Random(slot_seed(index)).uniform(*levels) for index in indices]
    return times, values


def _broken(start: float, rng: random.Random) -> Knots:
    """Plateaus of sun and shadow joined by ramps; the first ramp starts at `start`."""
    end = start + BLOCK_SECONDS
    sunny = rng.random() < BROKEN_MEAN_SUN_SECONDS / (
        BROKEN_MEAN_SUN_SECONDS + BROKEN_MEAN_SHADE_SECONDS
    )
    moment = start + rng.uniform(*BROKEN_RAMP_SECONDS)
    times: list[float] = []
    values: list[float] = []
    while True:
        level = rng.uniform(*(BROKEN_SUN_LEVEL if sunny else BROKEN_SHADE_LEVEL))
        mean = BROKEN_MEAN_SUN_SECONDS if sunny else BROKEN_MEAN_SHADE_SECONDS
        hold_end = moment + max(BROKEN_MIN_HOLD_SECONDS, rng.expovariate(1 / mean))
        next_start = hold_end + rng.uniform(*BROKEN_RAMP_SECONDS)
        if next_start >= end:
            # The last plateau lasts to the block's end; the next block ramps from it.
            times += [moment, end]
            values += [level, level]
            return times, values
        times += [moment, hold_end]
        values += [level, level]
        moment, sunny = next_start, not sunny
