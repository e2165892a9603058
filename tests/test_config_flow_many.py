"""Tests for adding several inverters in one flow and for reusing an entry's connection.

The error paths run against an autospec'd client that answers per wifiSn (every error
test ends in a created entry or an abort); the mixed list and the long list that needs
more than a minute of the token's calls run against the simulator over HTTP.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
import json
from pathlib import Path
from typing import Any
from unittest.mock import ANY, MagicMock, create_autospec, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.data_entry_flow import EVENT_DATA_ENTRY_FLOW_PROGRESS_UPDATE, FlowResultType
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
from hypothesis import given, settings, strategies as st
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.sunvec_connect.api import (
    RealtimeData,
    SunvecAuthenticationError,
    SunvecClient,
    SunvecConnectionError,
    SunvecMalformedResponseError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecRateLimitError,
)
from custom_components.sunvec_connect.budget import SLOT_SLACK, WINDOW, token_budget
from custom_components.sunvec_connect.config_flow import (
    CONF_CONNECTION,
    MAX_WIFI_SNS,
    NEW_CONNECTION,
    SOURCE_LISTED_INVERTER,
    InverterList,
    split_wifi_sns,
)
from custom_components.sunvec_connect.const import CONF_WIFI_SN, DOMAIN
from simulator import ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, OTHER_ACCOUNT_WIFI_SN, PV_ONLY_WIFI_SN, pv_only_config
from simulator.plant import Plant

from .conftest import TOKEN, TimeMachine, entry_for, setup_entry

try:
    from probatio import to_field_list as serialize_schema
except ImportError:  # Home Assistant before probatio (the minimum lane) serializes so
    from voluptuous_serialize import convert as serialize_schema

API_URL = "https://api.example.com"
TYPED = {CONF_URL: API_URL, CONF_API_TOKEN: TOKEN}
TRANSLATIONS = Path(__file__).parent.parent / "custom_components" / DOMAIN / "translations"
EN_ERRORS: dict[str, str] = json.loads((TRANSLATIONS / "en.json").read_text())["config"]["error"]
EXTRA_WIFI_SN = "SUTEXTRA001"
"""A third inverter of the test token's account, added by the tests that need it."""


def upload(inverter_sn: str) -> RealtimeData:
    """An upload of the inverter with this serial number."""
    return RealtimeData.from_dict({"inverterSN": inverter_sn, "acpower": 1200.0})


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

    def client_for(_session: object, _url: str, _token: str, wifi_sn: str) -> MagicMock:
        client = create_autospec(SunvecClient, instance=True)
        answer = answers.get(wifi_sn, SunvecNotFoundError("Data not found", 2002))
        if isinstance(answer, Exception):
            client.async_get_realtime_data.side_effect = answer
        else:
            client.async_get_realtime_data.return_value = answer
        return client

    with patch(
        "custom_components.sunvec_connect.config_flow.SunvecClient", autospec=True
    ) as client_class:
        client_class.side_effect = client_for
        yield client_class


def checked_wifi_sns(client_class: MagicMock) -> list[str]:
    """The wifiSns the flow called the cloud for, in order."""
    return [call.args[3] for call in client_class.call_args_list]


def add_entry(hass: HomeAssistant, wifi_sn: str, title: str, url: str = API_URL) -> MockConfigEntry:
    """An entry on the test token, added but not set up."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=title,
        unique_id=wifi_sn,
        data={CONF_URL: url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: wifi_sn},
    )
    entry.add_to_hass(hass)
    return entry


async def start_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    return str(result["flow_id"])


async def configure(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any] | None) -> Any:
    return await hass.config_entries.flow.async_configure(flow_id, user_input)


async def finish_check(hass: HomeAssistant, flow_id: str) -> Any:
    """Let the list's check run to its end and return the flow's next step."""
    await hass.async_block_till_done(wait_background_tasks=True)
    return await configure(hass, flow_id, None)


async def submit_list(hass: HomeAssistant, flow_id: str, user_input: dict[str, Any]) -> Any:
    """Submit a form with several wifiSns: the check shows progress, then its result."""
    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["step_id"] == "check_inverters"
    assert result["progress_action"] == "check_inverters"
    return await finish_check(hass, flow_id)


def shown_to_the_user(result: Any) -> str:
    """What the frontend receives of a result: its serialized form and texts."""
    shown = {key: value for key, value in result.items() if key not in ("data", "result")}
    if (schema := shown.pop("data_schema", None)) is not None:
        # As Home Assistant's flow view sends it.
        shown["data_schema"] = serialize_schema(schema, custom_serializer=cv.custom_serializer)
    return json.dumps(shown, default=str)


def schema_fields(result: Any) -> dict[str, Any]:
    """The form's fields: name -> (required, selector config, default)."""
    return {
        str(key): (
            type(key).__name__,
            value.serialize()["selector"],
            key.default() if callable(key.default) else None,
        )
        for key, value in result["data_schema"].schema.items()
    }


