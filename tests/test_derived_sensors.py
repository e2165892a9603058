"""Derived powers and house energy, against the simulator's truth.

The split powers and the house load are checked in three ways: on the balance of a
generated site (the house draws what the sources give minus what leaves through the
grid meter), through Home Assistant against the simulator's own house load for both
demo plants by day and by night, while charging and discharging, and as an energy
over whole days against the house load the simulator integrated at 1-second resolution.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from hypothesis import given, seed, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    mock_restore_cache_with_extra_data,
)

from benchmarks.energy_accuracy import DAY, PLANTS, WEEK, run_plant
from custom_components.sunvec_connect.api import RealtimeData, SunvecClient
from custom_components.sunvec_connect.const import DOMAIN, MAX_INTEGRATION_GAP
from custom_components.sunvec_connect.coordinator import SunvecCoordinator
from custom_components.sunvec_connect.counters import PowerIntegrator
from custom_components.sunvec_connect.sensor import (
    battery_charge_power,
    battery_discharge_power,
    grid_export_power,
    grid_import_power,
    house_load_power,
)
from simulator import Fault, FaultKind, Plant, SunvecCloud, Upload, Weather
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import PLANT_TIME_ZONE, TimeMachine, coordinator_of, entry_for, setup_entry

ZONE = ZoneInfo(PLANT_TIME_ZONE)
DERIVED_POWERS = (
    "grid_import_power",
    "grid_export_power",
    "battery_charge_power",
    "battery_discharge_power",
    "house_load_power",
)
ROUNDING_W = 1.0
"""The cloud sends acpower and feedinpower rounded to 1 W: their difference is within 1 W."""
PV_ONLY_ENTRY_ID = "01PVONLYENTRY0000000000000"

# Uploads like the vendor document's example, changed field by field below.
BASE_UPLOAD: dict[str, Any] = {
    "inverterSN": "H34A08I6008",
    "sn": "SRDEMO",
    "acpower": 1500,
    "yieldtoday": 5.2,
    "yieldtotal": 2420.5,
    "feedinpower": 400,
    "feedinenergy": 1210.0,
    "consumeenergy": 830.0,
    "feedinpowerM2": None,
    "soc": 60,
    "inverterType": "14",
    "inverterStatus": "102",
    "uploadTime": "2026-06-21 12:00:43",
    "batPower": 250,
    "powerdc1": 1000,
    "powerdc2": 800,
    "batStatus": "0",
}


def upload(**fields: Any) -> RealtimeData:
    """An upload with `fields` changed."""
    return RealtimeData.from_dict({**BASE_UPLOAD, **fields})


# --- The value functions ------------------------------------------------------------------

watts = st.integers(min_value=-30_000, max_value=30_000)


@seed(1301)
@settings(max_examples=300)
@given(grid=watts, battery=watts)
def test_split_powers_add_up_to_the_signed_ones(grid: int, battery: int) -> None:
    data = upload(feedinpower=grid, batPower=battery)
    pairs = (
        (grid_export_power(data), grid_import_power(data), grid),
        (battery_charge_power(data), battery_discharge_power(data), battery),
    )
    for positive, negative, signed in pairs:
        assert positive is not None
        assert negative is not None
        assert positive >= 0
        assert negative >= 0
        assert positive - negative == signed
        assert min(positive, negative) == 0


@seed(1302)
@settings(max_examples=300)
@given(
    house=st.integers(min_value=0, max_value=30_000),
    inverter=watts,
    meter2=st.one_of(
        st.none(),
        st.tuples(st.just("generator"), st.integers(min_value=0, max_value=20_000)),
        st.tuples(st.just("load"), st.integers(min_value=0, max_value=30_000)),
    ),
)
def test_house_load_is_the_balance_of_a_site(
    house: int, inverter: int, meter2: tuple[str, int] | None
) -> None:
    """A site where the house draws `house` W: every way meter 2 can be wired.

    A second inverter on meter 2 feeds its power into the house's AC side; a metered
    load on meter 2 is part of what the house draws. The grid meter sees the rest.
    """
    reading: int | None = None
    grid = inverter - house
    if meter2 is not None and meter2[0] == "generator":
        reading = meter2[1]
        grid += meter2[1]
    elif meter2 is not None:
        reading = -min(meter2[1], house)
    data = upload(acpower=inverter, feedinpower=grid, feedinpowerM2=reading)
    assert house_load_power(data) == house


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param({}, 1100.0, id="exporting"),
        pytest.param({"acpower": 0, "feedinpower": -700}, 700.0, id="importing_at_night"),
        pytest.param({"acpower": -2000, "feedinpower": -2600}, 600.0, id="charging_from_grid"),
        pytest.param({"feedinpowerM2": 900}, 2000.0, id="second_inverter_producing"),
        pytest.param({"feedinpowerM2": -8}, 1100.0, id="second_inverter_standby"),
        pytest.param({"acpower": 100, "feedinpower": 130}, 0.0, id="readings_do_not_fit"),
        pytest.param({"feedinpower": None}, None, id="no_meter_null"),
        pytest.param(
            {"feedinpower": 0, "feedinenergy": 0, "consumeenergy": 0}, None, id="no_meter_zero"
        ),
        pytest.param(
            {"feedinpower": 0, "feedinenergy": 0, "consumeenergy": 0, "yieldtotal": 0},
            1500.0,
            id="all_counters_zero_is_a_glitch",
        ),
        pytest.param({"feedinpower": 0}, 1500.0, id="zero_export_with_meter"),
        pytest.param({"acpower": None}, None, id="no_ac_power"),
    ],
)
def test_house_load_cases(fields: dict[str, Any], expected: float | None) -> None:
    assert house_load_power(upload(**fields)) == expected


def test_without_a_meter_there_is_no_grid_split() -> None:
    meterless = upload(feedinpower=0, feedinenergy=0, consumeenergy=0)
    assert grid_import_power(meterless) is None
    assert grid_export_power(meterless) is None
    assert grid_import_power(upload(feedinpower=None)) is None


# --- House energy over whole days, without Home Assistant --------------------------------


def house_load_of(item: Upload) -> float | None:
    """The house load the sensor shows for one of the simulator's uploads."""
    return house_load_power(RealtimeData.from_dict(item.result))


