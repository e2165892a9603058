"""Tests for the config, reauth, reconfigure and options flows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from unittest.mock import patch

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.api import (
    SunvecAuthenticationError,
    SunvecConnectionError,
    SunvecError,
    SunvecInvalidParameterError,
    SunvecMalformedResponseError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecRateLimitError,
    SunvecServerError,
)
from custom_components.sunvec_connect.const import CONF_SCAN_INTERVAL, CONF_WIFI_SN, DOMAIN
from custom_components.sunvec_connect.coordinator import token_budget
from custom_components.sunvec_connect.polling import TokenBudget
from simulator import Fault, FaultKind, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, OTHER_ACCOUNT_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import TOKEN, TimeMachine, entry_for, setup_entry

CLIENT_CALL = "custom_components.sunvec_connect.config_flow.SunvecClient.async_get_realtime_data"


@pytest.fixture(autouse=True)
def _clocks(time_machine: TimeMachine) -> None:
    """Every flow test runs on the synchronised clocks."""


async def start_user_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return result["flow_id"]


async def test_user_flow_creates_entry(hass: HomeAssistant, sim_url: str) -> None:
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            CONF_URL: f" {sim_url}/api/v2/dataAccess/realtimeInfo/get ",
            CONF_API_TOKEN: f" {TOKEN} ",
            CONF_WIFI_SN: " sutdemohyb1 ",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Sunvec H34A08I6008"
    assert result["data"] == {
        CONF_URL: sim_url,
        CONF_API_TOKEN: TOKEN,
        CONF_WIFI_SN: HYBRID_WIFI_SN,
    }
    assert result["result"].unique_id == HYBRID_WIFI_SN
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED


async def test_user_flow_already_configured(
    hass: HomeAssistant, sim_url: str, config_entry: MockConfigEntry
) -> None:
    config_entry.add_to_hass(hass)
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("token", "wifi_sn", "error"),
    [
        ("wrong-token", HYBRID_WIFI_SN, "invalid_auth"),
        (TOKEN, OTHER_ACCOUNT_WIFI_SN, "wifi_sn_not_authorized"),
        (TOKEN, "SUTNOSUCHSN", "wifi_sn_not_found"),
    ],
)
async def test_user_flow_errors_from_simulator(
    hass: HomeAssistant, sim_url: str, token: str, wifi_sn: str, error: str
) -> None:
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: token, CONF_WIFI_SN: wifi_sn}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    # The form keeps what was typed, except the token.
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (SunvecConnectionError("timeout"), "cannot_connect"),
        (SunvecServerError("HTTP 503"), "cannot_connect"),
        (SunvecAuthenticationError("1001", 1001), "invalid_auth"),
        (SunvecNotAuthorizedError("1003", 1003), "wifi_sn_not_authorized"),
        (SunvecNotFoundError("2002", 2002), "wifi_sn_not_found"),
        (SunvecInvalidParameterError("1002", 1002), "invalid_wifi_sn"),
        (SunvecRateLimitError("104", 104), "rate_limited"),
        (SunvecMalformedResponseError("not JSON"), "invalid_response"),
        (SunvecError("other"), "unknown"),
        (RuntimeError("boom"), "unknown"),
    ],
)
async def test_user_flow_errors(
    hass: HomeAssistant,
    sim_url: str,
    raised: Exception,
    error: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flow_id = await start_user_flow(hass)
    with patch(CLIENT_CALL, side_effect=raised):
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN}
        )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert TOKEN not in caplog.text
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_field_validation(hass: HomeAssistant) -> None:
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {
            CONF_URL: "ftp://example.com",
            CONF_API_TOKEN: "token\r\nX-Injected: 1",
            CONF_WIFI_SN: "../../other",
        },
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {
        CONF_URL: "invalid_url",
        CONF_API_TOKEN: "invalid_token",
        CONF_WIFI_SN: "invalid_wifi_sn",
    }


async def test_live_simulator_faults_in_flow(
    hass: HomeAssistant, sim_url: str, cloud: SunvecCloud
) -> None:
    flow_id = await start_user_flow(hass)
    for kind, error in (
        (FaultKind.HTTP_502, "cannot_connect"),
        (FaultKind.TRUNCATED_JSON, "invalid_response"),
        (FaultKind.BAN, "rate_limited"),
    ):
        cloud.inject(Fault(kind))
        result = await hass.config_entries.flow.async_configure(
            flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN}
        )
        assert result["errors"] == {"base": error}, kind
    cloud.clear_faults()


async def test_reauth(
    hass: HomeAssistant, init_integration: MockConfigEntry, cloud: SunvecCloud
) -> None:
    entry = init_integration
    new_token = "new-token-0123456789"
    cloud.add_account(new_token, [HYBRID_WIFI_SN])
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_TOKEN: "still-wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_TOKEN: f" {new_token} "}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert entry.data[CONF_API_TOKEN] == new_token
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reconfigure(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim_url: str
) -> None:
    entry = init_integration
    result = await entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_URL: "http://127.0.0.1:1", CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN},
    )
    assert result["errors"] == {"base": "cannot_connect"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_URL: f"{sim_url}/", CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN.lower()},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_URL] == sim_url


async def test_reconfigure_other_inverter_aborts(
    hass: HomeAssistant, init_integration: MockConfigEntry, sim_url: str
) -> None:
    result = await init_integration.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wifi_sn_mismatch"
    assert init_integration.data[CONF_WIFI_SN] == HYBRID_WIFI_SN


async def test_options_flow_sets_interval_and_reloads(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    entry = init_integration
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 300}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_INTERVAL: 300}
    await hass.async_block_till_done()
    assert entry.runtime_data.update_interval is not None
    assert entry.runtime_data.update_interval.total_seconds() == 300


async def test_two_inverters_share_a_token(hass: HomeAssistant, sim_url: str) -> None:
    await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    await setup_entry(hass, entry_for(sim_url, PV_ONLY_WIFI_SN))
    entries = hass.config_entries.async_entries(DOMAIN)
    assert [entry.state for entry in entries] == [ConfigEntryState.LOADED] * 2


async def test_check_takes_a_slot_of_the_shared_budget(hass: HomeAssistant, sim_url: str) -> None:
    await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    budget = token_budget(hass, TOKEN)
    calls_before = budget.calls_in_last_minute(dt_util.utcnow())
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # The flow's check and the new entry's first poll.
    assert budget.calls_in_last_minute(dt_util.utcnow()) == calls_before + 2


@pytest.mark.parametrize(
    ("use_up_budget", "error"),
    [
        (lambda budget, now: budget.pause(now, 600), "rate_limited"),
        (
            lambda budget, now: [
                budget.reserve(now, spaced=False) for _ in range(budget.window_limit)
            ],
            "token_busy",
        ),
    ],
    ids=["paused", "minute_used_up"],
)
async def test_check_waits_for_the_shared_budget(
    hass: HomeAssistant,
    sim_url: str,
    cloud: SunvecCloud,
    use_up_budget: Callable[[TokenBudget, datetime], object],
    error: str,
) -> None:
    budget = token_budget(hass, TOKEN)
    now = dt_util.utcnow()
    use_up_budget(budget, now)
    calls_before = budget.calls_in_last_minute(now)
    requests_before = len(cloud.requests)
    flow_id = await start_user_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert len(cloud.requests) == requests_before
    # The refused check gave its slot back.
    assert budget.calls_in_last_minute(now) == calls_before
