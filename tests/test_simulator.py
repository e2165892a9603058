"""Tests for the simulated cloud: physics, rate limits, faults and the control interface."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
import json
import random

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
import numpy as np
import pytest

from simulator import (
    CloudModel,
    EnergyTruth,
    Fault,
    FaultKind,
    ManualClock,
    Plant,
    PlantConfig,
    ScaledClock,
    SunvecCloud,
    Weather,
)
from simulator.__main__ import parse_args
from simulator.demo import (
    HYBRID_WIFI_SN,
    PV_ONLY_WIFI_SN,
    build_demo_cloud,
    hybrid_config,
    pv_only_config,
)

from .conftest import TOKEN

REALTIME = "/api/v2/dataAccess/realtimeInfo/get"


def integrate(samples: list[tuple[datetime, float]]) -> float:
    """Trapezoidal integral of (time, W) samples in kWh."""
    total = 0.0
    for (t0, p0), (t1, p1) in pairwise(samples):
        total += (p0 + p1) / 2 * (t1 - t0).total_seconds() / 3600 / 1000
    return total


@pytest.mark.parametrize("wifi_sn", [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN])
def test_counters_are_the_integral_of_the_powers(wifi_sn: str) -> None:
    clock = ManualClock(datetime(2026, 6, 20, 22, 0, tzinfo=UTC))
    cloud, _ = build_demo_cloud(clock, TOKEN)
    plant = cloud.plants[wifi_sn]
    start = clock.now()
    uploads = []
    for _ in range(24 * 12):
        clock.advance(300)
        plant.advance_to(clock.now())
        newest, previous = plant.uploads[-1], plant.uploads[-2]
        contiguous = newest.time - previous.time <= timedelta(seconds=300)
        if contiguous and newest.time > start and newest not in uploads:
            uploads.append(newest)
    # Compare over the contiguous daytime run: a PV-only inverter does not upload at night.
    first, last = uploads[0], uploads[-1]
    assert last.time - first.time > timedelta(hours=12)
    samples_ac = [(u.time, float(u.result["acpower"])) for u in uploads]
    samples_feed = [(u.time, float(u.result["feedinpower"])) for u in uploads]
    pv_yield = last.result["yieldtotal"] - first.result["yieldtotal"]
    exported = last.result["feedinenergy"] - first.result["feedinenergy"]
    imported = last.result["consumeenergy"] - first.result["consumeenergy"]
    if plant.soc is None:
        assert pv_yield == pytest.approx(integrate(samples_ac), rel=0.01)
    export_integral = integrate([(t, max(p, 0)) for t, p in samples_feed])
    import_integral = integrate([(t, max(-p, 0)) for t, p in samples_feed])
    assert exported == pytest.approx(export_integral, rel=0.01, abs=0.15)
    assert imported == pytest.approx(import_integral, rel=0.01, abs=0.15)
    assert pv_yield > 10


def test_yield_today_resets_at_local_midnight_and_status_follows_the_sun() -> None:
    clock = ManualClock(datetime(2026, 6, 20, 12, 0, tzinfo=UTC))
    plant = Plant(pv_only_config(), clock.now())
    statuses = set()
    yields_at_midnight = []
    for _ in range(24 * 12):
        clock.advance(300)
        plant.advance_to(clock.now())
        statuses.add(plant.uploads[-1].result["inverterStatus"])
        if (
            plant.time.astimezone(plant.zone).hour == 0
            and plant.time.astimezone(plant.zone).minute < 5
        ):
            yields_at_midnight.append(plant.yield_today)
    assert statuses == {"100", "102", "109"}
    assert yields_at_midnight == [0.0]
    # A PV-only inverter stops uploading at night: the last upload is from the evening.
    night = datetime(2026, 6, 21, 23, 30, tzinfo=UTC)
    clock.set(night)
    last = plant.latest_available(night)
    assert last is not None
    assert last.time < night - timedelta(hours=2)


async def test_http_api_and_control(
    sim_server: TestServer, cloud: SunvecCloud, sim_clock: ManualClock
) -> None:
    async with ClientSession() as session:

        async def realtime(token: str = TOKEN, sn: str = HYBRID_WIFI_SN) -> dict:
            response = await session.post(
                sim_server.make_url(REALTIME), json={"wifiSn": sn}, headers={"tokenId": token}
            )
            assert response.status == 200
            return await response.json()

        first = await realtime()
        assert first["success"] is True
        assert first["code"] == 0
        assert set(first["result"]) >= {"inverterSN", "uploadTime", "powerdc4", "batStatus"}
        assert (await realtime(sn="bad sn!"))["code"] == 1002
        assert (await realtime(token=""))["code"] == 1001

        state = await (await session.get(sim_server.make_url("/_sim/state"))).json()
        assert state["plants"][HYBRID_WIFI_SN]["uploading"] is True
        assert state["ok_by_wifi_sn"] == {HYBRID_WIFI_SN: 1}

        # A new token for the same inverter, as a user makes one in the portal.
        response = await session.post(
            sim_server.make_url("/_sim/accounts"),
            json={"token": "new-token", "wifi_sns": [HYBRID_WIFI_SN]},
        )
        assert response.status == 200
        assert (await realtime(token="new-token"))["code"] == 0
        response = await session.post(sim_server.make_url("/_sim/accounts"), json={"token": "x"})
        assert response.status == 400

        response = await session.post(
            sim_server.make_url("/_sim/faults"), json={"kind": "zero_counters"}
        )
        assert response.status == 200
        response = await session.post(sim_server.make_url("/_sim/faults"), json={"kind": "nope"})
        assert response.status == 400
        response = await session.post(
            sim_server.make_url("/_sim/clock/advance"), json={"seconds": 300}
        )
        assert response.status == 200
        plant = cloud.plants[HYBRID_WIFI_SN]
        plant.advance_to(sim_clock.now())
        glitch_upload = next(u for u in plant.uploads if u.result["yieldtotal"] == 0)
        sim_clock.set(max(glitch_upload.available_at, sim_clock.now()))
        glitched = await realtime()
        assert glitched["result"]["yieldtotal"] == 0
        assert glitched["result"]["uploadTime"] != first["result"]["uploadTime"]
        response = await session.post(
            sim_server.make_url("/_sim/clock/advance"), json={"seconds": -1}
        )
        assert response.status == 400

        await session.post(sim_server.make_url("/_sim/faults"), json={"kind": "stop_uploading"})
        sim_clock.advance(3600)
        stale = await realtime()
        assert stale["result"]["uploadTime"] == glitched["result"]["uploadTime"]
        await session.delete(sim_server.make_url("/_sim/faults"))
        sim_clock.advance(400)
        assert (await realtime())["result"]["uploadTime"] != stale["result"]["uploadTime"]

        await session.post(
            sim_server.make_url("/_sim/faults"), json={"kind": "future_upload_time", "count": 1}
        )
        future = await realtime()
        moment = datetime.strptime(future["result"]["uploadTime"], "%Y-%m-%d %H:%M:%S")
        assert moment > datetime(2026, 6, 21, 15, 0)


async def test_rate_limit_and_ban(cloud: SunvecCloud, sim_clock: ManualClock) -> None:
    async def call() -> dict:
        response = await cloud.handle_realtime(TOKEN, json.dumps({"wifiSn": HYBRID_WIFI_SN}))
        return json.loads(response.text or "{}")

    codes = [(await call())["code"] for _ in range(12)]
    assert codes == [0] * 10 + [104, 104]
    assert (await call())["code"] == 1  # third violation within 10 minutes: banned
    sim_clock.advance(120)
    assert (await call())["code"] == 1
    sim_clock.advance(3600)
    assert (await call())["code"] == 0
    assert [r.outcome for r in cloud.requests].count("banned") == 2

    cloud.inject(Fault(FaultKind.BAN))
    assert (await call())["code"] == 1
    cloud.clear_faults()
    assert (await call())["code"] == 0


async def test_daily_budget() -> None:
    clock = ManualClock(datetime(2026, 6, 21, 10, 0, tzinfo=UTC))
    cloud, token = build_demo_cloud(clock, TOKEN, per_minute=1000, per_day=5)
    body = json.dumps({"wifiSn": PV_ONLY_WIFI_SN})
    outcomes = []
    for _ in range(6):
        await cloud.handle_realtime(token, body)
        outcomes.append(cloud.requests[-1].outcome)
        clock.advance(70)
    assert outcomes == ["ok"] * 5 + ["rate_limited"]


async def test_fault_scoped_to_wifi_sn_and_count(cloud: SunvecCloud) -> None:
    cloud.inject(Fault(FaultKind.HTTP_503, count=2, wifi_sn=PV_ONLY_WIFI_SN))
    hybrid = await cloud.handle_realtime(TOKEN, json.dumps({"wifiSn": HYBRID_WIFI_SN}))
    assert hybrid.status == 200
    statuses = [
        (await cloud.handle_realtime(TOKEN, json.dumps({"wifiSn": PV_ONLY_WIFI_SN}))).status
        for _ in range(3)
    ]
    assert statuses == [503, 503, 200]
    assert cloud.state()["faults"] == []
    assert cloud.state()["outcomes"] == {"ok": 2, "http_503": 2}


def test_scaled_clock_and_cli() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    clock = ScaledClock(start, speed=1000)
    assert clock.now() >= start
    with pytest.raises(ValueError):
        ScaledClock(start, speed=0)
    args = parse_args(["--port", "9000", "--speed", "60", "--manual-clock"])
    assert args.port == 9000
    assert args.speed == 60
    assert args.manual_clock
    assert args.publish_delay == (20.0, 90.0)
    assert parse_args(["--publish-delay", "2", "4"]).publish_delay == [2.0, 4.0]


# Weather and the 1-second truth ----------------------------------------------------------
DAY_START = datetime(2026, 6, 20, 22, 0, tzinfo=UTC)
"""Midnight in Amsterdam."""


def day_seconds(hours: float = 24.0) -> np.ndarray:
    """Every second of `hours` from DAY_START, as epoch seconds."""
    start = DAY_START.timestamp()
    return np.arange(start, start + hours * 3600)


@pytest.mark.parametrize("weather", list(Weather))
def test_weather_is_seeded_and_continuous(weather: Weather) -> None:
    times = day_seconds()
    sky = CloudModel(weather, 5).factor(times)
    # Asked in another order, by a model with an empty cache: the same sky.
    other = CloudModel(weather, 5)
    pieces = [other.factor(part) for part in reversed(np.array_split(times, 7))]
    assert np.array_equal(np.concatenate(pieces[::-1]), sky)
    assert other.factor_at(float(times[4321])) == sky[4321]
    if weather is not Weather.CLEAR:
        assert not np.array_equal(CloudModel(weather, 6).factor(times), sky)
    # No jumps, at block edges included: the steepest ramp takes 10 s.
    assert np.abs(np.diff(sky)).max() <= 1.08 / 10
    assert sky.min() >= {"passing": 0.55, "clear": 1.0, "broken": 0.22, "overcast": 0.15}[weather]
    assert sky.max() <= {"passing": 1.0, "clear": 1.0, "broken": 1.08, "overcast": 0.4}[weather]


def test_passing_clouds_are_the_former_fifteen_minute_slots() -> None:
    model = CloudModel(Weather.PASSING, 7)
    slot = 1_970_000
    level = random.Random(f"7:{slot}").uniform(0.55, 1.0)
    following = random.Random(f"7:{slot + 1}").uniform(0.55, 1.0)
    assert model.factor_at(slot * 900.0) == pytest.approx(level)
    assert model.factor_at(slot * 900.0 + 300) == pytest.approx(level + (following - level) / 3)


def test_broken_clouds_ramp_by_half_or_more_within_a_minute() -> None:
    sky = CloudModel(Weather.BROKEN, 3).factor(day_seconds())
    windows = np.lib.stride_tricks.sliding_window_view(sky, 61)
    highest, lowest = windows.max(axis=1), windows.min(axis=1)
    change = 1 - lowest / highest
    # A ramp is a run of minutes with a change of 50 % or more; count where they start.
    ramps = np.count_nonzero(np.diff((change >= 0.5).astype(int)) == 1)
    assert ramps >= 24 * 6
    assert change.max() <= 0.8 + 1e-9
    assert 0.6 <= sky.mean() <= 0.85
    # Over 5 minutes the sky can change completely: samples that far apart miss it.
    assert np.corrcoef(sky[:-300], sky[300:])[0, 1] < 0.5


def reference_truth(
    plant: Plant, start: datetime, seconds: int, soc: float
) -> tuple[EnergyTruth, float]:
    """The energies and the final state of charge, second by second.

    Straight from the plant's model, independent of the simulator's vectorised
    integration and its battery bookkeeping.
    """
    config, truth = plant.config, EnergyTruth()
    for second in range(seconds):
        middle = start + timedelta(seconds=second + 0.5)
        pv = config.peak_power * plant.sun_fraction(middle) * plant.cloud_factor(middle)
        pv_ac, load = pv * 0.97, plant.house_load(middle)
        surplus, battery = pv_ac - load, 0.0
        if surplus > 0 and soc < 100:
            battery = min(surplus, config.battery_max_power)
        elif surplus < 0 and soc > 10:
            battery = -min(-surplus, config.battery_max_power)
        assert config.battery_kwh is not None
        soc = min(100.0, max(0.0, soc + battery / 3600 / 1000 / config.battery_kwh * 100))
        grid = pv_ac - battery - load
        for name, power in (
            ("pv_dc", pv),
            ("pv_ac", pv_ac),
            ("ac_output", pv_ac - battery),
            ("battery_charge", max(battery, 0.0)),
            ("battery_discharge", max(-battery, 0.0)),
            ("grid_export", max(grid, 0.0)),
            ("grid_import", max(-grid, 0.0)),
            ("load", load),
        ):
            setattr(truth, name, getattr(truth, name) + power / 3600 / 1000)
    return truth, soc


def test_truth_is_the_one_second_integral() -> None:
    # A small battery under broken clouds around sunset: it runs full, then to its
    # reserve, so each of its rules is crossed.
    start = datetime(2026, 6, 21, 15, 30, tzinfo=UTC)
    config = hybrid_config(weather=Weather.BROKEN, battery_kwh=0.8)
    plant = Plant(config, start)
    plant.soc = 80.0
    plant.advance_to(start + timedelta(hours=3))
    expected, soc = reference_truth(Plant(config, start), start, 3 * 3600, 80.0)
    assert plant.soc == pytest.approx(soc)
    assert 9.9 < soc <= 10.0
    assert plant.truth.battery_charge > 0.1
    assert plant.truth.battery_discharge > 0.5
    for name, value in expected.as_dict().items():
        assert getattr(plant.truth, name) == pytest.approx(value, rel=1e-9, abs=1e-9), name


def test_truth_does_not_depend_on_how_the_clock_moves() -> None:
    start = datetime(2026, 6, 21, 4, 0, 0, 250000, tzinfo=UTC)
    config = hybrid_config(weather=Weather.BROKEN)
    in_one_go, in_steps = Plant(config, start), Plant(config, start)
    end = start + timedelta(hours=6)
    in_one_go.advance_to(end)
    moment, rng = start, random.Random(4)
    while moment < end:
        moment = min(end, moment + timedelta(seconds=rng.uniform(0.01, 700)))
        in_steps.advance_to(moment)
    for name, value in in_one_go.truth.as_dict().items():
        assert getattr(in_steps.truth, name) == pytest.approx(value, rel=1e-6), name
    assert [u.result for u in in_steps.uploads] == [u.result for u in in_one_go.uploads]


@pytest.mark.parametrize("factory", [hybrid_config, pv_only_config])
def test_uploaded_counters_are_the_truth_rounded(factory: Callable[..., PlantConfig]) -> None:
    config = factory(weather=Weather.BROKEN)
    plant = Plant(config, DAY_START)
    at_midnight = plant.truth.copy()
    uploads = []
    for _ in range(24 * 12):
        plant.advance_to(plant.time + timedelta(seconds=300))
        if plant.uploads and (not uploads or plant.uploads[-1].index > uploads[-1].index):
            uploads.append(plant.uploads[-1])
    assert len(uploads) > 150
    for upload in uploads:
        result, truth = upload.result, upload.truth
        assert result["yieldtotal"] == round(config.yield_total_start + truth.pv_ac, 1)
        assert result["yieldtoday"] == round(truth.pv_ac - at_midnight.pv_ac, 1)
        assert result["feedinenergy"] == round(config.feedin_energy_start + truth.grid_export, 1)
        assert result["consumeenergy"] == round(config.consume_energy_start + truth.grid_import, 1)
    truth = plant.truth
    # Energy balance: what comes in goes out.
    assert truth.pv_ac - truth.battery_charge + truth.battery_discharge == pytest.approx(
        truth.ac_output
    )
    assert truth.ac_output - truth.load == pytest.approx(truth.grid_export - truth.grid_import)
    assert truth.pv_ac == pytest.approx(0.97 * truth.pv_dc)


def test_local_hours_across_daylight_saving_time() -> None:
    plant = Plant(pv_only_config(), datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    # Amsterdam moves from UTC+1 to UTC+2 at 01:00 UTC on 29 March.
    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC).timestamp()
    times = np.arange(start, start + 7200, 60.0)
    expected = [
        (moment := datetime.fromtimestamp(t, plant.zone)).hour + moment.minute / 60 for t in times
    ]
    assert plant._local_hours(times) == pytest.approx(expected)
    plant.advance_to(datetime(2026, 3, 29, 23, 0, tzinfo=UTC))
    assert plant.local_date.isoformat() == "2026-03-30"
    assert plant.yield_today == 0.0


async def test_truth_and_weather_in_state(
    sim_server: TestServer, cloud: SunvecCloud, sim_clock: ManualClock
) -> None:
    sim_clock.advance(600)
    async with ClientSession() as session:
        state = await (await session.get(sim_server.make_url("/_sim/state"))).json()
    plant = cloud.plants[HYBRID_WIFI_SN]
    shown = state["plants"][HYBRID_WIFI_SN]
    assert plant.time == sim_clock.now()
    assert shown["weather"] == "passing"
    assert shown["truth_kwh"] == {
        name: round(value, 4) for name, value in plant.truth.as_dict().items()
    }
    assert shown["truth_kwh"]["pv_dc"] == shown["pv_energy_kwh"] > 0


def test_weather_option() -> None:
    assert parse_args([]).weather is Weather.PASSING
    assert parse_args(["--weather", "broken"]).weather is Weather.BROKEN
    with pytest.raises(SystemExit):
        parse_args(["--weather", "stormy"])
    clock = ManualClock(DAY_START)
    cloud, _ = build_demo_cloud(clock, TOKEN, weather=Weather.OVERCAST)
    assert {plant.config.weather for plant in cloud.plants.values()} == {Weather.OVERCAST}


async def test_status_override_over_http(
    sim_server: TestServer, cloud: SunvecCloud, sim_clock: ManualClock
) -> None:
    """`POST /_sim/status` makes the next uploads carry a status, until set back to null."""
    plant = cloud.plants[HYBRID_WIFI_SN]
    async with ClientSession() as session:
        url = sim_server.make_url("/_sim/status")
        response = await session.post(url, json={"wifi_sn": HYBRID_WIFI_SN, "status": 103})
        assert response.status == 200
        assert (await response.json())["status"] == "103"
        sim_clock.advance(400)
        plant.advance_to(sim_clock.now())
        assert plant.uploads[-1].result["inverterStatus"] == "103"

        response = await session.post(url, json={"wifi_sn": HYBRID_WIFI_SN, "status": None})
        assert response.status == 200
        sim_clock.advance(400)
        plant.advance_to(sim_clock.now())
        assert plant.uploads[-1].result["inverterStatus"] == "102"

        for bad in ({"wifi_sn": "NOPE", "status": 103}, {"wifi_sn": HYBRID_WIFI_SN}, [1]):
            response = await session.post(url, json=bad)
            assert response.status == 400
