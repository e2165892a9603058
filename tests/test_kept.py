"""Readers of kept data: any value a store may hold ends in a typed value or None.

Storage written by another release or by hand is outside input, so it is fuzzed
(Hypothesis, derandomized) over JSON's values, including integers beyond any float.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math
from typing import Any

from hypothesis import given, settings, strategies as st

from custom_components.sunvec_connect.budget import TokenBudget
from custom_components.sunvec_connect.kept import aware_time, finite_number
from custom_components.sunvec_connect.polling import OnlineHistory, UploadSchedule

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.text()
    | st.datetimes(timezones=st.none() | st.just(UTC)).map(datetime.isoformat),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
SETTINGS = settings(max_examples=400, derandomize=True, deadline=None)
NOW = datetime(2026, 6, 21, 12, 0, tzinfo=UTC)


@SETTINGS
@given(JSON_VALUES)
def test_readers_return_a_typed_value_or_none(value: Any) -> None:
    number = finite_number(value)
    assert number is None or (type(number) is float and math.isfinite(number))
    moment = aware_time(value)
    assert moment is None or moment.tzinfo is not None


def test_readers_by_example() -> None:
    assert finite_number(3) == 3.0
    assert finite_number(10**400) is None
    assert finite_number(True) is None
    assert finite_number(float("nan")) is None
    assert finite_number("3") is None
    assert aware_time("2026-06-21T12:00:00+02:00") == NOW - timedelta(hours=2)
    assert aware_time("2026-06-21T12:00:00") is None
    assert aware_time("noon") is None


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(
            KEYS := [
                "cadence",
                "publish_delay",
                "delay_bounded",
                "trend",
                "hit_runs",
                "gaps",
                "last_upload",
                "uploads",
                "uploads_at_night",
                "last_wake",
                "observed_since",
                "calls",
                "paused_until",
                "banned_until",
                "backoff",
            ]
        ),
        JSON_VALUES,
    )
)
def test_what_the_integration_kept_restores_from_anything(stored: dict[str, Any]) -> None:
    """The schedule, the online history and the token's budget take back any mapping."""
    UploadSchedule().restore(stored)
    OnlineHistory().restore(stored, NOW, saved_at=NOW)
    TokenBudget().restore(stored, NOW)


@SETTINGS
@given(
    st.lists(
        st.floats(allow_nan=False, allow_infinity=False)
        | st.integers(min_value=-(10**20), max_value=10**20),
        max_size=6,
    )
)
def test_kept_calls_beyond_any_date_are_ignored(calls: list[float]) -> None:
    budget = TokenBudget()
    budget.restore({"calls": calls}, NOW)
    assert all(NOW - timedelta(hours=24) < slot <= NOW for slot in budget.slots)
