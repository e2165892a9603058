"""Tests for "Add inverter" on an account: the subentry flow of one or several inverters.

The error paths run against an autospec'd client that answers per wifiSn on an account
that is added but not set up (every error test ends in a subentry or an abort); adding
to a set-up account runs against the simulator over HTTP.
"""

from __future__ import annotations

from collections.abc import Generator
import json
from typing import Any
from unittest.mock import ANY, MagicMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect import async_setup_entry
from custom_components.sunvec_connect.api import (
    RealtimeData,
    SunvecAuthenticationError,
    SunvecConnectionError,
    SunvecMalformedResponseError,
    SunvecNotAuthorizedError,
    SunvecRateLimitError,
)
from custom_components.sunvec_connect.const import CONF_WIFI_SN, DOMAIN, SUBENTRY_INVERTER
from custom_components.sunvec_connect.models import SunvecConfigEntry
from simulator import ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, OTHER_ACCOUNT_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import TOKEN, TimeMachine, entry_for, kept_calls, setup_entry
from .inverter_lists import (
    API_URL,
    EN,
    EXTRA_WIFI_SN,
    OTHER_TOKEN,
    TRANSLATIONS,
    add_account,
    add_inverter_to_account,
    checked_wifi_sns,
    client_answering,
    flow_budget,
    inverter,
    inverters_of,
    listed,
    move_clock,
    refused,
    schema_fields,
    shown_to_the_user,
    suggested,
    upload,
    use_up_the_minute,
)

SUBENTRY_ERRORS: dict[str, str] = EN["config_subentries"][SUBENTRY_INVERTER]["error"]
HYBRID = inverter(HYBRID_WIFI_SN, "Sunvec H34A08I6008")
PV_ONLY = inverter(PV_ONLY_WIFI_SN, "Sunvec X1B30P4012")
EXTRA = inverter(EXTRA_WIFI_SN, "Sunvec X1EXTRA0001")


@pytest.fixture(autouse=True)
def _clocks(time_machine: TimeMachine) -> None:
    """Every test runs on the synchronised clocks."""


@pytest.fixture
def answers() -> dict[str, RealtimeData | Exception]:
    """What the mocked cloud answers for each wifiSn (others: not found)."""
    return {
        HYBRID_WIFI_SN: upload("H34A08I6008"),
        PV_ONLY_WIFI_SN: upload("X1B30P4012"),
        EXTRA_WIFI_SN: upload("X1EXTRA0001"),
        OTHER_ACCOUNT_WIFI_SN: SunvecNotAuthorizedError("no auth!", 1003),
    }


@pytest.fixture
def mock_client_class(answers: dict[str, RealtimeData | Exception]) -> Generator[MagicMock]:
    """The flow's client class, autospec'd; each client answers for its wifiSn."""
    with client_answering(answers) as client_class:
        yield client_class


@pytest.fixture
def account(hass: HomeAssistant, mock_setup_entry: MagicMock) -> MockConfigEntry:
    """The test token's account with the hybrid inverter, added but not set up."""
    return add_account(hass, {HYBRID_WIFI_SN: HYBRID[0]})


