"""One user's journey through a real Home Assistant, the real frontend and the simulator.

The steps run in order on one stack (see conftest.py): add the integration in the
frontend, look at the device and enable its API calls sensor, put the sensors on the
energy dashboard, live through a zero-counter glitch and a stale period of the cloud,
check the statistics the energy dashboard is drawn from, and have an automation made
from the fault blueprint notify of a fault.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
import time
from typing import Any

from playwright.sync_api import Page, expect

from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .counters import counter_problems, numeric_states
from .stack import HA_URL, SIM_URL, TOKEN, UPLOAD_INTERVAL, Stack, wait_until

ACCOUNT_TITLE = "Sunvec Connect (127.0.0.1)"
DEVICE_NAME = "Sunvec H34A08I6008"
PV_ONLY_DEVICE_NAME = "Sunvec X1B30P4012"
PREFIX = "sensor.sunvec_h34a08i6008_"
LAST_UPLOAD = PREFIX + "last_upload"
AC_POWER = PREFIX + "ac_power"
LIFETIME_COUNTERS = ("yield_total", "grid_export_energy", "grid_import_energy")
"""Keys of the sensors that reject a zero reading of a lifetime counter."""
STALE_AFTER = 3 * UPLOAD_INTERVAL
"""The integration's staleness limit once it has learned the upload cadence."""
SHOWN_ON_DEVICE_PAGE = (
    "AC power",
    "PV energy",
    "Grid import",
    "Grid export",
    "Battery power",
    "Inverter status",
    "Last upload",
    "Problem",
    # Derived from the same upload (issue 13).
    "Grid import power",
    "Grid export power",
    "Battery charge power",
    "Battery discharge power",
    "House load power",
    "House energy",
)
API_CALLS_TODAY = "sensor.sunvec_connect_127_0_0_1_api_calls_today"
"""The account's sensor, on its service device. Disabled by default: the journey enables
it as a user would."""
NEW_TOKEN = "e2e-new-token-81f2"
PROBLEM = "binary_sensor.sunvec_h34a08i6008_problem"
INVERTER_STATUS = PREFIX + "inverter_status"
FAULT_AUTOMATION_ID = "sunvec_fault_e2e"
FAULT_AUTOMATION = "automation.sunvec_inverter_fault_e2e"
LASTING_FAULT_SECONDS = 40
"""The blueprint's "fault lasting at least" input: more than one upload interval."""
JOURNEY_STARTED = datetime.now(UTC)


def field(page: Page, index: int) -> Any:
    """The form's one-line text fields in order: API address, token."""
    return page.locator("ha-form input").nth(index)


def wifi_sn_field(page: Page) -> Any:
    """The registration numbers: a text area, since it takes several."""
    return page.locator("ha-form textarea").first


def sunvec_entries(stack: Stack) -> list[dict[str, Any]]:
    """The integration's config entries."""
    return [
        entry
        for entry in stack.api("GET", "/api/config/config_entries/entry")
        if entry["domain"] == "sunvec_connect"
    ]


def state(stack: Stack, entity_id: str) -> str:
    """An entity's state."""
    return str(stack.api("GET", f"/api/states/{entity_id}")["state"])


def counters(stack: Stack) -> dict[str, float]:
    """The integration's energy counters (total_increasing) and their values."""
    return {
        item["entity_id"]: float(item["state"])
        for item in stack.api("GET", "/api/states")
        if item["entity_id"].startswith(PREFIX)
        and item["attributes"].get("state_class") == "total_increasing"
        and item["attributes"].get("device_class") == "energy"
    }


def _numeric_state(stack: Stack, entity_id: str) -> float | None:
    """An entity's state as a number; None while it has none (or the entity is missing)."""
    try:
        return float(state(stack, entity_id))
    except ValueError:
        return None


def shown_upload(stack: Stack) -> datetime | None:
    """The time of the upload the entities show."""
    value = state(stack, LAST_UPLOAD)
    return None if value in ("unknown", "unavailable") else datetime.fromisoformat(value)


