"""What the energy dashboard needs of a total_increasing sensor, checked on recorded data.

Pure functions, so that tests/test_e2e_counters.py can show that they catch a spike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import pairwise
import math

SUM_TOLERANCE = 1e-6


def numeric_states(history: Sequence[Mapping[str, object]]) -> list[float]:
    """The numeric states of one entity's history, in order (unavailable left out)."""
    values = []
    for state in history:
        try:
            values.append(float(str(state["state"])))
        except ValueError:
            continue
    return values


def counter_problems(
    entity_id: str, states: Sequence[float], rows: Sequence[Mapping[str, object]]
) -> list[str]:
    """Problems of a counter's recorded states and its compiled short-term statistics.

    `states` are the sensor's numeric states from its first one on; `rows` its
    5-minute statistics in time order, each with "state" and "sum".

    The recorder counts a drop of more than 10 % as a meter reset and adds the whole
    next reading to the sum: the spike users see on the energy dashboard. Without a
    reset the sum is exactly the rise since the first state, so that is what is checked.
    """
    problems = [
        f"{entity_id}: state fell from {before} to {after}"
        for before, after in pairwise(states)
        if after < before
    ]
    if not states:
        return [*problems, f"{entity_id}: no numeric state recorded"]
    if not rows:
        return [*problems, f"{entity_id}: no statistics compiled"]
    first = states[0]
    for row in rows:
        state, total = _number(row, "state"), _number(row, "sum")
        if not math.isclose(total, state - first, abs_tol=SUM_TOLERANCE):
            problems.append(
                f"{entity_id}: sum {total:.6g} at {_start(row)} is not the rise "
                f"{state - first:.6g} since the first state {first:.6g} (a counted reset)"
            )
    problems.extend(
        f"{entity_id}: statistics {key} fell from {before[key]} to {after[key]}"
        for before, after in pairwise(rows)
        for key in ("state", "sum")
        if _number(after, key) < _number(before, key)
    )
    return problems


def _start(row: Mapping[str, object]) -> str:
    """A row's start (milliseconds since the epoch over the websocket API) as ISO 8601."""
    start = row.get("start")
    if isinstance(start, int | float):
        return datetime.fromtimestamp(start / 1000, UTC).isoformat(timespec="seconds")
    return str(start)


def _number(row: Mapping[str, object], key: str) -> float:
    value = row.get(key)
    if not isinstance(value, int | float):
        raise TypeError(f"statistics row without a numeric {key}: {row}")
    return float(value)
