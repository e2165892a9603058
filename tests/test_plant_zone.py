"""A plant in another time zone than Home Assistant, and an inverter clock off by minutes.

The simulator's plants upload in Amsterdam time (summer: UTC+2); Home Assistant runs in
another zone, or the hybrid's inverter clock runs minutes fast.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from itertools import pairwise

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
import pytest

from custom_components.sunvec_connect.api import RealtimeData
from custom_components.sunvec_connect.const import DOMAIN
from custom_components.sunvec_connect.issues import clock_issue_id
from custom_components.sunvec_connect.pacing import NIGHT_INTERVAL
from custom_components.sunvec_connect.store import inverter_store
from simulator import ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN

from .conftest import TimeMachine, coordinator_of, entry_for, setup_entry
from .test_polling import calls
from .test_sensor import state_of

HOUR = timedelta(hours=1)
ENTRY_ID = "01PLANTZONEENTRY000000000"


async def _machine(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory, sim_clock: ManualClock, zone: str
) -> TimeMachine:
    await hass.config.async_set_time_zone(zone)
    return TimeMachine(hass, freezer, sim_clock)


def _latest_upload(cloud: SunvecCloud, now: datetime) -> datetime:
    upload = cloud.plants[HYBRID_WIFI_SN].latest_available(now)
    assert upload is not None
    return upload.time


async def test_home_assistant_an_hour_behind_the_plant_shows_the_uploads(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim_clock: ManualClock,
    sim_url: str,
    cloud: SunvecCloud,
) -> None:
    """Home Assistant in London, the plant in Amsterdam: powers and counters show.

    Fails before this issue: read in London's zone every upload lay an hour in the
    future and was rejected; powers were unavailable and counters unknown.
    """
    machine = await _machine(hass, freezer, sim_clock, "Europe/London")
    entry = await setup_entry(hass, entry_for(sim_url, entry_id=ENTRY_ID))
    await machine.run(1800, step=10)
    coordinator = coordinator_of(entry)
    assert coordinator.statistics.rejected_uploads == 0
    assert coordinator.clock.offset == 2 * HOUR
    assert state_of(hass, "ac_power") not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    assert state_of(hass, "yield_total") not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    now = dt_util.utcnow()
    assert coordinator.data.upload_time == _latest_upload(cloud, now)
    shown = dt_util.parse_datetime(state_of(hass, "last_upload"))
    assert shown == _latest_upload(cloud, now)


async def test_home_assistant_an_hour_ahead_polls_by_day_and_shows_the_powers(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim_clock: ManualClock,
    sim_url: str,
    cloud: SunvecCloud,
) -> None:
    """Home Assistant in Helsinki, the plant in Amsterdam: learned, powers show.

    Fails before this issue: read in Helsinki's zone every upload was an hour old, so
    powers stayed unavailable and polling fell to the night interval.
    """
    machine = await _machine(hass, freezer, sim_clock, "Europe/Helsinki")
    entry = await setup_entry(hass, entry_for(sim_url, entry_id=ENTRY_ID))
    await machine.run(1800, step=10)
    coordinator = coordinator_of(entry)
    start = len(calls(cloud))
    await machine.run(3600, step=10)
    polls = calls(cloud)[start:]
    gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(polls)]
    assert max(gaps) < NIGHT_INTERVAL / 2
    assert len(polls) >= 10
    assert state_of(hass, "ac_power") not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    assert coordinator.data.upload_time == _latest_upload(cloud, dt_util.utcnow())
    assert coordinator.clock.offset == 2 * HOUR


async def test_the_learned_offset_is_kept_across_a_restart(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim_clock: ManualClock,
    sim_url: str,
) -> None:
    """What the clock learned is in the entry's store and comes back with it."""
    machine = await _machine(hass, freezer, sim_clock, "Europe/Helsinki")
    entry = await setup_entry(hass, entry_for(sim_url, entry_id=ENTRY_ID))
    await machine.run(1200, step=10)
    await hass.config_entries.async_unload(entry.entry_id)
    stored = await inverter_store(hass, entry.entry_id).async_load()
    assert stored is not None
    assert stored["clock"]["offset_minutes"] == 120
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert coordinator_of(entry).clock.offset == 2 * HOUR
    assert (
        coordinator_of(entry).clock.last_text
        == coordinator_of(entry).data.realtime.upload_time_text
    )


async def test_an_inverter_clock_seven_minutes_fast_raises_a_repair(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    sim_clock: ManualClock,
    sim_url: str,
    cloud: SunvecCloud,
) -> None:
    """The hybrid's clock runs 7 minutes fast: a repair names about "+2:07", data shows.

    Fails before this issue: each upload lay 7 minutes in the future and was rejected,
    with nothing said. Setting the clock right clears the issue.
    """
    plant = cloud.plants[HYBRID_WIFI_SN]
    plant.config = replace(plant.config, clock_skew=420.0)
    machine = await _machine(hass, freezer, sim_clock, "Europe/Amsterdam")
    entry = await setup_entry(hass, entry_for(sim_url, entry_id=ENTRY_ID))
    await machine.run(1800, step=10)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, clock_issue_id(ENTRY_ID))
    assert issue is not None
    assert issue.severity is ir.IssueSeverity.WARNING
    placeholders = issue.translation_placeholders
    assert placeholders is not None
    assert placeholders["name"] == coordinator_of(entry).title
    # Measured from the uploads' ages: 2:07 less at most the publish delay (90 s).
    assert placeholders["offset"] in {"+2:06", "+2:07"}
    coordinator = coordinator_of(entry)
    # Shown at the time of the call that fetched it, not its own (7 minutes ahead).
    assert coordinator.data.upload_time in calls(cloud)
    stamp = coordinator.data.realtime.upload_time
    assert stamp is not None
    own_time = stamp.replace(tzinfo=dt_util.get_default_time_zone())
    assert own_time > coordinator.data.upload_time
    assert state_of(hass, "ac_power") not in (STATE_UNAVAILABLE, STATE_UNKNOWN)
    plant.config = replace(plant.config, clock_skew=0.0)
    await machine.run(1800, step=10)
    assert ir.async_get(hass).async_get_issue(DOMAIN, clock_issue_id(ENTRY_ID)) is None
    assert coordinator.data.upload_time == _latest_upload(cloud, dt_util.utcnow())


@pytest.mark.parametrize("hint", ["2026-06-21T09:55:45Z", "2026-06-21T03:55:45.936Z"])
def test_utc_date_time_is_read(hint: str) -> None:
    """An utcDateTime is parsed with its zone and milliseconds; without a zone it is left."""
    data = RealtimeData.from_dict({"uploadTime": "2026-06-21 11:55:45", "utcDateTime": hint})
    assert data.utc_time == datetime.fromisoformat(hint)
    assert data.utc_time is not None
    assert data.utc_time.tzinfo is not None
    naive = RealtimeData.from_dict({"utcDateTime": "2026-06-21T09:55:45"})
    assert naive.utc_time is None
    assert RealtimeData.from_dict({"utcDateTime": "yesterday"}).utc_time is None
    assert RealtimeData.from_dict({}).utc_time is None
