"""Tests for the Sunvec Connect API client."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from datetime import datetime
import json
import socket
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
import pytest

from custom_components.sunvec_connect.api import (
    BAN_SECONDS,
    RealtimeData,
    SunvecApiError,
    SunvecAuthenticationError,
    SunvecClient,
    SunvecConnectionError,
    SunvecError,
    SunvecInvalidInputError,
    SunvecInvalidParameterError,
    SunvecMalformedResponseError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecRateLimitError,
    SunvecServerError,
    normalize_token,
    normalize_url,
    normalize_wifi_sn,
)
from simulator import Fault, FaultKind, ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, OTHER_ACCOUNT_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import TOKEN

type Responder = Callable[[web.Request], web.StreamResponse]


@pytest.fixture
async def canned(socket_enabled: None) -> AsyncGenerator[Callable[[Responder], Any]]:
    """Serve one handler on loopback; yields a function returning its base URL."""
    servers: list[TestServer] = []

    async def start(handler: Responder) -> str:
        app = web.Application()

        async def route(request: web.Request) -> web.StreamResponse:
            return handler(request)

        app.router.add_post("/api/v2/dataAccess/realtimeInfo/get", route)
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return str(server.make_url("/"))

    yield start
    for server in servers:
        await server.close()


def envelope(success: bool, exception: str, result: Any, code: int) -> Responder:
    """A handler answering HTTP 200 with the given envelope."""
    body = {"success": success, "exception": exception, "result": result, "code": code}
    return lambda _request: web.json_response(body)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("api.sunvec.example", "https://api.sunvec.example"),
        ("  https://api.sunvec.example/ ", "https://api.sunvec.example"),
        ("http://127.0.0.1:8099", "http://127.0.0.1:8099"),
        (
            "https://api.sunvec.example/api/v2/dataAccess/realtimeInfo/get",
            "https://api.sunvec.example",
        ),
        ("https://host.example/proxy/api/v2/x?a=1#f", "https://host.example/proxy"),
        ("HTTPS://API.Sunvec.Example:8443/", "https://api.sunvec.example:8443"),
    ],
)
def test_normalize_url(typed: str, expected: str) -> None:
    assert normalize_url(typed) == expected


@pytest.mark.parametrize(
    "typed",
    ["", "   ", "ftp://host.example", "https://user:pw@host.example", "https://", "http://ho st/"],
)
def test_normalize_url_rejects(typed: str) -> None:
    with pytest.raises(SunvecInvalidInputError):
        normalize_url(typed)


def test_normalize_wifi_sn_and_token() -> None:
    assert normalize_wifi_sn(" sut123vb1 ") == "SUT123VB1"
    for bad in ("", "SUT 1", "SUT/../x", "A" * 33, "SUT\r\nX"):
        with pytest.raises(SunvecInvalidInputError):
            normalize_wifi_sn(bad)
    assert normalize_token(" abc123 ") == "abc123"
    for bad in ("", "a b", "a\r\nX-Injected: 1", "x" * 257, "tökén"):
        with pytest.raises(SunvecInvalidInputError):
            normalize_token(bad)


async def test_realtime_against_simulator(session: ClientSession, sim_url: str) -> None:
    client = SunvecClient(session, sim_url, TOKEN, HYBRID_WIFI_SN.lower())
    data = await client.async_get_realtime_data()
    assert data.inverter_sn == "H34A08I6008"
    assert data.inverter_status == "102"
    assert data.soc is not None
    assert data.battery_power is not None
    assert data.pv_power_4 is None
    assert data.pv_power == pytest.approx(
        (data.pv_power_1 or 0) + (data.pv_power_2 or 0) + (data.pv_power_3 or 0)
    )
    assert isinstance(data.upload_time, datetime)
    assert data.raw["inverterSN"] == "H34A08I6008"
    assert not client.is_encrypted

    pv_only = SunvecClient(session, sim_url, TOKEN, PV_ONLY_WIFI_SN)
    pv_data = await pv_only.async_get_realtime_data()
    assert pv_data.soc is None
    assert pv_data.battery_power is None
    assert pv_data.battery_status is None


async def test_simulator_errors_map_to_exceptions(
    session: ClientSession, sim_url: str, cloud: SunvecCloud
) -> None:
    with pytest.raises(SunvecAuthenticationError) as auth:
        await SunvecClient(
            session, sim_url, "wrong-token", HYBRID_WIFI_SN
        ).async_get_realtime_data()
    assert auth.value.code == 1001
    with pytest.raises(SunvecNotAuthorizedError):
        await SunvecClient(session, sim_url, TOKEN, OTHER_ACCOUNT_WIFI_SN).async_get_realtime_data()
    with pytest.raises(SunvecNotFoundError):
        await SunvecClient(session, sim_url, TOKEN, "NOSUCHSN").async_get_realtime_data()

    cloud.inject(Fault(FaultKind.REVOKE_TOKEN))
    client = SunvecClient(session, sim_url, TOKEN, HYBRID_WIFI_SN)
    with pytest.raises(SunvecAuthenticationError) as revoked:
        await client.async_get_realtime_data()
    assert revoked.value.code == 103
    # The cloud echoes the token on code 103: it must not reach the message.
    assert TOKEN not in str(revoked.value)
    assert "**REDACTED**" in str(revoked.value)
    assert TOKEN not in repr(client)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        (FaultKind.HTTP_500, SunvecServerError),
        (FaultKind.HTTP_502, SunvecServerError),
        (FaultKind.HTTP_503, SunvecServerError),
        (FaultKind.HTTP_429, SunvecRateLimitError),
        (FaultKind.INVALID_JSON, SunvecMalformedResponseError),
        (FaultKind.TRUNCATED_JSON, SunvecMalformedResponseError),
        (FaultKind.NOT_OBJECT, SunvecMalformedResponseError),
        (FaultKind.RESULT_MISSING, SunvecMalformedResponseError),
    ],
)
async def test_simulator_faults(
    session: ClientSession,
    sim_url: str,
    cloud: SunvecCloud,
    kind: FaultKind,
    error: type[SunvecError],
) -> None:
    client = SunvecClient(session, sim_url, TOKEN, HYBRID_WIFI_SN)
    cloud.inject(Fault(kind))
    with pytest.raises(error):
        await client.async_get_realtime_data()
    # The fault was for one request: the next one succeeds.
    assert (await client.async_get_realtime_data()).inverter_sn == "H34A08I6008"


async def test_http_429_retry_after(
    session: ClientSession, sim_url: str, cloud: SunvecCloud
) -> None:
    cloud.inject(Fault(FaultKind.HTTP_429))
    with pytest.raises(SunvecRateLimitError) as err:
        await SunvecClient(session, sim_url, TOKEN, HYBRID_WIFI_SN).async_get_realtime_data()
    assert err.value.retry_after == 120


async def test_body_faults_parse(session: ClientSession, sim_url: str, cloud: SunvecCloud) -> None:
    client = SunvecClient(session, sim_url, TOKEN, HYBRID_WIFI_SN)
    reference = await client.async_get_realtime_data()
    cloud.inject(Fault(FaultKind.NUMBERS_AS_STRINGS))
    as_strings = await client.async_get_realtime_data()
    assert as_strings.yield_total == reference.yield_total
    assert as_strings.ac_power == reference.ac_power
    cloud.inject(Fault(FaultKind.NULL_FIELDS))
    nulls = await client.async_get_realtime_data()
    assert nulls.yield_total is None
    assert nulls.upload_time is None
    assert nulls.pv_power is None


async def test_hang_times_out(session: ClientSession, sim_url: str, cloud: SunvecCloud) -> None:
    cloud.inject(Fault(FaultKind.HANG))
    client = SunvecClient(session, sim_url, TOKEN, HYBRID_WIFI_SN, request_timeout=0.2)
    with pytest.raises(SunvecConnectionError, match="Timeout"):
        await client.async_get_realtime_data()
    cloud.release_hangs.set()


async def test_connection_refused(session: ClientSession, socket_enabled: None) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = SunvecClient(session, f"http://127.0.0.1:{port}", TOKEN, HYBRID_WIFI_SN)
    with pytest.raises(SunvecConnectionError) as err:
        await client.async_get_realtime_data()
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize(
    ("handler", "error", "code"),
    [
        (envelope(False, "Interface Unauthorized", None, 1001), SunvecAuthenticationError, 1001),
        (envelope(False, "token invalid", None, 103), SunvecAuthenticationError, 103),
        (envelope(False, "", "no auth!", 0), SunvecAuthenticationError, 0),
        (
            envelope(False, "Parameter validation failed", None, 1002),
            SunvecInvalidParameterError,
            1002,
        ),
        (envelope(False, "Data Unauthorized", None, 1003), SunvecNotAuthorizedError, 1003),
        (envelope(False, "Duplicate data", None, 1004), SunvecApiError, 1004),
        (envelope(False, "Operation failed", None, 2001), SunvecServerError, 2001),
        (envelope(False, "Data not found", None, 2002), SunvecNotFoundError, 2002),
        (envelope(False, "Query failed", "this sn did not access!", 0), SunvecNotFoundError, 0),
        (envelope(False, "Request too frequent", None, 104), SunvecRateLimitError, 104),
        (envelope(False, "Too many requests", None, 3), SunvecRateLimitError, 3),
        (envelope(False, "unexpected", None, 42), SunvecApiError, 42),
        (envelope(True, "odd", {"a": 1}, 7), SunvecMalformedResponseError, None),
        (envelope(True, "ok", None, 0), SunvecMalformedResponseError, None),
        (envelope(True, "ok", "text", 0), SunvecMalformedResponseError, None),
        (lambda _r: web.Response(text="[1, 2]"), SunvecMalformedResponseError, None),
        (lambda _r: web.Response(status=401), SunvecAuthenticationError, None),
        (lambda _r: web.Response(status=403), SunvecAuthenticationError, None),
        (lambda _r: web.Response(status=404), SunvecMalformedResponseError, None),
        (
            lambda _r: web.Response(status=302, headers={"Location": "/x"}),
            SunvecMalformedResponseError,
            None,
        ),
    ],
)
async def test_error_bodies(
    session: ClientSession,
    canned: Callable[[Responder], Any],
    handler: Responder,
    error: type[SunvecError],
    code: int | None,
) -> None:
    url = await canned(handler)
    with pytest.raises(error) as raised:
        await SunvecClient(session, url, TOKEN, HYBRID_WIFI_SN).async_get_realtime_data()
    assert type(raised.value) is error
    if isinstance(raised.value, SunvecApiError) and code is not None:
        assert raised.value.code == code


async def test_ban_announced_with_code_1(
    session: ClientSession, canned: Callable[[Responder], Any]
) -> None:
    url = await canned(
        envelope(False, "Repeated violations of the frequency limit: banned for one hour", None, 1)
    )
    with pytest.raises(SunvecRateLimitError) as err:
        await SunvecClient(session, url, TOKEN, HYBRID_WIFI_SN).async_get_realtime_data()
    assert err.value.retry_after == BAN_SECONDS


async def test_request_shape(session: ClientSession, canned: Callable[[Responder], Any]) -> None:
    seen: dict[str, Any] = {}

    def handler(request: web.Request) -> web.Response:
        seen["token"] = request.headers.get("tokenId")
        seen["path"] = request.path
        seen["content_type"] = request.content_type
        return web.json_response(
            {"success": True, "exception": "Query success!", "code": 0, "result": {"acpower": "7"}}
        )

    url = await canned(handler)
    data = await SunvecClient(
        session, url + "api/v2/dataAccess/realtimeInfo/get", TOKEN, " sut1 "
    ).async_get_realtime_data()
    assert seen == {
        "token": TOKEN,
        "path": "/api/v2/dataAccess/realtimeInfo/get",
        "content_type": "application/json",
    }
    assert data.ac_power == 7


def test_realtime_data_parsing() -> None:
    data = RealtimeData.from_dict(
        {
            "acpower": True,
            "yieldtotal": "n/a",
            "feedinpower": float("nan"),
            "inverterStatus": 102,
            "batStatus": 1.0,
            "inverterType": [],
            "uploadTime": "20/08/2024 09:21",
            "inverterSN": 12345,
            "sn": {"x": 1},
        }
    )
    assert data.ac_power is None
    assert data.yield_total is None
    assert data.feedin_power is None
    assert data.inverter_status == "102"
    assert data.battery_status == "1"
    assert data.inverter_type is None
    assert data.upload_time_text == "20/08/2024 09:21"
    assert data.upload_time is None
    assert data.inverter_sn == "12345"
    assert data.module_sn is None
    assert json.dumps(dict(data.raw))
    assert "raw" not in repr(data)


def test_manual_clock_only_moves_forward() -> None:
    clock = ManualClock(datetime.fromisoformat("2026-01-01T00:00:00+00:00"))
    with pytest.raises(ValueError):
        clock.advance(-1)