def house_energy_against_truth(plant: str, weather: Weather, first: Any, end: Any) -> float:
    """House energy as the sensor integrates it, in % from the simulator's house load.

    The truth is the house load integrated at 1-second resolution over the spans
    between uploads that the integral bridges (an inverter without battery does not
    upload at night, and the integral does not bridge that gap).
    """
    run = run_plant(PLANTS[plant](weather=weather), first, end)
    integrator = PowerIntegrator(max_gap=MAX_INTEGRATION_GAP)
    estimate, truth = 0.0, 0.0
    previous: Upload | None = None
    for item in run.uploads:
        estimate = integrator.offer(house_load_of(item), item.time) or 0.0
        if previous is not None and item.time - previous.time <= MAX_INTEGRATION_GAP:
            truth += (item.truth - previous.truth).load
        previous = item
    assert truth > 5
    return (estimate - truth) / truth * 100


@pytest.mark.parametrize("weather", [Weather.CLEAR, Weather.BROKEN])
@pytest.mark.parametrize("plant", list(PLANTS))
def test_house_energy_of_a_day(plant: str, weather: Weather) -> None:
    # The house load changes slowly, clouds or not: 5-minute samples follow it closely.
    assert abs(house_energy_against_truth(plant, weather, DAY, DAY + timedelta(days=1))) < 0.5


def test_house_energy_of_a_week() -> None:
    assert abs(house_energy_against_truth("hybrid", Weather.BROKEN, *WEEK)) < 0.1


