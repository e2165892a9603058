"""Tests for the config, reauth, reconfigure and options flows.

The error matrix runs against an autospec'd client patched where the flow imports it
(fast, and every error test ends in an entry or an abort once the user corrects the
input); the happy paths, the cloud's real error codes and the shared call budget run
against the simulator over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import ANY, AsyncMock, MagicMock, patch

from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigEntry, ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.api import (
    RealtimeData,
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
from custom_components.sunvec_connect.budget import (
    SLOT_SLACK,
    WINDOW,
    TokenBudget,
)
from custom_components.sunvec_connect.const import (
    CONF_CALLS_KEPT_FREE,
    CONF_SCAN_INTERVAL,
    CONF_WIFI_SN,
    DOMAIN,
    SUBENTRY_INVERTER,
)
from simulator import Fault, FaultKind, SunvecCloud, create_app
from simulator.demo import HYBRID_WIFI_SN, OTHER_ACCOUNT_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import (
    TOKEN,
    TimeMachine,
    account_budget,
    account_for,
    coordinator_of,
    entry_for,
    ids_for,
    kept_calls,
    setup_entry,
)
from .replaced_answers import REAL_NOT_IN_ACCOUNT, REAL_SERVER_BUSY, replaced_answers

API_URL = "https://api.example.com"
USER_INPUT = {CONF_URL: API_URL, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN}
ACCOUNT_DATA = {CONF_URL: API_URL, CONF_API_TOKEN: TOKEN}
ACCOUNT_TITLE = "Sunvec Connect (api.example.com)"
EXPECTED_PLACEHOLDERS = {
    "example_url": "https://api.example.com",
    "endpoint_path": "/api/v2/dataAccess/realtimeInfo/get",
}
UPLOAD = RealtimeData.from_dict(
    {
        "inverterSN": "H34A08I6008",
        "sn": HYBRID_WIFI_SN,
        "acpower": 2450.0,
        "uploadTime": "2026-06-21 11:55:00",
    }
)


@pytest.fixture(autouse=True)
def _clocks(time_machine: TimeMachine) -> None:
    """Every flow test runs on the synchronised clocks."""


@pytest.fixture
def mock_client_class() -> Generator[MagicMock]:
    """The flow's client, autospec'd, answering with an upload of the hybrid inverter."""
    with patch(
        "custom_components.sunvec_connect.checks.SunvecClient", autospec=True
    ) as client_class:
        client_class.return_value.async_get_realtime_data.return_value = UPLOAD
        yield client_class


@pytest.fixture
def mock_client(mock_client_class: MagicMock) -> MagicMock:
    """The client instance the flow talks to."""
    client: MagicMock = mock_client_class.return_value
    return client


@pytest.fixture
def mock_entry(hass: HomeAssistant) -> MockConfigEntry:
    """An account with the hybrid inverter, added but not set up."""
    entry = entry_for(API_URL, HYBRID_WIFI_SN)
    entry.add_to_hass(hass)
    return entry


def inverters_of(entry: ConfigEntry) -> dict[str, str]:
    """An account's inverters: registration number to title."""
    assert all(sub.subentry_type == SUBENTRY_INVERTER for sub in entry.subentries.values())
    return {str(sub.unique_id): sub.title for sub in entry.subentries.values()}


async def start_user_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    assert result["description_placeholders"] == EXPECTED_PLACEHOLDERS
    return result["flow_id"]


