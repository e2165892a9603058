"""The entry the setup form creates starts from the upload the form's check fetched.

Adding an inverter costs one call, not two; adding a list of them one call each. The
upload is handed over once, only to the entry made from the same address, token and
wifiSn, and only for a few minutes.
"""

from __future__ import annotations

from datetime import timedelta

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
import pytest

from custom_components.sunvec_connect.api import RealtimeData
from custom_components.sunvec_connect.const import CONF_WIFI_SN, DOMAIN
from custom_components.sunvec_connect.handover import (
    CHECKED_UPLOADS,
    HANDOVER_MAX_AGE,
    CheckedUpload,
    keep_checked_upload,
    take_checked_upload,
)
from simulator import ManualClock, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import TOKEN, TimeMachine
from .test_config_flow_many import add_inverter_to_account, finish_check

AC_POWER = "sensor.sunvec_h34a08i6008_ac_power"
LAST_UPLOAD = "sensor.sunvec_h34a08i6008_last_upload"
URL = "https://api.example.com"


async def add(hass: HomeAssistant, sim_url: str, wifi_sns: str) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN, CONF_WIFI_SN: wifi_sns}
    )
    if result["type"] is FlowResultType.SHOW_PROGRESS:
        result = await finish_check(hass, result["flow_id"])
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()


async def test_adding_an_inverter_costs_one_call(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str, cloud: SunvecCloud
) -> None:
    await add(hass, sim_url, HYBRID_WIFI_SN)
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    assert entry.state is ConfigEntryState.LOADED
    # The form's check: the entities show its upload, fresh (not marked restored).
    assert [request.outcome for request in cloud.requests] == ["ok"]
    data = entry.runtime_data.data
    assert data is not None
    assert not data.restored
    state = hass.states.get(AC_POWER)
    assert state is not None
    assert float(state.state) == data.realtime.ac_power
    assert "restored" not in state.attributes
    # The next call fetches the next upload, once it is available.
    upcoming = entry.runtime_data.schedule.next_upload_available()
    assert upcoming is not None
    await time_machine.run((upcoming - dt_util.utcnow()).total_seconds() - 5, step=5)
    assert len(cloud.requests) == 1
    await time_machine.run(15, step=5)
    assert len(cloud.requests) == 2
    last_upload = hass.states.get(LAST_UPLOAD)
    assert last_upload is not None
    assert entry.runtime_data.data is not None
    assert entry.runtime_data.data.upload_time is not None
    assert entry.runtime_data.data.upload_time > data.upload_time  # type: ignore[operator]


async def test_a_list_costs_one_call_per_inverter(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    cloud: SunvecCloud,
    sim_clock: ManualClock,
) -> None:
    wifi_sns = [add_inverter_to_account(cloud, sim_clock, number) for number in range(1, 4)]
    await add(hass, sim_url, "\n".join([PV_ONLY_WIFI_SN, *wifi_sns]))
    entries = hass.config_entries.async_entries(DOMAIN)
    assert len(entries) == 4
    assert all(entry.state is ConfigEntryState.LOADED for entry in entries)
    assert all(entry.runtime_data.data is not None for entry in entries)
    assert sorted(request.wifi_sn or "" for request in cloud.requests) == sorted(
        [PV_ONLY_WIFI_SN, *wifi_sns]
    )


def _checked(hass: HomeAssistant, age: timedelta) -> CheckedUpload:
    realtime = RealtimeData.from_dict({"acpower": 1200.0, "uploadTime": "2026-06-21 12:00:00"})
    return CheckedUpload(realtime, dt_util.utcnow() - age)


async def test_handed_over_once_to_the_same_settings_only(hass: HomeAssistant) -> None:
    now = dt_util.utcnow()
    checked = _checked(hass, timedelta(seconds=5))
    keep_checked_upload(hass, URL, TOKEN, HYBRID_WIFI_SN, checked)
    assert take_checked_upload(hass, URL, "another-token", HYBRID_WIFI_SN, now) is None
    other = "https://other.example.com"
    assert take_checked_upload(hass, other, TOKEN, HYBRID_WIFI_SN, now) is None
    assert take_checked_upload(hass, URL, TOKEN, PV_ONLY_WIFI_SN, now) is None
    assert take_checked_upload(hass, URL, TOKEN, HYBRID_WIFI_SN, now) is checked
    assert take_checked_upload(hass, URL, TOKEN, HYBRID_WIFI_SN, now) is None
    # Nothing kept in the clear: the keys are hashes.
    keep_checked_upload(hass, URL, TOKEN, HYBRID_WIFI_SN, checked)
    assert all(TOKEN not in key for key in hass.data[CHECKED_UPLOADS])


@pytest.mark.parametrize(
    "age", [HANDOVER_MAX_AGE + timedelta(seconds=1), -timedelta(minutes=1)], ids=["old", "future"]
)
async def test_not_handed_over_when_too_old_or_from_the_future(
    hass: HomeAssistant, age: timedelta
) -> None:
    keep_checked_upload(hass, URL, TOKEN, HYBRID_WIFI_SN, _checked(hass, age))
    assert take_checked_upload(hass, URL, TOKEN, HYBRID_WIFI_SN, dt_util.utcnow()) is None


async def test_uploads_of_forms_that_made_no_entry_are_forgotten(hass: HomeAssistant) -> None:
    """A form that aborted (the inverter was configured already) leaves nothing behind."""
    keep_checked_upload(hass, URL, TOKEN, HYBRID_WIFI_SN, _checked(hass, timedelta(0)))
    later = dt_util.utcnow() + HANDOVER_MAX_AGE + timedelta(seconds=1)
    assert take_checked_upload(hass, URL, TOKEN, PV_ONLY_WIFI_SN, later) is None
    assert hass.data[CHECKED_UPLOADS] == {}
    assert take_checked_upload(hass, URL, TOKEN, HYBRID_WIFI_SN, dt_util.utcnow()) is None
