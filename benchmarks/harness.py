"""Drive Home Assistant, the integration and the simulated cloud on one virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import statistics
import time
from typing import Any
import weakref

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_URL, EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.sunvec_connect.api import RealtimeData, SunvecClient
from custom_components.sunvec_connect.const import CONF_SCAN_INTERVAL, CONF_WIFI_SN, DOMAIN
from custom_components.sunvec_connect.coordinator import SunvecCoordinator
from simulator import ManualClock, Plant, SunvecCloud, Weather
from simulator.demo import pv_only_config

TOKEN = "bench-token-5d1f0c9a"
SETUP_HORIZON = 900.0
"""Seconds: while entries are set up, the clock only jumps to timers this close."""


def bench_cloud(
    clock: ManualClock,
    inverters: int,
    *,
    delay_period: float | None,
    seed: int = 11,
    weather: Weather = Weather.BROKEN,
) -> SunvecCloud:
    """A cloud where one token owns `inverters` PV-only inverters with assorted upload phases.

    Each inverter's sky is seeded by `seed` and its number: a run reproduces.
    """
    cloud = SunvecCloud(clock)
    start = clock.now() - timedelta(hours=24)
    wifi_sns = []
    for number in range(inverters):
        wifi_sn = f"SUTBENCH{number:03d}"
        config = pv_only_config(
            wifi_sn=wifi_sn,
            inverter_sn=f"X1BENCH{number:04d}",
            module_sn=f"SRBENCH{number:03d}",
            seed=seed + number,
            upload_offset=float((number * 97 + 13) % 300),
            publish_delay_period=delay_period,
            weather=weather,
        )
        cloud.add_plant(Plant(config, start))
        wifi_sns.append(wifi_sn)
    cloud.add_account(TOKEN, wifi_sns)
    for plant in cloud.plants.values():
        plant.advance_to(clock.now())
    return cloud


@dataclass
class Probe:
    """What the run observed: entity updates, state writes and CPU time."""

    shown: dict[str, list[tuple[datetime, datetime]]] = field(default_factory=dict)
    """Per wifiSn: (upload time shown by the last-upload sensor, when it was shown)."""
    state_writes: int = 0
    writes_on_known_upload: int = 0
    updates: int = 0
    update_cpu: float = 0.0
    simulator_cpu: float = 0.0
    writes_by_wifi_sn: dict[str, int] = field(default_factory=dict)


class VirtualRun:
    """One Home Assistant with entries against the simulator, on a virtual clock."""

    def __init__(
        self,
        hass: HomeAssistant,
        freezer: FrozenDateTimeFactory,
        clock: ManualClock,
        cloud: SunvecCloud,
        url: str,
    ) -> None:
        """Synchronise Home Assistant's clock with the simulator's."""
        self.hass = hass
        self.freezer = freezer
        self.clock = clock
        self.cloud = cloud
        self.url = url
        self.probe = Probe()
        self.entries: list[MockConfigEntry] = []
        freezer.move_to(clock.now())
        self._entity_to_wifi_sn: dict[str, str] = {}
        self._entity_owner: dict[str, str] = {}
        self._in_flight = 0
        self._refreshing = 0
        self._instrumented: weakref.WeakSet[SunvecCoordinator] = weakref.WeakSet()
        self._instrument_simulator()
        self._instrument_client()

    def _instrument_simulator(self) -> None:
        original = self.cloud.handle_realtime
        probe = self.probe

        async def timed(token: str | None, body: str) -> Any:
            started = time.thread_time()
            try:
                return await original(token, body)
            finally:
                probe.simulator_cpu += time.thread_time() - started

        self.cloud.handle_realtime = timed  # type: ignore[method-assign]

    def _instrument_client(self) -> None:
        """Count calls in flight: the clock must not jump while one waits for its answer."""
        self._original_call = original = SunvecClient.async_get_realtime_data
        run = self

        async def counted(client: SunvecClient) -> RealtimeData:
            run._in_flight += 1
            try:
                return await original(client)
            finally:
                run._in_flight -= 1

        SunvecClient.async_get_realtime_data = counted  # type: ignore[method-assign]

    async def add_entries(self, scan_interval: int | None) -> None:
        """One entry per inverter of the cloud, polling upload-aligned or fixed."""
        for wifi_sn in self.cloud.plants:
            entry = MockConfigEntry(
                domain=DOMAIN,
                title=f"Sunvec {wifi_sn}",
                unique_id=wifi_sn,
                data={CONF_URL: self.url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: wifi_sn},
                options={CONF_SCAN_INTERVAL: scan_interval} if scan_interval else {},
            )
            entry.add_to_hass(self.hass)
            self.entries.append(entry)
        # Setting the integration up sets up every entry; entries on one token wait for
        # call slots, so this runs while the clock moves.
        setups = [asyncio.create_task(async_setup_component(self.hass, DOMAIN, {}))]
        while not all(setup.done() for setup in setups):
            # Setups also wait for executor jobs (real time): give those a moment, then
            # move the clock to the next timer only (a call slot, a retry). A timer further
            # away is not the setup's: the `hass` fixture schedules daily timers on the wall
            # clock, months from the run's virtual date.
            await self.hass.async_add_executor_job(time.sleep, 0.02)
            await self._settle()
            due = self._next_timer_in()
            if due is not None and due <= SETUP_HORIZON and not all(s.done() for s in setups):
                await self._step(self.clock.now() + timedelta(seconds=max(due, 0.01)))
        assert all(setup.result() for setup in setups)
        assert all(entry.state is ConfigEntryState.LOADED for entry in self.entries)
        self.instrument_entries()
        registry = er.async_get(self.hass)
        for entry in self.entries:
            for entity in er.async_entries_for_config_entry(registry, entry.entry_id):
                self._entity_owner[entity.entity_id] = entry.data[CONF_WIFI_SN]
        for wifi_sn in self.cloud.plants:
            entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{wifi_sn}_last_upload")
            assert entity_id is not None
            self._entity_to_wifi_sn[entity_id] = wifi_sn
            self.probe.shown[wifi_sn] = []
        self.hass.bus.async_listen(EVENT_STATE_CHANGED, self._state_changed)

    def instrument_entries(self) -> None:
        """Measure the refreshes of every entry's coordinator (again after a reload)."""
        for entry in self.entries:
            if entry.runtime_data not in self._instrumented:
                self._instrumented.add(entry.runtime_data)
                self._instrument_coordinator(entry.runtime_data)

    def _instrument_coordinator(self, coordinator: SunvecCoordinator) -> None:
        original = coordinator._async_refresh
        probe = self.probe

        async def timed_refresh(*args: Any, **kwargs: Any) -> None:
            self._refreshing += 1
            try:
                await measured_refresh(*args, **kwargs)
            finally:
                self._refreshing -= 1

        async def measured_refresh(*args: Any, **kwargs: Any) -> None:
            upload_before = coordinator.data.upload_time if coordinator.data else None
            wifi_sn = coordinator.client.wifi_sn
            writes_before = probe.writes_by_wifi_sn.get(wifi_sn, 0)
            cpu_before, simulator_before = time.thread_time(), probe.simulator_cpu
            await original(*args, **kwargs)
            probe.updates += 1
            probe.update_cpu += (time.thread_time() - cpu_before) - (
                probe.simulator_cpu - simulator_before
            )
            upload_after = coordinator.data.upload_time if coordinator.data else None
            if upload_after == upload_before and coordinator.last_update_success:
                writes = probe.writes_by_wifi_sn.get(wifi_sn, 0) - writes_before
                probe.writes_on_known_upload += writes

        coordinator._async_refresh = timed_refresh  # type: ignore[method-assign]

    @callback
    def _state_changed(self, event: Event) -> None:
        entity_id: str = event.data["entity_id"]
        if not entity_id.startswith(("sensor.sunvec_", "binary_sensor.sunvec_")):
            return
        self.probe.state_writes += 1
        if (owner := self._entity_owner.get(entity_id)) is not None:
            self.probe.writes_by_wifi_sn[owner] = self.probe.writes_by_wifi_sn.get(owner, 0) + 1
        wifi_sn = self._entity_to_wifi_sn.get(entity_id)
        new_state = event.data["new_state"]
        if wifi_sn is None or new_state is None:
            return
        try:
            shown = datetime.fromisoformat(new_state.state)
        except ValueError:
            return
        history = self.probe.shown[wifi_sn]
        if not history or history[-1][0] != shown:
            history.append((shown, self.clock.now()))

    def _next_timer_in(self) -> float | None:
        loop = self.hass.loop
        scheduled = [handle.when() for handle in loop._scheduled if not handle.cancelled()]  # type: ignore[attr-defined]
        return min(scheduled) - loop.time() if scheduled else None

    async def run_until(self, end: datetime) -> None:
        """Jump from timer to timer until `end`, running what each one starts."""
        while self.clock.now() < end:
            await self._step(end)

    async def _step(self, limit: datetime) -> None:
        """Move to the next timer (or `limit`) and run what is due."""
        remaining = (limit - self.clock.now()).total_seconds()
        due = self._next_timer_in()
        step = remaining if due is None else min(remaining, max(due, 0.01))
        self.clock.advance(max(step, 0.01))
        self.freezer.move_to(self.clock.now())
        async_fire_time_changed(self.hass)
        await self._settle()

    async def _settle(self) -> None:
        """Let calls in flight finish over the real sockets before time moves on.

        Polls run as background tasks; a call the simulator holds (the hang fault)
        only ends when the clock reaches its timeout, so it is not waited for.
        """
        await self.hass.async_block_till_done()
        for _ in range(100_000):
            if max(self._in_flight, self._refreshing) <= self.cloud.hanging:
                break
            await asyncio.sleep(0)
        for _ in range(5):
            await asyncio.sleep(0)
        await self.hass.async_block_till_done()

    async def stop(self) -> None:
        """Unload every entry."""
        for entry in self.entries:
            await self.hass.config_entries.async_unload(entry.entry_id)
        await self.hass.async_block_till_done()
        SunvecClient.async_get_realtime_data = self._original_call  # type: ignore[method-assign]


