"""A week on a virtual clock with random faults: counters, energy, budget and resources."""

from __future__ import annotations

from collections import Counter
import contextlib
from datetime import UTC, datetime, timedelta
import gc
import random

from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import CONF_API_TOKEN, EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
import pytest

from benchmarks.harness import TOKEN, VirtualRun, bench_cloud, peak_per_minute
from custom_components.sunvec_connect.const import DOMAIN
from simulator import Fault, FaultKind, ManualClock, create_app

START = datetime(2026, 6, 14, 22, 0, 1, tzinfo=UTC)
"""Midnight in Amsterdam, the start of a summer week."""
DAYS = 7
ANSWER_FAULTS = [
    FaultKind.HTTP_500,
    FaultKind.HTTP_502,
    FaultKind.HTTP_503,
    FaultKind.HTTP_429,
    FaultKind.RATE_LIMITED,
    FaultKind.HANG,
    FaultKind.INVALID_JSON,
    FaultKind.TRUNCATED_JSON,
    FaultKind.NOT_OBJECT,
    FaultKind.RESULT_MISSING,
    FaultKind.RESULT_STRING,
    FaultKind.NULL_FIELDS,
    FaultKind.NUMBERS_AS_STRINGS,
    FaultKind.UNKNOWN_CODES,
    FaultKind.BAD_UPLOAD_TIME,
]
GLITCHES = [FaultKind.ZERO_COUNTERS, FaultKind.COUNTERS_LOWER, FaultKind.YIELD_TODAY_DROP]
FAULTS_PER_DAY = 12
"""About 5 % of the roughly 230 calls a day."""
GLITCHES_PER_DAY = 3
BAN_AT = timedelta(days=2, hours=4, minutes=30)
"""Day 3 at 04:30 local, before sunrise: an hour's daytime ban would cost an hour of
integrated PV energy, since integrals never bridge gaps over 15 minutes."""
REVOKE_AT = timedelta(days=4, hours=5, minutes=45)
REAUTH_AFTER = timedelta(minutes=20)


def fault_plan(seed: int = 2026) -> list[tuple[datetime, FaultKind]]:
    """When to inject what: random answer faults and glitches, one ban, one revocation."""
    rng = random.Random(seed)
    plan = [(START + BAN_AT, FaultKind.BAN), (START + REVOKE_AT, FaultKind.REVOKE_TOKEN)]
    for day in range(DAYS):
        for kinds, count in ((ANSWER_FAULTS, FAULTS_PER_DAY), (GLITCHES, GLITCHES_PER_DAY)):
            for _ in range(count):
                moment = START + timedelta(days=day, seconds=rng.uniform(0, 86400))
                plan.append((moment, rng.choice(kinds)))
    return sorted(plan)


class CounterWatch:
    """Counts decreases of total_increasing sensors (yield today: within an upload day)."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Listen to state changes of the integration's energy counters."""
        registry = er.async_get(hass)
        self.keys = {
            entity.entity_id: entity.unique_id.split("_", 1)[1]
            for entity in registry.entities.values()
            if entity.platform == DOMAIN
            and entity.capabilities
            and entity.capabilities.get("state_class") == "total_increasing"
        }
        self.last: dict[str, tuple[float, str]] = {}
        self.upload_day = ""
        """Local date of the upload the entities show (the last-upload sensor's state)."""
        self.decreases: list[tuple[str, float, float]] = []
        hass.bus.async_listen(EVENT_STATE_CHANGED, self._changed)

    @callback
    def _changed(self, event: Event) -> None:
        entity_id = event.data["entity_id"]
        new_state = event.data["new_state"]
        if new_state is not None and entity_id.endswith("_last_upload"):
            with contextlib.suppress(ValueError):
                shown = datetime.fromisoformat(new_state.state)
                self.upload_day = dt_util.as_local(shown).date().isoformat()
        if entity_id not in self.keys or new_state is None:
            return
        try:
            value = float(new_state.state)
        except ValueError:
            return
        day = self.upload_day
        if (previous := self.last.get(entity_id)) is not None:
            previous_value, previous_day = previous
            midnight_reset = self.keys[entity_id] == "yield_today" and day != previous_day
            if value < previous_value and not midnight_reset:
                self.decreases.append((entity_id, previous_value, value))
        self.last[entity_id] = (value, day)


