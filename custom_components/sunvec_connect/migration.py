"""The upgrade from an entry per inverter (version 1) to accounts with inverter subentries.

Entries with the same token become one account (the portal gives a token one API
address): the first of them (an enabled one if any) keeps its id and becomes the
account, every inverter becomes a subentry with the id of the entry it had, so what
each kept in storage, its repair issues and its counters' restore data stay where they
were. Entities keep their unique ids, entity ids and the user's choices; devices keep
their ids and names.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import inspect
from types import MappingProxyType
from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigSubentry
from homeassistant.const import CONF_API_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.storage import Store
from homeassistant.util.hass_dict import HassKey
from yarl import URL

from .account import account_title, async_account_ids, host_of
from .budget import STORAGE_VERSION
from .const import (
    CONF_CALLS_KEPT_FREE,
    CONF_SCAN_INTERVAL,
    CONF_WIFI_SN,
    DOMAIN,
    LOGGER,
    SUBENTRY_INVERTER,
)
from .issues import account_issue_ids, async_delete_issues

ACCOUNT_VERSION = 2
ACCOUNT_MINOR_VERSION = 2
MERGED: HassKey[set[str]] = HassKey(f"{DOMAIN}_merged")
API_CALLS_KEY = "api_calls_today"
LEGACY_CALLS_KEY = f"{DOMAIN}.token_calls"


@callback
def merged_entries(hass: HomeAssistant) -> set[str]:
    """Ids of the entries the upgrade merged into an account (removed, nothing to clean)."""
    return hass.data.setdefault(MERGED, set())


@dataclass(frozen=True, slots=True)
class _Inverter:
    entry: ConfigEntry
    wifi_sn: str


def _inverter(entry: ConfigEntry) -> tuple[str, str, _Inverter] | None:
    """An entry of version 1 as (address, token, inverter); None if its data is not one."""
    url, token, wifi_sn = (entry.data.get(key) for key in (CONF_URL, CONF_API_TOKEN, CONF_WIFI_SN))
    if not all(isinstance(value, str) and value for value in (url, token, wifi_sn)):
        return None
    return str(url), str(token), _Inverter(entry, str(wifi_sn))


async def async_migrate_integration(hass: HomeAssistant) -> None:
    """Merge the entries of version 1 into accounts; leave a group that cannot be merged.

    A merge that fails halfway is taken up again at the next start: each step skips
    what an earlier run did, and the entries not yet merged are left as they were.
    """
    for entry in hass.config_entries.async_entries(DOMAIN):
        await _async_rekey_account(hass, entry)
    entries = sorted(
        hass.config_entries.async_entries(DOMAIN), key=lambda entry: entry.disabled_by is not None
    )
    accounts: dict[Any, ConfigEntry] = {}
    for entry in entries:
        if entry.version < ACCOUNT_VERSION:
            continue
        if (first := accounts.setdefault(entry.data.get(CONF_API_TOKEN), entry)) is not entry:
            # Made at two addresses before the form looked for the token at any address.
            LOGGER.warning(
                "The accounts %s and %s use one token and count its calls apart: delete one"
                " and add its inverters to the other",
                first.title,
                entry.title,
            )
    groups: dict[str, list[tuple[str, str, _Inverter]]] = {}
    for entry in entries:
        if entry.version >= ACCOUNT_VERSION:
            continue
        if (parsed := _inverter(entry)) is None:
            LOGGER.error(
                "The entry %s has no address, token and inverter: not upgraded", entry.title
            )
            continue
        # By the token, not the address: one token is one account.
        groups.setdefault(parsed[1], []).append(parsed)
    for token, group in groups.items():
        # A half-merged group goes on into the entry that already holds subentries.
        inverters = sorted((inverter for _, _, inverter in group), key=_merged_first)
        account = accounts.get(token)
        titles = ", ".join(inverter.entry.title for inverter in inverters)
        if (problem := _why_not(account, inverters)) is not None:
            LOGGER.error(
                "The entries %s cannot become one account (%s); they stay as they are",
                titles,
                problem,
            )
            continue
        url = _address([url for url, _, _ in group], inverters[0])
        chosen = str(account.data[CONF_URL]) if account else url
        if {host_of(u).lower() for u, _, _ in group} - {host_of(chosen).lower()}:
            LOGGER.warning(
                "The entries %s used their token at other addresses too; their account uses %s",
                titles,
                host_of(chosen),
            )
        try:
            await _async_merge(hass, account, url, token, inverters)
        except Exception:  # noqa: BLE001 - one account's failure must not stop the others
            LOGGER.exception(
                "The entries %s could not become one account yet; the next start goes on", titles
            )
    await _async_split_token_calls(hass)


def _address(urls: list[str], first: _Inverter) -> str:
    """A new account's address: its first entry's host, over https if an entry used that."""
    url = str(first.entry.data[CONF_URL])
    host = host_of(url).lower()
    return next((u for u in urls if URL(u).scheme == "https" and host_of(u).lower() == host), url)


def _merged_first(inverter: _Inverter) -> tuple[bool, bool]:
    """Order a group: the entry a failed merge left subentries in, then the enabled ones."""
    return not inverter.entry.subentries, inverter.entry.disabled_by is not None


async def _async_split_token_calls(hass: HomeAssistant) -> None:
    """Give each account the calls of its token that releases up to 0.2 kept in one store.

    That store held the calls of every token under the full hash of the token; an
    account now keeps its own (`TokenCalls`). Calls of tokens no account uses are dropped.
    """
    legacy: Store[dict[str, Any]] = Store(hass, 1, LEGACY_CALLS_KEY)
    if not isinstance(kept := await legacy.async_load(), dict):
        return
    for entry in hass.config_entries.async_entries(DOMAIN):
        url, token = entry.data.get(CONF_URL), entry.data.get(CONF_API_TOKEN)
        if not isinstance(url, str) or not isinstance(token, str):
            continue
        record = kept.get(hashlib.sha256(token.encode()).hexdigest())
        key = (await async_account_ids(hass, url, token)).calls_key
        calls: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, key)
        if isinstance(record, dict) and await calls.async_load() is None:
            await calls.async_save(record)
    await legacy.async_remove()


async def _async_rekey_account(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Version 2.2: the account's ids hash its token with this installation's secret.

    Version 2.1 hashed the token alone; its calls move to the new key. An account whose
    id does not fit the secret (the secret was lost) takes the id that fits.
    """
    url, token = entry.data.get(CONF_URL), entry.data.get(CONF_API_TOKEN)
    if entry.version != ACCOUNT_VERSION or not isinstance(url, str) or not isinstance(token, str):
        return
    ids = await async_account_ids(hass, url, token)
    if entry.minor_version < ACCOUNT_MINOR_VERSION:
        old: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, _calls_key_v2_1(url, token))
        new: Store[dict[str, Any]] = Store(hass, STORAGE_VERSION, ids.calls_key)
        if isinstance(kept := await old.async_load(), dict) and await new.async_load() is None:
            await new.async_save(kept)
        await old.async_remove()
    if (entry.unique_id, entry.minor_version) != (ids.unique_id, ACCOUNT_MINOR_VERSION):
        hass.config_entries.async_update_entry(
            entry, unique_id=ids.unique_id, minor_version=ACCOUNT_MINOR_VERSION
        )