@dataclass
class StrategyFigures:
    """Figures of one strategy over the simulated day."""

    name: str
    inverters: int
    calls_per_upload_day: float
    calls_per_upload_24h: float
    staleness_mean: float
    staleness_p95: float
    calls_per_inverter_day: float
    rate_limited: int
    peak_calls_per_minute: int
    uploads_missed: int
    state_writes_per_inverter_day: float
    writes_on_known_upload: int
    cpu_per_update_ms: float
    staleness_points: list[tuple[datetime, float]]
    call_times: list[datetime]


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def peak_per_minute(times: Iterable[datetime]) -> int:
    """Most calls in any 60 s window."""
    ordered = sorted(times)
    peak, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= timedelta(seconds=60):
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def figures(name: str, run: VirtualRun, start: datetime, end: datetime) -> StrategyFigures:
    """Reduce what the run observed to the benchmark's figures."""
    cloud, probe = run.cloud, run.probe
    requests = [r for r in cloud.requests if start <= r.time < end]
    staleness: list[tuple[datetime, float]] = []
    missed = 0
    day_calls = day_uploads = all_uploads = 0
    for wifi_sn, plant in cloud.plants.items():
        shown_at = {upload.astimezone(UTC): moment for upload, moment in probe.shown[wifi_sn]}
        log = [
            (i, t, a) for i, t, a in plant.upload_log if start <= a < end - timedelta(minutes=10)
        ]
        all_uploads += len(log)
        for _index, upload_time, available in log:
            moment = shown_at.get(upload_time.astimezone(UTC))
            if moment is None:
                missed += 1
                continue
            staleness.append((available, (moment - available).total_seconds()))
        if log:
            first, last = log[0][2], log[-1][2]
            daylight = [r for r in requests if r.wifi_sn == wifi_sn and first <= r.time <= last]
            day_calls += len(daylight)
            day_uploads += len(log)
    inverters = len(cloud.plants)
    values = [value for _, value in staleness]
    return StrategyFigures(
        name=name,
        inverters=inverters,
        calls_per_upload_day=day_calls / max(day_uploads, 1),
        calls_per_upload_24h=len(requests) / max(all_uploads, 1),
        staleness_mean=statistics.fmean(values) if values else float("nan"),
        staleness_p95=percentile(values, 0.95),
        calls_per_inverter_day=len(requests) / inverters,
        rate_limited=sum(r.outcome in ("rate_limited", "banned") for r in requests),
        peak_calls_per_minute=peak_per_minute(r.time for r in requests),
        uploads_missed=missed,
        state_writes_per_inverter_day=probe.state_writes / inverters,
        writes_on_known_upload=probe.writes_on_known_upload,
        cpu_per_update_ms=1000 * probe.update_cpu / max(probe.updates, 1),
        staleness_points=staleness,
        call_times=[r.time for r in requests],
    )