def suggested(result: Any, name: str) -> Any:
    """The value a form suggests for a field."""
    for key in result["data_schema"].schema:
        if key == name:
            return (key.description or {}).get("suggested_value")
    raise AssertionError(f"{name} is not on the form")


def listed(*lines: str) -> str:
    """A markdown list as the result shows it."""
    return "\n".join(f"- {line}" for line in lines)


def refused(typed: str, error: str) -> str:
    """A refused number's line: the number, and the text of the form error that refused it."""
    return f"`{typed}`: {EN_ERRORS[error]}"


# --- Splitting the field ---------------------------------------------------------------------


def test_split_wifi_sns_takes_commas_semicolons_spaces_and_lines() -> None:
    assert split_wifi_sns(" SUTDEMOHYB1,sutdemopv01;\n\tSUT-1  ,, SUTX \r\n") == [
        "SUTDEMOHYB1",
        "sutdemopv01",
        "SUT-1",
        "SUTX",
    ]
    assert split_wifi_sns(" \n ,") == []


@settings(derandomize=True, database=None, deadline=None, max_examples=200)
@given(
    numbers=st.lists(st.from_regex(r"[A-Za-z0-9]{1,32}", fullmatch=True), min_size=1),
    separators=st.lists(st.from_regex(r"[ ,;\t\r\n]{1,4}", fullmatch=True), min_size=1),
)
def test_split_wifi_sns_finds_every_number(numbers: list[str], separators: list[str]) -> None:
    text = separators[0]
    for index, number in enumerate(numbers):
        text += number + separators[(index + 1) % len(separators)]
    assert split_wifi_sns(text) == numbers


def test_inverter_list_repr_hides_the_token() -> None:
    inverters = InverterList(url=API_URL, token=TOKEN, to_check=[HYBRID_WIFI_SN])
    assert TOKEN not in repr(inverters)
    assert inverters.entry_data(HYBRID_WIFI_SN) == {**TYPED, CONF_WIFI_SN: HYBRID_WIFI_SN}


# --- Reusing the address and token of an entry -------------------------------------------------


