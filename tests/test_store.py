"""Migrations of what the integration keeps: each shape an earlier release wrote.

The shapes are taken from the git history (the commit that wrote each is named). Home
Assistant's own loading of them is in test_restart.py (an inverter's storage),
test_sensor.py (the counters' restore data) and test_migration.py (the release before
accounts).
"""

from __future__ import annotations

from copy import deepcopy
from datetime import UTC, datetime, timedelta
import json
from typing import Any

from homeassistant.core import HomeAssistant
from hypothesis import given, strategies as st
import pytest

from custom_components.sunvec_connect.const import DOMAIN
from custom_components.sunvec_connect.counters import (
    DailyCounter,
    LifetimeCounter,
    PowerIntegrator,
)
from custom_components.sunvec_connect.plant_clock import PlantClock
from custom_components.sunvec_connect.polling import UploadSchedule
from custom_components.sunvec_connect.sensor import COUNTER_DATA_VERSION, migrate_counter_data
from custom_components.sunvec_connect.store import (
    Kept,
    KeptUpload,
    inverter_store,
    migrate_from_v1,
)

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
    assert PlantClock.restore(restored.clock, SAVED) == clock
    schedule = UploadSchedule()
    schedule.restore(restored.schedule, SAVED)
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
    assert PlantClock.restore(migrated["clock"], SAVED) == clock


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


async def test_a_later_minor_version_is_read_as_it_is(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Minor versions add what older code may ignore (Home Assistant's rule)."""
    key = f"{DOMAIN}.01INVERTER"
    hass_storage[key] = {"version": 2, "minor_version": 2, "key": key, "data": BEFORE_ACCOUNTS}
    assert await inverter_store(hass, "01INVERTER").async_load() == BEFORE_ACCOUNTS


# The counters' restore data ------------------------------------------------------

SUBENTRY_ID = "01HYBRIDENTRY000000000000"
CREATED = datetime(2026, 6, 1, tzinfo=UTC)
"""When the account was created."""
FIRST_COUNTERS = {
    # 75540c0: the first release kept the value alone (and the day, and an integral's
    # last sample), without the entity's owner.
    "lifetime": {"value": 5012.3},
    "daily": {"value": 12.4, "day": "2026-06-21"},
    "integral": {"total": 8.25, "last_time": UPLOAD_TIME.isoformat(), "last_power": 1234.0},
}


def test_counters_of_the_first_release_are_migrated() -> None:
    migrated = {
        kind: migrate_counter_data(stored, SAVED, SUBENTRY_ID, CREATED)
        for kind, stored in FIRST_COUNTERS.items()
    }
    owner = {"entry_id": SUBENTRY_ID, "version": COUNTER_DATA_VERSION}
    assert migrated == {
        "lifetime": {"value": 5012.3, "time": SAVED.isoformat(), **owner},
        "daily": {"value": 12.4, "day": "2026-06-21", "time": SAVED.isoformat(), **owner},
        "integral": {**FIRST_COUNTERS["integral"], "counted": 8.25, **owner},
    }
    lifetime = LifetimeCounter()
    lifetime.restore(migrated["lifetime"], SAVED)
    assert (lifetime.value, lifetime.time) == (5012.3, SAVED)
    daily = DailyCounter()
    daily.restore(migrated["daily"], SAVED)
    assert (daily.value, daily.time, daily.day) == (12.4, SAVED, SAVED.date())
    integral = PowerIntegrator(max_gap=timedelta(minutes=15))
    integral.restore(migrated["integral"], SAVED)
    assert (integral.total, integral.counted, integral.last_power) == (8.25, 8.25, 1234.0)


@pytest.mark.parametrize(
    ("last_updated", "owner"),
    [
        pytest.param(CREATED, SUBENTRY_ID, id="written_when_the_account_was_created"),
        pytest.param(CREATED - timedelta(seconds=1), None, id="written_before"),
        pytest.param(None, None, id="no_state"),
    ],
)
def test_history_without_an_owner_is_this_inverters_if_written_since_the_account(
    last_updated: datetime | None, owner: str | None
) -> None:
    migrated = migrate_counter_data({"value": 5012.3}, last_updated, SUBENTRY_ID, CREATED)
    assert migrated["entry_id"] == owner


def test_counters_of_the_release_before_accounts_keep_their_owner() -> None:
    """93d5d06 kept the whole history with the id of the inverter's entry."""
    lifetime = LifetimeCounter()
    lifetime.offer(5012.3, UPLOAD_TIME)
    old = {**lifetime.as_dict(), "entry_id": "01OLDENTRY"}
    migrated = migrate_counter_data(old, SAVED, SUBENTRY_ID, CREATED)
    assert migrated == {**old, "version": COUNTER_DATA_VERSION}
    # The current version is taken as it is.
    assert migrate_counter_data(migrated, None, SUBENTRY_ID, CREATED) is migrated


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(
            [
                *("value", "time", "held", "peak_kw", "day", "previous", "total", "counted"),
                *("last_time", "last_power", "last_yield", "ratio", "peak_power"),
                *("entry_id", "version"),
            ]
        ),
        JSON_VALUES,
    ),
    st.none() | st.datetimes(timezones=st.just(UTC)),
)
def test_any_counter_data_migrates_and_restores(
    stored: dict[str, Any], last_updated: datetime | None
) -> None:
    migrated = migrate_counter_data(stored, last_updated, SUBENTRY_ID, CREATED)
    for counter in (LifetimeCounter(), DailyCounter()):
        counter.restore(migrated, SAVED)
        # Nothing kept lies after the restart: a newer reading is judged at once.
        assert counter.time is None or counter.time <= SAVED
        assert counter.held is None or counter.held.time <= SAVED
    integrator = PowerIntegrator(max_gap=timedelta(minutes=15))
    integrator.restore(migrated, SAVED)
    assert integrator.last_time is None or integrator.last_time <= SAVED
