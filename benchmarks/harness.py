"""Drive Home Assistant, the integration and the simulated cloud on one virtual clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
import hashlib
import itertools
import math
import statistics
import time
from typing import Any
import weakref

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, EVENT_STATE_CHANGED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er, event
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.api import RealtimeData, SunvecClient
from custom_components.sunvec_connect.budget import TokenBudget
from custom_components.sunvec_connect.const import CONF_SCAN_INTERVAL, DOMAIN
from custom_components.sunvec_connect.coordinator import SunvecCoordinator
from custom_components.sunvec_connect.entity import ATTR_RESTORED
from custom_components.sunvec_connect.store import THIS_RUN
from simulator import ManualClock, Plant, SunvecCloud, Weather
from simulator.demo import pv_only_config
from tests.conftest import account_for

TOKEN = "bench-token-5d1f0c9a"
_REAL_CLOCKS = {"wall": time.perf_counter}
"""Real time, for what the bench measures on the real clock: freezegun replaces module
attributes that are the clock functions, not one kept in a dictionary."""
SETTLE_LIMIT = 60.0
"""Seconds of CPU time the run waits for calls over loopback before it gives up."""


def bench_cloud(
    clock: ManualClock,
    inverters: int,
    *,
    delay_period: float | None,
    seed: int = 11,
    weather: Weather = Weather.BROKEN,
    own_tokens: bool = False,
) -> SunvecCloud:
    """A cloud where one token owns `inverters` PV-only inverters with assorted upload phases.

    Each inverter's sky and publish delays are seeded by `seed` and its number: a run
    reproduces. `own_tokens` gives every inverter a token of its own instead (as many
    users, each with one inverter: their budgets do not meet).
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
        if own_tokens:
            cloud.add_account(f"{TOKEN}-{number:03d}", [wifi_sn])
    if not own_tokens:
        cloud.add_account(TOKEN, wifi_sns)
    for plant in cloud.plants.values():
        plant.advance_to(clock.now())
    return cloud


def token_of(cloud: SunvecCloud, wifi_sn: str) -> str:
    """The token of the account that owns `wifi_sn`."""
    return next(token for token, account in cloud.accounts.items() if wifi_sn in account.wifi_sns)


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
    confirmed: dict[str, datetime] = field(default_factory=dict)
    """Per wifiSn: when its last-upload sensor first showed an upload fetched by a call
    (not marked restored) after `restarted_at`."""
    restarted_at: datetime | None = None


