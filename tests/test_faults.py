"""Fault matrix: what a user sees during each fault and within one poll after it clears."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import logging
from pathlib import Path
import socketserver
import ssl
import threading
from unittest.mock import patch

from aiohttp import ClientConnectorDNSError
from aiohttp.client_reqrep import ConnectionKey
from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, STATE_OFF, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er, issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.const import DOMAIN, ERROR_RETRY_INTERVAL
from custom_components.sunvec_connect.issues import access_issue_id, insecure_url_issue_id
from simulator import Fault, FaultKind, ManualClock, SunvecCloud, create_app
from simulator.cloud import RequestRecord
from simulator.demo import HYBRID_WIFI_SN, build_demo_cloud

from .conftest import TOKEN, TimeMachine, coordinator_of, entry_for, setup_entry
from .replaced_answers import REAL_NOT_IN_ACCOUNT, REAL_SERVER_BUSY, replaced_answers

COUNTERS = (
    "yield_total",
    "grid_export_energy",
    "grid_import_energy",
    "yield_today",
    "pv_energy",
    "battery_charge_energy",
    "battery_discharge_energy",
)
POWER = ("ac_power", "pv_power", "grid_power", "battery_power", "battery_soc")


class Observer:
    """Reads the hybrid inverter's entities and checks what must always hold."""

    def __init__(self, hass: HomeAssistant, cloud: SunvecCloud) -> None:
        """Remember the counters as they are now."""
        self.hass = hass
        self.cloud = cloud
        self.registry = er.async_get(hass)
        self.last_counters = self.counters()

    def state(self, key: str) -> str:
        """The state of the entity with key `key`."""
        entity_id = self.registry.async_get_entity_id(
            "binary_sensor" if key in ("online", "problem") else "sensor",
            DOMAIN,
            f"{HYBRID_WIFI_SN}_{key}",
        )
        assert entity_id is not None, key
        state = self.hass.states.get(entity_id)
        assert state is not None, key
        return state.state

    def counters(self) -> dict[str, float]:
        """The counters that have a value."""
        return {
            key: float(value)
            for key in COUNTERS
            if (value := self.state(key)) not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
        }

    def check_counters(self) -> None:
        """No counter went backwards (yield today only at midnight, not in these tests)."""
        now = self.counters()
        for key, value in now.items():
            assert value >= self.last_counters.get(key, 0.0), key
        self.last_counters = now

    def shows_latest_upload(self) -> bool:
        """Whether the entities show the newest upload the cloud has had for a minute."""
        plant = self.cloud.plants[HYBRID_WIFI_SN]
        now = self.cloud.clock.now()
        plant.advance_to(now)
        settled = [
            upload_time
            for _, upload_time, available in plant.upload_log
            if available <= now - timedelta(seconds=60)
        ]
        shown = datetime.fromisoformat(self.state("last_upload"))
        return self.state("ac_power") != STATE_UNAVAILABLE and shown >= settled[-1]


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """Nothing above debug level carries a traceback (debug is where Home Assistant puts one)."""
    for record in caplog.records:
        if record.levelno > logging.DEBUG:
            assert record.exc_info is None, record.getMessage()
            assert "Traceback" not in record.getMessage()


@dataclass(frozen=True)
class Case:
    """A simulator fault and what the user sees while it lasts."""

    kind: FaultKind
    power_available: bool
    counters_available: bool = True
    status: str | None = None


CASES = [
    Case(FaultKind.HTTP_500, power_available=False, counters_available=False),
    Case(FaultKind.HTTP_502, power_available=False, counters_available=False),
    Case(FaultKind.HTTP_503, power_available=False, counters_available=False),
    Case(FaultKind.HTTP_429, power_available=False, counters_available=False),
    Case(FaultKind.RATE_LIMITED, power_available=False, counters_available=False),
    Case(FaultKind.INVALID_JSON, power_available=False, counters_available=False),
    Case(FaultKind.TRUNCATED_JSON, power_available=False, counters_available=False),
    Case(FaultKind.NOT_OBJECT, power_available=False, counters_available=False),
    Case(FaultKind.RESULT_MISSING, power_available=False, counters_available=False),
    Case(FaultKind.RESULT_STRING, power_available=False, counters_available=False),
    Case(FaultKind.NUMBERS_AS_STRINGS, power_available=True),
    Case(FaultKind.EXTRA_FIELDS, power_available=True),
    Case(FaultKind.NULL_FIELDS, power_available=False),
    Case(FaultKind.UNKNOWN_CODES, power_available=True, status=STATE_UNKNOWN),
    Case(FaultKind.ZERO_COUNTERS, power_available=True),
    Case(FaultKind.COUNTERS_LOWER, power_available=True),
    Case(FaultKind.YIELD_TODAY_DROP, power_available=True),
    Case(FaultKind.FUTURE_UPLOAD_TIME, power_available=True),
    # Stamped days before the upload shown: not after it, so not new (issue 17).
    Case(FaultKind.PAST_UPLOAD_TIME, power_available=True),
    Case(FaultKind.BAD_UPLOAD_TIME, power_available=False),
]


