"""No quota spent for nothing: the calls the cloud sees (issue 17, item 4)."""

from __future__ import annotations

from itertools import pairwise
from unittest.mock import patch

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.api import SunvecInvalidParameterError
from simulator import Fault, FaultKind, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN

from .conftest import TimeMachine


def cloud_calls(cloud: SunvecCloud) -> int:
    """The requests the simulated cloud received for the hybrid inverter."""
    return sum(1 for record in cloud.requests if record.wifi_sn == HYBRID_WIFI_SN)


async def test_answers_without_an_upload_time_cost_no_more_than_uploads(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """A day of answers whose uploadTime cannot be read: about one call per cadence.

    Before issue 17 each such answer was retried a minute later: 1,440 calls a day.
    """
    cloud.inject(Fault(FaultKind.BAD_UPLOAD_TIME, count=None))
    before = cloud_calls(cloud)
    await time_machine.run(24 * 3600, step=60)
    spent = cloud_calls(cloud) - before
    # The cadence (300 s) at most: 288 a day; the night interval once it is stale.
    assert 24 <= spent <= 300


async def test_server_errors_back_off_to_fifteen_minutes(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """A cloud answering 500 for hours: retries after 1, 2, 4, 8, then every 15 minutes.

    Before issue 17 every failure was retried a minute later, forever.
    """
    cloud.inject(Fault(FaultKind.HTTP_500, count=None))
    await time_machine.run(2 * 3600, step=10)
    failed = [r.time for r in cloud.requests if r.outcome == "http_500"]
    gaps = [round((b - a).total_seconds() / 60) for a, b in pairwise(failed)]
    assert gaps[:4] == [1, 2, 4, 8]
    assert set(gaps[4:]) == {15}
    # Back at once when the cloud is: the next success resets the back-off.
    cloud.clear_faults()
    await time_machine.run(16 * 60, step=10)
    assert cloud.requests[-1].outcome == "ok"
    assert init_integration.runtime_data._failures_in_row == 0


async def test_an_invalid_request_waits_an_hour(
    hass: HomeAssistant,
    init_integration: MockConfigEntry,
    time_machine: TimeMachine,
    cloud: SunvecCloud,
) -> None:
    """Code 1002 cannot get better by itself: the next call is an hour later."""
    coordinator = init_integration.runtime_data
    failure = SunvecInvalidParameterError("Parameter validation failed", code=1002)
    with patch.object(coordinator.client, "async_get_realtime_data", side_effect=failure) as get:
        await time_machine.run(2 * 3600, step=60)
    assert 2 <= get.call_count <= 3
