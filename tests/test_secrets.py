"""The token never leaks; wifiSn and serial numbers never reach diagnostics."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.account import SECRET_KEY, account_ids, async_account_ids
from custom_components.sunvec_connect.api import RealtimeData, SunvecClient, SunvecError
from custom_components.sunvec_connect.const import CONF_WIFI_SN, DOMAIN
from custom_components.sunvec_connect.diagnostics import async_get_config_entry_diagnostics
from simulator import Fault, FaultKind, SunvecCloud
from simulator.cloud import RequestRecord
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import SECRET, TOKEN, TimeMachine, coordinator_of, entry_for, setup_entry
from .replaced_answers import replaced_answers

SERIALS = ("H34A08I6008", "SRDEMOHYB")


def texts_of(error: BaseException | None) -> list[str]:
    """The message and repr of an exception and of everything it was raised from."""
    texts = []
    while error is not None:
        texts += [str(error), repr(error)]
        error = error.__cause__ or error.__context__
    return texts


async def test_token_never_leaks(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    init_integration: MockConfigEntry,
    cloud: SunvecCloud,
    sim_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    coordinator = coordinator_of(init_integration)
    exception_texts: list[str] = []

    # Every failure path of a poll, with the cloud echoing the token on code 103.
    for kind in (
        FaultKind.HTTP_500,
        FaultKind.HTTP_429,
        FaultKind.INVALID_JSON,
        FaultKind.RESULT_MISSING,
        FaultKind.RATE_LIMITED,
        FaultKind.NULL_FIELDS,
        FaultKind.REMOVE_WIFI_SN,
        FaultKind.REVOKE_TOKEN,  # last: polling waits for the reauth after it
    ):
        cloud.inject(Fault(kind))
        await time_machine.run(1200, step=20)
        exception_texts += texts_of(coordinator.last_exception)
        cloud.clear_faults()
    assert any("**REDACTED**" in text for text in exception_texts)

    # The reauth form with a wrong and the right token, and the user form's errors.
    flow = hass.config_entries.flow.async_progress_by_handler(DOMAIN)[0]
    await hass.config_entries.flow.async_configure(flow["flow_id"], {CONF_API_TOKEN: "nope"})
    await hass.config_entries.flow.async_configure(flow["flow_id"], {CONF_API_TOKEN: TOKEN})
    await hass.async_block_till_done()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    for url in (sim_url, "http://127.0.0.1:1"):
        await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: "SUTOTHERAC1"}
        )
    await time_machine.run(600, step=20)
    coordinator = coordinator_of(init_integration)

    # Called directly: the virtual hours have outlived the test client's access token.
    diagnostics = json.dumps(await async_get_config_entry_diagnostics(hass, init_integration))
    attributes = [
        repr(state.attributes)
        for state in hass.states.async_all()
        if state.entity_id.split(".")[1].startswith("sunvec_")
    ]
    reprs = [
        repr(coordinator),
        repr(coordinator.client),
        repr(vars(coordinator.client)),
        # The account's runtime data holds its client.
        repr(init_integration.runtime_data),
    ]
    logged = [record.getMessage() for record in caplog.records] + [
        logging.Formatter().formatException(record.exc_info)
        for record in caplog.records
        if record.exc_info
    ]

    assert len(logged) > 50
    for where, texts in (
        ("log", logged),
        ("exception", exception_texts),
        ("diagnostics", [diagnostics]),
        ("attributes", attributes),
        ("repr", reprs),
    ):
        for text in texts:
            assert TOKEN not in text, f"token in {where}: {text[:200]}"
    for secret in (HYBRID_WIFI_SN, *SERIALS):
        assert secret.lower() not in diagnostics.lower(), secret


NUMERIC_TOKEN = "2023089460"
"""A token of digits, as in the vendor's example: a server can echo it as a number."""


def echoing_answers(token: str) -> list[Any]:
    """Answers of a server that echoes `token` everywhere it can."""
    number = int(token)
    result = {
        "inverterSN": f"H34{token}",
        "sn": token,
        "inverterType": token,
        "inverterStatus": number,
        "batStatus": f" {token} ",
        "uploadTime": f"2026-06-21 {token}",
        "acpower": number,
        "yieldtotal": float(number),
        "feedinenergy": token,
        token: [token, {"nested": token, token: number}],
    }
    return [
        {"success": False, "exception": "tokenId invalid", "result": None, "code": number},
        {"success": False, "exception": "tokenId invalid", "result": None, "code": token},
        {"success": False, "exception": f"tokenId {token} invalid", "result": token, "code": 103},
        {"success": False, "exception": f"{token} no auth!", "result": None, "code": 1003},
        {"success": False, "exception": f"{token} is busy", "result": token},
        {"success": False, "exception": "x", "code": number, "result": result},
        {"success": True, "exception": token, "code": number, "result": result},
        {"success": True, "exception": "Query success!", "code": 0, "result": result},
    ]


