"""What identifies an account (an API address and token) and names it.

An account's ids hash its token with a secret of this installation (HMAC-SHA-256): the
tokens the cloud hands out are a date and a few digits, so a plain hash in a shared log
could be reversed by trying them.
"""

from __future__ import annotations

from dataclasses import dataclass
import hashlib
import hmac
import secrets
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers.singleton import singleton
from homeassistant.helpers.storage import Store
from yarl import URL

from .const import DOMAIN

SECRET_KEY = f"{DOMAIN}.secret"


@dataclass(frozen=True, slots=True)
class AccountIds:
    """An account's unique id and the storage key of its token's calls; never the token."""

    unique_id: str
    calls_key: str


def host_of(url: str) -> str:
    """The host (and port) of an API address, or the address when it has none."""
    parsed = URL(url)
    if not parsed.host:
        return url
    return parsed.host if parsed.is_default_port() else f"{parsed.host}:{parsed.port}"


def account_ids(secret: bytes, url: str, token: str) -> AccountIds:
    """The ids of the account of `token` at `url`, keyed with this installation's secret.

    The calls are the token's (the cloud counts per token): an account whose address
    changes keeps them.
    """
    host = host_of(url).lower()
    account = hmac.new(secret, f"account\n{host}\n{token}".encode(), hashlib.sha256)
    calls = hmac.new(secret, f"calls\n{token}".encode(), hashlib.sha256)
    return AccountIds(
        f"{host}-{account.hexdigest()[:16]}", f"{DOMAIN}.calls_{calls.hexdigest()[:16]}"
    )


@singleton(SECRET_KEY)
async def async_secret(hass: HomeAssistant) -> bytes:
    """The secret of this installation, made and kept (private) on first use."""
    store: Store[dict[str, Any]] = Store(hass, 1, SECRET_KEY, private=True)
    stored = await store.async_load()
    if isinstance(stored, dict) and isinstance(text := stored.get("secret"), str):
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    secret = secrets.token_bytes(32)
    await store.async_save({"secret": secret.hex()})
    return secret


async def async_remove_secret(hass: HomeAssistant) -> None:
    """Forget the secret (the last account was removed): a new account makes a new one."""
    hass.data.pop(SECRET_KEY, None)
    await Store[dict[str, Any]](hass, 1, SECRET_KEY, private=True).async_remove()


async def async_account_ids(hass: HomeAssistant, url: str, token: str) -> AccountIds:
    """The ids of the account of `token` at `url` in this installation."""
    return account_ids(await async_secret(hass), url, token)


def account_title(url: str) -> str:
    """The title of an account's entry: the API's host (without its port)."""
    return f"Sunvec Connect ({URL(url).host or url})"
