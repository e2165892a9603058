"""The integration's energies against the simulator's 1-second truth (pure measurement).

The figures behind the README's energy-dashboard recommendation (docs/accuracy.md); the
real integration is measured over loopback in tests/test_soak.py.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from benchmarks.energy_accuracy import DAY, PLANTS, measure_plant
from simulator import Weather

DAY_AFTER = DAY + timedelta(days=1)
GOAL_PERCENT = 2.0
"""The issue's goal for a PV-only plant on a broken-cloud day."""
ROUNDING_KWH = 0.1
"""The yield counters come rounded to 0.1 kWh: a rise read from two of them is within
0.1 kWh of the truth, a day's total read from one within 0.05 kWh."""


@pytest.mark.parametrize("plant", list(PLANTS))
def test_sampled_energy_is_exact_under_a_clear_sky(plant: str) -> None:
    measured = measure_plant(plant, Weather.CLEAR, DAY, DAY_AFTER)
    # Smooth power: the trapezoid of 5-minute samples is as good as the 1-second truth.
    assert abs(measured["pv_energy"].error) < 0.05
    if plant == "hybrid":
        # The battery's corners (full, empty, at its power limit) fall between samples.
        assert abs(measured["battery_charge_energy"].error) < 1.5
        assert abs(measured["battery_discharge_energy"].error) < 1.5


@pytest.mark.parametrize("weather", list(Weather))
@pytest.mark.parametrize("plant", list(PLANTS))
def test_metered_yield_is_within_its_rounding_in_any_weather(plant: str, weather: Weather) -> None:
    measured = measure_plant(plant, weather, DAY, DAY_AFTER)
    total, today = measured["yield_total"], measured["yield_today"]
    assert total.truth > 5
    assert abs(total.estimate - total.truth) <= ROUNDING_KWH + 1e-9
    assert abs(today.estimate - today.truth) <= ROUNDING_KWH / 2 + 1e-9


def test_pv_only_goal_is_met_by_the_yield_counter_not_by_the_samples() -> None:
    """On broken-cloud days, Total yield is within 2 % of the truth, the integral is not.

    This is why the README recommends Total yield as a PV-only plant's solar production.
    """
    yield_errors, sampled_errors = [], []
    for seed in range(1, 11):
        measured = measure_plant("PV-only", Weather.BROKEN, DAY, DAY_AFTER, seed)
        yield_errors.append(abs(measured["yield_total"].error))
        sampled_errors.append(abs(measured["pv_energy"].error))
    assert max(yield_errors) < GOAL_PERCENT / 4
    assert max(sampled_errors) > GOAL_PERCENT


def test_a_week_averages_the_sampling_error_out() -> None:
    week = measure_plant("PV-only", Weather.BROKEN, DAY - timedelta(days=6), DAY_AFTER)
    day = measure_plant("PV-only", Weather.BROKEN, DAY, DAY_AFTER)
    assert week["pv_energy"].truth > 6 * day["pv_energy"].truth
    # Each day's sampling error is random in sign: a week's relative error is smaller
    # than a typical day's (2.4 %, the median of 30 broken-cloud days).
    assert abs(week["pv_energy"].error) < 2.0
