"""Integrated energies bridge the gaps between the uploads the entry fetches.

Before issue 17 they never bridged more than 15 minutes: with a fixed 30-minute
interval, or under the fair pace of a crowded token (every 3rd upload, 906 s apart),
PV, battery and house energy stayed at 0.0 kWh, silently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from custom_components.sunvec_connect.api import RealtimeData
from custom_components.sunvec_connect.const import CONF_SCAN_INTERVAL, MAX_INTEGRATION_GAP
from custom_components.sunvec_connect.counters import PowerIntegrator
from custom_components.sunvec_connect.pacing import Pace
from custom_components.sunvec_connect.sensor import pv_production_power

from .conftest import TimeMachine, entry_for, setup_entry

PV_ENERGY = "sensor.sunvec_sutdemohyb1_pv_energy"


def test_thirty_minute_samples_integrate_eight_hours_at_three_kw() -> None:
    """8 hours at 3 kW sampled every 30 minutes: 24 kWh (0.0 before issue 17)."""
    integrator = PowerIntegrator(max_gap=timedelta(minutes=35))
    start = datetime(2026, 6, 21, 8, tzinfo=UTC)
    for half_hour in range(17):
        total = integrator.offer(3000.0, start + timedelta(minutes=30 * half_hour))
    assert total == 24.0


async def test_fixed_interval_bridges_its_own_gaps(
    hass: HomeAssistant, sim_url: str, time_machine: TimeMachine
) -> None:
    """A fixed 30-minute interval: PV energy counts (it stayed 0.0 before issue 17)."""
    entry = await setup_entry(hass, entry_for(sim_url, options={CONF_SCAN_INTERVAL: 1800}))
    coordinator = entry.runtime_data
    assert coordinator.integration_gap == timedelta(seconds=1800 + coordinator.schedule.cadence)
    await time_machine.run(3 * 3600, step=60)
    state = hass.states.get(PV_ENERGY)
    assert state is not None
    assert float(state.state) > 1.0


async def test_fair_pace_gap_is_bridged(
    hass: HomeAssistant, sim_url: str, time_machine: TimeMachine
) -> None:
    """Every 3rd upload of a 302 s cadence: 906 s between samples is bridged."""
    entry = await setup_entry(hass, entry_for(sim_url))
    coordinator = entry.runtime_data
    assert coordinator.integration_gap == MAX_INTEGRATION_GAP
    coordinator.schedule.cadence = 302.0
    coordinator.schedule.follow(Pace(uploads_per_call=3.0))
    assert coordinator.integration_gap == timedelta(seconds=4 * 302)
    integrator = PowerIntegrator(max_gap=coordinator.integration_gap)
    now = dt_util.utcnow()
    integrator.offer(2000.0, now)
    assert integrator.offer(2000.0, now + timedelta(seconds=906)) == round(2 * 906 / 3600, 4)


def test_pv_energy_never_integrates_a_negative_string() -> None:
    """A string drawing 15 W at night adds nothing to PV energy (it subtracted before)."""
    data = RealtimeData.from_dict(
        {
            "powerdc1": -15.0,
            "powerdc2": 400.0,
            "powerdc3": None,
            "uploadTime": "2026-06-21 12:00:00",
        }
    )
    assert data.pv_power == 385.0
    assert pv_production_power(data) == 400.0
    night = RealtimeData.from_dict({"powerdc1": -15.0, "powerdc2": -3.0})
    assert pv_production_power(night) == 0.0
    assert pv_production_power(RealtimeData.from_dict({})) is None
