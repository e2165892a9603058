"""What identifies an account (an API address and token) and names it."""

from __future__ import annotations

import hashlib

from yarl import URL


def token_hash(token: str) -> str:
    """A short hash of a token: it tells two tokens apart without keeping either."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def host_of(url: str) -> str:
    """The host (and port) of an API address, or the address when it has none."""
    parsed = URL(url)
    if not parsed.host:
        return url
    return parsed.host if parsed.is_default_port() else f"{parsed.host}:{parsed.port}"


def account_unique_id(url: str, token: str) -> str:
    """An account's unique id: its host and a hash of its token, never the token."""
    return f"{host_of(url).lower()}-{token_hash(token)}"


def account_title(url: str) -> str:
    """The title of an account's entry: the API's host (without its port)."""
    return f"Sunvec Connect ({URL(url).host or url})"
