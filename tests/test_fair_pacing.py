"""Fair pacing in Home Assistant: inverters that need more calls than their token has.

The demo token owns two inverters, which need far fewer calls than a token's 10,000 a
day; here the daily limit is lowered instead, so that two inverters are more than it
carries, as a hundred would be.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from unittest.mock import patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest

from custom_components.sunvec_connect.checks import inverter_subentry
from custom_components.sunvec_connect.pacing import MAX_NIGHT_INTERVAL
from custom_components.sunvec_connect.sun import daylight_fraction, is_deep_night, next_sunrise
from simulator import ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import (
    SIM_START,
    TimeMachine,
    account_budget,
    account_for,
    coordinator_of,
    entry_for,
    inverter_of,
    setup_entry,
)

AMSTERDAM = (52.37, 4.90)


@pytest.fixture(autouse=True)
def amsterdam(hass: HomeAssistant) -> None:
    """Home Assistant where the demo plants are: the sun's times fit their days."""
    hass.config.latitude, hass.config.longitude = AMSTERDAM


def tight_budget(per_day: int) -> Generator[None]:
    with patch("custom_components.sunvec_connect.budget.RATE_LIMIT_PER_DAY", per_day):
        yield


@pytest.fixture
def small_token() -> Generator[None]:
    """A token allowed 240 calls a day: two inverters awake 19 hours need about 550."""
    yield from tight_budget(240)


def shown_uploads(cloud: SunvecCloud, wifi_sn: str) -> list[int]:
    """The upload indexes the calls for `wifi_sn` returned, without repeats."""
    indexes = [r.upload_index for r in cloud.requests if r.wifi_sn == wifi_sn]
    return sorted({index for index in indexes if index is not None})


@pytest.mark.usefixtures("small_token")
async def test_more_inverters_than_the_budget_skip_uploads_evenly(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    """Each inverter polls every second or third upload; none goes dark or unavailable."""
    account = await setup_entry(hass, account_for(sim_url, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]))
    budget = account_budget(hass)
    assert set(budget.demands) == set(account.runtime_data.coordinators)
    pace = budget.pace
    assert 2.0 < pace.uploads_per_call < 3.0
    await time_machine.run(600, step=5)
    start = len(cloud.requests)
    unavailable = 0
    for _ in range(3 * 60):
        await time_machine.advance(60)
        for key in ("ac_power", "pv_power"):
            for wifi_sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN):
                entity = hass.states.get(f"sensor.sunvec_{wifi_sn.lower()}_{key}")
                assert entity is not None
                unavailable += entity.state == STATE_UNAVAILABLE
    # Refreshed every third upload at most, the entities never turned stale.
    assert unavailable == 0
    assert inverter_of(account, HYBRID_WIFI_SN).plan.stale_after == timedelta(seconds=(3 + 2) * 300)
    for wifi_sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN):
        steps = [b - a for a, b in pairwise(shown_uploads(cloud, wifi_sn))]
        # Every second or third upload as the share asks; never more than three apart.
        # (A poll that comes before its upload is out shows the one before, and retries.)
        assert max(steps) == 3
        assert steps.count(1) <= len(steps) / 4
        assert sum(steps) / len(steps) == pytest.approx(pace.uploads_per_call, abs=0.4)
        calls = [r for r in cloud.requests[start:] if r.wifi_sn == wifi_sn]
        # Three hours of 36 uploads: about 36 / uploads per call calls, a few retries.
        assert len(calls) <= 36 / pace.uploads_per_call * 1.3
        assert {r.outcome for r in calls} == {"ok"}


