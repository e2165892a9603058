"""Helpers of the tests that add several inverters in one flow: the account's or its own.

An autospec'd client that answers per wifiSn, accounts added without being set up, and
what the flows' results show.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
import json
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed

from custom_components.sunvec_connect.api import RealtimeData, SunvecNotFoundError
from custom_components.sunvec_connect.budget import SLOT_SLACK, WINDOW, TokenBudget
from custom_components.sunvec_connect.const import CONF_WIFI_SN, DOMAIN, SUBENTRY_INVERTER
from simulator import ManualClock, SunvecCloud
from simulator.demo import pv_only_config
from simulator.plant import Plant

from .conftest import TOKEN, account_for, kept_calls

try:
    from probatio import to_field_list as serialize_schema
except ImportError:  # Home Assistant before probatio (the minimum lane) serializes so
    from voluptuous_serialize import convert as serialize_schema

API_URL = "https://api.example.com"
ACCOUNT_TITLE = "Sunvec Connect (api.example.com)"
TYPED = {CONF_URL: API_URL, CONF_API_TOKEN: TOKEN}
OTHER_TOKEN = "sunvec-other-token-0b1d2e3f"
"""The token of another account on the same API address."""
EXTRA_WIFI_SN = "SUTEXTRA001"
"""A third inverter of the test token's account, for the tests that need it."""
TRANSLATIONS = Path(__file__).parent.parent / "custom_components" / DOMAIN / "translations"
EN = json.loads((TRANSLATIONS / "en.json").read_text())
NONE_LISTED = "–"  # noqa: RUF001 - the dash of an empty list


def upload(inverter_sn: str) -> RealtimeData:
    """An upload of the inverter with this serial number."""
    return RealtimeData.from_dict({"inverterSN": inverter_sn, "acpower": 1200.0})


@contextmanager
def client_answering(answers: Mapping[str, RealtimeData | Exception]) -> Generator[MagicMock]:
    """The flow's client class, autospec'd; its client answers for each wifiSn.

    A wifiSn without an answer is not found; the mapping is read at each call, so that a
    test may change an answer between two submits.
    """

    def answer_for(wifi_sn: str) -> RealtimeData:
        answer = answers.get(wifi_sn, SunvecNotFoundError("Data not found", 2002))
        if isinstance(answer, Exception):
            raise answer
        return answer

    with patch(
        "custom_components.sunvec_connect.checks.SunvecClient", autospec=True
    ) as client_class:
        client_class.return_value.async_get_realtime_data.side_effect = answer_for
        yield client_class


def checked_wifi_sns(client_class: MagicMock) -> list[str]:
    """The wifiSns the flow called the cloud for, in order."""
    calls = client_class.return_value.async_get_realtime_data.await_args_list
    return [call.args[0] for call in calls]


def add_account(
    hass: HomeAssistant,
    inverters: Mapping[str, str],
    *,
    token: str = TOKEN,
    url: str = API_URL,
) -> MockConfigEntry:
    """An account with these inverters (wifiSn: title), added but not set up."""
    entry = account_for(url, inverters, token=token)
    entry.add_to_hass(hass)
    return entry


def inverters_of(entry: ConfigEntry) -> dict[str, tuple[str, dict[str, Any]]]:
    """An account's inverters: wifiSn -> (title, data); every subentry is an inverter."""
    assert all(sub.subentry_type == SUBENTRY_INVERTER for sub in entry.subentries.values())
    return {str(sub.unique_id): (sub.title, dict(sub.data)) for sub in entry.subentries.values()}


def inverter(wifi_sn: str, title: str) -> tuple[str, dict[str, Any]]:
    """An inverter as `inverters_of` shows it."""
    return title, {CONF_WIFI_SN: wifi_sn}


def shown_to_the_user(result: Any) -> str:
    """What the frontend receives of a result: its serialized form and texts."""
    shown = {key: value for key, value in result.items() if key not in ("data", "result")}
    if (schema := shown.pop("data_schema", None)) is not None:
        # As Home Assistant's flow view sends it.
        shown["data_schema"] = serialize_schema(schema, custom_serializer=cv.custom_serializer)
    return json.dumps(shown, default=str)


def schema_fields(result: Any) -> dict[str, Any]:
    """The form's fields: name -> (required, selector config)."""
    return {
        str(key): (type(key).__name__, value.serialize()["selector"])
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


def refused(typed: str, error: str, errors: Mapping[str, str] = EN["config"]["error"]) -> str:
    """A refused number's line: the number, and the text of the form error that refused it."""
    return f"`{typed}`: {errors[error]}"


async def use_up_the_minute(hass: HomeAssistant, url: str = API_URL) -> datetime:
    """Reserve every call the token may make now; return when the next one may go."""
    calls = await kept_calls(hass, url)
    now = dt_util.utcnow()
    for _ in range(calls.budget.window_limit):
        calls.budget.reserve(now, spaced=False)
    await calls.async_save()
    return now + WINDOW + SLOT_SLACK


def flow_budget(hass: HomeAssistant, flow_id: str) -> TokenBudget:
    """The budget a flow's checks take their calls from."""
    manager = hass.config_entries.flow
    if flow_id not in manager._progress:
        manager = hass.config_entries.subentries
    handler: Any = manager._progress[flow_id]
    budget: TokenBudget = handler._checks.inverters.budget
    return budget


async def move_clock(hass: HomeAssistant, freezer: FrozenDateTimeFactory, to: datetime) -> None:
    """Move Home Assistant's clock and run what was due."""
    freezer.move_to(to)
    async_fire_time_changed(hass)
    await hass.async_block_till_done()


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