def next_upload(stack: Stack, after: datetime) -> datetime:
    """Refresh until an upload made after `after` shows; return its time.

    Refreshes are asked for as an automation's update_entity does.
    """

    def newer() -> datetime | None:
        stack.api(
            "POST", "/api/services/homeassistant/update_entity", json={"entity_id": LAST_UPLOAD}
        )
        shown = shown_upload(stack)
        return shown if shown is not None and shown > after else None

    return wait_until("a new upload", newer, seconds=4 * UPLOAD_INTERVAL, interval=4)


def rejected_readings(stack: Stack) -> dict[str, int]:
    """What the hybrid inverter's entry refused to show, from its diagnostics download."""
    (entry,) = sunvec_entries(stack)
    diagnostics = stack.api("GET", f"/api/diagnostics/config_entry/{entry['entry_id']}")
    # The hybrid inverter was added first.
    inverter = diagnostics["data"]["inverters"][0]
    readings: dict[str, int] = inverter["polling"]["rejected_readings"]
    return readings


def test_add_integration_in_the_frontend(stack: Stack, page: Page, screenshots: Path) -> None:
    page.goto(f"{HA_URL}/config/integrations/dashboard")
    page.get_by_role("button", name="Add integration").click(timeout=60_000)
    page.get_by_role("textbox").first.fill("Sunvec")
    page.get_by_text("Sunvec Connect", exact=True).first.click()
    expect(field(page, 0)).to_be_visible(timeout=30_000)
    field(page, 0).fill(SIM_URL)
    field(page, 1).fill("wrong-token")
    wifi_sn_field(page).fill(HYBRID_WIFI_SN.lower())
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("The token was refused")).to_be_visible(timeout=30_000)
    assert sunvec_entries(stack) == []

    field(page, 1).fill(TOKEN)
    page.screenshot(path=str(screenshots / "e2e_form.png"))
    page.get_by_role("button", name="Submit").click()
    # The success dialog: the device was created, with its area to choose.
    expect(page.get_by_role("button", name="Finish")).to_be_visible(timeout=30_000)
    page.screenshot(path=str(screenshots / "e2e_created.png"))
    page.get_by_role("button", name="Finish").click()
    assert [(entry["title"], entry["state"]) for entry in sunvec_entries(stack)] == [
        (ACCOUNT_TITLE, "loaded")
    ]


def test_device_page_lists_the_entities(stack: Stack, page: Page, screenshots: Path) -> None:
    devices = stack.ws({"type": "config/device_registry/list"})
    (device,) = [device for device in devices if device["name"] == DEVICE_NAME]
    page.goto(f"{HA_URL}/config/devices/device/{device['id']}")
    expect(page.get_by_text(DEVICE_NAME).first).to_be_visible(timeout=30_000)
    for name in SHOWN_ON_DEVICE_PAGE:
        expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=30_000)
    # Disabled by default, so hidden behind the page's "not shown" entities.
    expect(page.get_by_text("API calls today", exact=True)).to_have_count(0)
    page.screenshot(path=str(screenshots / "e2e_device.png"), full_page=True)


