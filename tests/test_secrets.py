"""The token never leaks; wifiSn and serial numbers never reach diagnostics."""

from __future__ import annotations

import json
import logging

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.const import CONF_WIFI_SN, DOMAIN
from custom_components.sunvec_connect.diagnostics import async_get_config_entry_diagnostics
from simulator import Fault, FaultKind, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN

from .conftest import TOKEN, TimeMachine

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
    coordinator = init_integration.runtime_data
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
    coordinator = init_integration.runtime_data

    # Called directly: the virtual hours have outlived the test client's access token.
    diagnostics = json.dumps(await async_get_config_entry_diagnostics(hass, init_integration))
    attributes = [
        repr(state.attributes)
        for state in hass.states.async_all()
        if state.entity_id.split(".")[1].startswith("sunvec_")
    ]
    reprs = [repr(coordinator), repr(coordinator.client), repr(vars(coordinator.client))]
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
