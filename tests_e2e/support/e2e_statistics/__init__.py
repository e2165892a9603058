"""Test-only helper of the end-to-end suite: compile short-term statistics now.

The recorder compiles each 5-minute period 10 s after it ends. The suite cannot wait
for two of those inside its time budget, so it asks for the compile the way Home
Assistant core's recorder tests do (a StatisticsTask on the recorder's queue). The
period in progress is compiled with the states recorded so far. Never installed
outside the suite's throwaway configuration.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.components import websocket_api
from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.tasks import StatisticsTask, SynchronizeTask
from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType
from homeassistant.util import dt as dt_util
import voluptuous as vol

DOMAIN = "e2e_statistics"
PERIOD = timedelta(minutes=5)
CONFIG_SCHEMA = cv.empty_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the websocket command."""
    websocket_api.async_register_command(hass, websocket_compile)
    return True


def _period_start(moment: datetime) -> datetime:
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


@websocket_api.require_admin
@websocket_api.websocket_command({vol.Required("type"): f"{DOMAIN}/compile"})
@websocket_api.async_response
async def websocket_compile(
    hass: HomeAssistant, connection: websocket_api.ActiveConnection, msg: dict[str, Any]
) -> None:
    """Compile the previous period (if the schedule has not yet) and the current one."""
    instance = get_instance(hass)
    current = _period_start(dt_util.utcnow())
    periods = [current - PERIOD, current]
    for start in periods:
        instance.queue_task(StatisticsTask(start, fire_events=True))
    done = hass.loop.create_future()
    instance.queue_task(SynchronizeTask(done))
    await done
    connection.send_result(msg["id"], {"periods": [start.isoformat() for start in periods]})
