"""Tests for diagnostics: useful figures, no secrets."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
    get_diagnostics_for_device,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion

from custom_components.sunvec_connect.const import DOMAIN
from simulator import Fault, FaultKind, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN

from .conftest import TOKEN, TimeMachine, coordinator_of

SECRETS = (TOKEN, HYBRID_WIFI_SN, "H34A08I6008", "SRDEMOHYB")


async def test_entry_and_device_diagnostics(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    cloud: SunvecCloud,
    snapshot: SnapshotAssertion,
) -> None:
    cloud.inject(Fault(FaultKind.ZERO_COUNTERS))
    await time_machine.run(600)
    cloud.inject(Fault(FaultKind.REVOKE_TOKEN))
    await time_machine.run(400)
    cloud.clear_faults()
    # After an authentication failure polling waits for the reauth flow.
    await time_machine.advance(60)

    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )
    text = json.dumps(diagnostics)
    for secret in SECRETS:
        assert secret.lower() not in text.lower(), secret
    assert diagnostics["entry"]["inverters"] == 1
    assert diagnostics["token"]["calls_last_24_hours"] == 4
    (inverter,) = diagnostics["inverters"]
    polling = inverter["polling"]
    # Upload-aligned: the first call, one per new upload, and the failed one.
    assert polling["polls"] == 4
    assert polling["last_update_success"] is False
    assert polling["failures"] == 1
    assert polling["last_error_code"] == 103
    assert polling["rejected_readings"]["yield_total"] >= 1
    assert polling["meter_resets"] == {}
    raw = inverter["latest_upload"]["raw"]
    assert raw["acpower"] is not None
    # The zero glitch was held back and dropped: the counters show the upload's values.
    counters = inverter["counters"]
    assert counters["yield_total"]["value"] == raw["yieldtotal"]
    assert counters["yield_total"]["held"] is None
    assert counters["yield_today"]["value"] == raw["yieldtoday"]
    assert set(counters) == {
        "yield_today",
        "yield_total",
        "grid_export_energy",
        "grid_import_energy",
        "pv_energy",
        "house_energy",
        "battery_charge_energy",
        "battery_discharge_energy",
    }
    assert diagnostics == snapshot

    device = next(
        device
        for device in dr.async_entries_for_config_entry(
            dr.async_get(hass), init_integration.entry_id
        )
        if (DOMAIN, HYBRID_WIFI_SN) in device.identifiers
    )
    device_diagnostics = await get_diagnostics_for_device(
        hass, hass_client, init_integration, device
    )
    assert device_diagnostics == {
        "entry": diagnostics["entry"],
        "token": diagnostics["token"],
        "inverter": inverter,
    }


async def test_diagnostics_show_held_readings(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    init_integration: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    cloud: SunvecCloud,
) -> None:
    shown = coordinator_of(init_integration).data.realtime.yield_total
    cloud.inject(Fault(FaultKind.COUNTERS_LOWER, wifi_sn=HYBRID_WIFI_SN))
    while not any(r.outcome == FaultKind.COUNTERS_LOWER.value for r in cloud.requests):
        await time_machine.advance(10)

    diagnostics: dict[str, Any] = await get_diagnostics_for_config_entry(
        hass, hass_client, init_integration
    )
    (inverter,) = diagnostics["inverters"]
    held = inverter["counters"]["yield_total"]["held"]
    lower = inverter["latest_upload"]["raw"]["yieldtotal"]
    assert inverter["counters"]["yield_total"]["value"] == shown
    assert held["value"] == lower < shown
    assert held["uploads"] == 1
    assert held["time"] == inverter["latest_upload"]["upload_time"]
