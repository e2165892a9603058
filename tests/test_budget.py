"""Tests for the token budget: limits, pauses, the form's check and the registry."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
from hypothesis import given, seed, settings, strategies as st
import pytest

from custom_components.sunvec_connect.budget import (
    MAX_PAUSE,
    SLOT_SLACK,
    WINDOW,
    TokenBudget,
    token_budget,
    token_budgets,
)
from custom_components.sunvec_connect.const import CONF_WIFI_SN, DOMAIN
from simulator import Fault, FaultKind, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import TOKEN, TimeMachine, entry_for, setup_entry

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


def test_daily_limit() -> None:
    budget = TokenBudget(per_minute=1000, per_day=5, margin=0)
    slots = [budget.reserve(T0, spaced=False) for _ in range(6)]
    assert slots[:5] == [T0] * 5
    assert slots[5] == datetime(2026, 6, 22, tzinfo=UTC)
    # The form's check finds no room either, until the next day.
    assert not budget.try_call_now(T0 + seconds(3600))
    assert budget.try_call_now(datetime(2026, 6, 22, 0, 5, tzinfo=UTC))


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
        st.floats(min_value=0, max_value=90),
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
    calls: list[datetime] = []
    for wait, operation, retry_after in steps:
        now += seconds(wait)
        if operation == "pause":
            budget.pause(now, retry_after)
        elif operation == "check":
            day_full = sum(1 for call in calls if call.date() == now.date()) >= budget.daily_limit
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
    per_day = Counter(call.date() for call in calls)
    assert max(per_day.values(), default=0) <= budget.daily_limit


# Entries and the form on one token --------------------------------------------


def calls_of(cloud: SunvecCloud, wifi_sn: str) -> list[tuple[datetime, str]]:
    return [(record.time, record.outcome) for record in cloud.requests if record.wifi_sn == wifi_sn]


async def test_ban_of_one_entry_stops_the_others_reserved_call(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    hybrid = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    pv_only = await setup_entry(hass, entry_for(sim_url, PV_ONLY_WIFI_SN))
    budget = hybrid.runtime_data.budget
    assert pv_only.runtime_data.budget is budget
    # Both ask for a refresh at once: the token's spacing gives each a slot ahead,
    # the hybrid's first.
    await hybrid.runtime_data.async_refresh()
    await pv_only.runtime_data.async_refresh()
    pv_calls = len(calls_of(cloud, PV_ONLY_WIFI_SN))
    cloud.inject(Fault(FaultKind.BAN))

    await time_machine.run(30, step=1)
    # The PV-only entry's slot came during the ban: it did not call.
    assert len(calls_of(cloud, PV_ONLY_WIFI_SN)) == pv_calls
    time, outcome = calls_of(cloud, HYBRID_WIFI_SN)[-1]
    assert outcome == "banned"
    assert budget.paused_until == time + timedelta(hours=1)
    assert pv_only.runtime_data.last_update_success

    await time_machine.run(3500, step=60)
    assert len(calls_of(cloud, PV_ONLY_WIFI_SN)) == pv_calls
    await time_machine.run(600, step=5)
    assert budget.paused_until is not None
    for wifi_sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN):
        resumed = [call for call in calls_of(cloud, wifi_sn) if call[0] > time]
        assert resumed, wifi_sn
        assert all(call_time >= budget.paused_until for call_time, _ in resumed)
        assert {outcome for _, outcome in resumed} == {"ok"}


async def test_ban_during_setup_wait_is_respected(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    """A pause that starts while an entry waits for its setup slot holds that entry back."""
    hybrid = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    budget = hybrid.runtime_data.budget
    now = dt_util.utcnow()
    budget.pause(now, 1800)
    pv_only = await setup_entry(hass, entry_for(sim_url, PV_ONLY_WIFI_SN))
    assert pv_only.state is ConfigEntryState.SETUP_RETRY
    assert calls_of(cloud, PV_ONLY_WIFI_SN) == []


async def test_form_check_has_room_beside_later_slots(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    budget = token_budget(hass, TOKEN)
    # Another entry holds slots minutes ahead; the minute around now has room.
    now = dt_util.utcnow()
    for _ in range(3):
        budget.reserve(now + timedelta(minutes=5))
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN},
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert calls_of(cloud, PV_ONLY_WIFI_SN)[0][0] == now


async def test_form_check_counts_slots_reserved_within_the_minute(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    budget = token_budget(hass, TOKEN)
    now = dt_util.utcnow()
    for offset in range(budget.window_limit):
        budget.reserve(now + seconds(10 + offset), spaced=False)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: PV_ONLY_WIFI_SN},
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "token_busy"}
    assert cloud.requests == []


# The registry ----------------------------------------------------------------


async def test_budget_of_a_token_typed_into_the_form_is_dropped(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str
) -> None:
    registry = token_budgets(hass)
    for attempt in range(5):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {CONF_URL: sim_url, CONF_API_TOKEN: f"wrong-{attempt}", CONF_WIFI_SN: HYBRID_WIFI_SN},
        )
        assert result["errors"] == {"base": "invalid_auth"}
        hass.config_entries.flow.async_abort(result["flow_id"])
    assert len(registry) == 5
    # Within the minute the check's call still counts against the token.
    await time_machine.run(30, step=30)
    assert len(registry) == 5
    await time_machine.run(40, step=40)
    assert len(registry) == 0


async def test_budget_of_an_entry_lives_with_the_entry(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str
) -> None:
    entry = await setup_entry(hass, entry_for(sim_url, HYBRID_WIFI_SN))
    budget = entry.runtime_data.budget
    await time_machine.run(2 * 3600, step=300)
    assert token_budget(hass, TOKEN) is budget
    # Unloaded, the entry still uses its token: its budget (and any pause) stays.
    assert await hass.config_entries.async_unload(entry.entry_id)
    await time_machine.run(3600, step=600)
    assert token_budget(hass, TOKEN) is budget

    assert await hass.config_entries.async_remove(entry.entry_id)
    await time_machine.run(120, step=60)
    assert len(token_budgets(hass)) == 0


async def test_unused_budget_is_kept_while_paused(
    hass: HomeAssistant, time_machine: TimeMachine
) -> None:
    budget = token_budget(hass, "a-token-no-entry-uses")
    budget.pause(dt_util.utcnow(), 600)
    await time_machine.run(590, step=60)
    assert len(token_budgets(hass)) == 1
    await time_machine.run(20, step=10)
    assert len(token_budgets(hass)) == 0
