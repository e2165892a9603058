"""The upgrade from an entry per inverter to one account per token with inverter subentries.

The old release's configuration is built as it left it: entries of version 1, their
devices and entities in the registries (with the user's choices), what each entry kept
in storage and the token's calls. Home Assistant then starts with this code.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
import hashlib
import random
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntry, ConfigEntryDisabler, ConfigEntryState
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.sunvec_connect.account import account_title
from custom_components.sunvec_connect.const import (
    CONF_CALLS_KEPT_FREE,
    CONF_SCAN_INTERVAL,
    CONF_WIFI_SN,
    DOMAIN,
    SUBENTRY_INVERTER,
)
from custom_components.sunvec_connect.migration import (
    LEGACY_CALLS_KEY,
    async_migrate_integration,
)
from custom_components.sunvec_connect.store import STORE_VERSION
from simulator import Fault, FaultKind, Plant, SunvecCloud
from simulator.demo import HYBRID_WIFI_SN, OTHER_ACCOUNT_WIFI_SN, PV_ONLY_WIFI_SN

from .conftest import TOKEN, TimeMachine, account_budget, account_for, ids_for
from .test_store import BEFORE_ACCOUNTS, ONLINE

OTHER_TOKEN = "sunvec-other-token-0c91d2"
THIRD_WIFI_SN = "SUTTHIRD001"


def old_entry(
    hass: HomeAssistant, url: str, wifi_sn: str, token: str = TOKEN, **kwargs: Any
) -> MockConfigEntry:
    """An entry of the release with an entry per inverter, with its device and entities."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        version=1,
        title=f"Sunvec {wifi_sn}",
        unique_id=wifi_sn,
        data={CONF_URL: url, CONF_API_TOKEN: token, CONF_WIFI_SN: wifi_sn},
        **kwargs,
    )
    entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(DOMAIN, wifi_sn)},
        manufacturer="Sunvec",
        name=entry.title,
    )
    registry = er.async_get(hass)
    for key in ("ac_power", "total_yield", "api_calls_today"):
        registry.async_get_or_create(
            "sensor",
            DOMAIN,
            f"{wifi_sn}_{key}",
            config_entry=entry,
            device_id=device.id,
            suggested_object_id=f"sunvec_{wifi_sn.lower()}_{key}",
            disabled_by=(
                er.RegistryEntryDisabler.INTEGRATION if key == "api_calls_today" else None
            ),
        )
    return entry


def device_of(hass: HomeAssistant, entry_id: str, wifi_sn: str) -> dr.DeviceEntry | None:
    """The inverter's device among the entry's (works on every Home Assistant lane)."""
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry_id)
    return next((d for d in devices if (DOMAIN, wifi_sn) in d.identifiers), None)


@pytest.fixture
def third_plant(cloud: SunvecCloud) -> None:
    """A third inverter on the token, and the other token's own."""
    config = replace(cloud.plants[OTHER_ACCOUNT_WIFI_SN].config, wifi_sn=THIRD_WIFI_SN)
    plant = cloud.add_plant(Plant(config, dt_util.utcnow() - timedelta(days=1)))
    plant.advance_to(dt_util.utcnow())
    cloud.add_account(TOKEN, [HYBRID_WIFI_SN, PV_ONLY_WIFI_SN, OTHER_ACCOUNT_WIFI_SN])
    cloud.add_account(OTHER_TOKEN, [THIRD_WIFI_SN])


