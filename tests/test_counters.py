"""Examples of the counter rules that keep the energy dashboard right.

The general claims (safety and liveness) are checked on generated sequences in
test_counters_properties.py; these are the cases a reader should see spelled out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from custom_components.sunvec_connect.counters import (
    CONFIRM_BOUND,
    CONFIRM_SPAN,
    INVERTER_MAX_POWER_KW,
    PEAK_FLOOR_KW,
    DailyCounter,
    HeldSeries,
    LifetimeCounter,
    PowerIntegrator,
)
from custom_components.sunvec_connect.sensor import migrate_counter_data

from .ha_booking import booked

T0 = datetime(2026, 6, 21, 10, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=30)
"""A restart after every upload of these tests."""
FIVE = timedelta(minutes=5)


def at(minutes: float) -> datetime:
    """The upload time `minutes` after T0."""
    return T0 + timedelta(minutes=minutes)


def feed(
    counter: LifetimeCounter | DailyCounter, readings: Sequence[tuple[float | None, datetime]]
) -> list[float | None]:
    """Offer each reading; return what is shown after each."""
    return [counter.offer(reading, moment) for reading, moment in readings]


def test_lifetime_counter_holds_back_single_glitches() -> None:
    counter = LifetimeCounter()
    assert counter.offer(None, at(0)) is None
    assert counter.rejected == 0
    assert counter.offer(0.0, at(0)) is None
    assert counter.rejected == 1
    assert counter.offer(100.0, at(5)) == 100.0  # no history: the first reading is trusted
    glitches = [0.0, None, 99.9, -5.0, 99999.0]
    shown = feed(counter, [(glitch, at(10 + 5 * i)) for i, glitch in enumerate(glitches)])
    assert shown == [100.0] * 5
    assert counter.rejected == 6
    # The series goes on where it was: the held-back spike is dropped.
    assert counter.offer(100.1, at(40)) == 100.1
    assert counter.held is None
    assert (counter.resets, counter.jumps) == (0, 0)


def test_lifetime_counter_rise_bound() -> None:
    counter = LifetimeCounter()
    counter.offer(100.0, at(0))
    # Without a rise seen yet, at most 30 kW * 5 min = 2.5 kWh, plus the resolution.
    most = 100.0 + PEAK_FLOOR_KW * 5 / 60 + 0.1
    assert counter.offer(most + 0.01, at(5)) == 100.0
    assert counter.offer(most, at(5.01)) == pytest.approx(most)
    assert counter.peak_kw == pytest.approx(PEAK_FLOOR_KW, rel=0.01)
    # Seen rising at 30 kW, it may rise at up to three times that (never over 200 kW).
    assert counter.learned_power_kw == pytest.approx(3 * PEAK_FLOOR_KW, rel=0.01)
    # A rise over an 8-hour outage is large but plausible.
    assert counter.offer(most + 700.0, at(5 + 8 * 60)) == pytest.approx(most + 700.0)
    # An upload older than the one shown, or the same time with another value, is ignored.
    assert counter.offer(most + 700.5, at(5 + 8 * 60)) == pytest.approx(most + 700.0)
    assert counter.offer(most + 701.0, at(60)) == pytest.approx(most + 700.0)
    assert counter.rejected == 3
    assert counter.learned_power_kw <= INVERTER_MAX_POWER_KW


def test_a_glitch_and_a_wrong_series_do_not_chain_into_an_hour() -> None:
    """A zero, then another device's lower counter for 50 minutes: never shown.

    Before, the two formed one held series lasting an hour (its steps rose faster than
    the plant ever did, but slower than 200 kW) and passed for a new meter.
    """
    counter = LifetimeCounter()
    for step in range(12):
        counter.offer(2400.0 + 0.4 * step, at(5 * step))  # about 5 kW
    assert counter.offer(0.0, at(60)) == pytest.approx(2404.4)
    wrong = [(1200.0 + 0.1 * i, at(75 + 5 * i)) for i in range(10)]
    assert feed(counter, wrong)[-1] == pytest.approx(2404.4)
    assert counter.held is not None
    assert (counter.held.steady_time or counter.held.first_time) >= at(75)
    assert counter.offer(2406.0, at(125)) == 2406.0
    assert (counter.resets, counter.jumps) == (0, 0)


def test_lifetime_counter_accepts_a_new_meter() -> None:
    """The inverter behind the Wi-Fi module replaced: its counter starts again."""
    counter = LifetimeCounter()
    counter.offer(2465.1, at(0))
    shown = feed(counter, [(0.0, at(5)), (0.3, at(10)), (0.4, at(15)), (0.6, at(20))])
    # Zero is never a reading; 0.3, 0.4, 0.6 agree, but for less than an hour: held.
    assert shown == [2465.1] * 4
    assert counter.offer(0.9, at(10) + CONFIRM_SPAN) == 0.9
    assert (counter.resets, counter.jumps, counter.rejected) == (1, 0, 4)
    assert counter.offer(1.0, at(75)) == 1.0


def test_lifetime_counter_never_shows_a_lower_series_that_returns() -> None:
    """Route 2 of issue 17: another device's counter served for minutes, then the truth.

    The cloud serves 0.6, 0.7, 0.8 for 10 minutes, then 2465.4 again. Before issue 17 the
    lower series was a new meter after 10 minutes and the return a jump: Home Assistant
    booked 2466 kWh for a true 1 kWh (fails on the code before it).
    """
    counter = LifetimeCounter()
    counter.offer(2465.2, at(0))
    wrong = [(0.6, at(5)), (0.7, at(10)), (0.8, at(15)), (0.8, at(55))]
    assert feed(counter, wrong) == [2465.2] * 4
    assert counter.offer(2465.4, at(60)) == 2465.4
    assert (counter.resets, counter.jumps) == (0, 0)


def test_lifetime_counter_confirms_a_jump_only_when_the_series_goes_on() -> None:
    counter = LifetimeCounter()
    counter.offer(100.0, at(0))
    # A spike, two uploads that continue from it, but not yet an hour: held.
    assert feed(counter, [(5000.0, at(5)), (5000.2, at(8)), (5000.3, at(12))]) == [100.0] * 3
    assert counter.held == HeldSeries(5000.0, at(5), 5000.3, at(12), uploads=3, steady_uploads=3)
    assert counter.offer(5000.5, at(5) + CONFIRM_SPAN) == 5000.5
    assert (counter.resets, counter.jumps) == (0, 1)


def test_lifetime_counter_needs_an_hour_for_a_value_that_does_not_move() -> None:
    """The same wrong value repeated is not a meter until it has lasted an hour."""
    counter = LifetimeCounter()
    counter.offer(100.0, at(0))
    flat = [(50.0, at(5 * i)) for i in range(1, 13)]
    assert feed(counter, flat) == [100.0] * 12
    assert counter.offer(50.0, at(5) + CONFIRM_SPAN) == 50.0
    assert counter.resets == 1


def test_lifetime_counter_held_series_restarts_on_a_reading_that_does_not_follow() -> None:
    counter = LifetimeCounter()
    counter.offer(100.0, at(0))
    feed(counter, [(50.0, at(5)), (50.1, at(10)), (20.0, at(15)), (20.1, at(20))])
    assert counter.value == 100.0
    assert counter.held == HeldSeries(20.0, at(15), 20.1, at(20), uploads=2, steady_uploads=2)
    assert counter.offer(20.2, at(25)) == 100.0
    assert counter.offer(20.3, at(15) + CONFIRM_SPAN) == 20.3


def test_lifetime_counter_restore() -> None:
    counter = LifetimeCounter()
    feed(counter, [(100.0, at(0)), (50.0, at(5)), (50.1, at(10))])
    saved = json.loads(json.dumps(counter.as_dict()))
    restored = LifetimeCounter()
    restored.restore(saved, LATER)
    assert (restored.value, restored.time, restored.held) == (100.0, at(0), counter.held)
    # The held series goes on across the restart.
    assert restored.offer(50.1, at(10)) == 100.0  # the same upload offered again
    assert restored.offer(50.2, at(15)) == 100.0
    assert restored.offer(50.3, at(5) + CONFIRM_SPAN) == 50.3
    assert restored.resets == 1
    assert restored.rejected == 1


def migrated(stored: dict[str, object], last_updated: datetime | None) -> dict[str, Any]:
    """Restore data of version 1 as the sensor migrates it (the entity's state written then)."""
    return migrate_counter_data(stored, last_updated, "01INVERTER", T0 - timedelta(days=1))


def test_lifetime_counter_restores_history_of_older_releases() -> None:
    """Older releases stored only the value: the time it was saved bounds the next rise."""
    counter = LifetimeCounter()
    counter.restore(migrated({"value": 100.0}, at(1)), LATER)
    assert (counter.value, counter.time) == (100.0, at(1))
    assert counter.offer(100.0, at(0)) == 100.0  # the upload shown before the restart
    assert counter.rejected == 0
    assert counter.offer(99999.0, at(5)) == 100.0
    without_time = LifetimeCounter()
    without_time.restore(migrated({"value": 100.0}, None), LATER)
    assert without_time.offer(99.0, at(5)) == 100.0
    assert without_time.offer(150.0, at(10)) == 150.0  # a rise cannot be judged: taken


def test_counters_kept_while_the_clock_ran_ahead_go_on_at_once() -> None:
    """Kept with a time a day ahead: the energy is booked as it comes, not a day later.

    Home Assistant books what the counters show; the plant makes 2 kW for six hours
    after the restart, read every five minutes to the counter's 0.1 kWh.
    """
    ahead = (T0 + timedelta(days=1)).isoformat()
    lifetime = LifetimeCounter()
    lifetime.restore({"value": 1000.0, "time": ahead, "held": None}, T0)
    integrator = PowerIntegrator(max_gap=timedelta(minutes=15))
    integrator.restore({"total": 50.0, "last_time": ahead, "last_power": 2000.0}, T0)
    shown: list[float | None] = [1000.0]
    integrated: list[float | None] = [50.0]
    for upload in range(1, 73):
        moment = at(5 * upload)
        shown.append(lifetime.offer(round(1000.0 + upload / 6, 1), moment))
        integrated.append(integrator.offer(2000.0, moment))
    # Each hour books its 2 kWh: the first upload after the restart is taken.
    for hour in range(6):
        assert booked(shown[: 12 * hour + 13]) == pytest.approx(2.0 * (hour + 1), abs=0.1)
        assert booked(integrated[: 12 * hour + 13]) == pytest.approx(2.0 * (hour + 1), abs=0.2)
    assert lifetime.rejected == 0


@pytest.mark.parametrize(
    "junk",
    [
        {},
        {"value": "x"},
        {"value": True},
        {"value": -1},
        {"value": 0},
        {"value": float("nan")},
        {"value": float("inf")},
    ],
)
def test_lifetime_counter_ignores_junk(junk: dict[str, object]) -> None:
    counter = LifetimeCounter()
    counter.restore(junk, LATER)
    assert counter.value is None


@pytest.mark.parametrize(
    "held",
    [
        "x",
        {"first_value": 1.0},
        {"first_value": 1.0, "first_time": "now", "value": 1.0, "time": "now", "uploads": 1},
        {
            "first_value": 1.0,
            "first_time": "2026-06-21T10:00:00",  # no zone: not comparable
            "value": 1.0,
            "time": "2026-06-21T10:00:00",
            "uploads": 1,
        },
        {
            "first_value": 1.0,
            "first_time": "2026-06-21T10:05:00+00:00",
            "value": 1.0,
            "time": "2026-06-21T10:00:00+00:00",  # before it began
            "uploads": 2,
        },
        {
            "first_value": 1.0,
            "first_time": "2026-06-21T10:00:00+00:00",
            "value": 1.0,
            "time": "2026-06-21T10:00:00+00:00",
            "uploads": True,
        },
    ],
)
def test_held_series_ignores_junk(held: object) -> None:
    counter = LifetimeCounter()
    counter.restore({"value": 5.0, "time": T0.isoformat(), "held": held}, LATER)
    assert (counter.value, counter.time, counter.held) == (5.0, T0, None)


def test_daily_counter_falls_at_once_only_on_a_new_day() -> None:
    counter = DailyCounter(zone=UTC)
    assert counter.offer(None, at(0)) is None
    assert counter.rejected == 0
    assert counter.offer(5.0, at(0)) == 5.0
    assert counter.offer(4.0, at(5)) == 5.0  # a same-day drop: held back
    assert counter.offer(None, at(10)) == 5.0
    assert counter.offer(6.0, None) == 5.0
    assert counter.offer(-1.0, at(15)) == 5.0
    assert counter.rejected == 4
    assert counter.offer(5.2, at(20)) == 5.2  # the series goes on: the drop is dropped
    next_day = T0 + timedelta(days=1)
    assert counter.offer(0.1, next_day) == 0.1
    assert counter.offer(9.0, at(30)) == 0.1  # an upload from the day before
    assert counter.resets == 0
    restored = DailyCounter(zone=UTC)
    restored.restore(json.loads(json.dumps(counter.as_dict())), LATER)
    assert (restored.value, restored.time, restored.day) == (0.1, next_day, next_day.date())


def test_daily_counter_resets_after_home_assistants_midnight() -> None:
    """The inverter restarts its day at 00:30: after HA's midnight, with uploads between."""
    zone = ZoneInfo("Europe/Amsterdam")
    counter = DailyCounter(zone=zone)
    evening = datetime(2026, 6, 21, 23, 50, tzinfo=zone)
    readings = [(35.2, evening), (35.2, evening + FIVE)]
    readings += [(35.2, evening + timedelta(minutes=15 + 5 * i)) for i in range(6)]
    readings += [(0.0, evening + timedelta(minutes=45)), (0.0, evening + timedelta(minutes=50))]
    assert feed(counter, readings) == [35.2] * 8 + [0.0, 0.0]
    assert (counter.rejected, counter.resets) == (0, 0)
    # The new day has begun: a second drop that day is a glitch.
    assert counter.offer(0.0, evening + timedelta(hours=10)) == 0.0
    assert counter.offer(1.5, evening + timedelta(hours=10, minutes=5)) == 1.5
    assert counter.offer(0.0, evening + timedelta(hours=10, minutes=10)) == 1.5


def test_daily_counter_before_home_assistants_midnight() -> None:
    """The inverter restarts its day at 23:45: held back until HA's date changes."""
    zone = ZoneInfo("Europe/Amsterdam")
    counter = DailyCounter(zone=zone)
    evening = datetime(2026, 6, 21, 23, 40, tzinfo=zone)
    readings = [(35.2, evening), (0.0, evening + FIVE), (0.0, evening + 2 * FIVE)]
    readings += [(0.0, evening + 3 * FIVE), (0.0, evening + 4 * FIVE)]
    assert feed(counter, readings) == [35.2, 35.2, 35.2, 35.2, 0.0]
    assert counter.resets == 0


def test_daily_counter_accepts_a_persistent_same_day_decrease() -> None:
    """An inverter restarts its day counter at noon: shown once it lasted an hour."""
    counter = DailyCounter(zone=UTC)
    counter.offer(20.0, at(0))
    shown = feed(counter, [(0.1, at(5)), (0.3, at(10)), (0.6, at(15)), (0.9, at(20))])
    assert shown == [20.0] * 4
    assert counter.offer(2.0, at(65)) == 2.0
    assert counter.offer(2.1, at(70)) == 2.1
    assert counter.resets == 1
    assert counter.day == T0.date()


def test_daily_counter_day_starting_with_a_rise_is_todays() -> None:
    """Route 1 of issue 17: a day that starts without a fall is the plant's new day.

    Yesterday read 0.0 all day (snow); today 0, 1, 2, 3, 4.0, one 0.0 glitch, then 4.1.
    Before issue 17 the count's date moved only on a fall, so the glitch passed as "the
    first fall on a later date": shown 4.0 -> 0.0 -> 4.1, booked 8.1 kWh for a true 4.1
    (fails on the code before it).
    """
    counter = DailyCounter()

    def plant(moment: datetime) -> datetime:
        return moment.replace(tzinfo=None)

    for minutes in range(0, 600, 60):
        counter.offer(0.0, at(minutes), plant(at(minutes)))
    morning = at(24 * 60)
    rising = [0.0, 1.0, 2.0, 3.0, 4.0]
    times = [morning + i * FIVE for i in range(7)]
    shown = [counter.offer(v, t, plant(t)) for v, t in zip(rising, times, strict=False)]
    assert shown == rising
    assert counter.day == morning.date()
    assert counter.offer(0.0, times[5], plant(times[5])) == 4.0
    assert counter.offer(4.1, times[6], plant(times[6])) == 4.1
    assert counter.resets == 0


def test_daily_counter_repeating_yesterdays_count_does_not_make_it_todays() -> None:
    """Yesterday's count served after the inverter's midnight stays yesterday's.

    The fall after it is the new day's, taken at once.
    """
    counter = DailyCounter()
    evening = datetime(2026, 6, 21, 23, 55)
    counter.offer(35.2, at(0), evening)
    assert counter.offer(35.2, at(5), evening + FIVE) == 35.2
    assert counter.day == evening.date()
    assert counter.offer(0.0, at(10), evening + 2 * FIVE) == 0.0
    assert counter.day == evening.date() + timedelta(days=1)
    # Served again after the reset, yesterday's count is no rise of the new day.
    assert counter.offer(35.2, at(15), evening + 3 * FIVE) == 0.0
    assert counter.offer(0.1, at(20), evening + 4 * FIVE) == 0.1
    assert counter.previous == 35.2


def test_daily_counter_new_day_count_bounded_by_the_time_since_midnight() -> None:
    """A count on a new plant date cannot exceed what a plant makes since its midnight."""
    counter = DailyCounter()
    evening = datetime(2026, 6, 21, 23, 55)
    counter.offer(80.0, at(0), evening)
    # 00:05: at most 200 kW for 5 minutes (16.7 kWh) since midnight.
    assert counter.offer(40.0, at(10), evening + 2 * FIVE) == 80.0
    assert counter.offer(0.2, at(15), evening + 3 * FIVE) == 0.2


def test_daily_counter_new_day_rise_without_the_inverters_time_waits_for_its_series() -> None:
    """Without the inverter's time of day, a rise onto a new date may be yesterday's count.

    It is held like a wrong series and shown once it rose on for an hour.
    """
    counter = DailyCounter()
    counter.offer(1.0, at(0))  # the dates come from the upload times (UTC)
    midnight = at(0).replace(hour=0, minute=0) + timedelta(days=1)
    night = [midnight + timedelta(minutes=10) + step * FIVE for step in range(13)]
    shown = [counter.offer(round(1.5 + 0.1 * step, 1), t) for step, t in enumerate(night)]
    assert shown == [1.0] * 12 + [2.7]
    assert counter.day == midnight.date()
    assert counter.jumps == 1


def test_daily_counter_restores_history_of_older_releases() -> None:
    counter = DailyCounter(zone=UTC)
    counter.restore(migrated({"value": 80.0, "day": "2026-06-21"}, at(0)), LATER)
    assert (counter.value, counter.time, counter.day) == (80.0, at(0), T0.date())
    assert counter.offer(15.0, at(5)) == 80.0
    for junk in (
        {},
        {"value": 1.0, "day": 5},
        {"value": 1.0, "day": "yesterday"},
        {"value": -1.0, "day": "2026-06-21"},
    ):
        fresh = DailyCounter(zone=UTC)
        fresh.restore(junk, LATER)
        assert (fresh.value, fresh.day) == (None, None)


def test_power_integrator() -> None:
    integrator = PowerIntegrator(max_gap=timedelta(minutes=15))
    assert integrator.offer(1000.0, None) == 0
    assert integrator.offer(1000.0, T0) == 0
    assert integrator.offer(3000.0, at(30)) == 0  # gap: not bridged
    assert integrator.offer(3000.0, at(35)) == 0.25
    assert integrator.offer(9999.0, at(35)) == 0.25  # same upload again
    assert integrator.offer(None, at(40)) == 0.25  # no power: restart
    assert integrator.offer(1000.0, at(45)) == 0.25
    assert integrator.offer(1000.0, at(51)) == 0.35
    restored = PowerIntegrator(max_gap=timedelta(minutes=15))
    restored.restore(json.loads(json.dumps(integrator.as_dict())), LATER)
    assert restored.offer(1000.0, at(57)) == 0.45
    for junk in (
        {},
        {"total": -1},
        {"total": 1.0, "last_time": "not a time", "last_power": 5},
        {"total": 1.0, "last_time": "2026-06-21T10:00:00", "last_power": 5},
    ):
        fresh = PowerIntegrator(max_gap=timedelta(minutes=15))
        fresh.restore(junk, LATER)
        assert fresh.last_time is None


def test_held_series_broken_by_a_gap_of_more_than_an_hour() -> None:
    """Two wrong series around an outage are not one: each must last the hour itself."""
    counter = LifetimeCounter()
    counter.offer(2400.0, at(0))
    feed(counter, [(1200.0, at(5)), (1200.1, at(10))])
    # Home Assistant was down for five hours; the next wrong reading starts anew.
    assert counter.offer(1200.2, at(10 + 300)) == 2400.0
    assert counter.held is not None
    assert (counter.held.first_time, counter.held.uploads) == (at(310), 1)


def test_fast_series_believed_after_the_bound() -> None:
    """A series faster than the plant was seen rising is shown after `CONFIRM_BOUND`.

    A bigger plant behind the module: liveness does not depend on the learned power.
    """
    counter = LifetimeCounter()
    for step in range(6):
        counter.offer(1000.0 + 0.2 * step, at(5 * step))  # about 2.4 kW
    start = at(30)
    fast = [(500.0 + 8.0 * i, start + timedelta(minutes=5 * i)) for i in range(40)]
    shown = feed(counter, fast)
    # 96 kW: over the learned power, so an hour is not enough; three hours are.
    assert shown[12] == pytest.approx(1001.0)
    confirmed = next(i for i, value in enumerate(shown) if value != pytest.approx(1001.0))
    assert fast[confirmed][1] - start >= CONFIRM_BOUND
    assert counter.resets == 1


def test_held_series_and_learned_power_survive_a_restart() -> None:
    counter = LifetimeCounter()
    feed(counter, [(100.0, at(0)), (100.5, at(5)), (50.0, at(10)), (60.0, at(15))])
    saved = json.loads(json.dumps(counter.as_dict()))
    restored = LifetimeCounter()
    restored.restore(saved, LATER)
    assert restored.peak_kw == counter.peak_kw > 0
    assert restored.held == counter.held
    assert restored.held is not None
    assert restored.held.steady_time == at(15)
    # Junk in the kept steadiness counts the whole series as steady.
    for junk in ({"steady_time": "soon"}, {"steady_uploads": 7}, {"steady_uploads": True}):
        stored = {**saved, "held": {**saved["held"], **junk}}
        restored.restore(stored, LATER)
        assert restored.held is not None
        assert (restored.held.steady_time, restored.held.steady_uploads) == (
            None,
            restored.held.uploads,
        )
