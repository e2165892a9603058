"""Uploads the setup form fetched, handed to the entries it creates.

The form checks every inverter with a call to the cloud. The entry it creates starts
from that upload instead of calling again at once: adding twelve inverters costs twelve
calls, not twenty-four. Kept in memory only, for a few minutes, under a hash of the
address, token and wifiSn (the token is not kept twice).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
import hashlib

from homeassistant.core import HomeAssistant, callback
from homeassistant.util.hass_dict import HassKey

from .api import RealtimeData
from .const import DOMAIN

HANDOVER_MAX_AGE = timedelta(minutes=10)
"""A checked upload older than this is not handed over: the entry calls itself."""


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    """An upload the setup form fetched, and when."""

    realtime: RealtimeData
    fetched_at: datetime


CHECKED_UPLOADS: HassKey[dict[str, CheckedUpload]] = HassKey(f"{DOMAIN}_checked_uploads")


def _key(url: str, token: str, wifi_sn: str) -> str:
    return hashlib.sha256(f"{url}\n{token}\n{wifi_sn}".encode()).hexdigest()


@callback
def keep_checked_upload(
    hass: HomeAssistant, url: str, token: str, wifi_sn: str, checked: CheckedUpload
) -> None:
    """Keep what the form fetched for the entry it is about to create."""
    kept = hass.data.setdefault(CHECKED_UPLOADS, {})
    _drop_old(kept, checked.fetched_at)
    kept[_key(url, token, wifi_sn)] = checked


@callback
def take_checked_upload(
    hass: HomeAssistant, url: str, token: str, wifi_sn: str, now: datetime
) -> CheckedUpload | None:
    """The upload the form fetched for this entry, once, if it is recent enough."""
    kept = hass.data.get(CHECKED_UPLOADS)
    if not kept:
        return None
    checked = kept.pop(_key(url, token, wifi_sn), None)
    _drop_old(kept, now)
    if checked is None or not now - HANDOVER_MAX_AGE <= checked.fetched_at <= now:
        return None
    return checked


def _drop_old(kept: dict[str, CheckedUpload], now: datetime) -> None:
    """Forget uploads of forms whose entries were never set up (aborted, duplicates)."""
    for key, checked in list(kept.items()):
        if now - checked.fetched_at > HANDOVER_MAX_AGE:
            del kept[key]
