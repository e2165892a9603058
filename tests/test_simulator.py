"""Tests for the simulated cloud: physics, rate limits, faults and the control interface."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
import json

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
import pytest

from simulator import Fault, FaultKind, ManualClock, Plant, ScaledClock, SunvecCloud
from simulator.__main__ import parse_args
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN, build_demo_cloud, pv_only_config

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
