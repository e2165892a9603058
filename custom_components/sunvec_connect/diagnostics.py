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
from .coordinator import SunvecCoordinator
from .models import SunvecConfigEntry
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
    """Return diagnostics for an account and each of its inverters."""
    return {
        **_account(entry),
        "inverters": [
            _inverter(hass, coordinator) for coordinator in entry.runtime_data.coordinators.values()
        ],
    }


async def async_get_device_diagnostics(
    hass: HomeAssistant, entry: SunvecConfigEntry, device: DeviceEntry
) -> dict[str, Any]:
    """Return diagnostics for one inverter's device, or the account's."""
    for coordinator in entry.runtime_data.coordinators.values():
        if (DOMAIN, coordinator.wifi_sn) in device.identifiers:
            return {**_account(entry), "inverter": _inverter(hass, coordinator)}
    return await async_get_config_entry_diagnostics(hass, entry)


def _account(entry: SunvecConfigEntry) -> dict[str, Any]:
    """The account's settings and its token's calls."""
    budget = entry.runtime_data.budget
    now = dt_util.utcnow()
    return {
        "entry": async_redact_data(
            {
                "title": entry.title,
                "unique_id": entry.unique_id,
                "data": dict(entry.data),
                "options": dict(entry.options),
                "url_scheme": entry.data[CONF_URL].split("://", 1)[0],
                "inverters": len(entry.subentries),
            },
            TO_REDACT,
        ),
        "token": {
            "inverters_on_token": len(budget.demands),
            "calls_last_minute": budget.calls_in_last_minute(now),
            "uploads_per_call": round(budget.pace.uploads_per_call, 3),
            "night_interval_seconds": round(budget.pace.night_interval),
            "planned_calls_per_day": round(budget.pace.planned_calls_per_day),
            "calls_last_24_hours": budget.calls_since(now - timedelta(hours=24)),
            "daily_limit": budget.daily_limit,
            "calls_per_minute_limit": budget.window_limit,
            "calls_kept_free_per_minute": budget.calls_kept_free,
        },
    }


def _inverter(hass: HomeAssistant, coordinator: SunvecCoordinator) -> dict[str, Any]:
    """One inverter's polling, counters and latest upload."""
    data = coordinator.data
    now = dt_util.utcnow()
    interval = coordinator.update_interval
    return {
        "polling": {
            "update_interval_seconds": interval.total_seconds() if interval else None,
            "last_update_success": coordinator.last_update_success,
            "upload_cadence_seconds": coordinator.plan.schedule.cadence,
            "publish_delay_estimate_seconds": round(coordinator.plan.schedule.publish_delay, 1),
            "stale_after_seconds": coordinator.plan.stale_after.total_seconds(),
            "online_fraction": coordinator.plan.demand.online_fraction
            if coordinator.plan.demand
            else None,
            "online_fraction_measured": coordinator.plan.online.observed_a_day(now),
            **asdict(coordinator.statistics),
        },
        "counters": counter_histories(hass, coordinator),
        "latest_upload": {
            "upload_time": data.upload_time.isoformat() if data and data.upload_time else None,
            "restored": data.restored if data else None,
            "raw": async_redact_data(coordinator.last_raw or {}, TO_REDACT),
        },
    }


def counter_histories(hass: HomeAssistant, coordinator: SunvecCoordinator) -> dict[str, Any]:
    """Each counter sensor's history: the value shown, its upload time, what is held back."""
    return {
        entity.entity_description.key: entity.counter.as_dict()
        for platform in async_get_platforms(hass, DOMAIN)
        if platform.config_entry is coordinator.config_entry
        for entity in sorted(platform.entities.values(), key=lambda entity: str(entity.unique_id))
        if isinstance(entity, SunvecCounterSensor) and entity.coordinator is coordinator
    }