async def run_until_answered(time_machine: TimeMachine, cloud: SunvecCloud, outcome: str) -> None:
    """Let time pass until the cloud has answered a call with `outcome`.

    A fault of the plant (not of the answer) shows in the next new upload served.
    """
    start = len(cloud.requests)
    served_before = {r.upload_index for r in cloud.requests}
    plant_fault = outcome in (FaultKind.ZERO_COUNTERS.value, FaultKind.STOP_UPLOADING.value)
    for _ in range(200):
        answered = cloud.requests[start:]
        if plant_fault and any(r.upload_index not in served_before for r in answered):
            return
        if any(r.outcome == outcome for r in answered):
            return
        await time_machine.advance(10)
    pytest.fail(f"no call was answered with {outcome}")


async def run_until_ok(time_machine: TimeMachine, cloud: SunvecCloud) -> None:
    """Let time pass until a call succeeded with a new upload."""
    await run_until_answered(time_machine, cloud, "ok")


@pytest.mark.parametrize("case", CASES, ids=[case.kind.value for case in CASES])
async def test_fault(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    caplog: pytest.LogCaptureFixture,
    case: Case,
) -> None:
    observer = Observer(hass, cloud)
    # The fault lands on an upload the entities have not shown yet.
    cloud.inject(Fault(case.kind, wifi_sn=HYBRID_WIFI_SN))
    await run_until_answered(time_machine, cloud, case.kind.value)

    power = observer.state("ac_power")
    assert (power != STATE_UNAVAILABLE) is case.power_available, power
    counters = [observer.state(key) for key in ("yield_total", "grid_export_energy")]
    assert all(value != STATE_UNAVAILABLE for value in counters) is case.counters_available
    if case.status is not None:
        assert observer.state("inverter_status") == case.status
        assert observer.state("battery_status") == case.status
    observer.check_counters()

    # Within one poll after the fault clears, everything is back and right.
    cloud.clear_faults()
    await run_until_ok(time_machine, cloud)
    await time_machine.run(400, step=10)
    observer.check_counters()
    assert observer.shows_latest_upload()
    assert observer.state("online") == "on"
    assert_no_traceback(caplog)
    assert coordinator_of(init_integration).last_update_success


async def test_hanging_response_times_out_without_blocking(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    caplog: pytest.LogCaptureFixture,
) -> None:
    observer = Observer(hass, cloud)
    cloud.inject(Fault(FaultKind.HANG))
    coordinator = coordinator_of(init_integration)
    await time_machine.advance(10)  # past the token's spacing between two calls
    calls = len(cloud.requests)
    refresh = hass.async_create_background_task(coordinator.async_refresh(), "refresh")
    for _ in range(1000):
        if len(cloud.requests) > calls:
            break
        await asyncio.sleep(0)
    assert cloud.faults == []  # the call reached the cloud, which hangs
    # The event loop keeps running other work while the call hangs.
    ran = asyncio.Event()
    hass.loop.call_soon(ran.set)
    await asyncio.wait_for(ran.wait(), 1)
    assert not refresh.done()
    # The client gives up after its timeout (20 s).
    await time_machine.advance(21)
    await refresh
    assert observer.state("ac_power") == STATE_UNAVAILABLE
    assert coordinator.statistics.last_error == "SunvecConnectionError"
    cloud.clear_faults()
    await run_until_ok(time_machine, cloud)
    assert observer.shows_latest_upload()
    assert_no_traceback(caplog)


async def test_connection_refused_then_back(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    sim_server: TestServer,
) -> None:
    observer = Observer(hass, cloud)
    port = sim_server.port
    budget = coordinator_of(init_integration).budget
    before = budget.calls_since(dt_util.utcnow() - timedelta(days=1), dt_util.utcnow())
    closed_at = dt_util.utcnow() + timedelta(microseconds=1)  # after the last good call
    await sim_server.close()
    await time_machine.run(600, step=10)
    assert observer.state("ac_power") == STATE_UNAVAILABLE
    assert coordinator_of(init_integration).statistics.last_error == "SunvecNotSentError"
    # Refused before anything was sent: the token's budget counts none of the tries
    # (before issue 17 each one took a call of the day).
    assert budget.calls_since(closed_at, dt_util.utcnow()) == 0
    assert budget.calls_since(dt_util.utcnow() - timedelta(days=1), dt_util.utcnow()) == before
    restarted = TestServer(create_app(cloud), host="127.0.0.1", port=port)
    await restarted.start_server(access_log=None)
    try:
        await time_machine.run(120, step=10)
        assert observer.shows_latest_upload()
    finally:
        await restarted.close()