async def test_client_redacts_a_token_the_server_echoes(
    session: ClientSession, socket_enabled: None
) -> None:
    answers = echoing_answers(NUMERIC_TOKEN)
    app = web.Application()

    async def handler(_request: web.Request) -> web.Response:
        return web.json_response(answers.pop(0))

    app.router.add_post("/api/v2/dataAccess/realtimeInfo/get", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    client = SunvecClient(session, str(server.make_url("/")), NUMERIC_TOKEN)
    shown: list[str] = [repr(client), repr(vars(client))]
    data: RealtimeData | None = None
    try:
        while answers:
            try:
                data = await client.async_get_realtime_data(HYBRID_WIFI_SN)
            except SunvecError as err:
                shown += texts_of(err)
                shown.append(repr(getattr(err, "code", None)))
    finally:
        await server.close()
    assert data is not None
    shown += [repr(data), json.dumps(dict(data.raw)), str(data.pv_power)]
    assert any("**REDACTED**" in text for text in shown)
    for text in shown:
        assert NUMERIC_TOKEN not in text, text
    # What is not the token is kept.
    assert data.inverter_sn == "H34**REDACTED**"
    assert data.ac_power is None  # the number that spells the token is not a reading


async def test_echoed_token_stays_out_of_home_assistant(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    sim_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Echoed as text in the upload and as the numeric error code: never shown anywhere."""
    caplog.set_level(logging.DEBUG)
    cloud.add_account(NUMERIC_TOKEN, [PV_ONLY_WIFI_SN])

    def echo(record: RequestRecord) -> Any:
        if record.outcome != "ok":
            return None
        if record.wifi_sn == PV_ONLY_WIFI_SN:
            return {"success": False, "exception": "tokenId invalid", "code": int(NUMERIC_TOKEN)}
        upload = cloud.plants[HYBRID_WIFI_SN].latest_available(cloud.clock.now())
        assert upload is not None
        result = {
            **upload.result,
            "inverterType": f"type {TOKEN}",
            "sn": TOKEN,
            "extra": {"echo": TOKEN, TOKEN: [TOKEN]},
        }
        return {"success": True, "exception": "Query success!", "result": result, "code": 0}

    with replaced_answers(cloud, echo) as replaced:
        hybrid = await setup_entry(hass, entry_for(sim_url, entry_id="01HYBRIDECHO"))
        numeric = entry_for(sim_url, PV_ONLY_WIFI_SN, token=NUMERIC_TOKEN)
        await setup_entry(hass, numeric)
        await time_machine.run(900, step=20)
    assert {record.wifi_sn for record in replaced} == {HYBRID_WIFI_SN, PV_ONLY_WIFI_SN}

    diagnostics = json.dumps(await async_get_config_entry_diagnostics(hass, hybrid))
    devices = [
        repr(device)
        for device in dr.async_entries_for_config_entry(dr.async_get(hass), hybrid.entry_id)
    ]
    assert devices
    states = [repr(state) for state in hass.states.async_all()]
    logged = [record.getMessage() for record in caplog.records]
    assert numeric.state is ConfigEntryState.SETUP_RETRY
    assert numeric.reason is not None
    errors = [numeric.reason, *texts_of(coordinator_of(hybrid).last_exception)]
    for where, texts in (
        ("diagnostics", [diagnostics]),
        ("device", devices),
        ("state", states),
        ("log", logged),
        ("entry", errors),
    ):
        for text in texts:
            assert TOKEN not in text, f"token in {where}: {text[:300]}"
            assert NUMERIC_TOKEN not in text, f"token in {where}: {text[:300]}"
    assert "**REDACTED**" in diagnostics


async def test_account_ids_are_keyed_with_the_installation_secret(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """Made on first use, kept private, the same afterwards; no plain hash of the token shows.

    The cloud's tokens are a date and a few digits: a plain hash of one could be reversed.
    """
    del hass_storage[SECRET_KEY]
    token = "20230413001525475278783"

    ids = await async_account_ids(hass, "https://api.example.com", token)

    stored = hass_storage[SECRET_KEY]["data"]["secret"]
    assert len(bytes.fromhex(stored)) == 32
    assert ids == account_ids(bytes.fromhex(stored), "https://api.example.com", token)
    assert await async_account_ids(hass, "https://api.example.com", token) == ids
    assert ids.unique_id.startswith("api.example.com-")
    plain = hashlib.sha256(token.encode()).hexdigest()
    for text in (ids.unique_id, ids.calls_key):
        assert token not in text
        assert not any(plain[i : i + 8] in text for i in range(len(plain) - 7))
    other_installation = account_ids(bytes(32), "https://api.example.com", token)
    assert other_installation.unique_id != ids.unique_id
    assert other_installation.calls_key != ids.calls_key


async def test_a_damaged_secret_is_made_again(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    """A secret that is not hex is replaced (accounts take the new ids at the next start)."""
    hass_storage[SECRET_KEY]["data"] = {"secret": "not hex"}

    await async_account_ids(hass, "https://api.example.com", TOKEN)

    assert len(bytes.fromhex(hass_storage[SECRET_KEY]["data"]["secret"])) == 32


async def test_the_secret_goes_with_the_last_account(
    hass: HomeAssistant, hass_storage: dict[str, Any], sim_url: str, time_machine: TimeMachine
) -> None:
    """Removing the last account leaves nothing in storage; a new account makes a new secret."""
    first = await setup_entry(hass, entry_for(sim_url))
    second = await setup_entry(hass, entry_for(sim_url, PV_ONLY_WIFI_SN, token="another-token"))

    assert await hass.config_entries.async_remove(first.entry_id)
    await hass.async_block_till_done()
    assert SECRET_KEY in hass_storage
    assert await hass.config_entries.async_remove(second.entry_id)
    await hass.async_block_till_done()
    assert SECRET_KEY not in hass_storage

    ids = await async_account_ids(hass, sim_url, TOKEN)
    secret = bytes.fromhex(hass_storage[SECRET_KEY]["data"]["secret"])
    assert secret != SECRET
    assert ids == account_ids(secret, sim_url, TOKEN)
