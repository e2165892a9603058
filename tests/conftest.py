"""Shared fixtures: the simulated cloud over loopback HTTP and deprecation reports."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Generator
from datetime import UTC, datetime
from typing import Any

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
import pytest

from homeassistant.helpers import frame
from simulator import ManualClock, SunvecCloud, create_app
from simulator.demo import build_demo_cloud

pytest_plugins = ["pytest_homeassistant_custom_component"]

SIM_START = datetime(2026, 6, 21, 10, 0, 2, tzinfo=UTC)
"""A summer morning in Amsterdam (12:00 local): every demo plant is producing."""
TOKEN = "sunvec-test-token-7f3a9c2e51"

def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini switch that turns Home Assistant deprecation reports into failures."""
    parser.addini(
        "phacc_fail_on_deprecation_report",
        "fail a test in which Home Assistant reports a deprecated usage",
        type="bool",
        default=False,
    )

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
    server = TestServer(create_app(cloud), host="127.0.0.1")
    await server.start_server()
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
