"""Tests for setting up, reloading and unloading an entry."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.const import DOMAIN
from simulator import Fault, FaultKind, SunvecCloud

from .conftest import TimeMachine, setup_entry


async def test_setup_reload_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.sunvec_sutdemohyb1_ac_power") is not None

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED


@pytest.mark.parametrize(
    ("kind", "state"),
    [
        (FaultKind.HTTP_503, ConfigEntryState.SETUP_RETRY),
        (FaultKind.INVALID_JSON, ConfigEntryState.SETUP_RETRY),
        (FaultKind.REVOKE_TOKEN, ConfigEntryState.SETUP_ERROR),
    ],
)
async def test_first_refresh_failure(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    config_entry: MockConfigEntry,
    cloud: SunvecCloud,
    kind: FaultKind,
    state: ConfigEntryState,
) -> None:
    cloud.inject(Fault(kind))
    await setup_entry(hass, config_entry)
    assert config_entry.state is state
    if kind is FaultKind.REVOKE_TOKEN:
        flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        assert [flow["context"]["source"] for flow in flows] == ["reauth"]
