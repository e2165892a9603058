"""Migrations of what the integration keeps: each shape an earlier release wrote.

The shapes are taken from the git history (the commit that wrote each is named). Home
Assistant's own loading of them is in test_restart.py (an inverter's storage) and
test_migration.py (the release before accounts).
"""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, datetime, timedelta
import json
from typing import Any

from hypothesis import given, strategies as st
import pytest

from custom_components.sunvec_connect.plant_clock import PlantClock
from custom_components.sunvec_connect.polling import UploadSchedule
from custom_components.sunvec_connect.store import Kept, KeptUpload, migrate_from_v1

from .test_kept import JSON_VALUES, SETTINGS

SAVED = datetime(2026, 6, 21, 9, 57, 30, tzinfo=UTC)
UPLOAD_TIME = datetime(2026, 6, 21, 9, 55, tzinfo=UTC)
RAW = {"uploadTime": "2026-06-21 11:55:00", "acpower": 1234.0, "yieldtotal": 5012.3}
UPLOAD = {"raw": RAW, "upload_time": UPLOAD_TIME.isoformat()}
ONLINE = {
    "observed_since": (SAVED - timedelta(hours=30)).isoformat(),
    "uploads": [UPLOAD_TIME.isoformat()],
    "uploads_at_night": False,
    "last_wake": None,
}
FIRST_RELEASE = {
    # 57c5e99: the first release with a store.
    "saved_at": SAVED.isoformat(),
    "upload": UPLOAD,
    "schedule": {
        "cadence": 300.0,
        "publish_delay": 42.5,
        "gaps": [300.0, 300.0],
        "last_upload": UPLOAD_TIME.isoformat(),
    },
    "online": ONLINE,
}
CLOCK = PlantClock(
    offset=timedelta(hours=2),
    candidate=timedelta(hours=2),
    last_text=RAW["uploadTime"],
    last_time=UPLOAD_TIME,
    last_fit=UPLOAD_TIME,
    last_poll=SAVED,
).as_dict()
BEFORE_ACCOUNTS = {
    # 93d5d06, the release before accounts (fa34d29 on): the run and the plant clock.
    **FIRST_RELEASE,
    "run": "01JRUN0000000000000000000",
    "schedule": {**FIRST_RELEASE["schedule"], "delay_bounded": False},
    "clock": CLOCK,
}


def test_the_first_release_gets_a_clock_and_a_bounded_delay() -> None:
    kept = deepcopy(FIRST_RELEASE)
    migrated = migrate_from_v1(kept)
    assert kept == FIRST_RELEASE  # a copy
    # The kept upload as that release placed it; learning for a while.
    clock = PlantClock(last_text=RAW["uploadTime"], last_time=UPLOAD_TIME)
    assert migrated == {
        **FIRST_RELEASE,
        "schedule": {**FIRST_RELEASE["schedule"], "delay_bounded": True},
        "clock": clock.as_dict(),
    }
    restored = Kept.from_stored(migrated)
    assert restored is not None
    assert PlantClock.restore(restored.clock) == clock
    schedule = UploadSchedule()
    schedule.restore(restored.schedule)
    assert (schedule.publish_delay, schedule.delay_bounded) == (42.5, True)


def test_the_release_before_accounts_is_taken_as_it_is() -> None:
    assert migrate_from_v1(deepcopy(BEFORE_ACCOUNTS)) == BEFORE_ACCOUNTS


@pytest.mark.parametrize(
    ("kept", "clock"),
    [
        pytest.param({**FIRST_RELEASE, "upload": None}, PlantClock(), id="no_upload"),
        pytest.param(
            {**FIRST_RELEASE, "upload": {"raw": RAW, "upload_time": "2026-06-21 09:55"}},
            PlantClock(),
            id="naive_time",
        ),
        pytest.param(
            {**FIRST_RELEASE, "upload": {**UPLOAD, "raw": {}}},
            PlantClock(),
            id="no_upload_time_text",
        ),
    ],
)
def test_a_clock_is_made_only_from_an_upload_that_fits(
    kept: dict[str, Any], clock: PlantClock
) -> None:
    migrated = migrate_from_v1(kept)
    assert PlantClock.restore(migrated["clock"]) == clock


@pytest.mark.parametrize("junk", [None, [], "text", 3, {"schedule": [1]}])
def test_junk_is_left_for_the_readers(junk: Any) -> None:
    migrated = migrate_from_v1(junk)
    if isinstance(junk, dict):
        assert migrated == {**junk, "clock": PlantClock().as_dict()}
    else:
        assert migrated is junk


def test_kept_round_trip_through_json() -> None:
    kept = Kept(
        saved_at=SAVED,
        run="01JRUN0000000000000000000",
        upload=KeptUpload(RAW, UPLOAD_TIME),
        schedule=UploadSchedule().as_dict(),
        online=ONLINE,
        clock=CLOCK,
    )
    assert Kept.from_stored(json.loads(json.dumps(kept.as_stored()))) == kept
    empty = Kept(None, None, None, {}, {}, {})
    assert Kept.from_stored(json.loads(json.dumps(empty.as_stored()))) == empty


@SETTINGS
@given(
    JSON_VALUES
    | st.fixed_dictionaries(
        {},
        optional=dict.fromkeys(
            ("saved_at", "run", "upload", "schedule", "online", "clock"), JSON_VALUES
        ),
    )
)
def test_any_stored_value_migrates_and_reads(stored: Any) -> None:
    """Storage is outside input: migrated and read, it never raises."""
    kept = Kept.from_stored(migrate_from_v1(stored))
    assert kept is None or isinstance(kept, Kept)