def _calls_key_v2_1(url: str, token: str) -> str:
    """Where version 2.1 kept an account's calls: under a hash of its id."""
    unique_id = f"{host_of(url).lower()}-{hashlib.sha256(token.encode()).hexdigest()[:16]}"
    return f"{DOMAIN}.calls_{hashlib.sha256(unique_id.encode()).hexdigest()[:16]}"


def _why_not(account: ConfigEntry | None, inverters: list[_Inverter]) -> str | None:
    """Why these inverters cannot become one account's subentries, if they cannot."""
    wifi_sns = [inverter.wifi_sn for inverter in inverters]
    if account is not None:
        merged = {inverter.entry.entry_id for inverter in inverters}
        wifi_sns += [
            subentry.unique_id or ""
            for subentry in account.subentries.values()
            if subentry.subentry_id not in merged  # added by a merge that failed later
        ]
    if len(set(wifi_sns)) != len(wifi_sns):
        return "an inverter is in two of them"
    return None


async def _async_merge(
    hass: HomeAssistant,
    account: ConfigEntry | None,
    url: str,
    token: str,
    inverters: list[_Inverter],
) -> None:
    """Make the inverters subentries of `account` (or of the first of them).

    The others are removed last, once the account holds everything they had.
    """
    target = account or inverters[0].entry
    enabled = target.disabled_by is None
    for inverter in inverters:
        if (subentry := target.subentries.get(inverter.entry.entry_id)) is None:
            subentry = ConfigSubentry(
                data=MappingProxyType({CONF_WIFI_SN: inverter.wifi_sn}),
                subentry_type=SUBENTRY_INVERTER,
                title=inverter.entry.title,
                unique_id=inverter.wifi_sn,
                subentry_id=inverter.entry.entry_id,
            )
            hass.config_entries.async_add_subentry(target, subentry)
        was_disabled = inverter.entry.disabled_by is not None
        _move_entities(hass, inverter, target, subentry, keep_calls=inverter.entry is target)
        _move_device(hass, inverter, target, subentry, disable=was_disabled and enabled)
    options = _merged_options([*(i.entry for i in inverters), *([account] if account else [])])
    # An account keeps its own address (a group's may be plain http, or another host).
    data = dict(target.data) if account else {CONF_URL: url, CONF_API_TOKEN: token}
    hass.config_entries.async_update_entry(
        target,
        data=data,
        options=options,
        title=target.title if account else account_title(url),
        unique_id=(await async_account_ids(hass, data[CONF_URL], token)).unique_id,
        version=ACCOUNT_VERSION,
        minor_version=ACCOUNT_MINOR_VERSION,
    )
    for inverter in inverters:
        if inverter.entry is not target:
            merged_entries(hass).add(inverter.entry.entry_id)
            async_delete_issues(hass, account_issue_ids(inverter.entry.entry_id))
            await hass.config_entries.async_remove(inverter.entry.entry_id)
    LOGGER.info("%d inverters now belong to the account %s", len(inverters), target.title)