async def test_form_without_entries_asks_for_address_token_and_numbers(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    fields = schema_fields(result)
    assert list(fields) == [CONF_URL, CONF_API_TOKEN, CONF_WIFI_SN]
    assert all(required == "Required" for required, _, _ in fields.values())
    # Several registration numbers fit: one per line.
    assert fields[CONF_WIFI_SN][1]["text"]["multiline"] is True


async def test_form_offers_the_connections_of_existing_entries(hass: HomeAssistant) -> None:
    pv_only = add_entry(hass, PV_ONLY_WIFI_SN, "Sunvec X1B30P4012")
    hybrid = add_entry(hass, HYBRID_WIFI_SN, "Sunvec H34A08I6008")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    fields = schema_fields(result)
    assert list(fields) == [CONF_CONNECTION, CONF_URL, CONF_API_TOKEN, CONF_WIFI_SN]
    required, selector, default = fields[CONF_CONNECTION]
    assert (required, default) == ("Optional", NEW_CONNECTION)
    # By title; "new" is translated through the selector's translation key.
    assert selector["select"]["translation_key"] == CONF_CONNECTION
    assert selector["select"]["options"] == [
        {"value": NEW_CONNECTION, "label": NEW_CONNECTION},
        {"value": hybrid.entry_id, "label": "Sunvec H34A08I6008"},
        {"value": pv_only.entry_id, "label": "Sunvec X1B30P4012"},
    ]
    # Address and token may stay empty when an entry's are reused.
    assert fields[CONF_URL][0] == fields[CONF_API_TOKEN][0] == "Optional"
    assert TOKEN not in shown_to_the_user(result)


@pytest.mark.usefixtures("mock_setup_entry")
async def test_reusing_a_connection_adds_an_inverter_as_if_typed(
    hass: HomeAssistant, mock_client_class: MagicMock, caplog: pytest.LogCaptureFixture
) -> None:
    hybrid = add_entry(hass, HYBRID_WIFI_SN, "Sunvec H34A08I6008")
    flow_id = await start_flow(hass)
    result = await configure(
        hass, flow_id, {CONF_CONNECTION: hybrid.entry_id, CONF_WIFI_SN: " sutdemopv01 "}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Sunvec X1B30P4012"
    assert result["data"] == {**TYPED, CONF_WIFI_SN: PV_ONLY_WIFI_SN}
    assert result["result"].unique_id == PV_ONLY_WIFI_SN
    mock_client_class.assert_called_once_with(ANY, API_URL, TOKEN, PV_ONLY_WIFI_SN)
    assert TOKEN not in shown_to_the_user(result)
    assert TOKEN not in caplog.text


@pytest.mark.usefixtures("mock_setup_entry")
async def test_reused_connection_keeps_todays_errors(
    hass: HomeAssistant, mock_client_class: MagicMock
) -> None:
    hybrid = add_entry(hass, HYBRID_WIFI_SN, "Sunvec H34A08I6008")
    flow_id = await start_flow(hass)
    user_input = {CONF_CONNECTION: hybrid.entry_id, CONF_WIFI_SN: OTHER_ACCOUNT_WIFI_SN}
    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "wifi_sn_not_authorized"}
    # The choice stays made; the reused token is not sent back.
    assert suggested(result, CONF_CONNECTION) == hybrid.entry_id
    assert suggested(result, CONF_API_TOKEN) is None
    assert TOKEN not in shown_to_the_user(result)

    result = await configure(hass, flow_id, {**user_input, CONF_WIFI_SN: PV_ONLY_WIFI_SN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert checked_wifi_sns(mock_client_class) == [OTHER_ACCOUNT_WIFI_SN, PV_ONLY_WIFI_SN]


@pytest.mark.usefixtures("mock_setup_entry")
async def test_reusing_and_typing_a_connection_is_refused(
    hass: HomeAssistant, mock_client_class: MagicMock
) -> None:
    hybrid = add_entry(hass, HYBRID_WIFI_SN, "Sunvec H34A08I6008")
    flow_id = await start_flow(hass)
    user_input = {CONF_CONNECTION: hybrid.entry_id, CONF_WIFI_SN: PV_ONLY_WIFI_SN}
    result = await configure(hass, flow_id, {**user_input, CONF_API_TOKEN: "another-token"})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_CONNECTION: "reuse_or_new"}
    mock_client_class.assert_not_called()

    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_API_TOKEN] == TOKEN


@pytest.mark.usefixtures("mock_setup_entry")
async def test_reused_entry_removed_meanwhile(
    hass: HomeAssistant, mock_client_class: MagicMock
) -> None:
    hybrid = add_entry(hass, HYBRID_WIFI_SN, "Sunvec H34A08I6008")
    pv_only = add_entry(hass, PV_ONLY_WIFI_SN, "Sunvec X1B30P4012")
    flow_id = await start_flow(hass)
    await hass.config_entries.async_remove(pv_only.entry_id)
    user_input = {CONF_CONNECTION: pv_only.entry_id, CONF_WIFI_SN: PV_ONLY_WIFI_SN}
    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {CONF_CONNECTION: "reused_entry_removed"}
    mock_client_class.assert_not_called()
    # The removed entry is no longer offered, nor suggested.
    options = schema_fields(result)[CONF_CONNECTION][1]["select"]["options"]
    assert [option["value"] for option in options] == [NEW_CONNECTION, hybrid.entry_id]
    assert suggested(result, CONF_CONNECTION) is None

    result = await configure(hass, flow_id, {**user_input, CONF_CONNECTION: hybrid.entry_id})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {**TYPED, CONF_WIFI_SN: PV_ONLY_WIFI_SN}


# --- Several numbers against the mocked client ---------------------------------------------


@pytest.mark.usefixtures("mock_setup_entry")
async def test_list_of_valid_numbers_adds_each_as_its_own_entry(
    hass: HomeAssistant, mock_client_class: MagicMock
) -> None:
    flow_id = await start_flow(hass)
    result = await submit_list(
        hass, flow_id, {**TYPED, CONF_WIFI_SN: f"{HYBRID_WIFI_SN}\n{PV_ONLY_WIFI_SN}"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "Sunvec H34A08I6008"
    assert result["description"] == "inverters_added"
    assert result["description_placeholders"] == {
        "added_count": "2",
        "added": listed(
            f"Sunvec H34A08I6008 (`{HYBRID_WIFI_SN}`)", f"Sunvec X1B30P4012 (`{PV_ONLY_WIFI_SN}`)"
        ),
        "existing_count": "0",
        "existing": "–",  # noqa: RUF001 - the dash of an empty list
        "refused_count": "0",
        "refused": "–",  # noqa: RUF001
    }
    await hass.async_block_till_done()
    entries = {entry.unique_id: entry for entry in hass.config_entries.async_entries(DOMAIN)}
    assert entries.keys() == {HYBRID_WIFI_SN, PV_ONLY_WIFI_SN}
    # The second entry is exactly what adding it alone creates; only its source differs.
    second = entries[PV_ONLY_WIFI_SN]
    assert (second.title, dict(second.data), dict(second.options)) == (
        "Sunvec X1B30P4012",
        {**TYPED, CONF_WIFI_SN: PV_ONLY_WIFI_SN},
        {},
    )
    assert (second.version, second.minor_version) == (1, 1)
    assert (entries[HYBRID_WIFI_SN].source, second.source) == (SOURCE_USER, SOURCE_LISTED_INVERTER)
    assert checked_wifi_sns(mock_client_class) == [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]


@pytest.mark.parametrize(
    ("raised", "error"),
    [
        (SunvecAuthenticationError("Interface Unauthorized", 1001), "invalid_auth"),
        (SunvecConnectionError("timeout"), "cannot_connect"),
        (SunvecMalformedResponseError("not JSON"), "invalid_response"),
        (SunvecRateLimitError("104", 104), "rate_limited"),
        (RuntimeError("boom"), "unknown"),
    ],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_first_check_failing_on_the_connection_returns_to_the_form(
    hass: HomeAssistant,
    mock_client_class: MagicMock,
    answers: dict[str, RealtimeData | Exception],
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    raised: Exception,
    error: str,
) -> None:
    """An error about the address or token, before any number was checked, is the form's."""
    flow_id = await start_flow(hass)
    user_input = {**TYPED, CONF_WIFI_SN: f"{HYBRID_WIFI_SN}, {PV_ONLY_WIFI_SN}"}
    good_answer = answers[HYBRID_WIFI_SN]
    answers[HYBRID_WIFI_SN] = raised
    result = await submit_list(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {"base": error}
    assert suggested(result, CONF_WIFI_SN) == user_input[CONF_WIFI_SN]
    # The check stopped there: the second number would have failed alike.
    assert checked_wifi_sns(mock_client_class) == [HYBRID_WIFI_SN]
    assert TOKEN not in caplog.text

    answers[HYBRID_WIFI_SN] = good_answer
    if isinstance(raised, SunvecRateLimitError):
        # The answer paused the token (60 s): the next try is refused without a call.
        result = await submit_list(hass, flow_id, user_input)
        assert result["errors"] == {"base": "rate_limited"}
        assert checked_wifi_sns(mock_client_class) == [HYBRID_WIFI_SN]
        freezer.tick(timedelta(seconds=61))
    result = await submit_list(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description_placeholders"]["added_count"] == "2"


@pytest.mark.usefixtures("mock_setup_entry")
async def test_connection_failing_later_refuses_the_rest(
    hass: HomeAssistant,
    mock_client_class: MagicMock,
    answers: dict[str, RealtimeData | Exception],
) -> None:
    answers[PV_ONLY_WIFI_SN] = SunvecConnectionError("timeout")
    flow_id = await start_flow(hass)
    typed = f"{HYBRID_WIFI_SN} {PV_ONLY_WIFI_SN} {EXTRA_WIFI_SN}"
    result = await submit_list(hass, flow_id, {**TYPED, CONF_WIFI_SN: typed})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    placeholders = result["description_placeholders"]
    assert placeholders["added"] == listed(f"Sunvec H34A08I6008 (`{HYBRID_WIFI_SN}`)")
    assert (placeholders["refused_count"], placeholders["refused"]) == (
        "2",
        listed(
            refused(PV_ONLY_WIFI_SN, "cannot_connect"), refused(EXTRA_WIFI_SN, "cannot_connect")
        ),
    )
    assert checked_wifi_sns(mock_client_class) == [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]


@pytest.mark.parametrize(
    ("user_input", "errors"),
    [
        (
            {**TYPED, CONF_WIFI_SN: " ".join(f"SUT{number:04}" for number in range(51))},
            {CONF_WIFI_SN: "too_many_wifi_sns"},
        ),
        ({**TYPED, CONF_WIFI_SN: "SUT-1, SUT/2"}, {CONF_WIFI_SN: "invalid_wifi_sn"}),
        (
            {CONF_URL: "ftp://api.example.com", CONF_API_TOKEN: "two words", CONF_WIFI_SN: "A B"},
            {CONF_URL: "invalid_url_scheme", CONF_API_TOKEN: "invalid_token"},
        ),
    ],
    ids=["too_many", "none_well_formed", "address_and_token"],
)
@pytest.mark.usefixtures("mock_setup_entry")
async def test_list_typed_wrong_is_refused_on_its_fields(
    hass: HomeAssistant,
    mock_client_class: MagicMock,
    user_input: dict[str, str],
    errors: dict[str, str],
) -> None:
    assert MAX_WIFI_SNS == 50
    flow_id = await start_flow(hass)
    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    mock_client_class.assert_not_called()

    result = await submit_list(
        hass, flow_id, {**TYPED, CONF_WIFI_SN: f"{HYBRID_WIFI_SN},{PV_ONLY_WIFI_SN}"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


def test_too_many_text_names_the_limit() -> None:
    for path in sorted(TRANSLATIONS.glob("*.json")):
        text = json.loads(path.read_text())["config"]["error"].get("too_many_wifi_sns", "")
        assert str(MAX_WIFI_SNS) in text, path.name


@pytest.mark.usefixtures("mock_setup_entry")
async def test_nothing_added_shows_why_and_goes_back_to_the_form(
    hass: HomeAssistant, mock_client_class: MagicMock
) -> None:
    add_entry(hass, HYBRID_WIFI_SN, "Sunvec H34A08I6008")
    flow_id = await start_flow(hass)
    long_typed = "SUT-" + "X" * 60
    typed = f"sutdemohyb1 SUTNOSUCHSN `bad` {long_typed} {OTHER_ACCOUNT_WIFI_SN}"
    result = await submit_list(hass, flow_id, {**TYPED, CONF_WIFI_SN: typed})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "inverters_checked"
    assert result["data_schema"] is None
    assert result["description_placeholders"] == {
        "existing_count": "1",
        "existing": listed(f"`{HYBRID_WIFI_SN}`"),
        "refused_count": "4",
        "refused": listed(
            refused("'bad'", "invalid_wifi_sn"),
            f"`{long_typed[:39]}…`: {EN_ERRORS['invalid_wifi_sn']}",
            refused("SUTNOSUCHSN", "wifi_sn_not_found"),
            refused(OTHER_ACCOUNT_WIFI_SN, "wifi_sn_not_authorized"),
        ),
    }
    # The configured one was not checked again.
    assert checked_wifi_sns(mock_client_class) == ["SUTNOSUCHSN", OTHER_ACCOUNT_WIFI_SN]

    result = await configure(hass, flow_id, {})
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] == {}
    # The refused numbers, to correct.
    assert suggested(result, CONF_WIFI_SN).splitlines() == [
        "`bad`",
        long_typed,
        "SUTNOSUCHSN",
        OTHER_ACCOUNT_WIFI_SN,
    ]
    result = await configure(hass, flow_id, {**TYPED, CONF_WIFI_SN: PV_ONLY_WIFI_SN})
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_list_of_configured_inverters_makes_no_call(
    hass: HomeAssistant, mock_client_class: MagicMock
) -> None:
    add_entry(hass, HYBRID_WIFI_SN, "Sunvec H34A08I6008")
    add_entry(hass, PV_ONLY_WIFI_SN, "Sunvec X1B30P4012")
    flow_id = await start_flow(hass)
    result = await configure(
        hass, flow_id, {**TYPED, CONF_WIFI_SN: f"{PV_ONLY_WIFI_SN}, {HYBRID_WIFI_SN}"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "inverters_checked"
    assert result["description_placeholders"]["existing"] == listed(
        f"`{PV_ONLY_WIFI_SN}`", f"`{HYBRID_WIFI_SN}`"
    )
    mock_client_class.assert_not_called()

    result = await configure(hass, flow_id, {})
    result = await configure(hass, flow_id, {**TYPED, CONF_WIFI_SN: EXTRA_WIFI_SN})
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_inverter_added_meanwhile_is_listed_as_configured(
    hass: HomeAssistant, mock_client_class: MagicMock
) -> None:
    flow_id = await start_flow(hass)
    user_input = {**TYPED, CONF_WIFI_SN: f"{HYBRID_WIFI_SN},{PV_ONLY_WIFI_SN}"}
    result = await configure(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done(wait_background_tasks=True)
    # Another flow adds the first inverter while the user reads the progress.
    add_entry(hass, HYBRID_WIFI_SN, "Sunvec H34A08I6008")
    result = await configure(hass, flow_id, None)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["result"].unique_id == PV_ONLY_WIFI_SN
    placeholders = result["description_placeholders"]
    assert (placeholders["added_count"], placeholders["existing"]) == (
        "1",
        listed(f"`{HYBRID_WIFI_SN}`"),
    )


@pytest.mark.usefixtures("mock_setup_entry")
async def test_listed_inverter_flow_aborts_when_configured(hass: HomeAssistant) -> None:
    add_entry(hass, HYBRID_WIFI_SN, "Sunvec H34A08I6008")
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": SOURCE_LISTED_INVERTER},
        data={"title": "Sunvec H34A08I6008", "data": {**TYPED, CONF_WIFI_SN: HYBRID_WIFI_SN}},
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


@pytest.mark.usefixtures("mock_setup_entry", "mock_client_class")
async def test_result_speaks_home_assistants_language(hass: HomeAssistant) -> None:
    hass.config.language = "de"
    german = json.loads((TRANSLATIONS / "de.json").read_text())["config"]["error"]
    flow_id = await start_flow(hass)
    result = await submit_list(
        hass, flow_id, {**TYPED, CONF_WIFI_SN: f"{HYBRID_WIFI_SN} {OTHER_ACCOUNT_WIFI_SN}"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description_placeholders"]["refused"] == listed(
        f"`{OTHER_ACCOUNT_WIFI_SN}`: {german['wifi_sn_not_authorized']}"
    )


# --- Waiting for the token's budget ----------------------------------------------------------


def use_up_the_minute(hass: HomeAssistant) -> datetime:
    """Reserve every call the token may make now; return when the next one may go."""
    budget = token_budget(hass, TOKEN)
    now = dt_util.utcnow()
    for _ in range(budget.window_limit):
        budget.reserve(now, spaced=False)
    return now + WINDOW + SLOT_SLACK


async def move_clock(hass: HomeAssistant, freezer: FrozenDateTimeFactory, to: datetime) -> None:
    freezer.move_to(to)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


@pytest.mark.usefixtures("mock_setup_entry")
async def test_check_waits_for_the_slot_on_home_assistants_clock(
    hass: HomeAssistant, mock_client_class: MagicMock, freezer: FrozenDateTimeFactory
) -> None:
    next_slot = use_up_the_minute(hass)
    updates: list[float] = []

    @callback
    def record_update(event: Event) -> None:
        updates.append(event.data["progress"])

    hass.bus.async_listen(EVENT_DATA_ENTRY_FLOW_PROGRESS_UPDATE, record_update)
    flow_id = await start_flow(hass)
    result = await configure(
        hass, flow_id, {**TYPED, CONF_WIFI_SN: f"{HYBRID_WIFI_SN} {PV_ONLY_WIFI_SN}"}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    assert result["description_placeholders"] == {"count": "2", "per_minute": "9", "minutes": "1"}
    await move_clock(hass, freezer, next_slot - timedelta(seconds=1))
    mock_client_class.assert_not_called()
    # Asking again while it waits shows the same progress, and starts no second check.
    result = await configure(hass, flow_id, None)
    assert result["type"] is FlowResultType.SHOW_PROGRESS

    await move_clock(hass, freezer, next_slot)
    result = await finish_check(hass, flow_id)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert checked_wifi_sns(mock_client_class) == [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]
    assert updates == [0.5, 1.0]


@pytest.mark.usefixtures("mock_setup_entry")
async def test_closing_the_dialog_gives_the_slot_back(
    hass: HomeAssistant, mock_client_class: MagicMock
) -> None:
    use_up_the_minute(hass)
    budget = token_budget(hass, TOKEN)
    slots_before = list(budget.slots)
    flow_id = await start_flow(hass)
    result = await configure(
        hass, flow_id, {**TYPED, CONF_WIFI_SN: f"{HYBRID_WIFI_SN} {PV_ONLY_WIFI_SN}"}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    await hass.async_block_till_done()
    assert len(budget.slots) == len(slots_before) + 1

    hass.config_entries.flow.async_abort(flow_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert budget.slots == slots_before
    mock_client_class.assert_not_called()
    assert hass.config_entries.async_entries(DOMAIN) == []


@pytest.mark.usefixtures("mock_setup_entry")
async def test_pause_during_the_wait_refuses_the_check(
    hass: HomeAssistant, mock_client_class: MagicMock, freezer: FrozenDateTimeFactory
) -> None:
    next_slot = use_up_the_minute(hass)
    budget = token_budget(hass, TOKEN)
    flow_id = await start_flow(hass)
    user_input = {**TYPED, CONF_WIFI_SN: f"{HYBRID_WIFI_SN} {PV_ONLY_WIFI_SN}"}
    result = await configure(hass, flow_id, user_input)
    await hass.async_block_till_done()
    # An entry of the token gets a rate-limit answer while the check waits.
    paused_until = budget.pause(dt_util.utcnow(), 600)
    await move_clock(hass, freezer, next_slot)
    result = await finish_check(hass, flow_id)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "rate_limited"}
    mock_client_class.assert_not_called()
    assert next_slot not in budget.slots

    freezer.move_to(paused_until + timedelta(seconds=1))
    result = await submit_list(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.usefixtures("mock_setup_entry")
async def test_slot_too_far_ahead_is_refused(
    hass: HomeAssistant, mock_client_class: MagicMock, freezer: FrozenDateTimeFactory
) -> None:
    budget = token_budget(hass, TOKEN)
    now = dt_util.utcnow()
    # Other calls of the token hold the next six minutes.
    for _ in range(6 * budget.window_limit):
        budget.reserve(now, spaced=False)
    slots_before = list(budget.slots)
    flow_id = await start_flow(hass)
    user_input = {**TYPED, CONF_WIFI_SN: f"{HYBRID_WIFI_SN} {PV_ONLY_WIFI_SN}"}
    result = await submit_list(hass, flow_id, user_input)
    assert result["errors"] == {"base": "token_busy"}
    assert budget.slots == slots_before
    mock_client_class.assert_not_called()

    freezer.move_to(slots_before[-1] + WINDOW + SLOT_SLACK)
    result = await submit_list(hass, flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY


# --- Against the simulated cloud over HTTP ----------------------------------------------------


def add_inverter_to_account(cloud: SunvecCloud, clock: ManualClock, number: int) -> str:
    """A new PV-only plant on the test token's account; return its wifiSn."""
    wifi_sn = f"SUTMANY{number:04}"
    config = pv_only_config(
        wifi_sn=wifi_sn, inverter_sn=f"X1MANY{number:04}", module_sn=f"SRMANY{number:02}"
    )
    # A short history is enough for a first upload, and quick to simulate.
    cloud.add_plant(Plant(config, clock.now() - timedelta(minutes=15)))
    cloud.accounts[TOKEN].wifi_sns.append(wifi_sn)
    return wifi_sn


async def test_mixed_list_against_the_simulator(
    hass: HomeAssistant,
    sim_url: str,
    cloud: SunvecCloud,
    sim_clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    hybrid = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN, title="Sunvec H34A08I6008"))
    extra = add_inverter_to_account(cloud, sim_clock, 1)
    requests_before = len(cloud.requests)
    flow_id = await start_flow(hass)
    # Valid, configured, of another account, unknown, malformed, and one typed twice.
    typed = (
        f"sutdemopv01, {HYBRID_WIFI_SN}\n{OTHER_ACCOUNT_WIFI_SN} SUTNOSUCHSN;SUT-1\n"
        f"{extra}\n{PV_ONLY_WIFI_SN}"
    )
    result = await submit_list(
        hass, flow_id, {CONF_CONNECTION: hybrid.entry_id, CONF_WIFI_SN: typed}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description_placeholders"] == {
        "added_count": "2",
        "added": listed(
            f"Sunvec X1B30P4012 (`{PV_ONLY_WIFI_SN}`)", f"Sunvec X1MANY0001 (`{extra}`)"
        ),
        "existing_count": "1",
        "existing": listed(f"`{HYBRID_WIFI_SN}`"),
        "refused_count": "3",
        "refused": listed(
            refused("SUT-1", "invalid_wifi_sn"),
            refused(OTHER_ACCOUNT_WIFI_SN, "wifi_sn_not_authorized"),
            refused("SUTNOSUCHSN", "wifi_sn_not_found"),
        ),
    }
    # The checks; the new entries' first polls come after them.
    checks = cloud.requests[requests_before:][:4]
    assert [(request.wifi_sn, request.outcome) for request in checks] == [
        (PV_ONLY_WIFI_SN, "ok"),
        (OTHER_ACCOUNT_WIFI_SN, "data_unauthorized"),
        ("SUTNOSUCHSN", "not_found"),
        (extra, "ok"),
    ]

    await hass.async_block_till_done()
    entries = {entry.unique_id: entry for entry in hass.config_entries.async_entries(DOMAIN)}
    assert entries.keys() == {HYBRID_WIFI_SN, PV_ONLY_WIFI_SN, extra}
    # Each is exactly what adding it alone creates: same data, title and unique id.
    for wifi_sn, title in ((PV_ONLY_WIFI_SN, "Sunvec X1B30P4012"), (extra, "Sunvec X1MANY0001")):
        entry = entries[wifi_sn]
        assert (entry.title, dict(entry.data)) == (
            title,
            {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: wifi_sn},
        )
        assert entry.state is ConfigEntryState.LOADED
    assert TOKEN not in caplog.text
    assert all(request.outcome != "rate_limited" for request in cloud.requests)


def busiest_minute(times: list[datetime]) -> int:
    """The most calls within any 60 s (a call at the window's start counts)."""
    return max(sum(1 for other in times if start <= other < start + WINDOW) for start in times)


@pytest.fixture
def clocks_follow_the_waits(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sim_clock: ManualClock
) -> Generator[list[datetime]]:
    """The flow's waits move both clocks at once; yields the times waited for.

    A wait that follows Home Assistant's clock is tested above; here the clocks jump,
    so that a check over several minutes runs in one go and deterministically.
    """
    waited: list[datetime] = []

    async def move_both_clocks(_hass: HomeAssistant, when: datetime) -> None:
        if (seconds := (when - dt_util.utcnow()).total_seconds()) > 0:
            waited.append(when)
            sim_clock.advance(seconds)
            freezer.move_to(sim_clock.now())
            async_fire_time_changed(hass)

    with patch(
        "custom_components.sunvec_connect.config_flow.async_wait_until",
        side_effect=move_both_clocks,
    ):
        yield waited


@pytest.mark.usefixtures("mock_setup_entry")
async def test_long_list_is_checked_across_minutes_within_the_budget(
    hass: HomeAssistant,
    sim_url: str,
    cloud: SunvecCloud,
    sim_clock: ManualClock,
    clocks_follow_the_waits: list[datetime],
) -> None:
    wifi_sns = [add_inverter_to_account(cloud, sim_clock, number) for number in range(1, 13)]
    started = dt_util.utcnow()
    flow_id = await start_flow(hass)
    result = await configure(
        hass, flow_id, {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: "\n".join(wifi_sns)}
    )
    assert result["type"] is FlowResultType.SHOW_PROGRESS
    # 9 calls a minute (one kept free): 12 numbers take two minutes of the budget.
    assert result["description_placeholders"] == {"count": "12", "per_minute": "9", "minutes": "2"}
    result = await finish_check(hass, flow_id)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["description_placeholders"]["added_count"] == "12"
    await hass.async_block_till_done()
    assert sorted(str(e.unique_id) for e in hass.config_entries.async_entries(DOMAIN)) == wifi_sns

    times = [request.time for request in cloud.requests]
    assert [request.wifi_sn for request in cloud.requests] == wifi_sns
    assert all(request.outcome == "ok" for request in cloud.requests)
    # The first nine at once, the others once the minute of the first is over.
    assert times[:9] == [started] * 9
    assert clocks_follow_the_waits == [started + WINDOW + SLOT_SLACK]
    assert times[9:] == [started + WINDOW + SLOT_SLACK] * 3
    assert busiest_minute(times) == 9
