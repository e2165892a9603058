"""The sun at Home Assistant's location: how long the day is, and whether it is deep night."""

from __future__ import annotations

from datetime import datetime, timedelta

from homeassistant.const import SUN_EVENT_SUNRISE, SUN_EVENT_SUNSET
from homeassistant.core import HomeAssistant
from homeassistant.helpers.sun import get_astral_event_next

from .const import DAYLIGHT_MARGIN, NIGHT_UPLOAD_MARGIN


def daylight_fraction(hass: HomeAssistant, now: datetime) -> float | None:
    """Share of the day from sunrise to sunset at Home Assistant's location, with a margin.

    None when the sun's times are not known there (polar day or night).
    """
    try:
        sunrise = get_astral_event_next(hass, SUN_EVENT_SUNRISE, now - timedelta(hours=24))
        sunset = get_astral_event_next(hass, SUN_EVENT_SUNSET, sunrise)
    except ValueError:
        return None
    daylight = sunset - sunrise
    # No sunrise within the day (polar day or night; the next one is months away).
    if sunrise > now + timedelta(hours=24) or daylight > timedelta(hours=24):
        return None
    return min(1.0, (daylight + DAYLIGHT_MARGIN) / timedelta(hours=24))


def next_sunrise(hass: HomeAssistant, moment: datetime) -> datetime | None:
    """The first sunrise after `moment` at Home Assistant's location.

    None when there is none within a day (polar day or night).
    """
    try:
        sunrise = get_astral_event_next(hass, SUN_EVENT_SUNRISE, moment)
    except ValueError:
        return None
    return sunrise if sunrise - moment <= timedelta(hours=24) else None


def is_deep_night(hass: HomeAssistant, moment: datetime) -> bool:
    """Whether the sun is down at `moment`, and has been and will be for a while."""
    try:
        next_sunrise = get_astral_event_next(hass, SUN_EVENT_SUNRISE, moment)
        next_sunset = get_astral_event_next(hass, SUN_EVENT_SUNSET, moment)
        last_sunset = get_astral_event_next(hass, SUN_EVENT_SUNSET, moment - timedelta(hours=24))
    except ValueError:
        return False
    return (
        next_sunrise < next_sunset
        and next_sunrise - moment > NIGHT_UPLOAD_MARGIN
        and moment - last_sunset > NIGHT_UPLOAD_MARGIN
    )
