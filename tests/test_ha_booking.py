"""The replay of Home Assistant's booking (tests/ha_booking.py) is what the recorder compiles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.components.sensor import SensorDeviceClass, SensorStateClass
from homeassistant.const import ATTR_DEVICE_CLASS, ATTR_UNIT_OF_MEASUREMENT, UnitOfEnergy
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
    do_adhoc_statistics,
    statistics_during_period,
)

from .ha_booking import booked


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(recorder_mock: Recorder) -> None:
    """The recorder starts before Home Assistant (no custom integration is needed here)."""


SERIES = [
    [10.0, 10.5, 11.0, 0.0, 0.4, 0.9],  # a new cycle
    [10.0, 9.5, 9.8, 12.0],  # a dip is added as it is
    [5.0, None, 5.2, 4.7, 0.0, 0.0, 0.3],  # unknown skipped; a dip; a new cycle
    [2465.2, 0.6, 0.7, 0.8, 2465.4],  # what route 2 of issue 17 showed before
    [4.0, 4.0, 0.0, 3.8, 0.0, 4.1],
]


@pytest.mark.parametrize("series", SERIES)
async def test_replay_books_what_the_recorder_compiles(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: Any,
    series: list[float | None],
) -> None:
    """The replay equals the sum the recorder compiles from the same states.

    Over two compile periods: the sum is carried from one to the next.
    """
    await async_setup_component(hass, "sensor", {})
    start = dt_util.utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    attributes = {
        ATTR_DEVICE_CLASS: SensorDeviceClass.ENERGY,
        "state_class": SensorStateClass.TOTAL_INCREASING,
        ATTR_UNIT_OF_MEASUREMENT: UnitOfEnergy.KILO_WATT_HOUR,
    }
    half = len(series) // 2
    for period, values in enumerate((series[:half], series[half:])):
        period_start = start + timedelta(minutes=5 * period)
        for step, value in enumerate(values):
            freezer.move_to(period_start + timedelta(seconds=10 * (step + 1)))
            hass.states.async_set(
                "sensor.energy", "unknown" if value is None else str(value), attributes
            )
            await async_wait_recording_done(hass)
    for period in range(2):
        do_adhoc_statistics(hass, start=start + timedelta(minutes=5 * period))
        await async_wait_recording_done(hass)
    stats = statistics_during_period(hass, start, period="5minute")
    compiled = stats["sensor.energy"][-1]["sum"]
    assert compiled == pytest.approx(booked(series))