async def test_entries_of_a_token_become_one_account(  # noqa: PLR0915
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    cloud: SunvecCloud,
    third_plant: None,
    hass_storage: dict[str, Any],
) -> None:
    """Three entries of one token, one of another: two accounts, nothing of the user's lost.

    The entity ids, unique ids (so the statistics), device ids, the user's names, area,
    disabled choices, kept uploads and the token's calls all carry over.
    """
    hybrid = old_entry(hass, sim_url, HYBRID_WIFI_SN, options={CONF_CALLS_KEPT_FREE: 3})
    pv_only = old_entry(
        hass, sim_url, PV_ONLY_WIFI_SN, options={CONF_CALLS_KEPT_FREE: 2, CONF_SCAN_INTERVAL: 300}
    )
    disabled = old_entry(hass, sim_url, OTHER_ACCOUNT_WIFI_SN, disabled_by=ConfigEntryDisabler.USER)
    other = old_entry(hass, sim_url, THIRD_WIFI_SN, token=OTHER_TOKEN)
    entities = er.async_get(hass)
    devices = dr.async_get(hass)
    # The user's choices.
    renamed = entities.async_update_entity(
        f"sensor.sunvec_{PV_ONLY_WIFI_SN.lower()}_ac_power",
        new_entity_id="sensor.roof_power",
        name="Roof power",
        icon="mdi:solar-panel",
    )
    turned_off = entities.async_update_entity(
        f"sensor.sunvec_{HYBRID_WIFI_SN.lower()}_total_yield",
        disabled_by=er.RegistryEntryDisabler.USER,
    )
    hybrid_device = device_of(hass, hybrid.entry_id, HYBRID_WIFI_SN)
    assert hybrid_device is not None
    devices.async_update_device(hybrid_device.id, name_by_user="Garage inverter")
    # Disabled with its entry, as Home Assistant does.
    for entity in er.async_entries_for_config_entry(entities, disabled.entry_id):
        entities.async_update_entity(
            entity.entity_id, disabled_by=er.RegistryEntryDisabler.CONFIG_ENTRY
        )
    before = {
        entity.entity_id: (entity.unique_id, entity.device_id, entity.disabled_by)
        for entity in entities.entities.values()
        if entity.platform == DOMAIN and not entity.unique_id.endswith("api_calls_today")
    }
    device_ids = {
        device.id
        for entry in (hybrid, pv_only, disabled, other)
        for device in dr.async_entries_for_config_entry(devices, entry.entry_id)
    }
    # What the pv-only inverter's entry kept (storage of version 1), and the token's calls
    # of the last day.
    kept_key = f"{DOMAIN}.{pv_only.entry_id}"
    kept = {**BEFORE_ACCOUNTS, "saved_at": dt_util.utcnow().isoformat(), "upload": None}
    hass_storage[kept_key] = {"version": 1, "minor_version": 1, "key": kept_key, "data": kept}
    # As the releases before accounts kept them: every token's calls in one store.
    budget_calls_before = 7
    moment = round((dt_util.utcnow() - timedelta(minutes=30)).timestamp(), 1)
    hass_storage[LEGACY_CALLS_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": LEGACY_CALLS_KEY,
        "data": {
            hashlib.sha256(TOKEN.encode()).hexdigest(): {
                "calls": [moment] + [0.0] * (budget_calls_before - 1),
                "paused_until": None,
                "banned_until": None,
                "backoff": 0.0,
            }
        },
    }

    cloud.inject(Fault(FaultKind.HTTP_503, wifi_sn=THIRD_WIFI_SN))
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    accounts = hass.config_entries.async_entries(DOMAIN)
    assert [entry.entry_id for entry in accounts] == [hybrid.entry_id, other.entry_id]
    account = accounts[0]
    assert account.version == 2
    assert account.data == {CONF_URL: sim_url, CONF_API_TOKEN: TOKEN}
    assert account.unique_id == ids_for(sim_url, TOKEN).unique_id
    assert account.title == account_title(sim_url)
    # The most calls kept free; not every inverter had a fixed interval: paced.
    assert account.options == {CONF_CALLS_KEPT_FREE: 3}
    assert {
        subentry.subentry_id: (subentry.unique_id, subentry.title, subentry.subentry_type)
        for subentry in account.subentries.values()
    } == {
        hybrid.entry_id: (HYBRID_WIFI_SN, f"Sunvec {HYBRID_WIFI_SN}", SUBENTRY_INVERTER),
        pv_only.entry_id: (PV_ONLY_WIFI_SN, f"Sunvec {PV_ONLY_WIFI_SN}", SUBENTRY_INVERTER),
        disabled.entry_id: (
            OTHER_ACCOUNT_WIFI_SN,
            f"Sunvec {OTHER_ACCOUNT_WIFI_SN}",
            SUBENTRY_INVERTER,
        ),
    }
    assert account.state is ConfigEntryState.LOADED
    # The other token's account: its cloud answered 503, it retries; migrated all the same.
    assert other.version == 2
    assert other.state is ConfigEntryState.SETUP_RETRY
    assert list(other.subentries) == [other.entry_id]

    after = {
        entity.entity_id: (entity.unique_id, entity.device_id, entity.disabled_by)
        for entity in entities.entities.values()
        if entity.platform == DOMAIN and not entity.unique_id.endswith("api_calls_today")
    }
    disabled_ids = {entity_id for entity_id, value in before.items() if value[2] is not None} - {
        turned_off.entity_id
    }
    # Entities of the disabled entry stay off, now because their device is.
    expected = {
        entity_id: (
            unique_id,
            device_id,
            er.RegistryEntryDisabler.DEVICE if entity_id in disabled_ids else disabled_by,
        )
        for entity_id, (unique_id, device_id, disabled_by) in before.items()
    }
    assert {entity_id: after[entity_id] for entity_id in before} == expected
    roof = entities.async_get("sensor.roof_power")
    assert roof is not None
    assert (roof.name, roof.icon) == ("Roof power", "mdi:solar-panel")
    assert roof.unique_id == renamed.unique_id
    assert roof.config_entry_id == account.entry_id
    assert roof.config_subentry_id == pv_only.entry_id
    assert {
        device.id
        for entry in (account, other)
        for device in dr.async_entries_for_config_entry(devices, entry.entry_id)
    } >= device_ids
    hybrid_device = devices.async_get(hybrid_device.id)
    assert hybrid_device is not None
    assert hybrid_device.name_by_user == "Garage inverter"
    moved = device_of(hass, account.entry_id, HYBRID_WIFI_SN)
    assert moved is not None
    assert moved.id == hybrid_device.id
    off_device = device_of(hass, account.entry_id, OTHER_ACCOUNT_WIFI_SN)
    assert off_device is not None
    assert off_device.disabled_by is dr.DeviceEntryDisabler.USER
    # One calls sensor per token: the first entry's, on the account's service device.
    calls = [
        entity
        for entity in entities.entities.values()
        if entity.platform == DOMAIN and entity.unique_id.endswith("api_calls_today")
    ]
    assert sorted(entity.entity_id for entity in calls) == [
        f"sensor.sunvec_{HYBRID_WIFI_SN.lower()}_api_calls_today",
        f"sensor.sunvec_{THIRD_WIFI_SN.lower()}_api_calls_today",
    ]
    # What the entries kept stays with their inverters, migrated; the token's calls count on.
    assert hass_storage[kept_key]["version"] == STORE_VERSION
    pv_only_coordinator = account.runtime_data.coordinators[pv_only.entry_id]
    assert pv_only_coordinator.clock.offset == timedelta(hours=2)
    assert pv_only_coordinator.plan.online.observed_since == dt_util.parse_datetime(
        ONLINE["observed_since"]
    )
    assert account_budget(hass).calls_since(dt_util.utcnow() - timedelta(hours=1)) >= (
        budget_calls_before
    )
    assert LEGACY_CALLS_KEY not in hass_storage


