"""The "API calls today" sensor: the calls of the account's token, all its inverters together.

Checked against the requests the simulated cloud received, over local midnight, through
the cloud's failures, and with the option that keeps calls free for other apps.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant import config_entries
from homeassistant.const import (
    CONF_API_TOKEN,
    CONF_URL,
    STATE_UNAVAILABLE,
    EntityCategory,
)
from homeassistant.core import Event, EventStateChangedData, EventStateReportedData, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.event import (
    async_track_state_change_event,
    async_track_state_report_event,
)
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.const import CONF_CALLS_KEPT_FREE, CONF_WIFI_SN, DOMAIN
from simulator import Fault, FaultKind, ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import (
    PLANT_TIME_ZONE,
    TOKEN,
    TimeMachine,
    account_for,
    coordinator_of,
    inverter_of,
    setup_entry,
)

ZONE = ZoneInfo(PLANT_TIME_ZONE)
START = datetime(2026, 6, 21, 23, 30, 2, tzinfo=ZONE)
"""Half an hour before local midnight: the hybrid uploads, the PV-only one sleeps."""
MIDNIGHT = datetime(2026, 6, 22, 0, 0, tzinfo=ZONE)
REFRESH = timedelta(minutes=1)
"""The sensor counts again at least this often."""


@pytest.fixture
def sim_clock() -> ManualClock:
    """Both clocks start at START."""
    return ManualClock(START)


def calls_sensor(hass: HomeAssistant, wifi_sn: str = HYBRID_WIFI_SN) -> str:
    """The calls sensor of the account the inverter belongs to."""
    (entry,) = [
        entry
        for entry in hass.config_entries.async_entries(DOMAIN)
        if any(sub.unique_id == wifi_sn for sub in entry.subentries.values())
    ]
    unique_id = f"{entry.entry_id}_api_calls_today"
    found = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    assert found is not None
    return found


def shown(hass: HomeAssistant, wifi_sn: str = HYBRID_WIFI_SN) -> tuple[int, dict[str, Any]]:
    """The sensor's count and attributes."""
    state = hass.states.get(calls_sensor(hass, wifi_sn))
    assert state is not None
    assert state.state != STATE_UNAVAILABLE
    return int(state.state), dict(state.attributes)


def requests_between(cloud: SunvecCloud, since: datetime, until: datetime) -> int:
    """Requests the cloud received from the test's token in [since, until]."""
    return sum(1 for request in cloud.requests if since <= request.time <= until)


def check_count(hass: HomeAssistant, cloud: SunvecCloud, since: datetime, now: datetime) -> int:
    """The sensor shows the token's calls since `since`, as of at most a minute ago."""
    count, _ = shown(hass)
    assert requests_between(cloud, since, now - REFRESH) <= count
    assert count <= requests_between(cloud, since, now)
    return count


async def two_inverters(hass: HomeAssistant, sim_url: str, **options: int) -> MockConfigEntry:
    """The demo's hybrid and PV-only inverters on one token: one account."""
    return await setup_entry(
        hass, account_for(sim_url, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN], options=options)
    )


def calls_sensors(hass: HomeAssistant) -> list[str]:
    """Every calls sensor of the integration."""
    return [
        entity.entity_id
        for entity in er.async_get(hass).entities.values()
        if entity.platform == DOMAIN and entity.unique_id.endswith("_api_calls_today")
    ]