async def start_flow(hass: HomeAssistant, entry: MockConfigEntry) -> str:
    """Start "Add inverter" on an account; return the flow's id."""
    result = await hass.config_entries.subentries.async_init(
        (entry.entry_id, SUBENTRY_INVERTER), context={"source": "user"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    return str(result["flow_id"])


async def configure(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any] | None) -> Any:
    return await hass.config_entries.subentries.async_configure(flow_id, user_input)


async def submit(hass: HomeAssistant, flow_id: str, typed: str) -> Any:
    return await configure(hass, flow_id, {CONF_WIFI_SN: typed})


async def submit_list(hass: HomeAssistant, flow_id: str, typed: str) -> Any:
    """Submit several wifiSns: the check shows progress, then its result."""
    result = await submit(hass, flow_id, typed)
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["step_id"] == "check_inverters"
    assert result["progress_action"] == "check_inverters"
    await hass.async_block_till_done(wait_background_tasks=True)
    return await configure(hass, flow_id, None)


# --- The form ------------------------------------------------------------------------------------


async def test_account_offers_add_inverter(hass: HomeAssistant, account: MockConfigEntry) -> None:
    assert account.supported_subentry_types == {SUBENTRY_INVERTER: {"supports_reconfigure": False}}


async def test_form_asks_only_for_numbers(hass: HomeAssistant, account: MockConfigEntry) -> None:
    result = await hass.config_entries.subentries.async_init(
        (account.entry_id, SUBENTRY_INVERTER), context={"source": "user"}
    )
    fields = schema_fields(result)
    # The address and token are the account's.
    assert list(fields) == [CONF_WIFI_SN]
    assert fields[CONF_WIFI_SN][0] == "Required"
    assert fields[CONF_WIFI_SN][1]["text"]["multiline"] is True
    assert TOKEN not in shown_to_the_user(result)


# --- One number ----------------------------------------------------------------------------------


async def test_one_number_adds_an_inverter(
    hass: HomeAssistant,
    account: MockConfigEntry,
    mock_client_class: MagicMock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, " sutdemopv01 ")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # The check is a call of the account's token like any other: it took a slot, kept
    # for the account's setup.
    budget = (await kept_calls(hass, API_URL)).budget
    assert budget.calls_in_last_minute(dt_util.utcnow()) == 1
    assert result["title"] == "Sunvec X1B30P4012"
    assert result["data"] == {CONF_WIFI_SN: PV_ONLY_WIFI_SN}
    assert result["unique_id"] == PV_ONLY_WIFI_SN
    assert result["description_placeholders"]["added"] == listed(
        f"Sunvec X1B30P4012 (`{PV_ONLY_WIFI_SN}`)"
    )
    # Checked with the account's address and token.
    mock_client_class.assert_called_once_with(ANY, API_URL, TOKEN)
    mock_client_class.return_value.async_get_realtime_data.assert_awaited_once_with(PV_ONLY_WIFI_SN)
    assert inverters_of(account) == {HYBRID_WIFI_SN: HYBRID, PV_ONLY_WIFI_SN: PV_ONLY}
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    assert TOKEN not in shown_to_the_user(result)
    assert TOKEN not in caplog.text


async def test_title_falls_back_to_the_wifi_sn(
    hass: HomeAssistant, account: MockConfigEntry, answers: dict[str, RealtimeData | Exception]
) -> None:
    answers[PV_ONLY_WIFI_SN] = RealtimeData.from_dict({"acpower": 800.0})
    flow_id = await start_flow(hass, account)
    with client_answering(answers):
        result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"Sunvec {PV_ONLY_WIFI_SN}"


@pytest.mark.parametrize("token", [TOKEN, OTHER_TOKEN], ids=["this_account", "another_account"])
async def test_configured_number_aborts(
    hass: HomeAssistant, mock_setup_entry: MagicMock, mock_client_class: MagicMock, token: str
) -> None:
    """An inverter belongs to one account: configured on this one or another, it aborts."""
    account = add_account(hass, {PV_ONLY_WIFI_SN: PV_ONLY[0]})
    add_account(hass, {HYBRID_WIFI_SN: HYBRID[0]}, token=OTHER_TOKEN)
    configured = PV_ONLY_WIFI_SN if token == TOKEN else HYBRID_WIFI_SN
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, configured.lower())
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    mock_client_class.assert_not_called()
    assert inverters_of(account) == {PV_ONLY_WIFI_SN: PV_ONLY}


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (SunvecNotAuthorizedError("no auth!", 1003), "wifi_sn_not_authorized"),
        (None, "wifi_sn_not_found"),
        (SunvecConnectionError("timeout"), "cannot_connect"),
        (SunvecAuthenticationError("Interface Unauthorized", 1001), "invalid_auth"),
        (SunvecMalformedResponseError("not JSON"), "invalid_response"),
        (RuntimeError("boom"), "unknown"),
    ],
    ids=["not_authorized", "not_found", "connection", "token", "malformed", "unexpected"],
)
async def test_error_is_shown_then_corrected(
    hass: HomeAssistant,
    account: MockConfigEntry,
    mock_client_class: MagicMock,
    answers: dict[str, RealtimeData | Exception],
    caplog: pytest.LogCaptureFixture,
    raised: Exception | None,
    error: str,
) -> None:
    good_answer = answers.pop(PV_ONLY_WIFI_SN)
    if raised is not None:
        answers[PV_ONLY_WIFI_SN] = raised
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}
    assert error in SUBENTRY_ERRORS
    # The number stays typed, to correct.
    assert suggested(result, CONF_WIFI_SN) == PV_ONLY_WIFI_SN
    assert inverters_of(account) == {HYBRID_WIFI_SN: HYBRID}
    assert TOKEN not in caplog.text

    answers[PV_ONLY_WIFI_SN] = good_answer
    result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["unique_id"] == PV_ONLY_WIFI_SN
    assert checked_wifi_sns(mock_client_class) == [PV_ONLY_WIFI_SN, PV_ONLY_WIFI_SN]


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("SUT-1", "invalid_wifi_sn"),
        ("SUT-1, SUT/2", "invalid_wifi_sn"),
        (" ,\n ", "invalid_wifi_sn"),
        (" ".join(f"SUT{number:04}" for number in range(51)), "too_many_wifi_sns"),
    ],
    ids=["malformed", "none_well_formed", "only_separators", "too_many"],
)
async def test_number_typed_wrong_is_refused_on_its_field(
    hass: HomeAssistant,
    account: MockConfigEntry,
    mock_client_class: MagicMock,
    typed: str,
    error: str,
) -> None:
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, typed)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_WIFI_SN: error}
    assert error in SUBENTRY_ERRORS
    mock_client_class.assert_not_called()

    result = await submit(hass, flow_id, EXTRA_WIFI_SN)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert inverters_of(account) == {HYBRID_WIFI_SN: HYBRID, EXTRA_WIFI_SN: EXTRA}


