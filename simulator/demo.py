"""The demonstration set-up: one account with a hybrid and a PV-only inverter."""

from __future__ import annotations

from datetime import datetime, timedelta
import secrets

from .clock import Clock
from .cloud import SunvecCloud
from .plant import Plant, PlantConfig
from .weather import Weather

HYBRID_WIFI_SN = "SUTDEMOHYB1"
PV_ONLY_WIFI_SN = "SUTDEMOPV01"
OTHER_ACCOUNT_WIFI_SN = "SUTOTHERAC1"
HISTORY = timedelta(hours=24)
"""The plants start this long before the clock, so the cloud has uploads at once."""


def hybrid_config(**overrides: object) -> PlantConfig:
    """A 3-string hybrid inverter with a 10 kWh battery, single-phase EPS and meter 2."""
    values: dict[str, object] = {
        "wifi_sn": HYBRID_WIFI_SN,
        "inverter_sn": "H34A08I6008",
        "module_sn": "SRDEMOHYB",
        "peak_power": 8000.0,
        "strings": 3,
        "battery_kwh": 10.0,
        "eps_phases": 1,
        "meter2": True,
        "inverter_type": "14",
        "seed": 7,
        "upload_offset": 43.0,
    }
    values.update(overrides)
    return PlantConfig(**values)  # type: ignore[arg-type]


def pv_only_config(**overrides: object) -> PlantConfig:
    """A 2-string PV-only inverter without battery, EPS or second meter."""
    values: dict[str, object] = {
        "wifi_sn": PV_ONLY_WIFI_SN,
        "inverter_sn": "X1B30P4012",
        "module_sn": "SRDEMOPV1",
        "peak_power": 4000.0,
        "strings": 2,
        "inverter_type": "4",
        "seed": 3,
        "upload_offset": 101.0,
    }
    values.update(overrides)
    return PlantConfig(**values)  # type: ignore[arg-type]


def build_demo_cloud(
    clock: Clock,
    token: str | None = None,
    *,
    timezone: str = "Europe/Amsterdam",
    upload_interval: float = 300.0,
    publish_delay: tuple[float, float] = (20.0, 90.0),
    per_minute: int = 10,
    per_day: int = 10_000,
    weather: Weather = Weather.PASSING,
) -> tuple[SunvecCloud, str]:
    """A cloud with the demo plants; returns it and the token that owns them."""
    token = token or secrets.token_hex(16)
    cloud = SunvecCloud(clock, per_minute=per_minute, per_day=per_day)
    start = clock.now() - HISTORY
    common = {
        "timezone": timezone,
        "upload_interval": upload_interval,
        "publish_delay": publish_delay,
        "weather": weather,
    }
    for config in (
        hybrid_config(**common),
        pv_only_config(**common),
        pv_only_config(
            wifi_sn=OTHER_ACCOUNT_WIFI_SN, inverter_sn="X1OTHER0001", module_sn="SROTHER1", **common
        ),
    ):
        cloud.add_plant(Plant(config, start))
    cloud.add_account(token, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN])
    cloud.add_account(secrets.token_hex(16), [OTHER_ACCOUNT_WIFI_SN])
    for plant in cloud.plants.values():
        plant.advance_to(clock.now())
    return cloud, token


def started_at(clock: Clock) -> datetime:
    """When the demo plants were created for a cloud built at the clock's time."""
    return clock.now() - HISTORY
