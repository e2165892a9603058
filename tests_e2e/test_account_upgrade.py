"""The upgrade from an entry per inverter to accounts, in a real Home Assistant.

Home Assistant runs first with the release before accounts (its code taken from git),
is configured through its APIs as a user would (two inverters on one token, an entity
renamed, one disabled, a device named and put in an area), and is restarted with this
code: one account per token, and nothing of the user's lost. Runs before the journey
(it sorts first), on a stack of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
import json
from pathlib import Path
import shutil
import subprocess
import tarfile
from typing import Any

import pytest

from simulator.demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN

from .stack import (
    COMPONENT,
    ROOT,
    SIM_URL,
    TOKEN,
    UPLOAD_INTERVAL,
    Stack,
    running_stack,
    wait_until,
)

GIT = shutil.which("git") or "git"
HYBRID_PREFIX = "sensor.sunvec_h34a08i6008_"
RENAMED = "sensor.roof_power"


def release_before_accounts(workdir: Path) -> Path:
    """The integration's code as the last release with an entry per inverter had it.

    The commit that made config entries version 2 is the first of accounts; its parent
    has the release before.
    """
    flow = "custom_components/sunvec_connect/config_flow.py"
    commits = subprocess.run(
        [GIT, "log", "--format=%H", "-G", "^    VERSION = 2$", "--", flow],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert commits, "the git history of config_flow.py is needed (a clone, not an archive)"
    archive = workdir / "old.tar"
    subprocess.run(
        [
            GIT,
            "archive",
            "-o",
            str(archive),
            f"{commits[-1]}^",
            "custom_components/sunvec_connect",
        ],
        cwd=ROOT,
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(workdir / "old", filter="data")
    return workdir / "old" / "custom_components" / "sunvec_connect"


@pytest.fixture(scope="module")
def old_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Home Assistant with the release before accounts, and the simulator."""
    workdir = tmp_path_factory.mktemp("upgrade")
    with running_stack(workdir, release_before_accounts(workdir)) as stack:
        yield stack
        problems = stack.log_problems()
        if problems:
            pytest.fail("Home Assistant's log:\n" + "\n".join(problems), pytrace=False)


def registry_view(stack: Stack) -> dict[str, tuple[Any, ...]]:
    """The integration's entities as the user set them up (the calls sensors apart)."""
    return {
        entity["entity_id"]: (
            entity["unique_id"],
            entity["device_id"],
            entity["disabled_by"],
            entity["name"],
            entity["icon"],
        )
        for entity in stack.ws({"type": "config/entity_registry/list"})
        if entity["platform"] == "sunvec_connect"
        and not entity["unique_id"].endswith("api_calls_today")
    }


def devices_view(stack: Stack) -> dict[str, tuple[Any, ...]]:
    """The inverters' devices: their ids, the user's names and areas."""
    return {
        device["id"]: (device["name"], device["name_by_user"], device["area_id"])
        for device in stack.ws({"type": "config/device_registry/list"})
        if any(identifier[0] == "sunvec_connect" for identifier in device["identifiers"])
        and device["entry_type"] is None
    }


def statistic_ids(stack: Stack) -> set[str]:
    """The statistic ids the recorder knows for the integration's sensors."""
    return {
        item["statistic_id"]
        for item in stack.ws({"type": "recorder/list_statistic_ids"})
        if item["statistic_id"].startswith(("sensor.sunvec_", "sensor.roof"))
    }


def add_inverter(stack: Stack, wifi_sn: str) -> None:
    """The old release's form: one inverter, one entry."""
    flow = stack.api("POST", "/api/config/config_entries/flow", json={"handler": "sunvec_connect"})
    result = stack.api(
        "POST",
        f"/api/config/config_entries/flow/{flow['flow_id']}",
        json={"url": SIM_URL, "api_token": TOKEN, "wifi_sn": wifi_sn},
    )
    assert result["type"] == "create_entry", result


