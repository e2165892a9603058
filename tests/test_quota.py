"""No quota spent for nothing: the calls the cloud sees (issue 17, item 4)."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry

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