def test_api_calls_sensor_once_enabled(stack: Stack, page: Page) -> None:
    registry = stack.ws({"type": "config/entity_registry/get", "entity_id": API_CALLS_TODAY})
    assert registry["disabled_by"] == "integration", registry
    stack.ws(
        {"type": "config/entity_registry/update", "entity_id": API_CALLS_TODAY, "disabled_by": None}
    )
    # Home Assistant reloads the entry 30 s after an entity was enabled; the reloaded
    # entry starts from its kept upload and makes its next call at its slot.
    wait_until(
        "the API calls sensor enabled",
        lambda: _numeric_state(stack, API_CALLS_TODAY),
        seconds=120,
        interval=2,
    )
    # Once a poll after the reload went through (the count includes a call reserved
    # for the moment it is read, so it is compared after one).
    next_upload(stack, shown_upload(stack) or JOURNEY_STARTED)
    calls = _numeric_state(stack, API_CALLS_TODAY)
    attributes = stack.api("GET", f"/api/states/{API_CALLS_TODAY}")["attributes"]
    requests = stack.simulator("GET", "/state")["outcomes"]
    # The form's check (the entry started from its upload) and the polls since, all on
    # the one token (the check with the wrong token was another token's call).
    assert calls is not None
    assert 2 <= calls <= requests.get("ok", 0), (calls, requests)
    # The cloud's 10,000 less ten times the one call a minute kept free by default.
    assert attributes["daily_limit"] == 9_990, attributes
    # On the account's service device.
    devices = stack.ws({"type": "config/device_registry/list"})
    (device,) = [device for device in devices if device["name"] == ACCOUNT_TITLE]
    page.goto(f"{HA_URL}/config/devices/device/{device['id']}")
    expect(page.get_by_text("API calls today", exact=True).first).to_be_visible(timeout=30_000)
    assert state(stack, LAST_UPLOAD) not in ("unknown", "unavailable")


def test_add_a_second_inverter_to_the_account(stack: Stack, page: Page, screenshots: Path) -> None:
    """The account's "Add inverter" button in the frontend; the account's page shows both."""
    page.goto(f"{HA_URL}/config/integrations/integration/sunvec_connect")
    page.get_by_role("button", name="Add inverter").first.click(timeout=60_000)
    expect(wifi_sn_field(page)).to_be_visible(timeout=30_000)
    wifi_sn_field(page).fill(PV_ONLY_WIFI_SN)
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("button", name="Finish")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="Finish").click()
    ((entry_id, _),) = [(e["entry_id"], e) for e in sunvec_entries(stack)]
    subentries = stack.ws({"type": "config_entries/subentries/list", "entry_id": entry_id})
    assert sorted((sub["title"], sub["subentry_type"]) for sub in subentries) == [
        (DEVICE_NAME, "inverter"),
        (PV_ONLY_DEVICE_NAME, "inverter"),
    ]
    assert [(e["title"], e["state"]) for e in sunvec_entries(stack)] == [(ACCOUNT_TITLE, "loaded")]
    wait_until(
        "the second inverter's entities",
        lambda: (
            True
            if state(stack, "sensor.sunvec_x1b30p4012_last_upload")
            not in ("unknown", "unavailable")
            else None
        ),
        seconds=4 * UPLOAD_INTERVAL,
        interval=2,
    )
    page.goto(f"{HA_URL}/config/integrations/integration/sunvec_connect")
    expect(page.get_by_text(PV_ONLY_DEVICE_NAME).first).to_be_visible(timeout=30_000)
    page.screenshot(path=str(screenshots / "e2e_account.png"), full_page=True)


