"""Tests for setting up, reloading and unloading an entry."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.const import DOMAIN
from custom_components.sunvec_connect.issues import account_issue_ids, inverter_issue_ids
from simulator import Fault, FaultKind, SunvecCloud

from .conftest import TimeMachine, entry_for, setup_entry


async def test_setup_reload_unload(hass: HomeAssistant, init_integration: MockConfigEntry) -> None:
    entry = init_integration
    assert entry.state is ConfigEntryState.LOADED
    assert hass.states.get("sensor.sunvec_sutdemohyb1_ac_power") is not None

    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED

    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.NOT_LOADED  # type: ignore[comparison-overlap]


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


async def test_remove_entry_clears_its_issues(
    hass: HomeAssistant, init_integration: MockConfigEntry, issue_registry: ir.IssueRegistry
) -> None:
    entry_id = init_integration.entry_id
    for issue_id in (*account_issue_ids(entry_id), *inverter_issue_ids(entry_id)):
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key="inverter_offline",
        )
    other = "inverter_offline_another_entry"
    ir.async_create_issue(
        hass,
        DOMAIN,
        other,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key="inverter_offline",
    )
    assert await hass.config_entries.async_remove(entry_id)
    await hass.async_block_till_done()
    remaining = [issue_id for domain, issue_id in issue_registry.issues if domain == DOMAIN]
    assert remaining == [other]


async def test_saved_address_no_longer_accepted(hass: HomeAssistant) -> None:
    """An address an older release saved with a path of its own asks for reconfiguring."""
    entry = await setup_entry(hass, entry_for("https://api.example.com/proxy"))
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert entry.reason is not None
    assert "path" in entry.reason
    assert "reconfigure" in entry.reason
