"""Shared fixtures: the simulated cloud over loopback HTTP and deprecation reports."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator, Iterable, Mapping
from datetime import UTC, datetime, timedelta
import importlib
import pkgutil
from typing import Any
from unittest.mock import AsyncMock, PropertyMock, patch

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigSubentryData
from homeassistant.const import CONF_API_TOKEN, CONF_URL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from homeassistant.util.ulid import ulid_now
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

import custom_components.sunvec_connect
from custom_components.sunvec_connect import PLATFORMS
from custom_components.sunvec_connect.account import (
    SECRET_KEY,
    AccountIds,
    account_ids,
    account_title,
)
from custom_components.sunvec_connect.budget import TokenBudget, TokenCalls
from custom_components.sunvec_connect.checks import async_token_calls
from custom_components.sunvec_connect.const import CONF_WIFI_SN, DOMAIN, SUBENTRY_INVERTER
from custom_components.sunvec_connect.coordinator import SunvecCoordinator
from custom_components.sunvec_connect.kept import aware_time
from custom_components.sunvec_connect.models import SunvecRuntimeData
from simulator import ManualClock, SunvecCloud, create_app
from simulator.demo import HYBRID_WIFI_SN, build_demo_cloud

# Hypothesis draws some of its numbers from the constants of the local modules loaded so
# far (`hypothesis.internal.conjecture.providers`): the modules Home Assistant loads on
# demand (the config flow) are loaded now, so that a property test's examples do not
# depend on the tests its worker ran before it.
for _module in pkgutil.iter_modules(custom_components.sunvec_connect.__path__):
    importlib.import_module(f"custom_components.sunvec_connect.{_module.name}")

SIM_START = datetime(2026, 6, 21, 10, 0, 2, tzinfo=UTC)
"""A summer morning in Amsterdam (12:00 local): every demo plant is producing."""
TOKEN = "sunvec-test-token-7f3a9c2e51"
PLANT_TIME_ZONE = "Europe/Amsterdam"


@pytest.fixture(autouse=True)
def fail_on_deprecation_report(request: pytest.FixtureRequest) -> Generator[None]:
    """Record every usage report Home Assistant makes and fail the test on any."""
    reports: list[str] = []
    original = frame._report_usage

    def recording_report(hass: Any, what: str, **kwargs: Any) -> None:
        reports.append(what)
        original(hass, what, **kwargs)

    frame._report_usage = recording_report  # type: ignore[assignment]
    try:
        yield
    finally:
        frame._report_usage = original
    if reports and request.config.getini("phacc_fail_on_deprecation_report"):
        pytest.fail(f"Home Assistant reported deprecated usage: {reports}")


@pytest.fixture
def sim_clock() -> ManualClock:
    """The simulator's clock, moved only by the test."""
    return ManualClock(SIM_START)


@pytest.fixture
def cloud(sim_clock: ManualClock) -> SunvecCloud:
    """The demo cloud: TOKEN owns a hybrid and a PV-only inverter."""
    sim_cloud, _ = build_demo_cloud(sim_clock, TOKEN)
    return sim_cloud


@pytest.fixture
async def sim_server(cloud: SunvecCloud, socket_enabled: None) -> AsyncGenerator[TestServer]:
    """The simulated cloud served over HTTP on 127.0.0.1."""
    # No access log: its timing breaks while freezegun holds the clock.
    server = TestServer(create_app(cloud), host="127.0.0.1")
    await server.start_server(access_log=None)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
def sim_url(sim_server: TestServer) -> str:
    """Base URL of the simulated cloud."""
    return str(sim_server.make_url("/")).rstrip("/")


@pytest.fixture
async def session() -> AsyncGenerator[ClientSession]:
    """A plain aiohttp session for client tests."""
    async with ClientSession() as client_session:
        yield client_session


type BodyServer = Callable[..., Any]


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""


SECRET = bytes(range(32))
"""The installation's secret in tests (kept in storage as the integration keeps it)."""


@pytest.fixture(autouse=True)
def installation_secret(hass_storage: dict[str, Any]) -> None:
    """The secret the accounts' ids are keyed with, known to the tests."""
    hass_storage[SECRET_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": SECRET_KEY,
        "data": {"secret": SECRET.hex()},
    }


def ids_for(url: str, token: str = TOKEN) -> AccountIds:
    """The ids of the account of `token` at `url` in the tests' installation."""
    return account_ids(SECRET, url, token)


class TimeMachine:
    """Moves Home Assistant's clock and the simulator's clock together."""

    def __init__(self, hass: HomeAssistant, freezer: FrozenDateTimeFactory, clock: ManualClock):
        """Start both clocks at the simulator's time."""
        self.hass = hass
        self.freezer = freezer
        self.clock = clock
        freezer.move_to(clock.now())

    async def advance(self, seconds: float) -> None:
        """Let `seconds` pass and run what Home Assistant scheduled meanwhile."""
        self.clock.advance(seconds)
        self.freezer.move_to(self.clock.now())
        async_fire_time_changed(self.hass)
        # Polls run as background tasks and talk to the simulator over real sockets.
        await self.hass.async_block_till_done(wait_background_tasks=True)

    async def run(self, seconds: float, step: float = 60.0) -> None:
        """Let `seconds` pass in steps, so every poll on the way happens."""
        remaining = seconds
        while remaining > 0:
            await self.advance(min(step, remaining))
            remaining -= step


