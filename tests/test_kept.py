"""Readers of kept data: any value a store may hold ends in a typed value or None.

Storage written by another release or by hand is outside input, so it is fuzzed
(Hypothesis, derandomized) over JSON's values, including integers beyond any float.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math
from typing import Any

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.sunvec_connect.budget import MAX_PAUSE, TokenBudget
from custom_components.sunvec_connect.kept import aware_time, finite_number, past_time
from custom_components.sunvec_connect.plant_clock import PlantClock
from custom_components.sunvec_connect.polling import (
    DEFAULT_CADENCE,
    DEFAULT_PUBLISH_DELAY,
    MAX_CADENCE,
    MIN_CADENCE,
    OnlineHistory,
    UploadSchedule,
)

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
NEAR_TIMES = st.datetimes(
    min_value=datetime(2026, 6, 19), max_value=datetime(2026, 6, 23), timezones=st.just(UTC)
).map(datetime.isoformat)
"""Times around `NOW`, before and after it (JSON's values rarely give one)."""
KEPT_VALUES = JSON_VALUES | NEAR_TIMES | st.lists(NEAR_TIMES, max_size=6)


@SETTINGS
@given(KEPT_VALUES)
def test_readers_return_a_typed_value_or_none(value: Any) -> None:
    number = finite_number(value)
    assert number is None or (type(number) is float and math.isfinite(number))
    moment = aware_time(value)
    assert moment is None or moment.tzinfo is not None
    past = past_time(value, NOW)
    assert past == (moment if moment is not None and moment <= NOW else None)


def test_readers_by_example() -> None:
    assert finite_number(3) == 3.0
    assert finite_number(10**400) is None
    assert finite_number(True) is None
    assert finite_number(float("nan")) is None
    assert finite_number("3") is None
    assert aware_time("2026-06-21T12:00:00+02:00") == NOW - timedelta(hours=2)
    assert aware_time("2026-06-21T12:00:00") is None
    assert aware_time("noon") is None
    assert past_time("2026-06-21T12:00:00+00:00", NOW) == NOW
    assert past_time("2026-06-21T12:00:01+00:00", NOW) is None


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
                "random_seen",
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
                "last_text",
                "last_time",
                "last_fit",
                "last_poll",
            ]
        ),
        KEPT_VALUES,
    )
)
def test_what_the_integration_kept_restores_from_anything(stored: dict[str, Any]) -> None:
    """The schedule, the online history and the token's budget take back any mapping.

    Whatever was kept, the inverter is polled again: an upload seen now is followed by
    a poll within two of the longest cadences, a pause of the token's calls ends
    within the longest the cloud can ask for, and the plant clock holds no time after
    now (it would reject the uploads before it).
    """
    schedule = UploadSchedule()
    schedule.restore(stored, NOW)
    assert MIN_CADENCE <= schedule.cadence <= MAX_CADENCE
    assert 0 <= schedule.publish_delay <= MAX_CADENCE
    assert schedule.last_upload is None or schedule.last_upload <= NOW
    wait = schedule.next_poll(NOW, NOW - timedelta(minutes=1))
    assert schedule.min_wait <= wait <= 2 * MAX_CADENCE + schedule.guard
    history = OnlineHistory()
    history.restore(stored, NOW, saved_at=NOW)
    assert all(NOW - timedelta(hours=24) <= upload <= NOW for upload in history.uploads)
    assert history.last_wake is None or history.last_wake <= NOW
    budget = TokenBudget()
    budget.restore(stored, NOW)
    for until in (budget.paused_until, budget.banned_until):
        assert until is None or NOW < until <= NOW + MAX_PAUSE
    clock = PlantClock.restore(stored, NOW)
    for moment in (clock.last_time, clock.last_fit, clock.last_poll):
        assert moment is None or moment <= NOW


def test_an_upload_kept_from_the_future_holds_no_poll_back() -> None:
    """A last upload a day ahead (a clock that ran ahead) would hold the polls back a day."""
    schedule = UploadSchedule()
    schedule.restore({"last_upload": (NOW + timedelta(days=1)).isoformat()}, NOW)
    upload = NOW - timedelta(minutes=1)
    assert schedule.next_poll(NOW, upload) == pytest.approx(
        DEFAULT_CADENCE - 60 + DEFAULT_PUBLISH_DELAY + schedule.guard
    )
    assert schedule.last_upload == upload


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