def test_an_inverter_without_battery_misses_the_night() -> None:
    """What docs/entities.md says: its house energy covers only the hours it uploads."""
    next_day = DAY + timedelta(days=1)
    run = run_plant(PLANTS["PV-only"](), DAY, next_day + timedelta(days=1))
    integrator = PowerIntegrator(max_gap=MAX_INTEGRATION_GAP)
    total = 0.0
    for item in run.uploads:
        if item.time.astimezone(ZONE).date() == DAY:
            total = integrator.offer(house_load_of(item), item.time) or 0.0
    whole_day = (run.truth_at_midnight[next_day] - run.truth_at_midnight[DAY]).load
    assert 0.5 * whole_day < total < 0.7 * whole_day


# --- Through Home Assistant, against the simulator's house load --------------------------


def entity_id(hass: HomeAssistant, key: str, wifi_sn: str = HYBRID_WIFI_SN) -> str:
    """The entity id of the sensor with unique id {wifi_sn}_{key}."""
    found = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, f"{wifi_sn}_{key}")
    assert found is not None, key
    return found


def state_of(hass: HomeAssistant, key: str, wifi_sn: str = HYBRID_WIFI_SN) -> str:
    state = hass.states.get(entity_id(hass, key, wifi_sn))
    assert state is not None, key
    return state.state


def value(hass: HomeAssistant, key: str, wifi_sn: str = HYBRID_WIFI_SN) -> float:
    return float(state_of(hass, key, wifi_sn))


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in the plants' time zone in June 2026."""
    return datetime(2026, 6, day, hour, minute, tzinfo=ZONE)


async def go_to(time_machine: TimeMachine, moment: datetime) -> None:
    """Jump to `moment`, then poll for a few minutes so that a fresh upload is shown."""
    await time_machine.advance((moment - time_machine.clock.now()).total_seconds())
    await time_machine.run(6 * 60)


def shown_upload(cloud: SunvecCloud, coordinator: SunvecCoordinator) -> Upload:
    """The simulator's upload that the entry's entities show."""
    plant = cloud.plants[coordinator.wifi_sn]
    shown = coordinator.data.upload_time
    return next(item for item in plant.uploads if item.time == shown)


def check_derived_powers(
    hass: HomeAssistant, plant: Plant, item: Upload, wifi_sn: str
) -> dict[str, float]:
    """The derived powers follow the upload; the house load is the simulator's own."""
    keys = ["grid_export_power", "grid_import_power"]
    if item.result["batPower"] is not None:
        keys += ["battery_charge_power", "battery_discharge_power"]
    powers = {key: value(hass, key, wifi_sn) for key in keys}
    grid = float(item.result["feedinpower"])
    assert powers["grid_export_power"] - powers["grid_import_power"] == grid
    assert value(hass, "grid_power", wifi_sn) == grid  # the signed sensor is unchanged
    assert min(powers["grid_export_power"], powers["grid_import_power"]) == 0
    if item.result["batPower"] is not None:
        battery = float(item.result["batPower"])
        assert powers["battery_charge_power"] - powers["battery_discharge_power"] == battery
        assert value(hass, "battery_power", wifi_sn) == battery
        assert min(powers["battery_charge_power"], powers["battery_discharge_power"]) == 0
    house = value(hass, "house_load_power", wifi_sn)
    assert house == pytest.approx(plant.house_load(item.time), abs=ROUNDING_W)
    return powers