async def test_a_disabled_diagnostic_sensor(
    hass: HomeAssistant, time_machine: TimeMachine, config_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, config_entry)
    entry = er.async_get(hass).async_get(calls_sensor(hass))
    assert entry is not None
    assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert entry.entity_category is EntityCategory.DIAGNOSTIC
    assert hass.states.get(calls_sensor(hass)) is None


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_counts_the_calls_of_every_inverter_of_the_token_over_midnight(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    """One sensor, on the account's service device, counts the calls of both inverters."""
    account = await two_inverters(hass, sim_url)
    # One sensor for the token, not one per inverter: no two counts to tell apart.
    assert calls_sensors(hass) == [calls_sensor(hass)] == [calls_sensor(hass, PV_ONLY_WIFI_SN)]
    sensor = er.async_get(hass).async_get(calls_sensor(hass))
    assert sensor is not None
    device = dr.async_get(hass).async_get(sensor.device_id or "")
    assert device is not None
    assert device.identifiers == {(DOMAIN, account.entry_id)}
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert cloud.requests
    history: list[int] = []
    while time_machine.clock.now() < MIDNIGHT - timedelta(minutes=2):
        await time_machine.advance(60)
        history.append(check_count(hass, cloud, START, time_machine.clock.now()))
    count, attributes = shown(hass)
    hybrid_calls = sum(1 for request in cloud.requests if request.wifi_sn == HYBRID_WIFI_SN)
    # The calls of the PV-only inverter count too.
    assert count > hybrid_calls > 0
    assert attributes["daily_limit"] == 9990
    assert attributes["calls_last_24_hours"] == count  # no calls before START
    assert attributes["state_class"] == "total_increasing"
    assert attributes["unit_of_measurement"] == "calls"
    before_midnight = requests_between(cloud, START, MIDNIGHT)

    while time_machine.clock.now() < MIDNIGHT + timedelta(minutes=20):
        await time_machine.advance(60)
        now = time_machine.clock.now()
        history.append(check_count(hass, cloud, MIDNIGHT, now) if now > MIDNIGHT + REFRESH else 0)
    count, attributes = shown(hass)
    assert 0 < count < before_midnight
    # The last 24 hours still hold the calls before midnight.
    assert attributes["calls_last_24_hours"] >= before_midnight + count
    # A count of the day: it falls once, at midnight, and never else.
    falls = [(a, b) for a, b in pairwise(history) if b < a]
    assert len(falls) == 1


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_writes_its_state_only_when_the_count_changes(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    config_entry: MockConfigEntry,
) -> None:
    """It counts on its own timer and the inverters' updates: Home Assistant does not poll it.

    A polled sensor is written every 30 s with nothing new (a "state reported" event each).
    """
    await setup_entry(hass, config_entry)
    entity_id = calls_sensor(hass)
    reported: list[Event[EventStateReportedData]] = []
    changed: list[Event[EventStateChangedData]] = []
    async_track_state_report_event(hass, entity_id, reported.append)
    async_track_state_change_event(hass, entity_id, changed.append)
    calls_before = len(cloud.requests)
    await time_machine.run(10 * 60, step=10)
    assert len(cloud.requests) > calls_before
    assert changed
    assert reported == []


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_counts_through_failures_of_the_cloud(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    config_entry: MockConfigEntry,
) -> None:
    await setup_entry(hass, config_entry)
    await time_machine.run(10 * 60)
    before = check_count(hass, cloud, START, time_machine.clock.now())
    cloud.inject(Fault(FaultKind.HTTP_503, count=3))
    while cloud.requests[-1].outcome != "http_503":
        await time_machine.advance(30)
    await time_machine.advance(90)
    ac_power = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{HYBRID_WIFI_SN}_ac_power"
    )
    assert ac_power is not None
    ac_state = hass.states.get(ac_power)
    assert ac_state is not None
    assert ac_state.state == STATE_UNAVAILABLE
    # The failed calls count: the cloud received them.
    during = check_count(hass, cloud, START, time_machine.clock.now())
    assert during > before


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_the_daily_limit_follows_the_calls_kept_free(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str
) -> None:
    """The account keeps 3 calls a minute free: the whole token does, for both inverters.

    Before accounts, one entry of the token set the option and the other entry's sensor
    showed its limit too; an account's options are now the one place for the token's
    number, so the closest real scenario is the option set on the account, then changed
    in its options: the sensor follows it.
    """
    account = await two_inverters(hass, sim_url, **{CONF_CALLS_KEPT_FREE: 3})
    await time_machine.advance(60)
    _, attributes = shown(hass)
    assert attributes["daily_limit"] == 10_000 - 10 * 3
    for wifi_sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN):
        assert inverter_of(account, wifi_sn).budget.daily_limit == 10_000 - 10 * 3

    result = await hass.config_entries.options.async_init(account.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CALLS_KEPT_FREE: 5}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    await time_machine.advance(60)
    _, attributes = shown(hass)
    assert attributes["daily_limit"] == 10_000 - 10 * 5
    for wifi_sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN):
        assert inverter_of(account, wifi_sn).budget.daily_limit == 10_000 - 10 * 5


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_slots_reserved_ahead_are_no_calls_and_the_count_never_falls(
    hass: HomeAssistant, time_machine: TimeMachine, config_entry: MockConfigEntry
) -> None:
    await setup_entry(hass, config_entry)
    await time_machine.run(3 * 60)
    coordinator = coordinator_of(config_entry)
    budget = coordinator.budget
    before, _ = shown(hass)
    now = time_machine.clock.now()
    first, second = budget.reserve(now), budget.reserve(now)
    assert now <= first < second
    coordinator.async_update_listeners()
    # A slot at now is a call being made; a slot after now is not a call yet.
    assert shown(hass)[0] == before + (first == now)
    during = shown(hass)[0]
    # Slots given back unused: within the day the count does not fall.
    budget.release(second)
    budget.release(first)
    coordinator.async_update_listeners()
    assert shown(hass)[0] == during


async def test_the_forms_check_before_the_first_entry_counts_once(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    """The first inverter, added through the form, then the sensor enabled (a reload).

    The form's check makes the token's budget before any entry read the stored calls;
    what the setup reads back is the budget's own write still pending.
    """
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    er.async_get(hass).async_update_entity(calls_sensor(hass), disabled_by=None)
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    for _ in range(12):
        # In steps of a second, so that every call goes at its slot.
        await time_machine.run(60, step=1)
        count, _ = shown(hass)
        # The check and every poll since, each once (the sensor counts every minute).
        now = dt_util.utcnow()
        assert requests_between(cloud, START, now - REFRESH) <= count <= len(cloud.requests)
    assert count == len(cloud.requests) > 2
