"""End to end over Home Assistant's own APIs: a real Home Assistant and the simulator.

The frontend calls the same REST and websocket APIs; test_ui.py drives the frontend
itself in headless Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import json
from typing import Any

import pytest
import websocket

from simulator.demo import HYBRID_WIFI_SN

from .stack import HA_URL, SIM_URL, TOKEN, Stack, running_stack

PREFIX = "sensor.sunvec_h34a08i6008_"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Home Assistant and the simulator for the whole module."""
    with running_stack(tmp_path_factory.mktemp("e2e")) as running:
        yield running
        problems = running.log_problems()
        assert not problems, "\n".join(problems)


def entries(stack: Stack) -> list[dict[str, Any]]:
    """The integration's config entries."""
    return [
        entry
        for entry in stack.api("GET", "/api/config/config_entries/entry")
        if entry["domain"] == "sunvec_connect"
    ]


def submit_form(stack: Stack, token: str) -> dict[str, Any]:
    """Start the integration's config flow and submit what a user types."""
    flow = stack.api("POST", "/api/config/config_entries/flow", json={"handler": "sunvec_connect"})
    assert flow["type"] == "form"
    assert [field["name"] for field in flow["data_schema"]] == ["url", "api_token", "wifi_sn"]
    result: dict[str, Any] = stack.api(
        "POST",
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        json={"url": SIM_URL, "api_token": token, "wifi_sn": HYBRID_WIFI_SN.lower()},
    )
    return result


def test_listed_among_integrations_to_add(stack: Stack) -> None:
    descriptions = _ws(stack, {"type": "integration/descriptions"})
    listed = descriptions["custom"]["integration"]["sunvec_connect"]
    assert listed["name"] == "Sunvec Connect"
    assert listed["config_flow"] is True
    assert listed["iot_class"] == "cloud_polling"


def test_wrong_token_shows_invalid_auth(stack: Stack) -> None:
    result = submit_form(stack, "wrong-token")
    assert result["type"] == "form"
    assert result["errors"] == {"base": "invalid_auth"}
    assert entries(stack) == []


def test_add_integration(stack: Stack) -> None:
    result = submit_form(stack, TOKEN)
    assert result["type"] == "create_entry"
    assert result["title"] == "Sunvec H34A08I6008"
    assert [entry["state"] for entry in entries(stack)] == ["loaded"]
    states = {
        state["entity_id"]: state["state"]
        for state in stack.api("GET", "/api/states")
        if state["entity_id"].startswith(PREFIX)
    }
    for key in ("ac_power", "battery", "inverter_status", "total_yield", "pv_energy"):
        assert states.get(PREFIX + key) not in (None, "unavailable", "unknown"), key


def test_energy_dashboard_accepts_the_sensors(stack: Stack) -> None:
    prefs = {
        "energy_sources": [
            {
                "type": "grid",
                "stat_energy_from": PREFIX + "grid_import",
                "stat_energy_to": PREFIX + "grid_export",
                "stat_cost": None,
                "entity_energy_price": None,
                "number_energy_price": None,
                "cost_adjustment_day": 0,
            },
            {"type": "solar", "stat_energy_from": PREFIX + "pv_energy"},
            {
                "type": "battery",
                "stat_energy_from": PREFIX + "battery_discharge_energy",
                "stat_energy_to": PREFIX + "battery_charge_energy",
            },
        ],
        "device_consumption": [],
    }
    _ws(stack, {"type": "energy/save_prefs", **prefs})
    validation = _ws(stack, {"type": "energy/validate"})
    # Until the recorder's 5-minute compile has seen a sensor it reports only that.
    for group in validation["energy_sources"]:
        for issue in group:
            assert issue["type"] == "statistics_not_defined", json.dumps(validation)


def _ws(stack: Stack, message: dict[str, object]) -> Any:
    """One websocket command as the owner."""
    connection = websocket.create_connection(HA_URL.replace("http", "ws") + "/api/websocket")
    with contextlib.closing(connection):
        assert json.loads(connection.recv())["type"] == "auth_required"
        connection.send(json.dumps({"type": "auth", "access_token": stack.access_token}))
        assert json.loads(connection.recv())["type"] == "auth_ok"
        connection.send(json.dumps({"id": 1, **message}))
        answer = json.loads(connection.recv())
        assert answer["success"], answer
        return answer["result"]