def test_energy_preferences_take_the_sensors(stack: Stack) -> None:
    stack.ws(
        {
            "type": "energy/save_prefs",
            "energy_sources": [
                {
                    "type": "grid",
                    "stat_energy_from": PREFIX + "grid_import",
                    "stat_energy_to": PREFIX + "grid_export",
                    "stat_cost": None,
                    "entity_energy_price": None,
                    "number_energy_price": None,
                    "stat_compensation": None,
                    "entity_energy_price_export": None,
                    "number_energy_price_export": None,
                    # "Two sensors": the derived non-negative powers.
                    "power_config": {
                        "stat_rate_from": PREFIX + "grid_import_power",
                        "stat_rate_to": PREFIX + "grid_export_power",
                    },
                    "cost_adjustment_day": 0,
                },
                {
                    "type": "solar",
                    "stat_energy_from": PREFIX + "pv_energy",
                    "stat_rate": PREFIX + "pv_power",
                    "config_entry_solar_forecast": None,
                },
                {
                    "type": "battery",
                    "stat_energy_from": PREFIX + "battery_discharge_energy",
                    "stat_energy_to": PREFIX + "battery_charge_energy",
                    "power_config": {
                        "stat_rate_from": PREFIX + "battery_discharge_power",
                        "stat_rate_to": PREFIX + "battery_charge_power",
                    },
                    "stat_soc": PREFIX + "battery",
                },
            ],
            "device_consumption": [],
        }
    )
    sources = stack.ws({"type": "energy/get_prefs"})["energy_sources"]
    assert [source["type"] for source in sources] == ["grid", "solar", "battery"]
    # Home Assistant combines each pair into one signed power sensor of its own, which
    # energy/validate checks at the end of the journey.
    grid, _solar, battery = sources
    for source, positive, negative in (
        (grid, "grid_import_power", "grid_export_power"),
        (battery, "battery_discharge_power", "battery_charge_power"),
    ):
        assert source["power_config"] == {
            "stat_rate_from": PREFIX + positive,
            "stat_rate_to": PREFIX + negative,
        }, source
        combined = source["stat_rate"]
        assert combined.startswith("sensor."), source
        wait_until(
            f"{combined} has a number",
            lambda combined=combined: _numeric_state(stack, combined),
            seconds=60,
        )


def test_counters_survive_a_zero_glitch_and_a_stale_period(stack: Stack) -> None:
    seen = next_upload(stack, shown_upload(stack) or JOURNEY_STARTED)
    seen = next_upload(stack, seen)
    before = counters(stack)
    # Yield today, total yield, grid export and import, PV, house, charge and discharge
    # energy.
    assert len(before) == 8, before

    # The next upload the plant makes reads zero; one published meanwhile does not.
    glitch_from = datetime.now(UTC)
    stack.simulator("POST", "/faults", json={"kind": "zero_counters", "wifi_sn": HYBRID_WIFI_SN})
    seen = next_upload(stack, glitch_from)
    rejected = rejected_readings(stack)
    assert all(rejected.get(key) for key in LIFETIME_COUNTERS), rejected
    after_glitch = counters(stack)
    assert all(after_glitch[entity] >= value for entity, value in before.items()), after_glitch

    stack.simulator("POST", "/faults", json={"kind": "stop_uploading", "wifi_sn": HYBRID_WIFI_SN})
    wait_until(
        "power sensors unavailable while uploads are stale",
        lambda: True if state(stack, AC_POWER) == "unavailable" else None,
        seconds=STALE_AFTER + 3 * UPLOAD_INTERVAL,
        interval=3,
    )
    # The energy counters stay available (counters() reads them as numbers) and keep
    # their values; an upload published just before the stop may still have raised them.
    during_stale = counters(stack)
    assert all(during_stale[entity] >= value for entity, value in after_glitch.items())

    stack.simulator("DELETE", "/faults")
    next_upload(stack, seen)
    assert state(stack, AC_POWER) not in ("unavailable", "unknown")
    recovered = counters(stack)
    assert all(recovered[entity] >= value for entity, value in during_stale.items()), recovered
    assert recovered[PREFIX + "pv_energy"] > before[PREFIX + "pv_energy"]
    assert recovered[PREFIX + "total_yield"] > before[PREFIX + "total_yield"]


def test_statistics_are_monotonic(stack: Stack) -> None:
    periods = stack.ws({"type": "e2e_statistics/compile"})["periods"]
    entity_ids = sorted(counters(stack))
    start = (JOURNEY_STARTED - timedelta(minutes=10)).isoformat()
    statistics = stack.ws(
        {
            "type": "recorder/statistics_during_period",
            "start_time": start,
            "statistic_ids": entity_ids,
            "period": "5minute",
            "types": ["state", "sum"],
        }
    )
    history = stack.api(
        "GET",
        f"/api/history/period/{start}",
        params={
            "filter_entity_id": ",".join(entity_ids),
            "minimal_response": "",
            "no_attributes": "",
        },
    )
    states = {entries[0]["entity_id"]: numeric_states(entries) for entries in history}
    problems = [
        problem
        for entity_id in entity_ids
        for problem in counter_problems(
            entity_id, states.get(entity_id, []), statistics.get(entity_id, [])
        )
    ]
    assert not problems, f"periods {periods}:\n" + "\n".join(problems)
    assert "Detected new cycle for sensor.sunvec" not in stack.log_text()


