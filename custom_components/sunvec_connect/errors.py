"""One table from the client's errors to the keys the forms, the coordinator and repairs show."""

from __future__ import annotations

from typing import Final

from .api import (
    SunvecAuthenticationError,
    SunvecConnectionError,
    SunvecError,
    SunvecInvalidParameterError,
    SunvecMalformedResponseError,
    SunvecNotAuthorizedError,
    SunvecNotFoundError,
    SunvecRateLimitError,
    SunvecServerError,
)

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