def integration_objects(request: pytest.FixtureRequest) -> int:
    """Live objects of the integration's own classes (a leak would make this grow).

    pytest keeps every log record, and a record of a failed poll holds its exception:
    drop those first so that only what the integration keeps is counted.
    """
    logging_plugin = request.config.pluginmanager.get_plugin("logging-plugin")
    for handler in (logging_plugin.caplog_handler, logging_plugin.report_handler):
        handler.reset()
    gc.collect()
    return sum(
        1
        for item in gc.get_objects()
        if type(item).__module__.startswith("custom_components.sunvec_connect")
    )


async def test_week_with_faults(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
    request: pytest.FixtureRequest,
) -> None:
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    hass.loop.set_debug(False)  # the virtual clock jumps; slow-callback warnings would lie
    clock = ManualClock(START)
    cloud = bench_cloud(clock, 1, delay_period=86400.0)
    plant = next(iter(cloud.plants.values()))
    server = TestServer(create_app(cloud), host="127.0.0.1")
    await server.start_server(access_log=None)
    try:
        run = VirtualRun(hass, freezer, clock, cloud, str(server.make_url("/")).rstrip("/"))
        await run.add_entries(None)
        watch = CounterWatch(hass)
        pv_start = plant.pv_energy
        injected, recovered, resources = await _drive_week(hass, run, request)
        pv_true = plant.pv_energy - pv_start
        pv_state = hass.states.get("sensor.sunvec_sutbench000_pv_energy")
        assert pv_state is not None
        energy_error = abs(float(pv_state.state) - pv_true) / pv_true * 100
        daily_calls = Counter(r.time.date() for r in cloud.requests if r.time >= START)
        peak = peak_per_minute(r.time for r in cloud.requests)
        polls = sum(daily_calls.values())
        print(  # noqa: T201
            f"\nsoak figures: {DAYS} days, polls {polls}, faults injected "
            f"{sum(injected.values())}, faults recovered {recovered}, counter decreases "
            f"{len(watch.decreases)}, energy error {energy_error:.3f} %, "
            f"peak calls/minute {peak}, timers day 1/day {DAYS} "
            f"{resources[0][0]}/{resources[-1][0]}, integration objects day 1/day {DAYS} "
            f"{resources[0][1]}/{resources[-1][1]}"
        )
        assert watch.decreases == []
        assert energy_error <= 2
        assert recovered == sum(injected.values())
        assert peak <= 10
        assert max(daily_calls.values()) <= 9_990
        assert resources[-1][0] <= resources[0][0] + 2
        # A few objects come and go with the traceback of the latest failed poll.
        assert resources[-1][1] <= resources[0][1] + 20
        await run.stop()
    finally:
        cloud.release_hangs.set()
        await server.close()


async def _drive_week(
    hass: HomeAssistant, run: VirtualRun, request: pytest.FixtureRequest
) -> tuple[Counter[str], int, list[tuple[int, int]]]:
    """Run the week along the fault plan; return faults injected, recovered, resources.

    Resources (scheduled timers, integration objects) are read once a day.
    """
    clock, cloud = run.clock, run.cloud
    injected: Counter[str] = Counter()
    recovered = 0
    resources: list[tuple[int, int]] = []
    for moment, kind in fault_plan():
        await run.run_until(moment)
        cloud.inject(Fault(kind))
        injected[kind.value] += 1
        if kind is FaultKind.REVOKE_TOKEN:
            await run.run_until(moment + REAUTH_AFTER)
            await _reauthenticate(hass, run)
        # Recovered: a successful call within the hour after the fault.
        calls_before = len(cloud.requests)
        await run.run_until(clock.now() + timedelta(minutes=5))
        if kind is FaultKind.BAN:
            await run.run_until(clock.now() + timedelta(minutes=70))
        cloud.faults.clear()
        await run.run_until(clock.now() + timedelta(minutes=30))
        if any(r.outcome == "ok" for r in cloud.requests[calls_before:]):
            recovered += 1
        if len(resources) < clock.now().toordinal() - START.toordinal():
            resources.append((_timers(hass), integration_objects(request)))
    await run.run_until(START + timedelta(days=DAYS))
    resources.append((_timers(hass), integration_objects(request)))
    return injected, recovered, resources


def _timers(hass: HomeAssistant) -> int:
    return sum(1 for handle in hass.loop._scheduled if not handle.cancelled())  # type: ignore[attr-defined]


async def _reauthenticate(hass: HomeAssistant, run: VirtualRun) -> None:
    """Do what the user does after the reauth notice: enter a new token."""
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    new_token = f"{TOKEN}-renewed"
    run.cloud.add_account(new_token, list(run.cloud.plants))
    run.cloud.clear_faults()
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_API_TOKEN: new_token}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    run.instrument_entries()
