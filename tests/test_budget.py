"""Tests for the token budget: limits, pauses, the form's check and the registry."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
import json
from typing import Any

from aiohttp.test_utils import TestServer
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
from hypothesis import given, seed, settings, strategies as st
import pytest

from custom_components.sunvec_connect.budget import (
    DAY,
    MAX_PAUSE,
    SLOT_SLACK,
    WINDOW,
    TokenBudget,
)
from custom_components.sunvec_connect.checks import inverter_subentry
from custom_components.sunvec_connect.const import CONF_WIFI_SN, DOMAIN
from custom_components.sunvec_connect.pacing import InverterDemand, Pace
from custom_components.sunvec_connect.store import THIS_RUN
from simulator import Fault, FaultKind, SunvecCloud, create_app
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import (
    TOKEN,
    TimeMachine,
    account_budget,
    account_for,
    coordinator_of,
    entry_for,
    ids_for,
    inverter_of,
    setup_entry,
)

T0 = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


def most_in_any_window(calls: list[datetime], window: timedelta = WINDOW) -> int:
    """The most calls that fall into one window (60 s unless told)."""
    ordered = sorted(calls)
    return max(
        (sum(1 for other in ordered if start <= other < start + window) for start in ordered),
        default=0,
    )


def has_room_at(calls: list[datetime], now: datetime, limit: int) -> bool:
    """Whether a call at `now` keeps every window holding it within the limit.

    Windows are 60 s and the slack by which calls may go early, as the budget plans them.
    """
    reach = WINDOW + SLOT_SLACK
    with_now = [*calls, now]
    return all(
        sum(1 for other in with_now if start <= other < start + reach) <= limit
        for start in with_now
        if start <= now < start + reach
    )


# TokenBudget -----------------------------------------------------------------


def test_limits_and_spacing() -> None:
    budget = TokenBudget(per_minute=10, per_day=10_000, margin=1)
    slots = [budget.reserve(T0) for _ in range(30)]
    assert slots == sorted(slots)
    assert most_in_any_window(slots) == 9
    assert slots[1] - slots[0] == seconds(60 / 9)
    assert budget.calls_in_last_minute(slots[-1]) == 9
    unspaced = TokenBudget()
    assert [unspaced.reserve(T0, spaced=False) for _ in range(3)] == [T0] * 3


def test_release_keeps_the_window() -> None:
    budget = TokenBudget(per_minute=10, per_day=10_000, margin=1)
    assert [budget.reserve(T0, spaced=False) for _ in range(9)] == [T0] * 9
    refused = budget.reserve(T0, spaced=False)
    assert refused == T0 + WINDOW + SLOT_SLACK
    budget.release(refused)
    # The nine calls of the minute still count: the next one waits just as long.
    assert budget.calls_in_last_minute(T0) == 9
    assert budget.reserve(T0, spaced=False) == refused


def test_daily_limit_holds_for_any_24_hours() -> None:
    """Not a calendar day: the next call waits until the oldest of the 24 hours expires."""
    budget = TokenBudget(per_minute=1000, per_day=5, margin=0)
    slots = [budget.reserve(T0 + timedelta(hours=hour), spaced=False) for hour in range(5)]
    # Midnight (UTC or any other) does not renew the budget...
    assert budget.reserve(datetime(2026, 6, 22, 0, 5, tzinfo=UTC)) == (slots[0] + DAY + SLOT_SLACK)
    # ...nor does it let the form's check through before the oldest call expires.
    assert not budget.try_call_now(datetime(2026, 6, 22, 0, 10, tzinfo=UTC))
    assert budget.calls_since(T0) == 6
    # The slot reserved ahead is not a call made yet.
    assert budget.calls_since(T0, until=slots[4]) == 5
    assert budget.try_call_now(slots[1] + DAY + SLOT_SLACK)
    assert budget.calls_since(slots[1] + DAY) == 1


def test_pause_and_back_off() -> None:
    budget = TokenBudget()
    assert budget.pause(T0, None) == T0 + seconds(60)
    assert budget.pause(T0, None) == T0 + seconds(120)
    assert budget.is_paused(T0 + seconds(119))
    assert not budget.is_paused(T0 + seconds(120))
    assert budget.reserve(T0) == T0 + seconds(120)
    budget.succeeded()
    assert budget.backoff == 0
    assert budget.pause(T0, 3600) == T0 + timedelta(hours=1)
    # A shorter pause never shortens the one in force.
    assert budget.pause(T0, 10) == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("retry_after", "until"),
    [
        (1e12, T0 + MAX_PAUSE),
        (float("inf"), T0 + MAX_PAUSE),
        (1e308, T0 + MAX_PAUSE),
        (-5.0, None),
        (float("-inf"), None),
        (float("nan"), T0 + seconds(60)),
    ],
    ids=["huge", "infinite", "max_float", "negative", "minus_infinite", "nan"],
)
def test_pause_is_clamped(retry_after: float, until: datetime | None) -> None:
    budget = TokenBudget()
    paused_until = budget.pause(T0, retry_after)
    if until is None:
        # Nothing to wait for: a call may go at once.
        assert not budget.is_paused(T0)
    else:
        assert paused_until == until


def test_check_is_not_queued_behind_later_slots() -> None:
    budget = TokenBudget()
    # Entries reserved slots minutes ahead; the minute around now is empty.
    later = [budget.reserve(T0 + seconds(300)) for _ in range(3)]
    assert budget.reserve(T0, spaced=False) >= later[-1]  # reserve queues behind them
    budget = TokenBudget()
    for _ in range(3):
        budget.reserve(T0 + seconds(300))
    assert budget.try_call_now(T0)
    assert budget.calls_in_last_minute(T0) == 1
    # The next reservation still comes after every slot handed out.
    assert budget.reserve(T0) > T0 + seconds(300)


def test_check_counts_past_and_reserved_calls_around_now() -> None:
    # Nine calls in the last minute: the minute is used up.
    past = TokenBudget()
    for offset in range(9):
        past.reserve(T0 + seconds(offset), spaced=False)
    assert not past.try_call_now(T0 + seconds(30))
    assert past.try_call_now(T0 + seconds(8) + WINDOW + SLOT_SLACK)

    # Nine slots reserved within the next minute: a call now would make ten in it.
    ahead = TokenBudget()
    for offset in range(9):
        ahead.reserve(T0 + seconds(20 + offset), spaced=False)
    assert not ahead.try_call_now(T0)

    # Five before and four after, but never nine within 60 s of each other: room.
    spread = TokenBudget()
    for offset in (-58, -57, -56, -55, 55, 56, 57, 58):
        spread.reserve(T0 + seconds(offset), spaced=False)
    assert spread.try_call_now(T0)
    assert most_in_any_window([*spread.slots]) == 5

    # Four before and five after within one window of now: any 60 s holding now and
    # them would hold ten.
    crowded = TokenBudget()
    for offset in (-20, -15, -10, -5, 5, 10, 15, 20, 25):
        crowded.reserve(T0 + seconds(offset), spaced=False)
    assert not crowded.try_call_now(T0)


def test_check_is_refused_during_a_pause() -> None:
    budget = TokenBudget()
    budget.pause(T0, 120)
    assert not budget.try_call_now(T0 + seconds(119))
    assert budget.try_call_now(T0 + seconds(120))


operations = st.lists(
    st.tuples(
        # Mostly within a minute of each other, now and then an hour apart.
        st.one_of(st.floats(min_value=0, max_value=90), st.floats(min_value=0, max_value=3600)),
        st.sampled_from(["reserve", "reserve_unspaced", "check", "release", "pause"]),
        st.one_of(st.none(), st.floats(min_value=-10, max_value=400)),
    ),
    min_size=1,
    max_size=150,
)


@seed(20261111)
@settings(max_examples=400, deadline=None)
@given(operations)
def test_no_window_and_no_day_exceeds_the_limits(
    steps: list[tuple[float, str, float | None]],
) -> None:
    """Whatever entries and form checks do, the calls stay within both limits."""
    budget = TokenBudget(per_minute=10, per_day=40, margin=1)
    now = T0
    assert budget.daily_limit == 30
    calls: list[datetime] = []
    for wait, operation, retry_after in steps:
        now += seconds(wait)
        if operation == "pause":
            budget.pause(now, retry_after)
        elif operation == "check":
            day_full = sum(1 for call in calls if call > now - DAY) >= budget.daily_limit
            expected = (
                not budget.is_paused(now)
                and not day_full
                and has_room_at(calls, now, budget.window_limit)
            )
            # Refused exactly when a pause, the day or a window around now says so.
            assert budget.try_call_now(now) is expected
            if expected:
                calls.append(now)
        elif operation == "release":
            # Give back a slot still ahead, as an entry that will not use it does.
            ahead = [call for call in calls if call > now]
            if ahead:
                budget.release(ahead[-1])
                calls.remove(ahead[-1])
        else:
            slot = budget.reserve(now, spaced=operation == "reserve")
            assert slot >= now
            assert not budget.is_paused(slot)
            calls.append(slot)
    assert most_in_any_window(calls, WINDOW + SLOT_SLACK) <= budget.window_limit
    assert most_in_any_window(calls, DAY) <= budget.daily_limit
    # Not a calendar day either, in any time zone.
    per_day = Counter(call.date() for call in calls)
    assert max(per_day.values(), default=0) <= budget.daily_limit


# Entries and the form on one token --------------------------------------------


def calls_of(cloud: SunvecCloud, wifi_sn: str) -> list[tuple[datetime, str]]:
    return [(record.time, record.outcome) for record in cloud.requests if record.wifi_sn == wifi_sn]


async def test_ban_of_one_entry_stops_the_others_reserved_call(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    account = await setup_entry(hass, account_for(sim_url, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]))
    hybrid, pv_only = inverter_of(account, HYBRID_WIFI_SN), inverter_of(account, PV_ONLY_WIFI_SN)
    budget = hybrid.budget
    assert pv_only.budget is budget
    # Both ask for a refresh at once: the token's spacing gives each a slot ahead,
    # the hybrid's first.
    await hybrid.async_refresh()
    await pv_only.async_refresh()
    pv_calls = len(calls_of(cloud, PV_ONLY_WIFI_SN))
    cloud.inject(Fault(FaultKind.BAN))

    await time_machine.run(30, step=1)
    # The PV-only entry's slot came during the ban: it did not call.
    assert len(calls_of(cloud, PV_ONLY_WIFI_SN)) == pv_calls
    time, outcome = calls_of(cloud, HYBRID_WIFI_SN)[-1]
    assert outcome == "banned"
    assert budget.paused_until == time + timedelta(hours=1)
    assert pv_only.last_update_success

    await time_machine.run(3500, step=60)
    assert len(calls_of(cloud, PV_ONLY_WIFI_SN)) == pv_calls
    await time_machine.run(600, step=5)
    assert budget.paused_until is not None
    for wifi_sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN):
        resumed = [call for call in calls_of(cloud, wifi_sn) if call[0] > time]
        assert resumed, wifi_sn
        assert all(call_time >= budget.paused_until for call_time, _ in resumed)
        assert {outcome for _, outcome in resumed} == {"ok"}


async def test_inverter_added_during_a_pause_calls_when_it_ends(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    """The account's reload neither waits for the pause nor fails: the call goes after it."""
    account = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    now = dt_util.utcnow()
    until = account_budget(hass).pause(now, 1800)
    hass.config_entries.async_add_subentry(
        account, inverter_subentry(PV_ONLY_WIFI_SN, "Sunvec X1B30P4012")
    )
    await hass.async_block_till_done()
    assert account.state is ConfigEntryState.LOADED
    # The pause was kept across the reload.
    assert account_budget(hass).paused_until == until
    # Nothing kept from before and nothing fetched yet: no entities until the first upload.
    assert inverter_of(account, PV_ONLY_WIFI_SN).data is None
    assert hass.states.get("sensor.sunvec_x1b30p4012_ac_power") is None
    await time_machine.run(1790, step=60)
    assert calls_of(cloud, PV_ONLY_WIFI_SN) == []
    await time_machine.run(30, step=5)
    first_call, outcome = calls_of(cloud, PV_ONLY_WIFI_SN)[0]
    assert until <= first_call <= until + seconds(10)
    assert outcome == "ok"
    assert hass.states.get("sensor.sunvec_x1b30p4012_ac_power") is not None