def test_entries_of_one_token_become_one_account_and_keep_everything(old_stack: Stack) -> None:
    stack = old_stack
    add_inverter(stack, HYBRID_WIFI_SN)
    add_inverter(stack, PV_ONLY_WIFI_SN)
    entries = [
        e
        for e in stack.api("GET", "/api/config/config_entries/entry")
        if e["domain"] == "sunvec_connect"
    ]
    assert len(entries) == 2
    # The user's choices.
    stack.ws(
        {
            "type": "config/entity_registry/update",
            "entity_id": "sensor.sunvec_x1b30p4012_ac_power",
            "new_entity_id": RENAMED,
            "name": "Roof power",
            "icon": "mdi:solar-panel",
        }
    )
    stack.ws(
        {
            "type": "config/entity_registry/update",
            "entity_id": HYBRID_PREFIX + "total_yield",
            "disabled_by": "user",
        }
    )
    area = stack.ws({"type": "config/area_registry/create", "name": "Garage"})
    (hybrid,) = [d for d, v in devices_view(stack).items() if v[0] == "Sunvec H34A08I6008"]
    stack.ws(
        {
            "type": "config/device_registry/update",
            "device_id": hybrid,
            "name_by_user": "Garage inverter",
            "area_id": area["area_id"],
        }
    )
    # Both inverters polled once more, so each entry keeps an upload.
    wait_until(
        "an upload of each inverter",
        lambda: (
            True
            if all(
                stack.api("GET", f"/api/states/{entity_id}")["state"]
                not in ("unknown", "unavailable")
                for entity_id in (
                    HYBRID_PREFIX + "last_upload",
                    "sensor.sunvec_x1b30p4012_last_upload",
                )
            )
            else None
        ),
        seconds=4 * UPLOAD_INTERVAL,
        interval=2,
    )
    # The recorder's statistics of what was recorded so far (newer releases list only
    # compiled statistic ids).
    stack.ws({"type": "e2e_statistics/compile"})
    entities, devices, statistics = registry_view(stack), devices_view(stack), statistic_ids(stack)
    assert RENAMED in entities
    assert {HYBRID_PREFIX + "ac_power", RENAMED} <= statistics
    polled = stack.simulator("GET", "/state")["ok_by_wifi_sn"]

    stack.restart_with(COMPONENT)

    (account,) = [
        e
        for e in stack.api("GET", "/api/config/config_entries/entry")
        if e["domain"] == "sunvec_connect"
    ]
    assert account["title"] == "Sunvec Connect (127.0.0.1)"
    assert account["state"] == "loaded"
    assert account["entry_id"] in {entry["entry_id"] for entry in entries}
    subentries = stack.ws(
        {"type": "config_entries/subentries/list", "entry_id": account["entry_id"]}
    )
    assert sorted(sub["unique_id"] for sub in subentries) == sorted(
        [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN]
    )
    # Every entity id, unique id, device, user's name, icon and choice; every device id,
    # name and area; every statistic id.
    assert registry_view(stack) == entities
    assert devices_view(stack) == devices
    assert statistic_ids(stack) >= statistics
    # What each inverter kept, at version 1, was migrated as it loaded (Home Assistant
    # logs it) and is kept at version 2 with its upload.
    log = stack.log_text()
    for entry in entries:
        key = f"sunvec_connect.{entry['entry_id']}"
        assert f"Migrating {key} storage from 1.1 to 2.1" in log
        kept = json.loads((stack.config / ".storage" / key).read_text())
        assert kept["version"] == 2
        assert kept["data"]["upload"] is not None

    # Both inverters poll on, with the account's token (they start from their kept
    # uploads, confirmed by a call at their slots).
    def both_polled() -> bool | None:
        now = stack.simulator("GET", "/state")["ok_by_wifi_sn"]
        return (
            True if all(now[sn] > polled[sn] for sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN)) else None
        )

    wait_until("both inverters polled", both_polled, seconds=4 * UPLOAD_INTERVAL, interval=2)
    assert stack.api("GET", f"/api/states/{RENAMED}")["state"] not in ("unknown", "unavailable")