async def configure(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> Any:
    return await hass.config_entries.flow.async_configure(flow_id, user_input)


# --- The user flow against the mocked client ------------------------------------------------


async def test_user_flow_normalizes_and_creates_entry(
    hass: HomeAssistant, mock_client_class: MagicMock, mock_setup_entry: AsyncMock
) -> None:
    flow_id = await start_user_flow(hass)
    result = await configure(
        hass,
        flow_id,
        {
            CONF_URL: " API.example.com/api/v2/dataAccess/realtimeInfo/get ",
            CONF_API_TOKEN: f" {TOKEN} ",
            CONF_WIFI_SN: " sutdemohyb1 ",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == ACCOUNT_TITLE
    assert result["data"] == ACCOUNT_DATA
    assert result["result"].unique_id == ids_for(API_URL, TOKEN).unique_id
    assert TOKEN not in result["result"].unique_id
    assert inverters_of(result["result"]) == {HYBRID_WIFI_SN: "Sunvec H34A08I6008"}
    mock_client_class.assert_called_once_with(ANY, API_URL, TOKEN)
    mock_client_class.return_value.async_get_realtime_data.assert_awaited_once_with(HYBRID_WIFI_SN)
    assert len(mock_setup_entry.mock_calls) == 1


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_title_falls_back_to_wifi_sn(
    hass: HomeAssistant, mock_client: MagicMock
) -> None:
    mock_client.async_get_realtime_data.return_value = RealtimeData.from_dict({})
    result = await configure(hass, await start_user_flow(hass), USER_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert inverters_of(result["result"]) == {HYBRID_WIFI_SN: f"Sunvec {HYBRID_WIFI_SN}"}


@pytest.mark.usefixtures("mock_client", "mock_setup_entry")
async def test_user_flow_already_configured(
    hass: HomeAssistant, mock_entry: MockConfigEntry
) -> None:
    flow_id = await start_user_flow(hass)
    result = await configure(hass, flow_id, {**USER_INPUT, CONF_WIFI_SN: "sutdemohyb1"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "inverter_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


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
@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_recovers_from_client_error(
    hass: HomeAssistant,
    mock_client: MagicMock,
    raised: Exception,
    error: str,
    caplog: pytest.LogCaptureFixture,
    freezer: FrozenDateTimeFactory,
) -> None:
    flow_id = await start_user_flow(hass)
    mock_client.async_get_realtime_data.side_effect = raised
    result = await configure(hass, flow_id, USER_INPUT)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"] == EXPECTED_PLACEHOLDERS
    assert TOKEN not in caplog.text

    if isinstance(raised, SunvecRateLimitError):
        # The answer paused the token (60 s when the cloud names no time): try after it.
        result = await configure(hass, flow_id, USER_INPUT)
        assert result["errors"] == {"base": "rate_limited"}
        freezer.tick(timedelta(seconds=61))
    mock_client.async_get_realtime_data.side_effect = None
    result = await configure(hass, flow_id, USER_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert inverters_of(result["result"]) == {HYBRID_WIFI_SN: "Sunvec H34A08I6008"}


@pytest.mark.parametrize(
    ("field", "typed", "error"),
    [
        (CONF_URL, "   ", "invalid_url"),
        (CONF_URL, "ftp://api.example.com", "invalid_url_scheme"),
        (CONF_URL, "https://api..example.com", "invalid_url_host"),
        (CONF_URL, "https://api.example.com/portal/login", "invalid_url_path"),
        (CONF_URL, "https://user:secret@api.example.com", "invalid_url_credentials"),
        (CONF_URL, "https://api.example.com\nX-Injected: 1", "invalid_url_line_break"),
        (CONF_API_TOKEN, "token\r\nX-Injected: 1", "invalid_token"),
        (CONF_API_TOKEN, "two words", "invalid_token"),
        (CONF_WIFI_SN, "../../other", "invalid_wifi_sn"),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_recovers_from_typed_error(
    hass: HomeAssistant, mock_client_class: MagicMock, field: str, typed: str, error: str
) -> None:
    flow_id = await start_user_flow(hass)
    result = await configure(hass, flow_id, {**USER_INPUT, field: typed})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    # The error's text shows the expected address through the step's placeholders.
    assert result["description_placeholders"] == EXPECTED_PLACEHOLDERS
    mock_client_class.assert_not_called()

    result = await configure(hass, flow_id, USER_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == ACCOUNT_DATA


@pytest.mark.parametrize(
    ("typed", "errors"),
    [
        # The two fields swapped: the address is refused before it reaches a name server.
        ({CONF_URL: TOKEN, CONF_API_TOKEN: API_URL}, {CONF_API_TOKEN: "invalid_token_address"}),
        # The token in both fields (the address's host lower-cases it).
        ({CONF_URL: TOKEN.upper(), CONF_API_TOKEN: TOKEN.upper()}, {CONF_URL: "invalid_url_token"}),
        ({CONF_URL: f"https://{TOKEN}.example.com"}, {CONF_URL: "invalid_url_token"}),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_keeps_the_token_out_of_the_address(
    hass: HomeAssistant,
    mock_client_class: MagicMock,
    typed: dict[str, str],
    errors: dict[str, str],
) -> None:
    flow_id = await start_user_flow(hass)
    result = await configure(hass, flow_id, {**USER_INPUT, **typed})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    mock_client_class.assert_not_called()

    result = await configure(hass, flow_id, USER_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == ACCOUNT_DATA


@pytest.mark.usefixtures("mock_setup_entry")
async def test_user_flow_reports_every_wrong_field_at_once(
    hass: HomeAssistant, mock_client_class: MagicMock
) -> None:
    flow_id = await start_user_flow(hass)
    result = await configure(
        hass,
        flow_id,
        {CONF_URL: "ftp://example.com", CONF_API_TOKEN: "", CONF_WIFI_SN: "../../other"},
    )
    assert result["errors"] == {
        CONF_URL: "invalid_url_scheme",
        CONF_API_TOKEN: "invalid_token",
        CONF_WIFI_SN: "invalid_wifi_sn",
    }
    mock_client_class.assert_not_called()

    result = await configure(hass, flow_id, USER_INPUT)
    assert result["type"] is FlowResultType.CREATE_ENTRY


# --- Reauthentication and reconfiguration against the mocked client ------------------------


@pytest.mark.parametrize(
    ("typed", "raised", "errors"),
    [
        ("still-wrong", SunvecAuthenticationError("1001", 1001), {"base": "invalid_auth"}),
        ("two words", None, {CONF_API_TOKEN: "invalid_token"}),
        ("https://api.example.com", None, {CONF_API_TOKEN: "invalid_token_address"}),
        ("API.example", None, {"base": "invalid_url_token"}),
        ("new-token-0123456789", SunvecConnectionError("timeout"), {"base": "cannot_connect"}),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_reauth_recovers_from_error(
    hass: HomeAssistant,
    mock_entry: MockConfigEntry,
    mock_client: MagicMock,
    typed: str,
    raised: Exception | None,
    errors: dict[str, str],
) -> None:
    result = await mock_entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"
    assert result["description_placeholders"] == {**EXPECTED_PLACEHOLDERS, "name": ACCOUNT_TITLE}

    mock_client.async_get_realtime_data.side_effect = raised
    result = await configure(hass, result["flow_id"], {CONF_API_TOKEN: typed})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors

    mock_client.async_get_realtime_data.side_effect = None
    result = await configure(hass, result["flow_id"], {CONF_API_TOKEN: " new-token-0123456789 "})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    assert mock_entry.data == {**ACCOUNT_DATA, CONF_API_TOKEN: "new-token-0123456789"}
    assert mock_entry.unique_id == ids_for(API_URL, "new-token-0123456789").unique_id


@pytest.mark.parametrize(
    ("user_input", "raised", "errors"),
    [
        (
            {**ACCOUNT_DATA, CONF_URL: "https://portal.example.com/login"},
            None,
            {CONF_URL: "invalid_url_path"},
        ),
        ({CONF_URL: TOKEN, CONF_API_TOKEN: TOKEN}, None, {CONF_URL: "invalid_url_token"}),
        (ACCOUNT_DATA, SunvecConnectionError("refused"), {"base": "cannot_connect"}),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_reconfigure_recovers_from_error(
    hass: HomeAssistant,
    mock_entry: MockConfigEntry,
    mock_client: MagicMock,
    user_input: dict[str, str],
    raised: Exception | None,
    errors: dict[str, str],
) -> None:
    result = await mock_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    assert result["description_placeholders"] == EXPECTED_PLACEHOLDERS

    mock_client.async_get_realtime_data.side_effect = raised
    result = await configure(hass, result["flow_id"], user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors

    mock_client.async_get_realtime_data.side_effect = None
    new_url = "https://eu.api.example.com"
    result = await configure(hass, result["flow_id"], {**ACCOUNT_DATA, CONF_URL: f"{new_url}/"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert mock_entry.data == {**ACCOUNT_DATA, CONF_URL: new_url}
    assert mock_entry.unique_id == ids_for(new_url, TOKEN).unique_id


@pytest.mark.parametrize(
    ("flow", "typed"),
    [
        ("reconfigure", {CONF_URL: API_URL, CONF_API_TOKEN: "other-token-123"}),
        ("reauth", {CONF_API_TOKEN: "other-token-123"}),
        # The portal gives a token one address: at another, it is still that account's.
        (
            "reconfigure",
            {CONF_URL: "https://eu.api.example.com", CONF_API_TOKEN: "other-token-123"},
        ),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_another_accounts_token_aborts(
    hass: HomeAssistant,
    mock_entry: MockConfigEntry,
    mock_client: MagicMock,
    flow: str,
    typed: dict[str, str],
) -> None:
    """The address and token of another configured account: one account per token."""
    other = entry_for(API_URL, PV_ONLY_WIFI_SN, token="other-token-123")
    other.add_to_hass(hass)
    if flow == "reauth":
        result = await mock_entry.start_reauth_flow(hass)
    else:
        result = await mock_entry.start_reconfigure_flow(hass)
    result = await configure(hass, result["flow_id"], typed)
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert mock_entry.data == ACCOUNT_DATA
    assert mock_entry.unique_id == ids_for(API_URL, TOKEN).unique_id
    # Told before any call to the cloud.
    mock_client.async_get_realtime_data.assert_not_called()


# --- Against the simulated cloud over HTTP ------------------------------------------------------


async def test_user_flow_creates_entry(hass: HomeAssistant, sim_url: str) -> None:
    flow_id = await start_user_flow(hass)
    result = await configure(
        hass,
        flow_id,
        {
            CONF_URL: f" {sim_url}/api/v2/dataAccess/realtimeInfo/get ",
            CONF_API_TOKEN: f" {TOKEN} ",
            CONF_WIFI_SN: " sutdemohyb1 ",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN}
    assert inverters_of(result["result"]) == {HYBRID_WIFI_SN: "Sunvec H34A08I6008"}
    await hass.async_block_till_done()
    assert result["result"].state is ConfigEntryState.LOADED


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
    result = await configure(
        hass, flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: token, CONF_WIFI_SN: wifi_sn}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    result = await configure(
        hass, flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    ("body", "error"),
    [(REAL_NOT_IN_ACCOUNT, "wifi_sn_not_authorized"), (REAL_SERVER_BUSY, "cannot_connect")],
)
async def test_user_flow_real_cloud_bodies(
    hass: HomeAssistant, sim_url: str, cloud: SunvecCloud, body: dict[str, Any], error: str
) -> None:
    """The real cloud's 1003 "no auth!" is not a refused token; "server busy" is transient."""
    flow_id = await start_user_flow(hass)
    user_input = {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN}
    with replaced_answers(cloud, lambda _record: body) as replaced:
        result = await configure(hass, flow_id, user_input)
    assert len(replaced) == 1
    assert result["errors"] == {"base": error}
    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_live_simulator_faults_in_flow(
    hass: HomeAssistant, sim_url: str, cloud: SunvecCloud, time_machine: TimeMachine
) -> None:
    flow_id = await start_user_flow(hass)
    user_input = {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN}
    for kind, error in (
        (FaultKind.HTTP_502, "cannot_connect"),
        (FaultKind.TRUNCATED_JSON, "invalid_response"),
        (FaultKind.BAN, "rate_limited"),
    ):
        cloud.inject(Fault(kind))
        result = await configure(hass, flow_id, user_input)
        assert result["errors"] == {"base": error}, kind
    # The ban the form's check met pauses the token for every entry that uses it.
    assert (await kept_calls(hass, sim_url)).budget.is_paused(dt_util.utcnow())
    # The user tries again once the ban is over.
    await time_machine.advance(cloud.ban_seconds + 1)
    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_reauth(
    hass: HomeAssistant, init_integration: MockConfigEntry, cloud: SunvecCloud
) -> None:
    entry = init_integration
    new_token = "new-token-0123456789"
    cloud.add_account(new_token, [HYBRID_WIFI_SN])
    result = await entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"

    result = await configure(hass, result["flow_id"], {CONF_API_TOKEN: "still-wrong"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await configure(hass, result["flow_id"], {CONF_API_TOKEN: f" {new_token} "})
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

    # Nothing listens there: a real connection error.
    result = await configure(
        hass, result["flow_id"], {CONF_URL: "http://127.0.0.1:1", CONF_API_TOKEN: TOKEN}
    )
    assert result["errors"] == {"base": "cannot_connect"}

    result = await configure(
        hass, result["flow_id"], {CONF_URL: f"{sim_url}/", CONF_API_TOKEN: TOKEN}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert entry.data[CONF_URL] == sim_url
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


async def test_reauth_after_a_failed_setup_loads_the_account(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    config_entry: MockConfigEntry,
    cloud: SunvecCloud,
) -> None:
    """A token refused at setup leaves no update listener: the reauth reloads the account."""
    cloud.inject(Fault(FaultKind.REVOKE_TOKEN))
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    (flow,) = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    new_token = "new-token-0123456789"
    cloud.add_account(new_token, [HYBRID_WIFI_SN])

    result = await configure(hass, flow["flow_id"], {CONF_API_TOKEN: new_token})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert coordinator_of(config_entry).last_update_success


async def test_reconfigure_after_a_refused_address_loads_the_account(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str
) -> None:
    """An address refused at setup (saved settings) is fixed by reconfiguring, without a restart."""
    entry = await setup_entry(hass, entry_for(f"{sim_url}/proxy"))
    assert entry.state is ConfigEntryState.SETUP_ERROR
    result = await entry.start_reconfigure_flow(hass)
    result = await configure(hass, result["flow_id"], {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert coordinator_of(entry).last_update_success


async def test_options_flow_sets_and_clears_the_fixed_interval(
    hass: HomeAssistant, init_integration: MockConfigEntry, time_machine: TimeMachine
) -> None:
    entry = init_integration
    assert coordinator_of(entry).plan.fixed_interval is None

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 300}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_INTERVAL: 300}
    await hass.async_block_till_done()
    assert coordinator_of(entry).plan.fixed_interval is not None
    assert coordinator_of(entry).plan.fixed_interval.total_seconds() == 300
    # Reloaded, the entry starts from its kept upload and calls at the token's next
    # slot; from that call on it polls at the fixed interval.
    await time_machine.advance(10)
    assert coordinator_of(entry).update_interval == coordinator_of(entry).plan.fixed_interval

    # Emptying the field goes back to polling after each upload.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {}
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert coordinator_of(entry).plan.fixed_interval is None


async def test_a_configured_token_gets_the_new_inverter(
    hass: HomeAssistant, sim_url: str, cloud: SunvecCloud, time_machine: TimeMachine
) -> None:
    """One account per token: adding an inverter with its token adds it to the account.

    The check takes a slot of the token's budget; the added inverter then polls on its
    own (one call more: the account is reloaded with it).
    """
    account = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    budget = account_budget(hass)
    calls_before = budget.calls_in_last_minute(dt_util.utcnow())
    requests_before = len(cloud.requests)
    flow_id = await start_user_flow(hass)
    result = await configure(
        hass, flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "added_to_account"
    assert result["description_placeholders"]["account"] == account.title
    await hass.async_block_till_done()
    assert hass.config_entries.async_entries(DOMAIN) == [account]
    assert inverters_of(account) == {
        HYBRID_WIFI_SN: f"Sunvec {HYBRID_WIFI_SN}",
        PV_ONLY_WIFI_SN: "Sunvec X1B30P4012",
    }
    assert account.state is ConfigEntryState.LOADED
    assert len(coordinator_of(account).config_entry.runtime_data.coordinators) == 2
    await time_machine.advance(30)
    # The reloaded account took over the calls of the one before (kept in storage).
    assert account_budget(hass) is not budget
    assert account_budget(hass).calls_in_last_minute(dt_util.utcnow()) == calls_before + 2
    assert [request.wifi_sn for request in cloud.requests[requests_before:]] == [
        PV_ONLY_WIFI_SN,
        PV_ONLY_WIFI_SN,
    ]
    assert hass.states.get("sensor.sunvec_x1b30p4012_ac_power") is not None


async def test_a_configured_token_at_another_address_gets_the_new_inverter(
    hass: HomeAssistant, sim_url: str, cloud: SunvecCloud
) -> None:
    """Typed with another address, a configured token's inverter joins its account.

    Never a second entry (and a second budget) for one token: the account keeps its
    address, and the form's check counts among the token's calls.
    """
    account = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    # The same cloud at another address (another port).
    second = TestServer(create_app(cloud), host="127.0.0.1")
    await second.start_server(access_log=None)
    try:
        other_url = str(second.make_url("/")).rstrip("/")
        flow_id = await start_user_flow(hass)
        result = await configure(
            hass,
            flow_id,
            {CONF_URL: other_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN},
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "added_to_account"
        assert result["description_placeholders"]["account"] == account.title
        await hass.async_block_till_done()
    finally:
        await second.close()
    assert hass.config_entries.async_entries(DOMAIN) == [account]
    assert account.data == {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN}
    assert account.unique_id == ids_for(sim_url, TOKEN).unique_id
    assert set(inverters_of(account)) == {HYBRID_WIFI_SN, PV_ONLY_WIFI_SN}
    assert account.state is ConfigEntryState.LOADED
    assert len(account.runtime_data.coordinators) == 2
    counted = account_budget(hass).calls_since(dt_util.utcnow() - timedelta(days=1))
    assert counted == len(cloud.requests)


@pytest.mark.parametrize(
    ("use_up_budget", "error", "wait"),
    [
        (lambda budget, now: budget.pause(now, 600), "rate_limited", 600),
        (
            lambda budget, now: [
                budget.reserve(now, spaced=False) for _ in range(budget.window_limit)
            ],
            "token_busy",
            (WINDOW + SLOT_SLACK).total_seconds(),
        ),
    ],
    ids=["paused", "minute_used_up"],
)
async def test_check_waits_for_the_shared_budget(
    hass: HomeAssistant,
    sim_url: str,
    cloud: SunvecCloud,
    time_machine: TimeMachine,
    use_up_budget: Callable[[TokenBudget, datetime], object],
    error: str,
    wait: float,
) -> None:
    calls = await kept_calls(hass, sim_url)
    now = dt_util.utcnow()
    use_up_budget(calls.budget, now)
    await calls.async_save()
    calls_before = calls.budget.calls_in_last_minute(now)
    requests_before = len(cloud.requests)
    flow_id = await start_user_flow(hass)
    user_input = {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN}
    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert len(cloud.requests) == requests_before
    # The refused check gave its slot back.
    assert (await kept_calls(hass, sim_url)).budget.calls_in_last_minute(now) == calls_before

    # Once the pause or the minute is over, the same input goes through.
    await time_machine.advance(wait)
    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY


def suggested_value(result: Any, field: str) -> Any:
    """The value an options form suggests for a field."""
    for key in result["data_schema"].schema:
        if key == field:
            return (key.description or {}).get("suggested_value")
    raise AssertionError(f"{field} is not on the form")


async def test_options_flow_sets_and_clears_the_calls_kept_free(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    entry = init_integration
    assert coordinator_of(entry).budget.calls_kept_free == 1

    result = await hass.config_entries.options.async_init(entry.entry_id)
    # Unset, the form shows the default: one call a minute kept free, as before the option.
    assert suggested_value(result, CONF_CALLS_KEPT_FREE) == 1
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CALLS_KEPT_FREE: 4}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_CALLS_KEPT_FREE: 4}
    await hass.async_block_till_done()
    # The entry was reloaded and its token's budget keeps the 4 calls free.
    assert entry.state is ConfigEntryState.LOADED
    assert coordinator_of(entry).budget.calls_kept_free == 4
    assert coordinator_of(entry).budget.window_limit == 6

    # Both options at once; 0 is a value (nothing kept free), not an emptied field.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert suggested_value(result, CONF_CALLS_KEPT_FREE) == 4
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 300, CONF_CALLS_KEPT_FREE: 0}
    )
    assert entry.options == {CONF_SCAN_INTERVAL: 300, CONF_CALLS_KEPT_FREE: 0}
    await hass.async_block_till_done()
    assert coordinator_of(entry).budget.calls_kept_free == 0

    # Emptying the fields goes back to the defaults.
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {}
    await hass.async_block_till_done()
    assert coordinator_of(entry).budget.calls_kept_free == 1


@pytest.mark.parametrize("calls", [-1, 9, 10])
async def test_options_flow_refuses_calls_kept_free_out_of_range(
    hass: HomeAssistant, init_integration: MockConfigEntry, calls: int
) -> None:
    entry = init_integration
    result = await hass.config_entries.options.async_init(entry.entry_id)
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {CONF_CALLS_KEPT_FREE: calls}
        )
    assert entry.options == {}


async def test_options_flow_keeps_calls_free_for_every_inverter_of_the_account(
    hass: HomeAssistant, sim_url: str, time_machine: TimeMachine
) -> None:
    """The calls kept free are the account's: its token's budget keeps them for all."""
    account = await setup_entry(hass, account_for(sim_url, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]))
    result = await hass.config_entries.options.async_init(account.entry_id)
    await hass.config_entries.options.async_configure(result["flow_id"], {CONF_CALLS_KEPT_FREE: 5})
    await hass.async_block_till_done()
    assert account.options == {CONF_CALLS_KEPT_FREE: 5}
    budget = account_budget(hass)
    assert len(budget.demands) == 2
    assert budget.calls_kept_free == 5
    assert budget.daily_limit == 10_000 - 50


async def test_options_flow_refuses_a_fixed_interval_the_day_cannot_carry(
    hass: HomeAssistant,
) -> None:
    """Seven inverters of one account at a fixed 60 s need 10,080 calls a day: refused.

    Before issue 17 the form took it, and the day's budget ran out for every inverter
    of the token. The form says how many calls it would take; a longer interval is taken.
    """
    entry = account_for(API_URL, [f"SUTSEVEN{number:04d}" for number in range(7)])
    entry.add_to_hass(hass)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 60}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_SCAN_INTERVAL: "interval_over_budget"}
    assert result["description_placeholders"] == {"calls": "10,080", "limit": "9,990"}
    assert entry.options == {}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_SCAN_INTERVAL: 61}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {CONF_SCAN_INTERVAL: 61}
