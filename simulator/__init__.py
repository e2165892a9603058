"""A simulator of the Sunvec Connect cloud for development and tests."""

from .clock import Clock, ManualClock, ScaledClock
from .cloud import Account, Fault, FaultKind, SunvecCloud, create_app
from .plant import EnergyTruth, Plant, PlantConfig, Upload
from .weather import CloudModel, Weather

__all__ = [
    "Account",
    "Clock",
    "CloudModel",
    "EnergyTruth",
    "Fault",
    "FaultKind",
    "ManualClock",
    "Plant",
    "PlantConfig",
    "ScaledClock",
    "SunvecCloud",
    "Upload",
    "Weather",
    "create_app",
]
