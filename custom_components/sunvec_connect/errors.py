"""One table from the client's errors to the keys the forms, the coordinator and repairs show."""

from __future__ import annotations

from typing import Final

from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import UpdateFailed

from .api import (
    SunvecAuthenticationError,
    SunvecConnectionError,
    SunvecError,
    SunvecInvalidInputError,
    SunvecInvalidParameterError,
    SunvecMalformedResponseError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecNotSentError,
    SunvecRateLimitError,
    SunvecServerError,
)
from .const import DOMAIN

NOT_SENT_ERRORS: Final = (SunvecNotSentError, SunvecInvalidInputError)
"""Errors raised before a request left: it spent no call of the token's day."""

INVERTER_ERRORS: Final = (
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecInvalidParameterError,
)
"""Errors about one inverter, not the account: its setup does not fail the account's."""

ERROR_KEYS: Final[tuple[tuple[type[SunvecError], str], ...]] = (
    (SunvecAuthenticationError, "invalid_auth"),
    (SunvecNotAuthorizedError, "wifi_sn_not_authorized"),
    (SunvecNotFoundError, "wifi_sn_not_found"),
    (SunvecInvalidParameterError, "invalid_wifi_sn"),
    (SunvecRateLimitError, "rate_limited"),
    (SunvecConnectionError, "cannot_connect"),
    (SunvecServerError, "cannot_connect"),
    (SunvecMalformedResponseError, "invalid_response"),
)
"""The translation key of each client error, most specific first: the same key names the
form error, the exception text of a failed update and the repair issue."""


def error_key(err: Exception) -> str | None:
    """The translation key of a client error; None for any other."""
    for error_type, key in ERROR_KEYS:
        if isinstance(err, error_type):
            return key
    return None


def form_error_key(err: Exception) -> str:
    """The form error of an error of a check: anything unexpected is "unknown"."""
    return error_key(err) or "unknown"


def poll_error(err: SunvecError) -> SunvecError:
    """The error a failed poll stands for.

    A saved wifiSn the client refuses (saved under an older release's rules) is a
    request the cloud would refuse: the inverter says so and waits, and the account's
    other inverters go on.
    """
    if not isinstance(err, SunvecInvalidInputError):
        return err
    invalid = SunvecInvalidParameterError(str(err))
    invalid.__cause__ = err
    return invalid


def update_error(err: SunvecError) -> ConfigEntryAuthFailed | UpdateFailed:
    """The exception a failed update raises for a client error, in the user's language."""
    key = error_key(err) or "cannot_connect"
    placeholders = {"error": str(err)}
    if isinstance(err, SunvecAuthenticationError):
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key=key, translation_placeholders=placeholders
        )
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders,
        retry_after=err.retry_after if isinstance(err, SunvecRateLimitError) else None,
    )