class VirtualRun:
    """One Home Assistant with an account against the simulator, on a virtual clock."""

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
        """The config entries: one account per token, with its inverters."""
        freezer.move_to(clock.now())
        self._entity_to_wifi_sn: dict[str, str] = {}
        self._entity_owner: dict[str, str] = {}
        self._in_flight = 0
        self._refreshing = 0
        self._instrumented: weakref.WeakSet[SunvecCoordinator] = weakref.WeakSet()
        self._instrument_simulator()
        self._instrument_client()
        self._instrument_refresh_offsets()

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

        async def counted(client: SunvecClient, wifi_sn: str) -> RealtimeData:
            run._in_flight += 1
            try:
                return await original(client, wifi_sn)
            finally:
                run._in_flight -= 1

        SunvecClient.async_get_realtime_data = counted  # type: ignore[method-assign]

    def _instrument_refresh_offsets(self) -> None:
        """Give each coordinator its refresh offset from its wifiSn, not from `random`.

        Home Assistant staggers refreshes by a random fraction of a second per
        coordinator, drawn in the order coordinators are made; the order of
        concurrent setups is not the same on every run, the inverter's name is.
        """
        self._original_init = original = SunvecCoordinator.__init__

        def init(coordinator: SunvecCoordinator, *args: Any, **kwargs: Any) -> None:
            original(coordinator, *args, **kwargs)
            digest = hashlib.sha256(coordinator.wifi_sn.encode()).digest()
            spread = event.RANDOM_MICROSECOND_MAX - event.RANDOM_MICROSECOND_MIN
            micro = event.RANDOM_MICROSECOND_MIN + int.from_bytes(digest[:4]) % spread
            coordinator._microsecond = micro / 10**6

        SunvecCoordinator.__init__ = init  # type: ignore[method-assign]

    async def add_entries(self, scan_interval: int | None) -> None:
        """An account per token of the cloud, with its inverters, upload-aligned or fixed.

        As the product makes it: one account per token, an inverter subentry each, in
        the cloud's order, so that each run hands out the token's slots in the same
        order; the accounts are set up one after the other. Setting up never waits for
        the token's call slots: inverters past the token's minute start without data
        and call at their slot, with the clock running.
        """
        assert await async_setup_component(self.hass, DOMAIN, {})
        by_token: dict[str, list[str]] = {}
        for wifi_sn in self.cloud.plants:
            by_token.setdefault(token_of(self.cloud, wifi_sn), []).append(wifi_sn)
            self.probe.shown[wifi_sn] = []
        for token, wifi_sns in by_token.items():
            account = account_for(
                self.url,
                wifi_sns,
                token=token,
                options={CONF_SCAN_INTERVAL: scan_interval} if scan_interval else {},
            )
            account.add_to_hass(self.hass)
            self.entries.append(account)
            assert await self.hass.config_entries.async_setup(account.entry_id)
            await self._settle()
        assert all(entry.state is ConfigEntryState.LOADED for entry in self.entries)
        assert len(self.coordinators()) == len(self.cloud.plants)
        self.instrument_entries()
        self.hass.bus.async_listen(EVENT_STATE_CHANGED, self._state_changed)

    async def restart(self) -> tuple[float, float]:
        """Restart Home Assistant's side: unload every account and set them up again.

        What a restart keeps is kept (the storage of the token's calls and of each
        inverter, the restore cache of the entities); what lives in memory is not.
        Returns the wall time and the virtual time the setup of every inverter took.
        """
        for entry in self.entries:
            assert await self.hass.config_entries.async_unload(entry.entry_id)
        await self.hass.async_block_till_done()
        self.hass.data.pop(THIS_RUN, None)
        self.probe.restarted_at = self.clock.now()
        started, virtual_start = _REAL_CLOCKS["wall"](), self.clock.now()
        results = await asyncio.gather(
            *(self.hass.config_entries.async_setup(entry.entry_id) for entry in self.entries)
        )
        wall = _REAL_CLOCKS["wall"]() - started
        virtual = (self.clock.now() - virtual_start).total_seconds()
        assert all(results)
        assert all(entry.state is ConfigEntryState.LOADED for entry in self.entries)
        await self._settle()
        self.instrument_entries()
        return wall, virtual

    def coordinators(self) -> list[SunvecCoordinator]:
        """The coordinator of every inverter, in the accounts' order (new after a reload)."""
        return [
            coordinator
            for entry in self.entries
            for coordinator in entry.runtime_data.coordinators.values()
        ]

    @property
    def budgets(self) -> dict[str, TokenBudget]:
        """Per token: its account's budget (a new one after a reload)."""
        return {entry.data[CONF_API_TOKEN]: entry.runtime_data.budget for entry in self.entries}

    @property
    def budget(self) -> TokenBudget:
        """The token's budget, in a run on one token."""
        (budget,) = self.budgets.values()
        return budget

    def instrument_entries(self) -> None:
        """Measure the refreshes of every inverter's coordinator (again after a reload)."""
        for coordinator in self.coordinators():
            if coordinator not in self._instrumented:
                self._instrumented.add(coordinator)
                self._instrument_coordinator(coordinator)

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
            # The first call after a restart confirms the upload kept: its entities lose
            # their `restored` mark, a write that is not on an already-seen upload.
            restored_before = coordinator.data.restored if coordinator.data else False
            wifi_sn = coordinator.wifi_sn
            writes_before = probe.writes_by_wifi_sn.get(wifi_sn, 0)
            cpu_before, simulator_before = time.thread_time(), probe.simulator_cpu
            await original(*args, **kwargs)
            probe.updates += 1
            probe.update_cpu += (time.thread_time() - cpu_before) - (
                probe.simulator_cpu - simulator_before
            )
            upload_after = coordinator.data.upload_time if coordinator.data else None
            if (
                upload_after == upload_before
                and coordinator.last_update_success
                and not restored_before
            ):
                writes = probe.writes_by_wifi_sn.get(wifi_sn, 0) - writes_before
                probe.writes_on_known_upload += writes

        coordinator._async_refresh = timed_refresh  # type: ignore[method-assign]

    @callback
    def _state_changed(self, event: Event) -> None:
        entity_id: str = event.data["entity_id"]
        if not entity_id.startswith(("sensor.sunvec_", "binary_sensor.sunvec_")):
            return
        self.probe.state_writes += 1
        owner, is_last_upload = self._owner(entity_id)
        if owner is None:
            return
        self.probe.writes_by_wifi_sn[owner] = self.probe.writes_by_wifi_sn.get(owner, 0) + 1
        new_state = event.data["new_state"]
        if not is_last_upload or new_state is None:
            return
        try:
            shown = datetime.fromisoformat(new_state.state)
        except ValueError:
            return
        history = self.probe.shown[owner]
        if not history or history[-1][0] != shown:
            history.append((shown, self.clock.now()))
        restarted = self.probe.restarted_at
        if (
            restarted is not None
            and owner not in self.probe.confirmed
            and not new_state.attributes.get(ATTR_RESTORED)
        ):
            self.probe.confirmed[owner] = self.clock.now()

    def _owner(self, entity_id: str) -> tuple[str | None, bool]:
        """The wifiSn of an entity's inverter, and whether it is the last-upload sensor."""
        if (known := self._entity_owner.get(entity_id)) is None:
            entity = er.async_get(self.hass).async_get(entity_id)
            if entity is None or entity.unique_id is None:
                return None, False
            wifi_sn = entity.unique_id.split("_", 1)[0]
            known = self._entity_owner[entity_id] = wifi_sn
            if entity.unique_id == f"{wifi_sn}_last_upload":
                self._entity_to_wifi_sn[entity_id] = wifi_sn
        return known, entity_id in self._entity_to_wifi_sn

    def _next_timer_in(self) -> float | None:
        loop = self.hass.loop
        scheduled = [handle.when() for handle in loop._scheduled if not handle.cancelled()]  # type: ignore[attr-defined]
        return min(scheduled) - loop.time() if scheduled else None

    async def run_until(self, end: datetime) -> None:
        """Jump from timer to timer until `end`, running what each one starts."""
        while self.clock.now() < end:
            await self._step(end)

    async def _step(self, limit: datetime) -> None:
        """Move to the next timer (or `limit`) and run what is due.

        The event loop's clock is the frozen one: moved, the loop runs the timers that
        are due by itself, each at its own time (`async_fire_time_changed` would also
        look at every timer on every step, which dominates a run of 100 inverters).
        """
        remaining = (limit - self.clock.now()).total_seconds()
        due = self._next_timer_in()
        step = remaining if due is None else min(remaining, max(due, 0.0) + 1e-6)
        # Whole microseconds (the clocks' resolution), past the timer: the loop runs a
        # timer only once its time is behind the clock.
        self.clock.advance(math.ceil(max(step, 1e-6) * 1e6) / 1e6)
        self.freezer.move_to(self.clock.now())
        await self._settle()

    async def _settle(self) -> None:
        """Run what is due now, and let calls in flight finish over the real sockets.

        Polls run as background tasks, started by timers the loop runs after the
        first yield; a call the simulator holds (the hang fault) only ends when the
        clock reaches its timeout, so it is not waited for. The wait is bounded by
        CPU time only (freezegun holds the other clocks): on a loaded machine a call
        over loopback is slow, and had the clock moved meanwhile, it would land at
        another virtual time.
        """
        deadline: float | None = None
        busy = True
        while busy:
            await self.hass.async_block_till_done()
            for _ in range(5):
                await asyncio.sleep(0)
            busy = False
            for spins in itertools.count():
                if max(self._in_flight, self._refreshing) <= self.cloud.hanging:
                    break
                busy = True
                if spins % 1000 == 999:
                    deadline = deadline or time.thread_time() + SETTLE_LIMIT
                    if time.thread_time() > deadline:
                        raise RuntimeError(f"calls in flight for over {SETTLE_LIMIT} s")
                await asyncio.sleep(0)

    async def stop(self) -> None:
        """Unload every account."""
        for entry in self.entries:
            await self.hass.config_entries.async_unload(entry.entry_id)
        await self.hass.async_block_till_done()
        SunvecClient.async_get_realtime_data = self._original_call  # type: ignore[method-assign]
        SunvecCoordinator.__init__ = self._original_init  # type: ignore[method-assign]


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
    per_inverter: list[tuple[float, float]] = field(default_factory=list)
    """Per inverter: its calls per new upload in daylight and its mean staleness."""


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