async def test_form_check_has_room_beside_later_slots(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    budget = account_budget(hass)
    # The account's inverters hold slots minutes ahead; the minute around now has room.
    now = dt_util.utcnow()
    for _ in range(3):
        budget.reserve(now + timedelta(minutes=5))
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN},
    )
    # Added to the token's account.
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "added_to_account"
    assert calls_of(cloud, PV_ONLY_WIFI_SN)[0][0] == now


async def test_form_check_counts_slots_reserved_within_the_minute(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    budget = account_budget(hass)
    now = dt_util.utcnow()
    for offset in range(budget.window_limit - budget.calls_in_last_minute(now)):
        budget.reserve(now + seconds(10 + offset), spaced=False)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "token_busy"}
    assert calls_of(cloud, PV_ONLY_WIFI_SN) == []


# The account's calls, kept in storage ------------------------------------------


async def test_calls_of_a_forms_checks_count_for_the_account_set_up_next(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    time_machine: TimeMachine,
    sim_url: str,
    cloud: SunvecCloud,
) -> None:
    """The form's checks and the new account's first calls stay within the token's minute."""
    for attempt in range(3):
        # Typed wrong first: each refused check is a call of the token all the same.
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: f"SUTNOSUCH{attempt}"},
        )
        assert result["errors"] == {"base": "wifi_sn_not_found"}
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: HYBRID_WIFI_SN},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    # Kept under a hash of the address and token, never the token.
    assert ids_for(sim_url, TOKEN).calls_key in hass_storage
    assert TOKEN not in json.dumps(hass_storage)
    budget = account_budget(hass)
    now = dt_util.utcnow()
    # Four checks and the account's first poll.
    assert budget.calls_in_last_minute(now) == len(cloud.requests) == 5
    assert most_in_any_window([record.time for record in cloud.requests]) <= budget.window_limit


