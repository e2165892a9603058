"""No quota spent for nothing: the calls the cloud sees (issue 17, item 4)."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from unittest.mock import patch

from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.api import SunvecInvalidParameterError, SunvecNotSentError
from custom_components.sunvec_connect.const import DOMAIN
from custom_components.sunvec_connect.issues import invalid_request_issue_id
from custom_components.sunvec_connect.pacing import InverterDemand
from simulator import Fault, FaultKind, ManualClock, Plant, SunvecCloud, create_app
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN, pv_only_config, started_at

from .conftest import (
    TOKEN,
    TimeMachine,
    account_budget,
    account_for,
    coordinator_of,
    inverter_of,
    setup_entry,
)


def cloud_calls(cloud: SunvecCloud) -> int:
    """The requests the simulated cloud received for the hybrid inverter."""
    return sum(1 for record in cloud.requests if record.wifi_sn == HYBRID_WIFI_SN)


async def test_answers_without_an_upload_time_cost_no_more_than_uploads(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """A day of answers whose uploadTime cannot be read: about one call per cadence.

    Before issue 17 each such answer was retried a minute later: 1,440 calls a day.
    """
    cloud.inject(Fault(FaultKind.BAD_UPLOAD_TIME, count=None))
    before = cloud_calls(cloud)
    await time_machine.run(24 * 3600, step=60)
    spent = cloud_calls(cloud) - before
    # The cadence (300 s) at most: 288 a day; the night interval once it is stale.
    assert 24 <= spent <= 300


async def test_server_errors_back_off_to_fifteen_minutes(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """A cloud answering 500 for hours: retries after 1, 2, 4, 8, then every 15 minutes.

    Before issue 17 every failure was retried a minute later, forever.
    """
    cloud.inject(Fault(FaultKind.HTTP_500, count=None))
    await time_machine.run(2 * 3600, step=10)
    failed = [r.time for r in cloud.requests if r.outcome == "http_500"]
    gaps = [round((b - a).total_seconds() / 60) for a, b in pairwise(failed)]
    assert gaps[:4] == [1, 2, 4, 8]
    assert set(gaps[4:]) == {15}
    # Back at once when the cloud is: the next success resets the back-off.
    cloud.clear_faults()
    await time_machine.run(16 * 60, step=10)
    assert cloud.requests[-1].outcome == "ok"
    assert coordinator_of(init_integration).plan._failures_in_row == 0


async def test_an_invalid_request_waits_an_hour(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """Code 1002 cannot get better by itself: the next call is an hour later.

    A repair issue says what to do; it goes with the first call that works.
    """
    coordinator = coordinator_of(init_integration)
    failure = SunvecInvalidParameterError("Parameter validation failed", code=1002)
    with patch.object(coordinator.client, "async_get_realtime_data", side_effect=failure) as get:
        await time_machine.run(2 * 3600, step=60)
    assert 2 <= get.call_count <= 3
    # The account's client, asked for this inverter.
    assert {call.args for call in get.call_args_list} == {(HYBRID_WIFI_SN,)}
    issue_id = invalid_request_issue_id(init_integration.entry_id)
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "invalid_request"
    assert issue.translation_placeholders == {
        "name": coordinator_of(init_integration).title,
        "wifi_sn": HYBRID_WIFI_SN,
    }
    await time_machine.run(3600, step=60)
    assert cloud.requests[-1].outcome == "ok"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_refreshes_asked_for_take_from_the_entrys_share_of_the_day(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An automation refreshing every 10 s: the entry's calls stop at its share.

    The token has 20 inverters here; what their planned polls leave of its 9,990 calls
    a day is shared evenly among them. Before issue 17 each refresh asked for made a
    call whenever a slot was free (about 6 a minute), so one automation could spend the
    day's calls of every inverter.
    """
    coordinator = coordinator_of(init_integration)
    budget = coordinator.budget
    for other in range(19):
        budget.register(f"other_{other}", InverterDemand(300.0, 0.5))
    share = coordinator.calls.daily_share
    assert share == int((budget.daily_limit - budget.pace.planned_calls_per_day) // 20)
    assert 100 < share < 499
    before = cloud_calls(cloud)
    for _ in range(3 * 360):
        await coordinator.async_request_refresh()
        await time_machine.advance(10)
    spent = cloud_calls(cloud) - before
    # Its share, and the planned polls that go on after it (one per upload, 36 in 3 h).
    assert share <= spent <= share + 40
    assert caplog.text.count("spent its share of the token's calls today") == 1
    # The planned polls still show every new upload.
    data = coordinator.data
    assert data is not None
    assert data.upload_time is not None
    assert dt_util.utcnow() - data.upload_time < timedelta(minutes=10)
    # A day later the refreshes asked for have aged out: they call the cloud again.
    await time_machine.run(24 * 3600, step=300)
    before = cloud_calls(cloud)
    await coordinator.async_request_refresh()
    await time_machine.run(20, step=5)
    assert cloud_calls(cloud) == before + 1


async def test_calls_that_never_left_take_nothing_from_the_entrys_share(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An automation refreshing each minute through a 12-hour DNS outage.

    None of its 720 tries left the machine: once the cloud is back, a refresh asked for
    calls it. Fails on the code before this fix: the tries were given back to the
    token's budget but still counted in the entry's share, so for a day after the
    outage every refresh asked for was answered from the last upload.
    """
    coordinator = coordinator_of(init_integration)
    for other in range(19):
        coordinator.budget.register(f"other_{other}", InverterDemand(300.0, 0.5))
    assert coordinator.calls.daily_share < 720
    failure = SunvecNotSentError("Cannot reach the cloud: ClientConnectorDNSError")
    with patch.object(coordinator.client, "async_get_realtime_data", side_effect=failure):
        for _ in range(12 * 60):
            await coordinator.async_request_refresh()
            await time_machine.advance(60)
    # Back online: the next planned poll (within the minute) works.
    await time_machine.run(120, step=10)
    assert cloud.requests[-1].outcome == "ok"
    before = cloud_calls(cloud)
    await coordinator.async_request_refresh()
    await time_machine.run(20, step=5)
    assert cloud_calls(cloud) == before + 1
    assert "spent its share" not in caplog.text


async def test_a_clock_set_back_while_waiting_for_a_slot_does_not_stop_polling(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The entry waits for a slot when the system clock goes back five hours.

    Its next refresh is within a minute or two of the new time. Fails on the code
    before this fix: the entry kept the slot it had reserved (five hours ahead of the
    new time) before the budget followed the clock, and planned its next poll then.
    """
    coordinator = coordinator_of(init_integration)
    budget = coordinator.budget
    now = dt_util.utcnow()
    # The token's minute is taken: the entry's refresh gets a slot a minute ahead.
    while budget.calls_in_last_minute(now) < budget.window_limit:
        budget.reserve(now, spaced=False)
    await coordinator.async_refresh()
    assert coordinator.update_interval is not None
    assert timedelta(seconds=30) < coordinator.update_interval <= timedelta(minutes=2)
    freezer.move_to(now - timedelta(hours=5))
    await coordinator.async_refresh()
    assert coordinator.update_interval <= timedelta(minutes=2)


async def test_a_long_outage_leaves_the_tokens_day_untouched(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
    sim_server: TestServer,
    sim_clock: ManualClock,
) -> None:
    """Ten inverters on one token, 18 hours without the cloud, then back: all at once.

    The connection is refused for 18 hours; every inverter tries each minute. Fails on
    the code before issue 17: each try the budget's spacing let through took a call of
    the token's day (5,928 of its 9,990 here; with more inverters the day is full when
    the cloud comes back, and every inverter of the token stays dark for hours).
    """
    wifi_sns = [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]
    for number in range(8):
        wifi_sn = f"SUTOUTAGE{number}"
        config = pv_only_config(
            wifi_sn=wifi_sn,
            inverter_sn=f"X1OUTAGE{number:03d}",
            module_sn=f"SROUTAGE{number}",
            seed=40 + number,
            upload_offset=float(number * 31 % 300),
        )
        cloud.add_plant(Plant(config, started_at(sim_clock))).advance_to(sim_clock.now())
        wifi_sns.append(wifi_sn)
    cloud.accounts[TOKEN].wifi_sns = wifi_sns
    url = str(sim_server.make_url("/")).rstrip("/")
    await setup_entry(hass, account_for(url, wifi_sns))
    budget = account_budget(hass)
    assert len(budget.demands) == len(wifi_sns)
    await time_machine.run(1800, step=60)
    closed_at = dt_util.utcnow() + timedelta(microseconds=1)  # after the last good call
    port = sim_server.port
    await sim_server.close()
    await time_machine.run(18 * 3600, step=60)
    # Not one try reached the cloud: not one is counted.
    assert budget.calls_since(closed_at, dt_util.utcnow()) == 0
    start = len(cloud.requests)
    restarted = TestServer(create_app(cloud), host="127.0.0.1", port=port)
    await restarted.start_server(access_log=None)
    try:
        await time_machine.run(120, step=10)
    finally:
        await restarted.close()
    # Each inverter is polled again within two minutes of the cloud's return.
    answered = {r.wifi_sn for r in cloud.requests[start:] if r.outcome == "ok"}
    assert answered == set(wifi_sns)
    assert budget.calls_since(dt_util.utcnow() - timedelta(days=1)) < budget.daily_limit / 2


async def test_an_automation_refreshing_one_inverter_leaves_the_others_their_polls(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    cloud: SunvecCloud,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`homeassistant.update_entity` on one inverter every 10 s for a day.

    A token allowed 300 calls a day carries two inverters at the fair pace, which plans
    nearly all of the day: the refreshed inverter may make 4 calls of its own. The other
    inverter keeps its polls: every few uploads by day, every hour by night. Fails on
    the code before issue 17 (each refresh made a call when a slot was free: the token's
    day ran out within the hour) and on its first fix (a share of the whole day, 145,
    spent on top of the planned polls: the other inverter went dark for 8 hours).
    """
    assert await async_setup_component(hass, "homeassistant", {})
    with patch("custom_components.sunvec_connect.budget.RATE_LIMIT_PER_DAY", 300):
        account = await setup_entry(hass, account_for(sim_url, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]))
    coordinator = inverter_of(account, HYBRID_WIFI_SN)
    budget = coordinator.budget
    assert budget is inverter_of(account, PV_ONLY_WIFI_SN).budget
    start = len(cloud.requests)
    for _ in range(24 * 360):
        await hass.services.async_call(
            "homeassistant",
            "update_entity",
            {"entity_id": f"sensor.sunvec_{HYBRID_WIFI_SN.lower()}_ac_power"},
            blocking=True,
        )
        await time_machine.advance(10)
    calls = cloud.requests[start:]
    assert len(calls) <= budget.daily_limit
    assert caplog.text.count("spent its share of the token's calls today") == 1
    other = [r.time for r in calls if r.wifi_sn == PV_ONLY_WIFI_SN and r.outcome == "ok"]
    gaps = [b - a for a, b in pairwise([calls[0].time, *other, dt_util.utcnow()])]
    assert max(gaps) <= timedelta(seconds=budget.pace.night_interval + 300)
    assert coordinator.calls.daily_share == 4