def figures(
    name: str, run: VirtualRun, start: datetime, end: datetime, *, writes_before: int = 0
) -> StrategyFigures:
    """Reduce what the run observed to the benchmark's figures.

    `writes_before`: the state writes counted before `start` (a run measured on its
    second day).
    """
    cloud, probe = run.cloud, run.probe
    requests = [r for r in cloud.requests if start <= r.time < end]
    staleness: list[tuple[datetime, float]] = []
    per_inverter: list[tuple[float, float]] = []
    missed = 0
    day_calls = day_uploads = all_uploads = 0
    for wifi_sn, plant in cloud.plants.items():
        own: list[float] = []
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
            own.append(staleness[-1][1])
        if log:
            first, last = log[0][2], log[-1][2]
            daylight = [r for r in requests if r.wifi_sn == wifi_sn and first <= r.time <= last]
            day_calls += len(daylight)
            day_uploads += len(log)
            if own:
                per_inverter.append((len(daylight) / len(log), statistics.fmean(own)))
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
        peak_calls_per_minute=max(
            (
                peak_per_minute(r.time for r in requests if r.wifi_sn in account.wifi_sns)
                for account in cloud.accounts.values()
            ),
            default=0,
        ),
        uploads_missed=missed,
        state_writes_per_inverter_day=(probe.state_writes - writes_before) / inverters,
        writes_on_known_upload=probe.writes_on_known_upload,
        cpu_per_update_ms=1000 * probe.update_cpu / max(probe.updates, 1),
        staleness_points=staleness,
        call_times=[r.time for r in requests],
        per_inverter=per_inverter,
    )