async def test_pace_is_planned_again_as_inverters_come_and_go(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    """An inverter added to the account, later removed: the pace is planned for those left.

    Each change reloads the account (a new budget, with the day's limit as patched
    here); the token's calls of the day are kept across it.
    """
    with patch("custom_components.sunvec_connect.budget.RATE_LIMIT_PER_DAY", 450):
        account = await setup_entry(hass, account_for(sim_url, [HYBRID_WIFI_SN]))
        alone = account_budget(hass).pace.uploads_per_call
        hass.config_entries.async_add_subentry(
            account, inverter_subentry(PV_ONLY_WIFI_SN, f"Sunvec {PV_ONLY_WIFI_SN}")
        )
        await hass.async_block_till_done()
        budget = account_budget(hass)
        assert len(budget.demands) == 2
        together = budget.pace.uploads_per_call
        assert together > alone
        await time_machine.run(900, step=5)
        # The hybrid's polls follow the shared pace...
        assert inverter_of(account, HYBRID_WIFI_SN).plan.schedule.uploads_per_call == together
        calls_before = len(cloud.requests)
        (pv_only,) = [
            subentry_id
            for subentry_id, coordinator in account.runtime_data.coordinators.items()
            if coordinator.wifi_sn == PV_ONLY_WIFI_SN
        ]
        assert hass.config_entries.async_remove_subentry(account, pv_only)
        await hass.async_block_till_done()
        # ...and, the PV-only inverter gone, its pace alone again.
        budget = account_budget(hass)
        hybrid = inverter_of(account, HYBRID_WIFI_SN)
        assert budget.pace.uploads_per_call == alone
        assert set(budget.demands) == {hybrid.subentry_id}
        # The calls both made count on (kept across the reloads), and any the reload made.
        assert calls_before > 0
        assert budget.calls_since(SIM_START, dt_util.utcnow()) == len(cloud.requests)
        await time_machine.run(1800, step=5)
        assert inverter_of(account, HYBRID_WIFI_SN).plan.schedule.uploads_per_call == alone


async def test_sleeping_inverter_polls_at_the_paces_night_interval(
    hass: HomeAssistant,
    sim_url: str,
    freezer: FrozenDateTimeFactory,
    cloud: SunvecCloud,
    sim_clock: ManualClock,
) -> None:
    """A token short of calls polls a sleeping inverter once an hour, not every 15 min."""
    # 20:00 UTC is 22:00 in Amsterdam: the PV-only inverter has gone to sleep.
    sim_clock.set(datetime(2026, 6, 21, 20, 0, tzinfo=UTC))
    machine = TimeMachine(hass, freezer, sim_clock)
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    with patch("custom_components.sunvec_connect.budget.RATE_LIMIT_PER_DAY", 150):
        entry = await setup_entry(hass, entry_for(sim_url, PV_ONLY_WIFI_SN))
    assert coordinator_of(entry).budget.pace.night_interval == MAX_NIGHT_INTERVAL
    await machine.run(3 * 3600, step=60)
    calls = [r.time for r in cloud.requests if r.wifi_sn == PV_ONLY_WIFI_SN]
    gaps = [(b - a).total_seconds() for a, b in pairwise(calls)]
    assert gaps
    assert min(gaps) >= MAX_NIGHT_INTERVAL - 60
    assert len(calls) <= 1 + 3


def test_daylight_prior_from_the_sun(hass: HomeAssistant) -> None:
    """Daylight and two hours at Home Assistant's location; unknown in a polar day."""
    noon = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)
    # Amsterdam on 21 June: sun from 05:18 to 22:06, 16.8 hours.
    assert daylight_fraction(hass, noon) == pytest.approx((16.8 + 2) / 24, abs=0.01)
    december = datetime(2026, 12, 21, 10, 0, tzinfo=UTC)
    assert daylight_fraction(hass, december) == pytest.approx((7.75 + 2) / 24, abs=0.01)
    sunrise = next_sunrise(hass, noon)  # the next day's, at 05:18 local
    assert sunrise is not None
    assert abs(sunrise - datetime(2026, 6, 22, 3, 18, tzinfo=UTC)) < timedelta(minutes=2)
    hass.config.latitude, hass.config.longitude = (78.2, 15.6)  # Svalbard: sun all day
    assert daylight_fraction(hass, noon) is None
    assert daylight_fraction(hass, december) is None
    # No sunrise within a day to watch the first morning from.
    assert next_sunrise(hass, noon) is None
    assert next_sunrise(hass, december) is None


def test_uploads_at_night_tell_an_inverter_awake_all_day(hass: HomeAssistant) -> None:
    assert is_deep_night(hass, datetime(2026, 6, 21, 0, 30, tzinfo=UTC))  # 02:30 local
    assert not is_deep_night(hass, datetime(2026, 6, 21, 10, 0, tzinfo=UTC))
    # Half an hour after sunset (22:06 local): dusk, a PV-only inverter may still upload.
    assert not is_deep_night(hass, datetime(2026, 6, 21, 20, 36, tzinfo=UTC))
    # Half an hour before sunrise (05:18 local).
    assert not is_deep_night(hass, datetime(2026, 6, 21, 2, 48, tzinfo=UTC))


async def test_the_first_morning_is_watched_from_sunrise(
    hass: HomeAssistant,
    sim_url: str,
    freezer: FrozenDateTimeFactory,
    cloud: SunvecCloud,
    sim_clock: ManualClock,
) -> None:
    """Set up at night before any wake was seen: from sunrise it is polled at the uploads.

    The inverter keeps its upload slots through the night: the first upload of the
    morning is shown soon after the cloud has it, not up to a night interval later.
    """
    sim_clock.set(datetime(2026, 6, 21, 22, 0, tzinfo=UTC))  # midnight in Amsterdam
    machine = TimeMachine(hass, freezer, sim_clock)
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    await setup_entry(hass, entry_for(sim_url, PV_ONLY_WIFI_SN))
    await machine.run(9 * 3600, step=30)
    calls = [r.time for r in cloud.requests if r.wifi_sn == PV_ONLY_WIFI_SN]
    sunrise = datetime(2026, 6, 22, 3, 18, tzinfo=UTC)  # 05:18 local
    night = [t for t in calls if t < sunrise - timedelta(minutes=10)]
    assert min((b - a).total_seconds() for a, b in pairwise(night[1:])) >= 850
    plant = cloud.plants[PV_ONLY_WIFI_SN]
    morning = [a for _, t, a in plant.upload_log if t > sim_clock.now() - timedelta(hours=9)]
    first = morning[0]
    assert sunrise < first < sunrise + timedelta(hours=2)
    seen = min(t for t in calls if t >= first)
    # The watch's poll of that slot: the default delay and spread (60 + 30 s) at most.
    assert (seen - first).total_seconds() <= 90
    # From a cadence before sunrise (after the last night poll), one poll a slot.
    watch = [t for t in calls if sunrise <= t < first]
    assert len(watch) >= 10
    assert all(290 <= (b - a).total_seconds() <= 310 for a, b in pairwise(watch))
