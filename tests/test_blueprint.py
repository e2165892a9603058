"""The inverter-fault blueprint: valid, fires on a fault, silent on normal uploads."""

from __future__ import annotations

from pathlib import Path
import shutil
from typing import Any
from unittest.mock import patch

from homeassistant.components import persistent_notification
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.sunvec_connect.const import DOMAIN
from simulator import SunvecCloud
from simulator.demo import HYBRID_WIFI_SN

from .conftest import TimeMachine

BLUEPRINT = (
    Path(__file__).resolve().parent.parent
    / "blueprints"
    / "automation"
    / "sunvec_connect"
    / "inverter_fault.yaml"
)
FAULT_MINUTES = 20


async def _automation_from_blueprint(hass: HomeAssistant, tmp_path: Path) -> tuple[str, str]:
    """Install the blueprint where Home Assistant looks for it, use it once.

    Returns the problem and the status sensor.
    """
    assert await async_setup_component(hass, persistent_notification.DOMAIN, {})
    hass.config.config_dir = str(tmp_path)
    target = tmp_path / "blueprints" / "automation" / "sunvec_connect" / BLUEPRINT.name
    target.parent.mkdir(parents=True)
    shutil.copy(BLUEPRINT, target)
    registry = er.async_get(hass)
    problem = registry.async_get_entity_id("binary_sensor", DOMAIN, f"{HYBRID_WIFI_SN}_problem")
    status = registry.async_get_entity_id("sensor", DOMAIN, f"{HYBRID_WIFI_SN}_inverter_status")
    assert problem
    assert status
    assert await async_setup_component(
        hass,
        "automation",
        {
            "automation": {
                "id": "sunvec_fault",
                "alias": "Sunvec fault",
                "use_blueprint": {
                    "path": "sunvec_connect/inverter_fault.yaml",
                    "input": {
                        "problem_sensor": problem,
                        "status_sensor": status,
                        "fault_duration": {"minutes": FAULT_MINUTES},
                    },
                },
            }
        },
    )
    await hass.async_block_till_done()
    assert hass.states.get("automation.sunvec_fault") is not None
    return problem, status


def _notifications(hass: HomeAssistant) -> dict[str, Any]:
    return persistent_notification._async_get_or_create_notifications(hass)


async def test_blueprint_notifies_on_a_fault_only(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    init_integration: MockConfigEntry,
    cloud: SunvecCloud,
    tmp_path: Path,
) -> None:
    problem, status = await _automation_from_blueprint(hass, tmp_path)
    triggered = async_capture_events(hass, "automation_triggered")

    await time_machine.run(30 * 60)
    assert triggered == [], "normal uploads must not fire the automation"
    assert not _notifications(hass)

    plant = cloud.plants[HYBRID_WIFI_SN]
    with patch.object(type(plant), "status", return_value="103"):
        await time_machine.run(10 * 60)
        assert [event.data["source"] for event in triggered] == [f"state of {problem}"]
        (notification,) = _notifications(hass).values()
        assert "a problem" in notification["message"]
        assert "Recoverable fault" in notification["message"]

        await time_machine.run(FAULT_MINUTES * 60)
        assert len(triggered) == 2
        assert triggered[1].data["source"] == f"state of {status}"
        fault_started = triggered[0].time_fired
        assert (triggered[1].time_fired - fault_started).total_seconds() >= FAULT_MINUTES * 60
        (notification,) = _notifications(hass).values()
        assert "a lasting fault" in notification["message"]
        assert "Recoverable fault" in notification["message"]

    await time_machine.run(30 * 60)
    assert len(triggered) == 2, "recovery must not fire the automation"