async def test_calls_live_with_the_account(
    hass: HomeAssistant, hass_storage: dict[str, Any], time_machine: TimeMachine, sim_url: str
) -> None:
    entry = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    budget = account_budget(hass)
    await time_machine.run(2 * 3600, step=300)
    calls = budget.calls_since(dt_util.utcnow() - DAY)
    assert calls > 10
    # Unloaded, the account keeps its calls (and any pause) in storage.
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert len(hass_storage[ids_for(sim_url, TOKEN).calls_key]["data"]["calls"]) == calls
    # A call of the unloaded account still under way writes nothing over what it kept.
    budget.reserve(dt_util.utcnow())
    await time_machine.run(900, step=300)
    assert len(hass_storage[ids_for(sim_url, TOKEN).calls_key]["data"]["calls"]) == calls
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert account_budget(hass) is not budget
    assert account_budget(hass).calls_since(dt_util.utcnow() - DAY) >= calls

    assert await hass.config_entries.async_remove(entry.entry_id)
    await hass.async_block_till_done()
    assert ids_for(sim_url, TOKEN).calls_key not in hass_storage


async def test_a_new_token_starts_with_its_own_calls(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    time_machine: TimeMachine,
    sim_url: str,
    cloud: SunvecCloud,
) -> None:
    """The cloud counts calls per token: after a new token the old one's are forgotten."""
    entry = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    account_budget(hass).pause(dt_util.utcnow(), 600)
    new_token = "sunvec-new-token-00000000001"
    cloud.add_account(new_token, list(cloud.plants))
    result = await entry.start_reauth_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_API_TOKEN: new_token}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert ids_for(sim_url, TOKEN).calls_key not in hass_storage
    budget = account_budget(hass, new_token)
    assert not budget.is_paused(dt_util.utcnow())
    assert cloud.requests[-1].outcome == "ok"