@dataclass
class PacingFigures:
    """How a token's budget was shared by many inverters over the measured day."""

    inverters: int
    calls: int
    """Calls of the token in the measured day."""
    max_calls_24h: int
    """The most calls in any 24 hours of the whole run."""
    rate_limited: int
    peak_calls_per_minute: int
    longest_upload_gap: float
    """Seconds between the upload times of two consecutive uploads shown, in daylight."""
    longest_shown_gap: float
    """Seconds between the moments two consecutive uploads were shown, in daylight."""
    longest_wake_delay: float
    """Seconds from the morning's first upload becoming available to the first shown."""
    shown_min: int
    shown_max: int
    """Uploads shown per inverter in daylight, the fewest and the most."""
    uploads_per_call: float
    """The pace's uploads per call at the end of the run."""
    night_interval: float
    staleness_mean: float
    staleness_p95: float


def max_in_window(times: Iterable[datetime], window: timedelta) -> int:
    """Most moments in any `window` (half-open)."""
    ordered = sorted(times)
    peak, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def pacing_figures(run: VirtualRun, start: datetime, end: datetime) -> PacingFigures:
    """Reduce a run of many inverters on one token to the fair-pacing figures."""
    cloud, probe = run.cloud, run.probe
    requests = [r for r in cloud.requests if start <= r.time < end]
    upload_gaps, shown_gaps, wake_delays, shown_counts = [0.0], [0.0], [0.0], []
    for wifi_sn, plant in cloud.plants.items():
        shown = sorted((upload.astimezone(UTC), moment) for upload, moment in probe.shown[wifi_sn])
        log = [(i, t, a) for i, t, a in plant.upload_log if start <= a < end]
        count = 0
        for run_log in _online_runs(log):
            first_time, last_time = run_log[0][1], run_log[-1][1]
            in_run = [(u, m) for u, m in shown if first_time <= u <= last_time]
            count += len(in_run)
            if not in_run:
                wake_delays.append((end - run_log[0][2]).total_seconds())
                continue
            wake_delays.append((in_run[0][1] - run_log[0][2]).total_seconds())
            for (upload_a, moment_a), (upload_b, moment_b) in itertools.pairwise(in_run):
                upload_gaps.append((upload_b - upload_a).total_seconds())
                shown_gaps.append((moment_b - moment_a).total_seconds())
        shown_counts.append(count)
    staleness = figures("pacing", run, start, end)
    budget = run.budget
    return PacingFigures(
        inverters=len(cloud.plants),
        calls=len(requests),
        max_calls_24h=max_in_window((r.time for r in cloud.requests), timedelta(hours=24)),
        rate_limited=sum(r.outcome in ("rate_limited", "banned") for r in cloud.requests),
        peak_calls_per_minute=peak_per_minute(r.time for r in cloud.requests),
        longest_upload_gap=max(upload_gaps),
        longest_shown_gap=max(shown_gaps),
        longest_wake_delay=max(wake_delays),
        shown_min=min(shown_counts),
        shown_max=max(shown_counts),
        uploads_per_call=budget.pace.uploads_per_call,
        night_interval=budget.pace.night_interval,
        staleness_mean=staleness.staleness_mean,
        staleness_p95=staleness.staleness_p95,
    )


def _online_runs(
    log: list[tuple[int, datetime, datetime]],
) -> list[list[tuple[int, datetime, datetime]]]:
    """Split an upload log into runs of consecutive uploads (a day's uploads)."""
    runs: list[list[tuple[int, datetime, datetime]]] = []
    for record in log:
        if runs and record[0] == runs[-1][-1][0] + 1:
            runs[-1].append(record)
        else:
            runs.append([record])
    return runs