async def test_a_group_that_cannot_be_merged_stays_as_it_was(
    hass: HomeAssistant, time_machine: TimeMachine, sim_url: str
) -> None:
    """Two entries of one token with the same inverter: left as they were, not set up."""
    first = old_entry(hass, sim_url, HYBRID_WIFI_SN)
    second = MockConfigEntry(
        domain=DOMAIN,
        version=1,
        title="Sunvec copy",
        unique_id="copy",
        data=dict(first.data),
    )
    second.add_to_hass(hass)
    entities = er.async_get(hass)
    before = {entity.entity_id: entity for entity in entities.entities.values()}

    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    for entry in (first, second):
        assert entry.version == 1
        assert entry.subentries == {}
        assert entry.state is ConfigEntryState.MIGRATION_ERROR
    assert first.data[CONF_WIFI_SN] == HYBRID_WIFI_SN
    assert {entity.entity_id: entity for entity in entities.entities.values()} == before


def fail_once(target: object, name: str, call: int) -> Any:
    """Patch `target.name` to raise at its `call`-th call, once; the others go through."""
    original = getattr(target, name)
    calls = 0

    def faulty(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            raise RuntimeError("disk full")
        return original(*args, **kwargs)

    return patch.object(target, name, faulty)


@pytest.mark.parametrize(
    ("registry", "method", "call"),
    [
        ("entries", "async_add_subentry", 2),
        ("devices", "async_update_device", 2),
        ("entities", "async_update_entity", 3),
        ("entries", "async_update_entry", 1),
        ("entries", "async_remove", 1),
        ("entries", "async_remove", 2),
    ],
)
async def test_a_merge_that_fails_halfway_goes_on_at_the_next_start(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    third_plant: None,
    caplog: pytest.LogCaptureFixture,
    registry: str,
    method: str,
    call: int,
) -> None:
    """A step of one account's merge fails: the other account is merged, nothing is lost.

    The next start takes the merge up where it stopped and ends as a merge that never failed.
    """
    old = [old_entry(hass, sim_url, sn) for sn in (HYBRID_WIFI_SN, PV_ONLY_WIFI_SN)]
    old.append(old_entry(hass, sim_url, OTHER_ACCOUNT_WIFI_SN))
    other = old_entry(hass, sim_url, THIRD_WIFI_SN, token=OTHER_TOKEN)
    entities, devices = er.async_get(hass), dr.async_get(hass)
    before = {
        entity.entity_id: (entity.unique_id, entity.config_entry_id)
        for entity in entities.entities.values()
        if not entity.unique_id.endswith("api_calls_today")
    }
    device_ids = {
        entry.entry_id: device.id
        for entry in (*old, other)
        for device in dr.async_entries_for_config_entry(devices, entry.entry_id)
    }
    owner = {"entries": hass.config_entries, "devices": devices, "entities": entities}[registry]

    with fail_once(owner, method, call):
        await async_migrate_integration(hass)

    assert "could not become one account yet" in caplog.text
    assert other.version == 2
    assert other.subentries.keys() == {other.entry_id}

    # The next start.
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    remaining = {entry.entry_id for entry in hass.config_entries.async_entries(DOMAIN)}
    assert remaining == {old[0].entry_id, other.entry_id}
    account = hass.config_entries.async_get_entry(old[0].entry_id)
    assert account is not None
    assert account.version == 2
    assert account.unique_id == ids_for(sim_url, TOKEN).unique_id
    assert account.state is ConfigEntryState.LOADED
    assert account.subentries.keys() == {entry.entry_id for entry in old}
    for entity_id, (unique_id, entry_id) in before.items():
        entity = entities.async_get(entity_id)
        assert entity is not None
        assert entity.unique_id == unique_id
        assert entity.config_subentry_id == entry_id
    for entry_id, device_id in device_ids.items():
        holder = other if entry_id == other.entry_id else account
        device = device_of(hass, holder.entry_id, holder.subentries[entry_id].unique_id or "")
        assert device is not None
        assert device.id == device_id
        assert device.disabled_by is None
    calls_sensors = [
        entity.unique_id
        for entity in entities.entities.values()
        if entity.unique_id.endswith("api_calls_today")
    ]
    assert sorted(calls_sensors) == sorted(
        f"{entry.entry_id}_api_calls_today" for entry in (account, other)
    )


async def test_one_host_over_http_and_https_is_one_account(
    hass: HomeAssistant, sim_url: str
) -> None:
    """Entries of one token at http://h and https://h: one account, at the https address."""
    host = sim_url.removeprefix("http://")
    plain = old_entry(hass, f"http://{host}", HYBRID_WIFI_SN)
    secure = old_entry(hass, f"https://{host}", PV_ONLY_WIFI_SN)

    await async_migrate_integration(hass)

    (account,) = hass.config_entries.async_entries(DOMAIN)
    assert account.entry_id == plain.entry_id
    assert account.data[CONF_URL] == f"https://{host}"
    assert account.subentries.keys() == {plain.entry_id, secure.entry_id}


async def test_an_account_keeps_its_address_when_entries_join_it(
    hass: HomeAssistant, sim_url: str
) -> None:
    """An account at https://h takes in an old entry of its token at http://h: still https."""
    host = sim_url.removeprefix("http://")
    account = MockConfigEntry(
        domain=DOMAIN,
        version=2,
        title=account_title(sim_url),
        unique_id=ids_for(sim_url, TOKEN).unique_id,
        data={CONF_URL: f"https://{host}", CONF_API_TOKEN: TOKEN},
    )
    account.add_to_hass(hass)
    joining = old_entry(hass, f"http://{host}", PV_ONLY_WIFI_SN)

    await async_migrate_integration(hass)

    assert hass.config_entries.async_entries(DOMAIN) == [account]
    assert account.data[CONF_URL] == f"https://{host}"
    assert account.subentries.keys() == {joining.entry_id}


async def test_one_token_at_two_hosts_is_one_account(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """One token is one account whatever the addresses: the first entry's host, over https."""
    first = old_entry(hass, "http://a.example.com", HYBRID_WIFI_SN)
    elsewhere = old_entry(hass, "https://b.example.com", PV_ONLY_WIFI_SN)
    secure = old_entry(hass, "https://a.example.com", "SUT00000003")

    await async_migrate_integration(hass)

    (account,) = hass.config_entries.async_entries(DOMAIN)
    assert account.entry_id == first.entry_id
    assert account.data == {CONF_URL: "https://a.example.com", CONF_API_TOKEN: TOKEN}
    assert account.unique_id == ids_for("https://a.example.com", TOKEN).unique_id
    assert account.subentries.keys() == {first.entry_id, elsewhere.entry_id, secure.entry_id}
    assert "used their token at other addresses too; their account uses a.example.com" in (
        caplog.text
    )


async def test_an_account_at_another_host_takes_in_its_tokens_entries(
    hass: HomeAssistant,
) -> None:
    """An account of the token at one host takes in old entries at another: its address stays."""
    account = account_for("https://a.example.com", [HYBRID_WIFI_SN])
    account.add_to_hass(hass)
    joining = old_entry(hass, "https://b.example.com", PV_ONLY_WIFI_SN)

    await async_migrate_integration(hass)

    assert hass.config_entries.async_entries(DOMAIN) == [account]
    assert account.data == {CONF_URL: "https://a.example.com", CONF_API_TOKEN: TOKEN}
    assert account.unique_id == ids_for("https://a.example.com", TOKEN).unique_id
    assert joining.entry_id in account.subentries


async def test_two_accounts_of_one_token_are_told(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Two accounts of one token at two hosts are left as they are; the log says what to do.

    (The form made them before it looked for the token at any address.)
    """
    first = account_for("https://a.example.com", [HYBRID_WIFI_SN])
    second = account_for("https://b.example.com", [PV_ONLY_WIFI_SN])
    other = account_for("https://b.example.com", ["SUT00000003"], token=OTHER_TOKEN)
    for account in (first, second, other):
        account.add_to_hass(hass)

    await async_migrate_integration(hass)

    assert hass.config_entries.async_entries(DOMAIN) == [first, second, other]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    told = f"The accounts {first.title} and {second.title} use one token and count its calls"
    assert warnings == [f"{told} apart: delete one and add its inverters to the other"]


def v2_1_ids(url: str, token: str) -> tuple[str, str]:
    """The unique id and calls key accounts of entry version 2.1 had: plain hashes of the token."""
    host = url.removeprefix("http://").removeprefix("https://").lower()
    unique_id = f"{host}-{hashlib.sha256(token.encode()).hexdigest()[:16]}"
    return unique_id, f"{DOMAIN}.calls_{hashlib.sha256(unique_id.encode()).hexdigest()[:16]}"


async def test_accounts_of_version_2_1_are_keyed_with_the_installation_secret(
    hass: HomeAssistant,
    time_machine: TimeMachine,
    sim_url: str,
    third_plant: None,
    hass_storage: dict[str, Any],
) -> None:
    """Ids from plain hashes of the token become keyed ones; the calls move with them.

    A disabled account too: a form for its token must find it.
    """
    accounts = []
    for token, wifi_sn, disabled_by in (
        (TOKEN, HYBRID_WIFI_SN, None),
        (OTHER_TOKEN, THIRD_WIFI_SN, ConfigEntryDisabler.USER),
    ):
        unique_id, calls_key = v2_1_ids(sim_url, token)
        account = account_for(
            sim_url,
            {wifi_sn: wifi_sn},
            token=token,
            unique_id=unique_id,
            minor_version=1,
            disabled_by=disabled_by,
        )
        account.add_to_hass(hass)
        accounts.append(account)
        moment = round((dt_util.utcnow() - timedelta(minutes=30)).timestamp(), 1)
        hass_storage[calls_key] = {
            "version": 1,
            "minor_version": 1,
            "key": calls_key,
            "data": {"calls": [moment] + [0.0] * 4, "paused_until": None, "banned_until": None},
        }

    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    for account, token in zip(accounts, (TOKEN, OTHER_TOKEN), strict=True):
        ids = ids_for(sim_url, token)
        assert (account.version, account.minor_version) == (2, 2)
        assert account.unique_id == ids.unique_id
        assert v2_1_ids(sim_url, token)[1] not in hass_storage
    assert accounts[0].state is ConfigEntryState.LOADED
    assert account_budget(hass).calls_since(dt_util.utcnow() - timedelta(hours=1)) >= 5
    assert len(hass_storage[ids_for(sim_url, OTHER_TOKEN).calls_key]["data"]["calls"]) == 5


FAULT_POINTS = [
    ("entries", "async_add_subentry"),
    ("devices", "async_update_device"),
    ("entities", "async_update_entity"),
    ("entries", "async_update_entry"),
    ("entries", "async_remove"),
]


@pytest.mark.parametrize("seed", range(24))
async def test_any_upgrade_keeps_everything_and_completes(  # noqa: PLR0915
    hass: HomeAssistant, seed: int
) -> None:
    """Generated configurations of the old release, a fault at a generated step, two starts.

    Safety: after the start with the fault, every entity (but the per-entry calls
    sensors the upgrade retires) and every device is still there, with its id. Liveness:
    after the next start, each token is one account of version 2.2 holding every inverter
    of it (at any of its hosts), entities and devices on their inverter's subentry.
    """
    rng = random.Random(seed)
    host = "api.example.com"
    hosts = [host, "eu.api.example.com"]
    tokens = [f"2023{rng.randrange(10**18):018d}" for _ in range(rng.randint(1, 3))]
    serials = iter(f"SUT{number:08d}" for number in rng.sample(range(10**6), 12))
    accounts: dict[str, MockConfigEntry] = {}
    if rng.random() < 0.4:
        accounts[tokens[0]] = account_for(f"https://{host}", [next(serials)], token=tokens[0])
        accounts[tokens[0]].add_to_hass(hass)
    old: dict[str, list[MockConfigEntry]] = {}
    serials_of: dict[str, str] = {}
    for token in tokens:
        for _ in range(rng.randint(1, 4)):
            url = f"{rng.choice(['http', 'https'])}://{rng.choice(hosts[: rng.randint(1, 2)])}"
            disabled = ConfigEntryDisabler.USER if rng.random() < 0.25 else None
            serial = next(serials)
            entry = old_entry(hass, url, serial, token, disabled_by=disabled)
            serials_of[entry.entry_id] = serial
            old.setdefault(token, []).append(entry)
            if disabled:  # as Home Assistant disables them with their entry
                for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
                    er.async_get(hass).async_update_entity(
                        entity.entity_id, disabled_by=er.RegistryEntryDisabler.CONFIG_ENTRY
                    )
    entities, devices = er.async_get(hass), dr.async_get(hass)
    kept = {
        entity.entity_id: (entity.unique_id, entity.config_entry_id, entity.disabled_by)
        for entity in entities.entities.values()
        if not entity.unique_id.endswith("api_calls_today")
    }
    device_ids = {
        entry.entry_id: device.id
        for entries in old.values()
        for entry in entries
        for device in dr.async_entries_for_config_entry(devices, entry.entry_id)
    }
    registry, method = rng.choice(FAULT_POINTS)
    owner = {"entries": hass.config_entries, "devices": devices, "entities": entities}[registry]

    with fail_once(owner, method, rng.randint(1, 6)):
        await async_migrate_integration(hass)

    for entity_id, (unique_id, _, _) in kept.items():
        entity = entities.async_get(entity_id)
        assert entity is not None
        assert entity.unique_id == unique_id
    assert all(devices.async_get(device_id) is not None for device_id in device_ids.values())

    await async_migrate_integration(hass)

    by_token: dict[str, ConfigEntry] = {}
    for entry in hass.config_entries.async_entries(DOMAIN):
        assert (entry.version, entry.minor_version) == (2, 2)
        token = entry.data[CONF_API_TOKEN]
        assert token not in by_token
        by_token[token] = entry
        assert entry.unique_id == ids_for(entry.data[CONF_URL], token).unique_id
    assert set(by_token) == set(tokens)
    for token, entries in old.items():
        account = by_token[token]
        if token in accounts:
            assert account is accounts[token]
            assert account.data[CONF_URL] == f"https://{host}"
        else:
            # The first enabled entry's host (the first entry's if none is), over https
            # if any entry used https there.
            first = next((e for e in entries if e.disabled_by is None), entries[0])
            at = first.data[CONF_URL].split("://")[1]
            secure = any(e.data[CONF_URL] == f"https://{at}" for e in entries)
            assert account.data[CONF_URL] == f"{'https' if secure else 'http'}://{at}"
        assert {entry.entry_id for entry in entries} <= set(account.subentries)
        for entry in entries:
            device = devices.async_get(device_ids[entry.entry_id])
            assert device is not None
            assert device_of(hass, account.entry_id, serials_of[entry.entry_id]) == device
            if entry.disabled_by is not None and account.disabled_by is None:
                assert device.disabled_by is dr.DeviceEntryDisabler.USER
    for entity_id, (unique_id, entry_id, disabled_by) in kept.items():
        entity = entities.async_get(entity_id)
        assert entity is not None
        assert entity.unique_id == unique_id
        if entry_id in {account.entry_id for account in accounts.values()}:
            continue
        assert entity.config_subentry_id == entry_id
        assert (
            entity.config_entry_id
            == by_token[
                next(t for t, entries in old.items() if entry_id in {e.entry_id for e in entries})
            ].entry_id
        )
        # Off with its entry stays off: with the account, or with its device.
        assert (entity.disabled_by is None) == (disabled_by is None)
    calls_sensors = sorted(
        entity.unique_id
        for entity in entities.entities.values()
        if entity.unique_id.endswith("api_calls_today")
    )
    merged_into_new = [account for token, account in by_token.items() if token not in accounts]
    assert calls_sensors == sorted(f"{a.entry_id}_api_calls_today" for a in merged_into_new)