def test_energy_dashboard_validates_without_issues(
    stack: Stack, page: Page, screenshots: Path
) -> None:
    validation = stack.ws({"type": "energy/validate"})
    issues = [issue for group in validation["energy_sources"] for issue in group]
    assert issues == [], validation
    for view, image in (("", "e2e_energy.png"), ("/now", "e2e_power.png")):
        page.goto(f"{HA_URL}/energy{view}")
        expect(page.locator("ha-chart-base").first).to_be_visible(timeout=30_000)
        # The charts animate in after their data arrives.
        page.wait_for_timeout(2_000)
        page.screenshot(path=str(screenshots / image), full_page=True)


def fault_runs(stack: Stack) -> list[dict[str, Any]]:
    """The runs of the automation made from the fault blueprint, oldest first.

    Home Assistant also traces a trigger that saw a change and did not fire; those are
    not runs.
    """
    traces: list[dict[str, Any]] = stack.ws(
        {"type": "trace/list", "domain": "automation", "item_id": FAULT_AUTOMATION_ID}
    )
    runs = [trace for trace in traces if not trace.get("not_triggered")]
    return sorted(runs, key=lambda run: str(run["timestamp"]["start"]))


def fault_notifications(stack: Stack) -> list[dict[str, Any]]:
    """The persistent notifications the blueprint's default action created."""
    return [
        notification
        for notification in stack.ws({"type": "persistent_notification/get"})
        if str(notification["notification_id"]).startswith("sunvec_fault_")
    ]


def test_fault_blueprint_notifies(stack: Stack) -> None:
    # The automation a user creates from the blueprint in the automation editor, saved
    # through the same API the editor uses; Home Assistant reloads automations.
    stack.api(
        "POST",
        f"/api/config/automation/config/{FAULT_AUTOMATION_ID}",
        json={
            "alias": "Sunvec inverter fault e2e",
            "description": "",
            "use_blueprint": {
                "path": "sunvec_connect/inverter_fault.yaml",
                "input": {
                    "problem_sensor": PROBLEM,
                    "status_sensor": INVERTER_STATUS,
                    "fault_duration": {"hours": 0, "minutes": 0, "seconds": LASTING_FAULT_SECONDS},
                },
            },
        },
    )
    wait_until(
        "the automation from the blueprint",
        lambda: True if state(stack, FAULT_AUTOMATION) == "on" else None,
        seconds=60,
    )
    # A normal upload does not fire it.
    next_upload(stack, shown_upload(stack) or JOURNEY_STARTED)
    assert state(stack, INVERTER_STATUS) == "normal"
    assert state(stack, PROBLEM) == "off"
    assert fault_runs(stack) == []

    # The inverter reports 103, a recoverable fault: the Problem sensor turns on.
    stack.simulator("POST", "/status", json={"wifi_sn": HYBRID_WIFI_SN, "status": 103})
    next_upload(stack, datetime.now(UTC))
    assert state(stack, INVERTER_STATUS) == "recoverable_fault"
    (run,) = wait_until("the automation ran", lambda: fault_runs(stack) or None, seconds=30)
    assert PROBLEM in run["trigger"], run
    (notification,) = wait_until(
        "its notification", lambda: fault_notifications(stack) or None, seconds=30
    )
    assert notification["title"] == f"{DEVICE_NAME}: problem", notification
    assert notification["message"] == (
        f"{DEVICE_NAME} reports a problem: status Recoverable fault."
    ), notification

    # The status stays a fault for the chosen time: a second notice, for the lasting fault.
    lasting_run = wait_until(
        "the lasting fault",
        lambda: runs[1] if len(runs := fault_runs(stack)) >= 2 else None,
        seconds=LASTING_FAULT_SECONDS + 2 * UPLOAD_INTERVAL,
        interval=2,
    )
    assert INVERTER_STATUS in lasting_run["trigger"], lasting_run
    assert all(run["script_execution"] == "finished" for run in fault_runs(stack))
    (notification,) = fault_notifications(stack)
    assert notification["message"] == (
        f"{DEVICE_NAME} reports a lasting fault: status Recoverable fault."
    ), notification

    # Back to normal: the Problem sensor turns off, and recovery fires nothing.
    stack.simulator("POST", "/status", json={"wifi_sn": HYBRID_WIFI_SN, "status": None})
    next_upload(stack, datetime.now(UTC))
    assert state(stack, PROBLEM) == "off"
    assert state(stack, INVERTER_STATUS) == "normal"
    assert len(fault_runs(stack)) == 2


