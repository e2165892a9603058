"""Diagnostics for Sunvec Connect: what a maintainer needs, without secrets."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.helpers.device_registry import DeviceEntry
from homeassistant.helpers.entity_platform import async_get_platforms
from homeassistant.util import dt as dt_util

from .const import CONF_WIFI_SN, DOMAIN
from .coordinator import SunvecConfigEntry
from .sensor import SunvecCounterSensor

TO_REDACT = {
    CONF_API_TOKEN,
    CONF_URL,
    CONF_WIFI_SN,
    "inverterSN",
    "sn",
    "wifiSn",
    "serial_number",
    "unique_id",
    "title",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SunvecConfigEntry
) -> dict[str, Any]:
    """Return diagnostics for a config entry."""
    coordinator = entry.runtime_data
    data = coordinator.data
    budget = coordinator.budget
    now = dt_util.utcnow()
    return {
        "entry": async_redact_data(
            {
                "title": entry.title,
                "unique_id": entry.unique_id,
                "data": dict(entry.data),
                "options": dict(entry.options),
                "url_scheme": entry.data[CONF_URL].split("://", 1)[0],
            },
            TO_REDACT,
        ),
        "polling": {
            "update_interval_seconds": (
                coordinator.update_interval.total_seconds() if coordinator.update_interval else None
            ),
            "last_update_success": coordinator.last_update_success,
            "upload_cadence_seconds": coordinator.schedule.cadence,
            "publish_delay_estimate_seconds": round(coordinator.schedule.publish_delay, 1),
            "token_calls_last_minute": budget.calls_in_last_minute(now),
            "stale_after_seconds": coordinator.stale_after.total_seconds(),
            **asdict(coordinator.statistics),
        },
        "pacing": {
            "inverters_on_token": len(budget.demands),
            "online_fraction": coordinator.demand.online_fraction if coordinator.demand else None,
            "online_fraction_measured": coordinator.online.observed_a_day(now),
            "uploads_per_call": round(budget.pace.uploads_per_call, 3),
            "night_interval_seconds": round(budget.pace.night_interval),
            "planned_token_calls_per_day": round(budget.pace.planned_calls_per_day),
            "token_calls_last_24_hours": budget.calls_since(now - timedelta(hours=24)),
            "token_daily_limit": budget.daily_limit,
            "token_calls_per_minute_limit": budget.window_limit,
            "calls_kept_free_per_minute": budget.calls_kept_free,
        },
        "counters": counter_histories(hass, entry),
        "latest_upload": {
            "upload_time": data.upload_time.isoformat() if data and data.upload_time else None,
            "restored": data.restored if data else None,
            "raw": async_redact_data(coordinator.last_raw or {}, TO_REDACT),
        },
    }


def counter_histories(hass: HomeAssistant, entry: SunvecConfigEntry) -> dict[str, Any]:
    """Each counter sensor's history: the value shown, its upload time, what is held back."""
    return {
        entity.entity_description.key: entity.counter.as_dict()
        for platform in async_get_platforms(hass, DOMAIN)
        if platform.config_entry is entry
        for entity in sorted(platform.entities.values(), key=lambda entity: str(entity.unique_id))
        if isinstance(entity, SunvecCounterSensor)
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: SunvecConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """Return diagnostics for the inverter's device (the entry has exactly one)."""
    return await async_get_config_entry_diagnostics(hass, entry)