async def test_a_new_address_keeps_the_tokens_calls(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    cloud: SunvecCloud,
) -> None:
    """The cloud counts calls per token: reconfigured to another address, they still count."""
    entry = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    await time_machine.run(3600, step=300)
    calls = account_budget(hass).calls_since(dt_util.utcnow() - DAY)
    assert calls > 10
    # The same cloud at another address (another port).
    second = TestServer(create_app(cloud), host="127.0.0.1")
    await second.start_server(access_log=None)
    try:
        new_url = str(second.make_url("/")).rstrip("/")

        result = await entry.start_reconfigure_flow(hass)
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {CONF_URL: new_url, CONF_API_TOKEN: TOKEN}
        )
        assert result["reason"] == "reconfigure_successful"
        await hass.async_block_till_done()

        assert entry.unique_id == ids_for(new_url, TOKEN).unique_id != ids_for(sim_url).unique_id
        # Every call the cloud saw from the token counts, the form's check of the new address too.
        counted = account_budget(hass).calls_since(dt_util.utcnow() - DAY)
        assert counted == len(cloud.requests) > calls
    finally:
        await second.close()


# The pace of the token's entries and what is kept across restarts -------------


def test_pace_follows_the_entries_registered() -> None:
    budget = TokenBudget(per_minute=10, per_day=10_000, margin=1)
    assert budget.pace == Pace()
    hybrid = InverterDemand(cadence=300.0, online_fraction=1.0)
    for number in range(30):
        budget.register(f"entry{number}", hybrid)
    assert budget.pace.uploads_per_call == 1.0
    for number in range(30, 60):
        budget.register(f"entry{number}", hybrid)
    sixty = budget.pace.uploads_per_call
    assert sixty > 1.5
    # An entry learning that its inverter sleeps half the day frees calls.
    budget.register("entry0", InverterDemand(cadence=300.0, online_fraction=0.5))
    assert budget.pace.uploads_per_call < sixty
    for number in range(60):
        budget.unregister(f"entry{number}")
    assert budget.pace == Pace()