async def test_token_busy_then_added_in_the_next_minute(
    hass: HomeAssistant,
    account: MockConfigEntry,
    mock_client_class: MagicMock,
    freezer: FrozenDateTimeFactory,
) -> None:
    """One number is checked at once: with the token's minute used up, the form says so."""
    next_slot = await use_up_the_minute(hass)
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["errors"] == {"base": "token_busy"}
    mock_client_class.assert_not_called()

    await move_clock(hass, freezer, next_slot)
    result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_rate_limit_pauses_the_token(
    hass: HomeAssistant,
    account: MockConfigEntry,
    mock_client_class: MagicMock,
    answers: dict[str, RealtimeData | Exception],
    freezer: FrozenDateTimeFactory,
) -> None:
    good_answer = answers[PV_ONLY_WIFI_SN]
    answers[PV_ONLY_WIFI_SN] = SunvecRateLimitError("104", 104)
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["errors"] == {"base": "rate_limited"}
    # The account's inverters must not call into the same pause: nor does the next try.
    budget = (await kept_calls(hass, API_URL)).budget
    assert budget.is_paused(dt_util.utcnow())
    assert budget.paused_until is not None
    answers[PV_ONLY_WIFI_SN] = good_answer
    result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["errors"] == {"base": "rate_limited"}
    assert checked_wifi_sns(mock_client_class) == [PV_ONLY_WIFI_SN]

    await move_clock(hass, freezer, budget.paused_until)
    result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["type"] is FlowResultType.CREATE_ENTRY


# --- Several numbers -------------------------------------------------------------------------