@dataclass
class RestartFigures:
    """What a restart of Home Assistant in the middle of the day cost."""

    inverters: int
    setup_wall_seconds: float
    """Real time for setting up the account, with every inverter, again."""
    setup_virtual_seconds: float
    """Time on the virtual clock during that setup (0: nothing waited for a timer)."""
    all_confirmed_after: float
    """Seconds until every inverter showed an upload fetched after the restart."""
    all_new_after: float
    """Seconds until every inverter showed an upload made after the restart."""
    calls_first_5_min: int
    rate_limited: int
    """Rate-limit answers from the restart to the end of the run."""


def restart_figures(run: VirtualRun, wall: float, virtual: float, end: datetime) -> RestartFigures:
    """Reduce what followed a restart to its figures."""
    restarted = run.probe.restarted_at
    assert restarted is not None
    confirmed = [
        (run.probe.confirmed.get(wifi_sn, end) - restarted).total_seconds()
        for wifi_sn in run.cloud.plants
    ]
    new_after = []
    for wifi_sn in run.cloud.plants:
        later = [m for u, m in run.probe.shown[wifi_sn] if u > restarted and m >= restarted]
        new_after.append(((later[0] if later else end) - restarted).total_seconds())
    after = [r for r in run.cloud.requests if r.time >= restarted]
    return RestartFigures(
        inverters=len(run.cloud.plants),
        setup_wall_seconds=wall,
        setup_virtual_seconds=virtual,
        all_confirmed_after=max(confirmed),
        all_new_after=max(new_after),
        calls_first_5_min=sum(r.time < restarted + timedelta(minutes=5) for r in after),
        rate_limited=sum(r.outcome in ("rate_limited", "banned") for r in after),
    )


@dataclass
class EnergyFigures:
    """PV energy the entities booked over a span against the simulator's 1-second truth."""

    name: str
    inverters: int
    booked: float
    """kWh: the rise of every inverter's PV energy sensor over the span, summed."""
    truth: float
    """kWh: the PV energy the simulator integrated at 1-second resolution, summed."""
    worst: float
    """The largest error of one inverter, in % of its truth."""
    mean_absolute: float
    """The mean of the inverters' absolute errors, in %."""
    gaps_left_out: int
    hours_left_out: float

    @property
    def error(self) -> float:
        """The error of the sum, in % of the truth."""
        return (self.booked - self.truth) / self.truth * 100


def pv_energy_snapshot(
    run: VirtualRun, *, starting: bool = False
) -> dict[str, tuple[float, float]]:
    """Per wifiSn: the PV energy sensor's value and the simulator's PV truth, now.

    `starting`: an inverter set up past the token's minute has no entities until its
    first call; its PV energy starts from 0 then, booked from there.
    """
    registry = er.async_get(run.hass)
    snapshot = {}
    for wifi_sn, plant in run.cloud.plants.items():
        plant.advance_to(run.clock.now())
        entity_id = registry.async_get_entity_id("sensor", DOMAIN, f"{wifi_sn}_pv_energy")
        if entity_id is None and starting:
            snapshot[wifi_sn] = (0.0, plant.truth.pv_dc)
            continue
        assert entity_id is not None, wifi_sn
        state = run.hass.states.get(entity_id)
        assert state is not None, entity_id
        snapshot[wifi_sn] = (float(state.state), plant.truth.pv_dc)
    return snapshot


def energy_figures(
    name: str,
    run: VirtualRun,
    start: dict[str, tuple[float, float]],
    end: dict[str, tuple[float, float]],
) -> EnergyFigures:
    """Reduce two snapshots of the PV energy sensors to the figures of the span."""
    errors = []
    booked = truth = 0.0
    for wifi_sn, (value, true_value) in end.items():
        shown = value - start[wifi_sn][0]
        produced = true_value - start[wifi_sn][1]
        booked, truth = booked + shown, truth + produced
        errors.append((shown - produced) / produced * 100)
    statistics_ = [coordinator.statistics for coordinator in run.coordinators()]
    return EnergyFigures(
        name=name,
        inverters=len(end),
        booked=booked,
        truth=truth,
        worst=max(errors, key=abs),
        mean_absolute=statistics.fmean(abs(error) for error in errors),
        gaps_left_out=sum(s.gaps_left_out.get("pv_energy", 0) for s in statistics_),
        hours_left_out=sum(s.hours_left_out.get("pv_energy", 0.0) for s in statistics_),
    )