def reauth_flows(stack: Stack) -> list[dict[str, Any]]:
    """The reauthentication flows in progress."""
    return [
        flow
        for flow in stack.ws({"type": "config_entries/flow/progress"})
        if flow["handler"] == "sunvec_connect" and flow["context"].get("source") == "reauth"
    ]


def test_a_revoked_token_asks_once_and_every_inverter_polls_with_the_new_one(
    stack: Stack,
) -> None:
    """Both inverters meet the revoked token: one reauthentication for the account."""
    stack.expected_errors += [
        "Authentication failed while fetching sunvec_connect",
        "ConfigEntryAuthFailed: The Sunvec Connect cloud refused the token",
    ]
    stack.secrets.append(NEW_TOKEN)
    stack.simulator("POST", "/faults", json={"kind": "revoke_token", "count": None})
    flow = wait_until(
        "a reauthentication", lambda: reauth_flows(stack) or None, seconds=4 * UPLOAD_INTERVAL
    )[0]
    # Both inverters poll within two uploads (their refreshes asked for, too).
    for entity_id in (LAST_UPLOAD, "sensor.sunvec_x1b30p4012_last_upload"):
        stack.api(
            "POST", "/api/services/homeassistant/update_entity", json={"entity_id": entity_id}
        )
    time.sleep(2 * UPLOAD_INTERVAL)
    assert [f["flow_id"] for f in reauth_flows(stack)] == [flow["flow_id"]]

    stack.simulator(
        "POST",
        "/accounts",
        json={"token": NEW_TOKEN, "wifi_sns": [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]},
    )
    polled = stack.simulator("GET", "/state")["ok_by_wifi_sn"]
    result = stack.api(
        "POST",
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        json={"api_token": NEW_TOKEN},
    )
    assert result["type"] == "abort", result
    assert result["reason"] == "reauth_successful", result
    assert reauth_flows(stack) == []

    def both_polled() -> bool | None:
        now = stack.simulator("GET", "/state")["ok_by_wifi_sn"]
        return (
            True
            if all(now.get(sn, 0) > polled.get(sn, 0) for sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN))
            else None
        )

    # The old token stays revoked: every call that works carries the new one.
    wait_until("both inverters polled", both_polled, seconds=4 * UPLOAD_INTERVAL, interval=2)
    assert [e["state"] for e in sunvec_entries(stack)] == ["loaded"]


def test_the_token_was_never_rate_limited(stack: Stack) -> None:
    # Two inverters on one token, and refreshes asked for every 4 s during the journey:
    # the shared budget still kept every call inside the cloud's limits.
    outcomes = stack.simulator("GET", "/state")["outcomes"]
    # At least: two form checks (the entries start from their uploads) and six new
    # uploads of the hybrid.
    assert outcomes.get("ok", 0) >= 8, outcomes
    assert "rate_limited" not in outcomes, outcomes
    assert "banned" not in outcomes, outcomes
