"""The first hour after a setup as the cloud sees it: learning the delay costs one call.

A steady publish delay of 45 s: the estimate comes down from 60 s by 1, 2, 4, 8 then 8 s
until a poll misses (37 s + 3 s guard); the next poll tries the middle of that step. The
calls the simulated cloud received, not the integration's own count, are counted.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from simulator import ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, build_demo_cloud

from .conftest import TOKEN, TimeMachine

STEADY_DELAY = 45.0


@pytest.fixture
def cloud(sim_clock: ManualClock) -> SunvecCloud:
    """The demo cloud with a publish delay of exactly 45 s."""
    sim_cloud, _ = build_demo_cloud(sim_clock, TOKEN, publish_delay=(STEADY_DELAY, STEADY_DELAY))
    return sim_cloud


async def test_the_first_hour_spends_one_call_per_upload_and_one_to_learn(
    init_integration: MockConfigEntry, time_machine: TimeMachine, cloud: SunvecCloud
) -> None:
    """Every upload of the hour is fetched; besides them the cloud sees one call.

    That is the descent's miss (the poll 40 s after the upload time); the poll that tries
    the middle of the step (47 s) finds the next upload. With steps of up to 16 s the
    descent missed at 32 s and the middle of that step (43 s) once more.
    """
    await time_machine.run(3600, step=1)
    served = [
        record.upload_index
        for record in cloud.requests
        if record.wifi_sn == HYBRID_WIFI_SN and record.outcome == "ok"
    ]
    uploads = set(served)
    assert sorted(uploads) == list(range(min(uploads), max(uploads) + 1))
    repeated = sum(before == after for before, after in pairwise(served))
    assert len(served) == len(uploads) + repeated
    assert repeated == 1
