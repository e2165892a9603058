"""What Home Assistant's statistics book from the states of a total_increasing sensor.

The recorder compiles the sum of such a sensor in `sensor/recorder.py`
(`_compile_statistics`): unknown and unavailable states are skipped; Home Assistant's
own `reset_detected` decides when a value starts a new cycle, counted from 0; any
other change is added as it is, a dip too. The sum loop is inline there, so it is
replayed here step by step; the decision is Home Assistant's own function, and
tests/test_booked_energy.py checks the replay against statistics the real recorder
compiled.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from homeassistant.components.sensor.recorder import reset_detected
from homeassistant.core import HomeAssistant, State
from homeassistant.exceptions import HomeAssistantError

ENTITY_ID = "sensor.booked"


class _Hass:
    """What `reset_detected` uses of Home Assistant: `data`, for its warnings."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}


def booked(values: Iterable[float | None], hass: HomeAssistant | None = None) -> float:
    """The energy Home Assistant books from `values` shown in turn (None: unknown)."""
    hass = hass or cast("HomeAssistant", _Hass())
    old_state: float | None = None
    new_state: float | None = None
    total = 0.0
    for value in values:
        if value is None:
            continue
        state = State(ENTITY_ID, str(value))
        try:
            reset = old_state is None or reset_detected(hass, ENTITY_ID, value, new_state, state)
        except HomeAssistantError:
            continue
        if reset:
            if old_state is not None and new_state is not None:
                total += new_state - old_state
            new_state = value
            old_state = 0.0 if old_state is not None else new_state
        else:
            new_state = value
    if new_state is None or old_state is None:
        return total
    return total + new_state - old_state