def _merged_options(entries: list[ConfigEntry]) -> dict[str, Any]:
    """One account's options: the most calls kept free; a fixed interval only if all had one.

    The longest of the fixed intervals: the account's inverters share the token's day.
    """
    options: dict[str, Any] = {}
    kept_free = [
        e.options[CONF_CALLS_KEPT_FREE] for e in entries if CONF_CALLS_KEPT_FREE in e.options
    ]
    if kept_free:
        options[CONF_CALLS_KEPT_FREE] = max(kept_free)
    intervals = [int(e.options.get(CONF_SCAN_INTERVAL) or 0) for e in entries]
    if all(intervals):
        options[CONF_SCAN_INTERVAL] = max(intervals)
    return options


def _move_entities(
    hass: HomeAssistant,
    inverter: _Inverter,
    target: ConfigEntry,
    subentry: ConfigSubentry,
    *,
    keep_calls: bool,
) -> None:
    """Put the inverter's entities on its subentry; one calls sensor stays, the account's."""
    registry = er.async_get(hass)
    account_calls = f"{target.entry_id}_{API_CALLS_KEY}"
    for entity in er.async_entries_for_config_entry(registry, inverter.entry.entry_id):
        if entity.config_subentry_id is not None or entity.unique_id == account_calls:
            continue  # moved by a merge that failed later
        if entity.unique_id == f"{inverter.wifi_sn}_{API_CALLS_KEY}":
            if keep_calls:
                # The account's sensor: the same entity id and statistics go on.
                registry.async_update_entity(
                    entity.entity_id,
                    new_unique_id=f"{target.entry_id}_{API_CALLS_KEY}",
                    device_id=None,
                )
            else:
                registry.async_remove(entity.entity_id)
            continue
        disabled_by = entity.disabled_by
        if disabled_by is er.RegistryEntryDisabler.CONFIG_ENTRY and target.disabled_by is None:
            # Its entry was disabled; the account is not: keep it off, with its device.
            disabled_by = er.RegistryEntryDisabler.DEVICE
        registry.async_update_entity(
            entity.entity_id,
            config_entry_id=target.entry_id,
            config_subentry_id=subentry.subentry_id,
            disabled_by=disabled_by,
        )


def _move_device(
    hass: HomeAssistant,
    inverter: _Inverter,
    target: ConfigEntry,
    subentry: ConfigSubentry,
    *,
    disable: bool,
) -> None:
    """Put the inverter's device on its subentry, with its id and the user's name."""
    registry = dr.async_get(hass)
    # Among the target's too: a merge that failed later may have moved it already.
    devices = [
        device
        for entry_id in (inverter.entry.entry_id, target.entry_id)
        for device in dr.async_entries_for_config_entry(registry, entry_id)
    ]
    device = next((d for d in devices if (DOMAIN, inverter.wifi_sn) in d.identifiers), None)
    if device is None:
        return
    if not _attached(device, target, subentry):
        _attach(registry, device, inverter.entry, target, subentry)
    if disable:
        registry.async_update_device(device.id, disabled_by=dr.DeviceEntryDisabler.USER)


def _attached(device: dr.DeviceEntry, target: ConfigEntry, subentry: ConfigSubentry) -> bool:
    """Whether the device already is on the subentry (a merge that failed later moved it)."""
    if _DEVICES_MOVE:
        return (device.config_entry_id, device.config_subentry_id) == (
            target.entry_id,
            subentry.subentry_id,
        )
    return subentry.subentry_id in device.config_entries_subentries.get(target.entry_id, ())


def _attach(
    registry: dr.DeviceRegistry,
    device: dr.DeviceEntry,
    entry: ConfigEntry,
    target: ConfigEntry,
    subentry: ConfigSubentry,
) -> None:
    """Move the device from the inverter's entry to its subentry of `target`."""
    if _DEVICES_MOVE:
        registry.async_update_device(
            device.id,
            new_config_entry_id=target.entry_id,
            new_config_subentry_id=subentry.subentry_id,
        )
    else:  # Home Assistant before devices belonged to one entry (2026.3)
        # In two steps: in one, a removal is read from the device as it was before the
        # addition, and the device of an entry that becomes its own account would go.
        registry.async_update_device(
            device.id,
            add_config_entry_id=target.entry_id,
            add_config_subentry_id=subentry.subentry_id,
        )
        registry.async_update_device(
            device.id,
            remove_config_entry_id=entry.entry_id,
            remove_config_subentry_id=None,
        )


_DEVICES_MOVE = (
    "new_config_entry_id" in inspect.signature(dr.DeviceRegistry.async_update_device).parameters
)
"""Whether this Home Assistant moves a device with `new_config_entry_id`."""