def test_calls_kept_free_is_the_most_any_entry_asks_for() -> None:
    budget = TokenBudget(per_minute=10, per_day=10_000, margin=1)
    demand = InverterDemand(cadence=300.0, online_fraction=1.0)
    budget.register("a", demand, calls_kept_free=0)
    assert (budget.window_limit, budget.daily_limit) == (10, 10_000)
    budget.register("b", demand, calls_kept_free=4)
    assert (budget.window_limit, budget.daily_limit) == (6, 9_960)
    assert budget.spacing == seconds(10)
    budget.unregister("b")
    assert budget.window_limit == 10
    budget.unregister("a")
    # No entry names a number: the default reserve.
    assert budget.calls_kept_free == 1


def test_calls_survive_a_restart() -> None:
    budget = TokenBudget()
    for hour in range(30):
        budget.reserve(T0 + timedelta(hours=hour))
    budget.pause(T0 + timedelta(hours=29), 600)
    now = T0 + timedelta(hours=29, minutes=1)
    ahead = budget.reserve(now + seconds(300))
    stored = json.loads(json.dumps(budget.as_stored(now)))
    kept = TokenBudget()
    kept.restore(stored, now)
    # The calls of the last 24 hours, to a tenth of a second; not the slot reserved ahead.
    assert kept.slots == [slot for slot in budget.slots if now - DAY < slot <= now]
    assert ahead not in kept.slots
    assert kept.paused_until == budget.paused_until
    # A pause the cloud named that long is a ban: it raises the repair issue again.
    assert kept.banned_until == budget.banned_until == budget.paused_until
    assert kept.backoff == budget.backoff
    # What does not fit is ignored.
    broken = TokenBudget()
    broken.restore({"calls": ["x", 1], "paused_until": "soon", "backoff": float("nan")}, now)
    assert (broken.slots, broken.paused_until, broken.backoff) == ([], None, 0.0)
    # A ban kept until the year 9999 (a clock that ran ahead): at most the longest pause.
    far = TokenBudget()
    far.restore(
        {"paused_until": "9999-01-01T00:00:00+00:00", "banned_until": "9999-01-01T00:00:00+00:00"},
        now,
    )
    assert far.paused_until == far.banned_until == now + MAX_PAUSE