async def test_hybrid_day_and_night_charging_and_discharging(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    coordinator = coordinator_of(init_integration)
    plant = cloud.plants[HYBRID_WIFI_SN]
    seen: dict[str, dict[str, float]] = {}
    for name, moment in (
        ("noon, battery full, exporting", local(21, 12, 0)),
        ("evening, discharging into the evening peak", local(21, 19, 0)),
        ("night, discharging", local(22, 1, 0)),
        ("morning, charging", local(22, 10, 0)),
    ):
        await go_to(time_machine, max(moment, time_machine.clock.now()))
        item = shown_upload(cloud, coordinator)
        seen[name] = check_derived_powers(hass, plant, item, HYBRID_WIFI_SN)
    # Each moment is what its name says.
    noon = seen["noon, battery full, exporting"]
    assert noon["grid_export_power"] > 1000
    assert noon["battery_charge_power"] == noon["battery_discharge_power"] == 0
    for name in ("evening, discharging into the evening peak", "night, discharging"):
        assert seen[name]["battery_discharge_power"] > 100, name
        assert seen[name]["battery_charge_power"] == 0, name
    assert seen["morning, charging"]["battery_charge_power"] > 100
    assert seen["morning, charging"]["battery_discharge_power"] == 0


async def test_pv_only_day_dusk_and_night(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    entry = await setup_entry(hass, entry_for(sim_url, PV_ONLY_WIFI_SN, entry_id=PV_ONLY_ENTRY_ID))
    coordinator = coordinator_of(entry)
    plant = cloud.plants[PV_ONLY_WIFI_SN]

    day = check_derived_powers(hass, plant, shown_upload(cloud, coordinator), PV_ONLY_WIFI_SN)
    assert day["grid_export_power"] > 1000
    registry = er.async_get(hass)
    assert not registry.async_get_entity_id(
        "sensor", DOMAIN, f"{PV_ONLY_WIFI_SN}_battery_charge_power"
    )

    # After sunset the inverter uploads for a quarter of an hour: the house imports all.
    await go_to(time_machine, local(21, 20, 4))
    item = shown_upload(cloud, coordinator)
    assert item.time > local(21, 20, 0)
    dusk = check_derived_powers(hass, plant, item, PV_ONLY_WIFI_SN)
    assert item.result["acpower"] == 0
    assert dusk["grid_import_power"] == value(hass, "house_load_power", PV_ONLY_WIFI_SN) > 1000
    energy = value(hass, "house_energy", PV_ONLY_WIFI_SN)

    # At night it is asleep: the powers turn unavailable, the energy keeps its value.
    await go_to(time_machine, local(21, 23, 0))
    for key in ("grid_import_power", "grid_export_power", "house_load_power"):
        assert state_of(hass, key, PV_ONLY_WIFI_SN) == STATE_UNAVAILABLE, key
    assert value(hass, "house_energy", PV_ONLY_WIFI_SN) >= energy
    night_energy = value(hass, "house_energy", PV_ONLY_WIFI_SN)

    # In the morning the integral goes on from the first upload: the night is not bridged.
    await time_machine.advance((local(22, 7, 30) - time_machine.clock.now()).total_seconds())
    first_morning = shown_upload(cloud, coordinator)
    assert first_morning.time > local(22, 7, 20)
    assert value(hass, "house_energy", PV_ONLY_WIFI_SN) == night_energy
    await time_machine.run(30 * 60)
    last_morning = shown_upload(cloud, coordinator)
    morning_truth = (last_morning.truth - first_morning.truth).load
    assert morning_truth > 0.1
    rise = value(hass, "house_energy", PV_ONLY_WIFI_SN) - night_energy
    assert rise == pytest.approx(morning_truth, rel=0.02)


async def test_house_energy_follows_the_simulator(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    coordinator = coordinator_of(init_integration)
    first = shown_upload(cloud, coordinator)
    assert value(hass, "house_energy") == 0.0
    await time_machine.run(4 * 3600, step=60)
    last = shown_upload(cloud, coordinator)
    truth = (last.truth - first.truth).load
    assert truth > 1.0
    assert value(hass, "house_energy") == pytest.approx(truth, rel=0.01)
    state = hass.states.get(entity_id(hass, "house_energy"))
    assert state is not None
    assert state.attributes["state_class"] == "total_increasing"
    assert state.attributes["unit_of_measurement"] == "kWh"


async def test_stale_upload_makes_the_derived_powers_unavailable(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    energy = value(hass, "house_energy")
    cloud.inject(Fault(FaultKind.STOP_UPLOADING))
    await time_machine.run(20 * 60)
    for key in DERIVED_POWERS:
        assert state_of(hass, key) == STATE_UNAVAILABLE, key
    stalled = value(hass, "house_energy")
    assert stalled >= energy
    await time_machine.run(40 * 60)
    assert value(hass, "house_energy") == stalled
    cloud.clear_faults()
    await time_machine.run(20 * 60)
    assert all(state_of(hass, key) != STATE_UNAVAILABLE for key in DERIVED_POWERS)
    # The hour without uploads is not bridged: the energy rose only by what followed it.
    assert value(hass, "house_energy") - stalled < 0.5
    # Diagnostics say so, for every integrated energy.
    gaps = coordinator_of(init_integration).statistics.gaps_left_out
    assert gaps.get("house_energy") == 1
    assert gaps.get("pv_energy") == 1


def without_meter(data: RealtimeData) -> RealtimeData:
    """The upload as the cloud sends it for an inverter without a grid meter."""
    return replace(data, feedin_power=0.0, feedin_energy=0.0, consume_energy=0.0)


async def test_no_grid_split_or_house_load_without_a_meter(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str
) -> None:
    fetch = SunvecClient.async_get_realtime_data

    async def meterless(client: SunvecClient, wifi_sn: str) -> RealtimeData:
        return without_meter(await fetch(client, wifi_sn))

    with patch.object(SunvecClient, "async_get_realtime_data", meterless):
        entry = await setup_entry(
            hass, entry_for(sim_url, PV_ONLY_WIFI_SN, entry_id=PV_ONLY_ENTRY_ID)
        )
        await time_machine.run(10 * 60)
    keys = {
        item.unique_id.removeprefix(f"{PV_ONLY_WIFI_SN}_")
        for item in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    }
    assert {"ac_power", "grid_power", "pv_energy"} <= keys  # grid_power shows the cloud's 0
    assert not keys & {"grid_import_power", "grid_export_power", "house_load_power"}
    assert "house_energy" not in keys
    # Nor grid energies that would stay unknown forever (issue 17; created before it).
    assert not keys & {"grid_import_energy", "grid_export_energy"}


async def test_derived_sensors_appear_when_their_fields_carry_data(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    config_entry: MockConfigEntry,
) -> None:
    cloud.inject(Fault(FaultKind.NULL_FIELDS))
    await setup_entry(hass, config_entry)
    registry = er.async_get(hass)
    for key in (*DERIVED_POWERS, "house_energy"):
        assert not registry.async_get_entity_id("sensor", DOMAIN, f"{HYBRID_WIFI_SN}_{key}"), key
    await time_machine.advance(300)  # no upload time in the first answer: a cadence later
    for key in (*DERIVED_POWERS, "house_energy"):
        assert state_of(hass, key) != STATE_UNAVAILABLE, key


async def test_house_energy_survives_a_restart(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str
) -> None:
    entry = entry_for(sim_url, entry_id="01HYBRIDENTRY000000000000")
    saved = dt_util.utcnow()
    house_energy = "sensor.sunvec_sutdemohyb1_house_energy"
    mock_restore_cache_with_extra_data(
        hass,
        [
            (
                State(house_energy, "41.5", last_updated=saved),
                {"total": 41.5, "last_time": None, "last_power": None, "entry_id": entry.entry_id},
            )
        ],
    )
    await setup_entry(hass, entry)
    assert value(hass, "house_energy") == 41.5
    await time_machine.run(30 * 60)
    # Half an hour of a house drawing less than 1 kW: the total goes on from 41.5 kWh.
    assert 41.5 < value(hass, "house_energy") < 41.5 + 0.5