async def test_several_numbers_add_an_inverter_each(
    hass: HomeAssistant, account: MockConfigEntry, mock_client_class: MagicMock
) -> None:
    flow_id = await start_flow(hass, account)
    typed = f"{HYBRID_WIFI_SN}\nsutdemopv01, {EXTRA_WIFI_SN}; {OTHER_ACCOUNT_WIFI_SN} SUT-1"
    result = await submit_list(hass, flow_id, typed)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    # The first added is the flow's subentry; the others were added with it.
    assert result["title"] == "Sunvec X1B30P4012"
    assert result["data"] == {CONF_WIFI_SN: PV_ONLY_WIFI_SN}
    assert result["unique_id"] == PV_ONLY_WIFI_SN
    assert result["description"] == "inverters_added"
    assert result["description_placeholders"] == {
        "added_count": "2",
        "added": listed(
            f"Sunvec X1B30P4012 (`{PV_ONLY_WIFI_SN}`)", f"Sunvec X1EXTRA0001 (`{EXTRA_WIFI_SN}`)"
        ),
        "existing_count": "1",
        "existing": listed(f"`{HYBRID_WIFI_SN}`"),
        "refused_count": "2",
        "refused": listed(
            refused("SUT-1", "invalid_wifi_sn", SUBENTRY_ERRORS),
            refused(OTHER_ACCOUNT_WIFI_SN, "wifi_sn_not_authorized", SUBENTRY_ERRORS),
        ),
    }
    assert inverters_of(account) == {
        HYBRID_WIFI_SN: HYBRID,
        PV_ONLY_WIFI_SN: PV_ONLY,
        EXTRA_WIFI_SN: EXTRA,
    }
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1
    # The configured one was not checked.
    assert checked_wifi_sns(mock_client_class) == [
        PV_ONLY_WIFI_SN,
        EXTRA_WIFI_SN,
        OTHER_ACCOUNT_WIFI_SN,
    ]
    assert TOKEN not in shown_to_the_user(result)


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (SunvecConnectionError("timeout"), "cannot_connect"),
        (SunvecAuthenticationError("Interface Unauthorized", 1001), "invalid_auth"),
    ],
)
async def test_first_check_failing_on_the_connection_returns_to_the_form(
    hass: HomeAssistant,
    account: MockConfigEntry,
    mock_client_class: MagicMock,
    answers: dict[str, RealtimeData | Exception],
    raised: Exception,
    error: str,
) -> None:
    good_answer = answers[PV_ONLY_WIFI_SN]
    answers[PV_ONLY_WIFI_SN] = raised
    flow_id = await start_flow(hass, account)
    typed = f"{PV_ONLY_WIFI_SN} {EXTRA_WIFI_SN}"
    result = await submit_list(hass, flow_id, typed)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}
    assert suggested(result, CONF_WIFI_SN) == typed
    assert checked_wifi_sns(mock_client_class) == [PV_ONLY_WIFI_SN]

    answers[PV_ONLY_WIFI_SN] = good_answer
    result = await submit_list(hass, flow_id, typed)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert inverters_of(account) == {
        HYBRID_WIFI_SN: HYBRID,
        PV_ONLY_WIFI_SN: PV_ONLY,
        EXTRA_WIFI_SN: EXTRA,
    }


async def test_connection_failing_later_refuses_the_rest(
    hass: HomeAssistant,
    account: MockConfigEntry,
    mock_client_class: MagicMock,
    answers: dict[str, RealtimeData | Exception],
) -> None:
    answers[EXTRA_WIFI_SN] = SunvecConnectionError("timeout")
    flow_id = await start_flow(hass, account)
    result = await submit_list(hass, flow_id, f"{PV_ONLY_WIFI_SN} {EXTRA_WIFI_SN} SUTNEXT01")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description_placeholders"]["refused"] == listed(
        refused(EXTRA_WIFI_SN, "cannot_connect", SUBENTRY_ERRORS),
        refused("SUTNEXT01", "cannot_connect", SUBENTRY_ERRORS),
    )
    assert checked_wifi_sns(mock_client_class) == [PV_ONLY_WIFI_SN, EXTRA_WIFI_SN]
    assert inverters_of(account) == {HYBRID_WIFI_SN: HYBRID, PV_ONLY_WIFI_SN: PV_ONLY}