def test_calls_read_back_from_this_runs_own_write_count_once() -> None:
    """Home Assistant's storage returns a write still pending: the budget's own calls."""
    budget = TokenBudget()
    budget.try_call_now(T0)
    budget.reserve(T0, spaced=False)  # a second call at the same moment
    budget.reserve(T0 + seconds(30))
    now = T0 + seconds(40)
    stored = json.loads(json.dumps(budget.as_stored(now)))
    budget.reserve(now)
    before = list(budget.slots)
    budget.restore(stored, now)
    assert budget.slots == before
    # Into a budget that holds one of the two calls at T0: the other is added.
    partial = TokenBudget()
    partial.try_call_now(T0)
    partial.restore(stored, now)
    assert partial.slots == [T0, T0, T0 + seconds(30)]


async def test_token_calls_survive_a_restart_of_home_assistant(
    hass: HomeAssistant,
    hass_storage: dict[str, Any],
    time_machine: TimeMachine,
    sim_url: str,
    cloud: SunvecCloud,
) -> None:
    """A restart does not forget the minute's calls: the first call waits for them."""
    entry = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    budget = coordinator_of(entry).budget
    now = dt_util.utcnow()
    for _ in range(budget.window_limit - 1):
        assert budget.try_call_now(now)
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert TOKEN not in json.dumps(hass_storage)

    # Home Assistant restarts at once: the calls come back from storage.
    hass.data.pop(THIS_RUN)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    restored = coordinator_of(entry).budget
    assert restored is not budget
    assert restored.calls_in_last_minute(now) == budget.window_limit
    calls = len(cloud.requests)
    await time_machine.run(50, step=5)
    assert len(cloud.requests) == calls
    await time_machine.run(30, step=5)
    assert len(cloud.requests) == calls + 1
    assert cloud.requests[-1].outcome == "ok"


def test_a_clock_set_back_moves_the_calls_with_it() -> None:
    """The system clock set back five hours: the next slot is at once, not in five hours.

    Before issue 17 the day's calls and the slots reserved lay hours ahead of the clock
    and nothing polled until it caught up. The calls keep their spacing, so the minute's
    and the day's limits still hold.
    """
    budget = TokenBudget(per_minute=10, per_day=10_000, margin=1)
    slots = [budget.reserve(T0 + timedelta(seconds=20 * i)) for i in range(5)]
    budget.pause(T0 + timedelta(seconds=100), 600)
    assert budget.paused_until == T0 + timedelta(seconds=700)
    now = T0 + timedelta(seconds=120) - timedelta(hours=5)
    slot = budget.reserve(now)
    # Moved by what the clock went back since the latest call asked for (at 80 s).
    back = T0 + timedelta(seconds=80) - now
    assert budget.paused_until == T0 + timedelta(seconds=700) - back
    assert slot == budget.paused_until
    assert budget.slots[:5] == [moment - back for moment in slots]
    assert not budget.holds(slots[0])
    assert budget.holds(slots[0] - back)
    # A late timer (seconds behind the latest time seen) moves nothing.
    assert budget.try_call_now(now + timedelta(seconds=900)) is True
    assert budget.try_call_now(now + timedelta(seconds=890)) is True
    assert budget.slots[0] == slots[0] - back