async def test_dns_failure(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    observer = Observer(hass, cloud)
    key = ConnectionKey("api.sunvec.invalid", 443, True, True, None, None, None)
    failure = ClientConnectorDNSError(key, OSError(-2, "Name or service not known"))
    coordinator = coordinator_of(init_integration)
    with patch.object(coordinator.client._session, "post", side_effect=failure):
        await time_machine.run(600, step=10)
        assert observer.state("ac_power") == STATE_UNAVAILABLE
    await time_machine.run(120, step=10)
    assert observer.shows_latest_upload()


async def test_tls_error(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    tmp_path: Path,
    socket_enabled: None,
) -> None:
    """A server whose certificate does not verify gets no request, and no token."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*_self_signed_certificate(tmp_path))
    received: list[bytes] = []

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with (
                contextlib.suppress(OSError),
                context.wrap_socket(self.request, server_side=True) as tls,
            ):
                received.append(tls.recv(4096))

    # The server runs in a thread: its failed handshakes stay out of Home Assistant's loop.
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            entry = await setup_entry(
                hass, entry_for(f"https://127.0.0.1:{server.server_address[1]}")
            )
        finally:
            server.shutdown()
            thread.join()
    assert entry.state is ConfigEntryState.SETUP_RETRY
    assert entry.reason is not None
    assert "TLS error" in entry.reason
    assert received == []
    await hass.config_entries.async_unload(entry.entry_id)


def _self_signed_certificate(folder: Path) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now.replace(year=now.year - 1))
        .not_valid_after(now.replace(year=now.year + 1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


async def test_token_revoked_reauth_once_and_no_calls_until_fixed(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    observer = Observer(hass, cloud)
    cloud.inject(Fault(FaultKind.REVOKE_TOKEN))
    await run_until_answered(time_machine, cloud, "token_invalid")
    calls_after_failure = len(cloud.requests)
    await time_machine.run(3600, step=60)
    assert len(cloud.requests) == calls_after_failure
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == ["reauth"]
    observer.check_counters()

    new_token = "renewed-token-4242"
    cloud.add_account(new_token, [HYBRID_WIFI_SN])
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_API_TOKEN: new_token}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await time_machine.run(60)
    assert observer.shows_latest_upload()
    observer.check_counters()


async def test_wifi_sn_removed_from_account(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    issue_registry: ir.IssueRegistry,
) -> None:
    observer = Observer(hass, cloud)
    cloud.inject(Fault(FaultKind.REMOVE_WIFI_SN))
    await run_until_answered(time_machine, cloud, "data_unauthorized")
    issue_id = access_issue_id(init_integration.entry_id)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "wifi_sn_not_authorized"
    # No reauth loop, and the quota is spared: a call every 15 minutes.
    start = len(cloud.requests)
    await time_machine.run(3600, step=60)
    assert len(cloud.requests) - start <= 4
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    cloud.clear_faults()
    await run_until_ok(time_machine, cloud)
    await time_machine.run(400, step=10)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert observer.shows_latest_upload()


async def test_plain_http_warns_except_on_loopback(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    issue_registry: ir.IssueRegistry,
) -> None:
    loopback = await setup_entry(hass, entry_for(sim_url))
    assert issue_registry.async_get_issue(DOMAIN, insecure_url_issue_id(loopback.entry_id)) is None
    remote = entry_for("http://sunvec.example", "SUTREMOTE01")
    with patch(
        "custom_components.sunvec_connect.SunvecCoordinator.async_config_entry_first_refresh"
    ):
        remote.add_to_hass(hass)
        await hass.config_entries.async_setup(remote.entry_id)
    issue = issue_registry.async_get_issue(DOMAIN, insecure_url_issue_id(remote.entry_id))
    assert issue is not None
    assert issue.translation_key == "insecure_url"
    await hass.config_entries.async_remove(remote.entry_id)
    assert issue_registry.async_get_issue(DOMAIN, insecure_url_issue_id(remote.entry_id)) is None


@pytest.mark.parametrize(
    ("start", "hours"),
    [
        # 25 October 2026: clocks go back from 03:00 to 02:00 in Amsterdam.
        (datetime(2026, 10, 24, 23, 30, tzinfo=UTC), 3),
        # 29 March 2026: clocks go forward from 02:00 to 03:00.
        (datetime(2026, 3, 28, 23, 30, tzinfo=UTC), 3),
    ],
)
async def test_daylight_saving_time_changes(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    socket_enabled: None,
    start: datetime,
    hours: int,
) -> None:
    sim_clock = ManualClock(start)
    cloud, _ = build_demo_cloud(sim_clock, TOKEN)
    server = TestServer(create_app(cloud), host="127.0.0.1")
    await server.start_server(access_log=None)
    sim_url = str(server.make_url("/")).rstrip("/")
    machine = TimeMachine(hass, freezer, sim_clock)
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    entry = await setup_entry(hass, entry_for(sim_url))
    observer = Observer(hass, cloud)
    seen: list[str] = []
    for _ in range(hours * 6):
        await machine.run(600, step=10)
        observer.check_counters()
        assert observer.state("online") != STATE_OFF
        seen.append(observer.state("last_upload"))
    # Every upload of the night was shown, in order, and none looked stale.
    assert seen == sorted(seen)
    assert len(set(seen)) >= hours * 6 - 1
    assert coordinator_of(entry).statistics.rejected_uploads == 0
    await hass.config_entries.async_unload(entry.entry_id)
    await server.close()


async def test_real_1003_body_raises_the_access_issue_never_reauth(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    issue_registry: ir.IssueRegistry,
) -> None:
    """The real cloud's 1003 says "no auth!": the code decides, not the text."""
    observer = Observer(hass, cloud)
    coordinator = coordinator_of(init_integration)
    issue_id = access_issue_id(init_integration.entry_id)
    with replaced_answers(
        cloud, lambda record: REAL_NOT_IN_ACCOUNT if record.outcome == "data_unauthorized" else None
    ) as replaced:
        cloud.inject(Fault(FaultKind.REMOVE_WIFI_SN))
        await run_until_answered(time_machine, cloud, "data_unauthorized")
        assert replaced
        assert coordinator.statistics.last_error == "SunvecNotAuthorizedError"
        issue = issue_registry.async_get_issue(DOMAIN, issue_id)
        assert issue is not None
        assert issue.translation_key == "wifi_sn_not_authorized"
        start = len(cloud.requests)
        await time_machine.run(3600, step=60)
        assert len(cloud.requests) - start <= 4
        assert len(replaced) >= 2
        # Never a reauth: a new token cannot fix an inverter that left the account.
        assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert init_integration.state is ConfigEntryState.LOADED
    cloud.clear_faults()
    await run_until_ok(time_machine, cloud)
    await time_machine.run(400, step=10)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert observer.shows_latest_upload()


async def test_server_busy_is_retried_like_a_5xx(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    issue_registry: ir.IssueRegistry,
) -> None:
    """A code-less "server is busy" is transient: retried as soon as an HTTP 503 is."""
    observer = Observer(hass, cloud)
    coordinator = coordinator_of(init_integration)

    async def retry_gap(outcome: str, busy: list[RequestRecord] | None = None) -> float:
        """Seconds from the first failed call to the next call."""
        start = len(cloud.requests)
        for _ in range(100):
            failed = [
                index
                for index, record in enumerate(cloud.requests[start:], start)
                if record.outcome == outcome or (busy and record in busy)
            ]
            if failed and len(cloud.requests) > failed[0] + 1:
                first = cloud.requests[failed[0]]
                return (cloud.requests[failed[0] + 1].time - first.time).total_seconds()
            if failed:
                assert observer.state("ac_power") == STATE_UNAVAILABLE
            await time_machine.advance(5)
        pytest.fail(f"no retry after {outcome}")

    cloud.inject(Fault(FaultKind.HTTP_503, count=2))
    http_gap = await retry_gap(FaultKind.HTTP_503.value)
    assert coordinator.statistics.last_error == "SunvecServerError"
    cloud.clear_faults()
    await run_until_ok(time_machine, cloud)

    with replaced_answers(
        cloud, lambda _record: REAL_SERVER_BUSY if len(replaced) < 2 else None
    ) as replaced:
        busy_gap = await retry_gap("server_busy", replaced)
        assert coordinator.statistics.last_error == "SunvecServerError"
        assert coordinator.statistics.last_error_code is None
        assert abs(busy_gap - http_gap) <= 5, (busy_gap, http_gap)
        assert busy_gap <= ERROR_RETRY_INTERVAL.total_seconds() + 5
        await run_until_ok(time_machine, cloud)
    await time_machine.run(120, step=10)
    assert observer.shows_latest_upload()
    # Transient: no reauth, no repair issue.
    assert not hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert not [issue for (domain, _), issue in issue_registry.issues.items() if domain == DOMAIN]