async def test_nothing_added_shows_why_and_goes_back_to_the_form(
    hass: HomeAssistant, account: MockConfigEntry, mock_client_class: MagicMock
) -> None:
    flow_id = await start_flow(hass, account)
    typed = f"{HYBRID_WIFI_SN} SUTNOSUCHSN {OTHER_ACCOUNT_WIFI_SN} SUT-1"
    result = await submit_list(hass, flow_id, typed)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "inverters_checked"
    assert result["data_schema"] is None
    assert result["description_placeholders"] == {
        "existing_count": "1",
        "existing": listed(f"`{HYBRID_WIFI_SN}`"),
        "refused_count": "3",
        "refused": listed(
            refused("SUT-1", "invalid_wifi_sn", SUBENTRY_ERRORS),
            refused("SUTNOSUCHSN", "wifi_sn_not_found", SUBENTRY_ERRORS),
            refused(OTHER_ACCOUNT_WIFI_SN, "wifi_sn_not_authorized", SUBENTRY_ERRORS),
        ),
    }
    assert inverters_of(account) == {HYBRID_WIFI_SN: HYBRID}

    result = await configure(hass, flow_id, {})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    assert suggested(result, CONF_WIFI_SN).splitlines() == [
        "SUT-1",
        "SUTNOSUCHSN",
        OTHER_ACCOUNT_WIFI_SN,
    ]
    result = await submit(hass, flow_id, EXTRA_WIFI_SN)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert inverters_of(account) == {HYBRID_WIFI_SN: HYBRID, EXTRA_WIFI_SN: EXTRA}


async def test_list_of_configured_inverters_makes_no_call(
    hass: HomeAssistant, account: MockConfigEntry, mock_client_class: MagicMock
) -> None:
    add_account(hass, {PV_ONLY_WIFI_SN: PV_ONLY[0]}, token=OTHER_TOKEN)
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, f"{PV_ONLY_WIFI_SN} {HYBRID_WIFI_SN}")
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "inverters_checked"
    assert result["description_placeholders"]["existing"] == listed(
        f"`{PV_ONLY_WIFI_SN}`", f"`{HYBRID_WIFI_SN}`"
    )
    mock_client_class.assert_not_called()

    result = await configure(hass, flow_id, {})
    assert suggested(result, CONF_WIFI_SN) == ""
    result = await submit(hass, flow_id, EXTRA_WIFI_SN)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_inverter_added_meanwhile_is_listed_as_configured(
    hass: HomeAssistant, account: MockConfigEntry, mock_client_class: MagicMock
) -> None:
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, f"{PV_ONLY_WIFI_SN} {EXTRA_WIFI_SN}")
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done(wait_background_tasks=True)
    # Another flow adds the first one to another account while the user waits.
    add_account(hass, {PV_ONLY_WIFI_SN: PV_ONLY[0]}, token=OTHER_TOKEN)
    result = await configure(hass, flow_id, None)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["unique_id"] == EXTRA_WIFI_SN
    placeholders = result["description_placeholders"]
    assert (placeholders["added_count"], placeholders["existing"]) == (
        "1",
        listed(f"`{PV_ONLY_WIFI_SN}`"),
    )
    assert inverters_of(account) == {HYBRID_WIFI_SN: HYBRID, EXTRA_WIFI_SN: EXTRA}


@pytest.mark.usefixtures("mock_client_class")
async def test_result_speaks_home_assistants_language(
    hass: HomeAssistant, account: MockConfigEntry
) -> None:
    hass.config.language = "de"
    german = json.loads((TRANSLATIONS / "de.json").read_text())["config_subentries"]
    german_errors = german[SUBENTRY_INVERTER]["error"]
    flow_id = await start_flow(hass, account)
    result = await submit_list(hass, flow_id, f"{PV_ONLY_WIFI_SN} {OTHER_ACCOUNT_WIFI_SN}")
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description_placeholders"]["refused"] == listed(
        f"`{OTHER_ACCOUNT_WIFI_SN}`: {german_errors['wifi_sn_not_authorized']}"
    )
    assert german_errors["wifi_sn_not_authorized"] != SUBENTRY_ERRORS["wifi_sn_not_authorized"]