@pytest.fixture
async def time_machine(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sim_clock: ManualClock
) -> TimeMachine:
    """Both clocks at SIM_START, Home Assistant in the plants' time zone."""
    await hass.config.async_set_time_zone(PLANT_TIME_ZONE)
    return TimeMachine(hass, freezer, sim_clock)


def entry_for(url: str, wifi_sn: str = HYBRID_WIFI_SN, **kwargs: Any) -> MockConfigEntry:
    """An account with one of the demo inverters; its subentry has the entry's id.

    (As the upgrade from an entry per inverter makes it: what the inverter keeps in
    storage and its repair issues go by that id.)
    """
    entry_id = kwargs.pop("entry_id", None) or ulid_now()
    token = kwargs.pop("token", TOKEN)
    return MockConfigEntry(
        domain=DOMAIN,
        title=account_title(url),
        unique_id=ids_for(url, token).unique_id,
        minor_version=2,
        data={CONF_URL: url, CONF_API_TOKEN: token},
        version=2,
        entry_id=entry_id,
        subentries_data=[
            ConfigSubentryData(
                data={CONF_WIFI_SN: wifi_sn},
                subentry_id=entry_id,
                subentry_type=SUBENTRY_INVERTER,
                title=kwargs.pop("title", f"Sunvec {wifi_sn}"),
                unique_id=wifi_sn,
            )
        ],
        **kwargs,
    )


def account_for(
    url: str, wifi_sns: Iterable[str] | Mapping[str, str], token: str = TOKEN, **kwargs: Any
) -> MockConfigEntry:
    """An account with several inverters (subentry ids of their own).

    `wifi_sns` may map each wifiSn to its title (by default "Sunvec <wifiSn>").
    """
    titles = wifi_sns if isinstance(wifi_sns, Mapping) else {sn: f"Sunvec {sn}" for sn in wifi_sns}
    kwargs = {"unique_id": ids_for(url, token).unique_id, "minor_version": 2, **kwargs}
    return MockConfigEntry(
        domain=DOMAIN,
        title=account_title(url),
        data={CONF_URL: url, CONF_API_TOKEN: token},
        version=2,
        subentries_data=[
            ConfigSubentryData(
                data={CONF_WIFI_SN: wifi_sn},
                subentry_type=SUBENTRY_INVERTER,
                title=title,
                unique_id=wifi_sn,
            )
            for wifi_sn, title in titles.items()
        ],
        **kwargs,
    )


def coordinator_of(entry: ConfigEntry) -> SunvecCoordinator:
    """The coordinator of an account's first inverter (the one `entry_for` made)."""
    runtime: SunvecRuntimeData = entry.runtime_data
    return next(iter(runtime.coordinators.values()))


def inverter_of(account: ConfigEntry, wifi_sn: str) -> SunvecCoordinator:
    """The coordinator of an account's inverter (a new one after each reload)."""
    runtime: SunvecRuntimeData = account.runtime_data
    return next(c for c in runtime.coordinators.values() if c.wifi_sn == wifi_sn)


def account_budget(hass: HomeAssistant, token: str = TOKEN) -> TokenBudget:
    """The budget of the running account of `token`."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.data.get(CONF_API_TOKEN) == token and entry.state is ConfigEntryState.LOADED:
            runtime: SunvecRuntimeData = entry.runtime_data
            return runtime.budget
    raise AssertionError("No running account has this token")


async def kept_calls(hass: HomeAssistant, url: str, token: str = TOKEN) -> TokenCalls:
    """The calls a form sees for `token`: its running account's, else those kept in storage.

    A test that changes kept calls saves them (`async_save`) for the form to see them.
    """
    return await async_token_calls(hass, url, token)


@pytest.fixture
def config_entry(sim_url: str) -> MockConfigEntry:
    """The entry of the hybrid demo inverter."""
    return entry_for(sim_url, entry_id="01HYBRIDENTRY000000000000")


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> MockConfigEntry:
    """Add the entry and set it up."""
    entry.add_to_hass(hass)
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


@pytest.fixture
def mock_setup_entry() -> Generator[AsyncMock]:
    """Entries the flows create or reload are not really set up."""
    with patch(
        "custom_components.sunvec_connect.async_setup_entry", return_value=True
    ) as setup_entry_mock:
        yield setup_entry_mock


@pytest.fixture
def platforms() -> list[Platform]:
    """The platforms to set up; snapshot tests narrow this to one."""
    return list(PLATFORMS)


@pytest.fixture
async def init_integration(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    config_entry: MockConfigEntry,
    platforms: list[Platform],
) -> AsyncGenerator[MockConfigEntry]:
    """The hybrid inverter's entry, set up against the simulator."""
    with patch("custom_components.sunvec_connect.PLATFORMS", platforms):
        yield await setup_entry(hass, config_entry)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create entities that are disabled by default as enabled."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots with Home Assistant's serializer (stable ids, readable states)."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


def moved_ahead(kept: Any, ahead: timedelta) -> Any:
    """`kept` (JSON-ready) with every time in it `ahead`: kept while the clock ran ahead."""
    if isinstance(kept, dict):
        return {key: moved_ahead(value, ahead) for key, value in kept.items()}
    if isinstance(kept, list):
        return [moved_ahead(value, ahead) for value in kept]
    if (moment := aware_time(kept)) is not None:
        return (moment + ahead).isoformat()
    return kept
