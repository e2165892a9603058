"""A simulator of the Sunvec Connect cloud for development and tests."""

from .clock import Clock, ManualClock, ScaledClock
from .cloud import Account, Fault, FaultKind, SunvecCloud, create_app
from .plant import Plant, PlantConfig, Upload

__all__ = [
    "Account",
    "Clock",
    "Fault",
    "FaultKind",
    "ManualClock",
    "Plant",
    "PlantConfig",
    "ScaledClock",
    "SunvecCloud",
    "Upload",
    "create_app",
]