async def test_closing_the_dialog_gives_the_slot_back(
    hass: HomeAssistant, account: MockConfigEntry, mock_client_class: MagicMock
) -> None:
    await use_up_the_minute(hass)
    slots_before = list((await kept_calls(hass, API_URL)).budget.slots)
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, f"{PV_ONLY_WIFI_SN} {EXTRA_WIFI_SN}")
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done()
    budget = flow_budget(hass, flow_id)
    assert len(budget.slots) == len(slots_before) + 1

    hass.config_entries.subentries.async_abort(flow_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert budget.slots == slots_before
    mock_client_class.assert_not_called()
    assert inverters_of(account) == {HYBRID_WIFI_SN: HYBRID}


# --- Against the simulated cloud over HTTP ----------------------------------------------------


async def test_one_inverter_added_to_a_loaded_account_polls(
    hass: HomeAssistant, sim_url: str, cloud: SunvecCloud
) -> None:
    account = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    requests_before = len(cloud.requests)
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert account.state is ConfigEntryState.LOADED
    polled = {c.wifi_sn for c in account.runtime_data.coordinators.values()}
    assert polled == {HYBRID_WIFI_SN, PV_ONLY_WIFI_SN}
    # The check, then the new inverter's first poll once the account reloaded.
    assert [(r.wifi_sn, r.outcome) for r in cloud.requests[requests_before:]][:1] == [
        (PV_ONLY_WIFI_SN, "ok")
    ]
    assert hass.states.get("sensor.sunvec_x1b30p4012_ac_power") is not None


async def test_errors_from_the_simulator(
    hass: HomeAssistant, sim_url: str, cloud: SunvecCloud
) -> None:
    account = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    flow_id = await start_flow(hass, account)
    for typed, error in (
        (OTHER_ACCOUNT_WIFI_SN, "wifi_sn_not_authorized"),
        ("SUTNOSUCHSN", "wifi_sn_not_found"),
    ):
        result = await submit(hass, flow_id, typed)
        assert result["errors"] == {"base": error}, typed
    result = await submit(hass, flow_id, PV_ONLY_WIFI_SN)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert account.state is ConfigEntryState.LOADED


async def test_several_inverters_added_to_a_loaded_account_all_poll(
    hass: HomeAssistant, sim_url: str, cloud: SunvecCloud, sim_clock: ManualClock
) -> None:
    """Every inverter the flow adds is polled after one reload of the account.

    The flow adds the others with async_add_subentry one at a time and Home Assistant
    adds the flow's own subentry last, each calling the update listener at once (an
    eager task). Fails on 58abe75 (the first reload took only the inverters added so
    far, and the later additions found no listener) and on 93a71f1 (that reload, then
    another for the rest).
    """
    account = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    extras = [add_inverter_to_account(cloud, sim_clock, number) for number in (1, 2, 3)]
    flow_id = await start_flow(hass, account)
    setups: list[int] = []

    async def counted_setup(hass: HomeAssistant, entry: SunvecConfigEntry) -> bool:
        setups.append(len(entry.subentries))
        return await async_setup_entry(hass, entry)

    with patch("custom_components.sunvec_connect.async_setup_entry", counted_setup):
        result = await submit_list(
            hass, flow_id, f"{PV_ONLY_WIFI_SN} {' '.join(extras)} SUTNOSUCHSN"
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        assert result["description_placeholders"]["added_count"] == "4"
        await hass.async_block_till_done()
    assert setups == [5]
    assert account.state is ConfigEntryState.LOADED
    polled = {c.wifi_sn for c in account.runtime_data.coordinators.values()}
    assert polled == {HYBRID_WIFI_SN, PV_ONLY_WIFI_SN, *extras}
    assert hass.states.get("sensor.sunvec_x1many0003_ac_power") is not None


async def test_account_removed_during_the_check_ends_the_flow(
    hass: HomeAssistant,
    account: MockConfigEntry,
    mock_client_class: MagicMock,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Removing the account while its list waits for the token ends the check and the flow.

    Fails on 58abe75: Home Assistant does not abort a removed entry's subentry flows, and
    the check goes on calling the cloud with the removed account's token (both numbers);
    continuing then raises UnknownEntry (the dialog shows an unknown error).
    """
    next_slot = await use_up_the_minute(hass)
    flow_id = await start_flow(hass, account)
    result = await submit(hass, flow_id, f"{PV_ONLY_WIFI_SN} {EXTRA_WIFI_SN}")
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done()

    assert await hass.config_entries.async_remove(account.entry_id)
    await move_clock(hass, freezer, next_slot)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert hass.config_entries.async_entries(DOMAIN) == []
    assert checked_wifi_sns(mock_client_class) == []
    if hass.config_entries.subentries.async_progress():
        result = await configure(hass, flow_id, None)
        assert result["type"] is FlowResultType.ABORT
