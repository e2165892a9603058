"""The end-to-end suite's counter checks catch what an energy spike looks like."""

from __future__ import annotations

import pytest

from tests_e2e.counters import counter_problems, numeric_states

ENTITY = "sensor.sunvec_yield_total"


def test_numeric_states_leave_out_unavailable() -> None:
    history = [{"state": "10.5"}, {"state": "unavailable"}, {"state": "unknown"}, {"state": "11"}]
    assert numeric_states(history) == [10.5, 11.0]


def test_a_rising_counter_with_its_statistics_passes() -> None:
    rows = [{"state": 10.5, "sum": 0.5}, {"state": 10.5, "sum": 0.5}, {"state": 11.25, "sum": 1.25}]
    assert counter_problems(ENTITY, [10.0, 10.5, 11.0, 11.25], rows) == []


def test_a_zero_glitch_that_got_through_is_reported() -> None:
    # What the recorder compiles when 10.5 is followed by a zero and then 10.7:
    # it counts a meter reset and adds the whole 10.7 to the sum.
    rows = [{"start": 1795520700000, "state": 10.7, "sum": 0.5 + 10.7}]
    problems = counter_problems(ENTITY, [10.0, 10.5, 0.0, 10.7], rows)
    assert problems == [
        f"{ENTITY}: state fell from 10.5 to 0.0",
        (
            f"{ENTITY}: sum 11.2 at 2026-11-24T11:45:00+00:00 is not the rise 0.7 since the"
            " first state 10 (a counted reset)"
        ),
    ]


def test_a_counted_reset_between_rows_is_reported() -> None:
    rows = [{"state": 10.5, "sum": 0.5}, {"state": 10.25, "sum": 10.75}]
    problems = counter_problems(ENTITY, [10.0, 10.5], rows)
    assert any("statistics state fell" in problem for problem in problems)
    assert any("counted reset" in problem for problem in problems)


def test_a_falling_sum_is_reported() -> None:
    rows = [{"state": 10.5, "sum": 0.5}, {"state": 10.5, "sum": 0.25}]
    assert f"{ENTITY}: statistics sum fell from 0.5 to 0.25" in counter_problems(
        ENTITY, [10.0, 10.5], rows
    )


def test_missing_data_is_reported() -> None:
    assert counter_problems(ENTITY, [], []) == [f"{ENTITY}: no numeric state recorded"]
    assert counter_problems(ENTITY, [1.0], []) == [f"{ENTITY}: no statistics compiled"]
    with pytest.raises(TypeError, match="numeric sum"):
        counter_problems(ENTITY, [1.0], [{"state": 1.0, "sum": None}])
