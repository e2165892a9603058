"""Asynchronous client for the Sunvec Connect cloud API.

Written as a stand-alone library: it imports nothing from Home Assistant and
takes the aiohttp session it uses from its caller.

Its contract: every answer ends in a `RealtimeData` (finite numbers only) or in
one of this module's `SunvecError` subclasses, never in another exception; the
token is redacted from every string it builds and from the parsed data.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
import ipaddress
import json
import math
import re
from typing import Any, Final, Literal, Self
import unicodedata

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError, DecompressSizeError
import idna
from yarl import URL

from .kept import aware_time

REALTIME_PATH: Final = "api/v2/dataAccess/realtimeInfo/get"
DEFAULT_TIMEOUT: Final = 20.0
UPLOAD_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
REDACTED: Final = "**REDACTED**"

MAX_TOKEN_LENGTH: Final = 256
MAX_WIFI_SN_LENGTH: Final = 32
MAX_ANSWER_BYTES: Final = 1024 * 1024
"""An answer is a few hundred bytes; a larger one (after decompression) is refused."""
MAX_TEXT_LENGTH: Final = 64
"""A text field (serial, status code, upload time) longer than this is not a reading."""
MAX_RAW_DEPTH: Final = 16
"""`RealtimeData.raw` keeps nested values down to this depth (the real answer has 2)."""
MIN_RETRY_AFTER: Final = 1.0
MAX_RETRY_AFTER: Final = 86_400.0
"""A pause the server asks for is clamped to 1 s .. 24 h."""

_READ_CHUNK: Final = 64 * 1024
_MAX_HOST_LENGTH: Final = 253
_TOKEN_PATTERN: Final = re.compile(rf"[\x21-\x7e]{{1,{MAX_TOKEN_LENGTH}}}")
_WIFI_SN_PATTERN: Final = re.compile(rf"[A-Za-z0-9]{{1,{MAX_WIFI_SN_LENGTH}}}")
_SCHEME_PREFIX: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://")
_HTTP_PREFIX: Final = re.compile(r"https?:", re.IGNORECASE)
_BARE_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+\-]*:(?![0-9]*(?:[/?#]|$))")
_LABEL_PATTERN: Final = re.compile(r"[a-z0-9](?:[a-z0-9\-]{0,61}[a-z0-9])?")
_PORT_PATTERN: Final = re.compile(r"[0-9]{1,5}")
_LINE_BREAKS: Final = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_ENDPOINT_PREFIXES: Final = frozenset(
    "".join(f"/{segment}" for segment in REALTIME_PATH.lower().split("/")[:count])
    for count in range(REALTIME_PATH.count("/") + 2)
)
"""Paths that mean the API's base: none, `/api`, `/api/v2`, ... the endpoint itself."""
_NUMBER_TEXT: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_CODE_TEXT: Final = re.compile(r"[+-]?[0-9]{1,18}")
_RETRY_SECONDS: Final = re.compile(r"[0-9]{1,32}(?:\.[0-9]{1,9})?")
_CHARSET: Final = re.compile(r"charset\s*=\s*\"?([^\";,\s]*)", re.IGNORECASE)
_MAX_CODE: Final = 2**63
_NOT_JSON: Final = object()

type InvalidInputReason = Literal[
    "empty",
    "scheme",
    "host",
    "path",
    "credentials",
    "line_break",
    "token",
    "token_is_address",
    "token_in_address",
    "wifi_sn",
]

CODE_SUCCESS: Final = 0
CODE_BANNED: Final = 1
CODE_RATE_LIMITED_ALT: Final = 3
CODE_TOKEN_INVALID: Final = 103
CODE_RATE_LIMITED: Final = 104
CODE_UNAUTHORIZED: Final = 1001
CODE_INVALID_PARAMETER: Final = 1002
CODE_DATA_UNAUTHORIZED: Final = 1003
CODE_DUPLICATE: Final = 1004
CODE_OPERATION_FAILED: Final = 2001
CODE_NOT_FOUND: Final = 2002

SN_NOT_ACCESSED: Final = "this sn did not access!"
NO_AUTH: Final = "no auth!"
BAN_SECONDS: Final = 3600.0

INVERTER_STATUS: Final[Mapping[str, str]] = {
    "100": "waiting",
    "101": "self_test",
    "102": "normal",
    "103": "recoverable_fault",
    "104": "permanent_fault",
    "105": "firmware_upgrade",
    "106": "eps_detection",
    "107": "off_grid",
    "108": "self_test_italy",
    "109": "sleep",
    "110": "standby",
    "111": "pv_wake_up_battery",
    "112": "generator_detection",
    "113": "generator",
    "114": "fast_shutdown_standby",
    "130": "vpp",
    "131": "tou_self_use",
    "132": "tou_charging",
    "133": "tou_discharging",
}
"""Appendix 8.1 of the API document: inverterStatus code to a snake_case name."""

BATTERY_STATUS: Final[Mapping[str, str]] = {
    "0": "normal",
    "1": "fault",
    "2": "disconnected",
}


class RedactedStr(str):
    """A string whose repr hides it: dumps of an object's attributes do not show it."""

    __slots__ = ()

    def __repr__(self) -> str:
        """Never the value."""
        return repr(REDACTED)


class SunvecError(Exception):
    """Base class for every error of this client."""


class SunvecInvalidInputError(SunvecError, ValueError):
    """A URL, token or wifiSn given to the client is not acceptable.

    `reason` says which rule the input broke: for the URL one of `empty`, `scheme`,
    `host`, `path`, `credentials`, `line_break`; `token`; `wifi_sn`.
    """

    def __init__(self, message: str, reason: InvalidInputReason) -> None:
        """Keep the reason next to the (static) message."""
        super().__init__(message)
        self.reason: InvalidInputReason = reason


class SunvecConnectionError(SunvecError):
    """The API could not be reached (timeout, DNS, refused, TLS)."""


class SunvecNotSentError(SunvecConnectionError):
    """The request never reached the cloud (DNS, refused, TLS at connect): no call was made."""


class SunvecMalformedResponseError(SunvecError):
    """The API answered with something that is not a valid envelope."""


class SunvecApiError(SunvecError):
    """The API answered with an error envelope."""

    def __init__(self, message: str, code: int | None = None) -> None:
        """Store the vendor code alongside the message."""
        super().__init__(message)
        self.code = code


class SunvecServerError(SunvecApiError):
    """The server failed or is busy (code 2001, HTTP 5xx, a code-less "server is busy")."""


class SunvecAuthenticationError(SunvecApiError):
    """The token is not valid (codes 1001 and 103, HTTP 401/403)."""


class SunvecNotAuthorizedError(SunvecApiError):
    """The token may not read this wifiSn (code 1003, whatever its text says)."""


class SunvecNotFoundError(SunvecApiError):
    """The wifiSn is unknown to the cloud (code 2002)."""


class SunvecInvalidParameterError(SunvecApiError):
    """The request was rejected as invalid (code 1002)."""


class SunvecRateLimitError(SunvecApiError):
    """Too many calls for this token.

    `retry_after` is the pause in seconds when the server names one, clamped to
    `MIN_RETRY_AFTER` .. `MAX_RETRY_AFTER` (a Retry-After of 1e12 would overflow
    any date arithmetic of the caller); None when unknown.
    """

    def __init__(
        self, message: str, code: int | None = None, retry_after: float | None = None
    ) -> None:
        """Store how long the server asks us to wait, within a sane range."""
        super().__init__(message, code)
        self.retry_after = clamp_retry_after(retry_after)


def clamp_retry_after(seconds: float | None) -> float | None:
    """Clamp a pause to 1 s .. 24 h; None for none, a negative or a non-finite one."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(max(seconds, MIN_RETRY_AFTER), MAX_RETRY_AFTER)


# Typed input ------------------------------------------------------------------


def normalize_url(url: str) -> str:
    """Return the API base URL, `scheme://host[:port]`, for what a user typed.

    Accepts a host (https is then assumed), `http://` or `https://` followed by a
    host, an optional port and, as the only path, a prefix of the endpoint's own
    path (`/`, `/api`, `/api/v2`, ... the whole endpoint pasted), in any case.
    Rejects anything else with `SunvecInvalidInputError.reason` saying why.
    """
    text = url.strip()
    if not text:
        raise SunvecInvalidInputError("The URL is empty", "empty")
    if any(char in _LINE_BREAKS for char in text):
        raise SunvecInvalidInputError("The URL must be on one line", "line_break")
    scheme_error = SunvecInvalidInputError("The URL must start with http:// or https://", "scheme")
    explicit = "://" in text
    if explicit:
        match = _SCHEME_PREFIX.match(text)
        if match is None or match.group(1).lower() not in _DEFAULT_PORTS:
            raise scheme_error
        scheme, rest = match.group(1).lower(), text[match.end() :]
    else:
        scheme, rest = "https", text
    authority, path = _split_authority(rest)
    if "@" in authority:
        raise SunvecInvalidInputError("The URL must not contain credentials", "credentials")
    if not explicit and (
        _HTTP_PREFIX.match(text) or _BARE_SCHEME.match(text) or text.startswith("//")
    ):
        # "https:/host", "https:host", "ftp:x", "//host": a scheme without its "//".
        raise scheme_error
    host, port = _parse_authority(authority)
    if not _is_endpoint_prefix(path):
        raise SunvecInvalidInputError(
            "The URL must not have a path other than the API's own", "path"
        )
    port_text = "" if port in (None, _DEFAULT_PORTS[scheme]) else f":{port}"
    return f"{scheme}://{host}{port_text}"


def _split_authority(rest: str) -> tuple[str, str]:
    """Split `host[:port]` from what follows it (path, query, fragment)."""
    for index, char in enumerate(rest):
        if char in "/?#":
            return rest[:index], rest[index:]
    return rest, ""


def _is_endpoint_prefix(path: str) -> bool:
    """Whether `path` is empty or a prefix of the endpoint path, with one trailing slash."""
    return path.removesuffix("/").lower() in _ENDPOINT_PREFIXES


def _parse_authority(authority: str) -> tuple[str, int | None]:
    """Return the canonical host (ASCII, IDNA) and the port of `host[:port]`."""
    host_error = SunvecInvalidInputError("The URL has no valid host", "host")
    if authority.startswith("["):
        end = authority.find("]")
        if end == -1:
            raise host_error
        host = _ipv6_host(authority[1:end])
        after = authority[end + 1 :]
        if after and not after.startswith(":"):
            raise host_error
        port_text = after[1:] if after else None
    else:
        name, colon, port_text_or_empty = authority.partition(":")
        host = _host_name(name)
        port_text = port_text_or_empty if colon else None
    if host is None:
        raise host_error
    if port_text is None or port_text == "":
        return host, None
    if not _PORT_PATTERN.fullmatch(port_text) or not 0 < int(port_text) < 65536:
        raise host_error
    return host, int(port_text)


def _ipv6_host(text: str) -> str | None:
    """`[address]` for a literal IPv6 address without zone, else None."""
    if "%" in text or not text.isascii():
        return None
    try:
        return f"[{ipaddress.IPv6Address(text).compressed}]"
    except ValueError:
        return None


def _host_name(name: str) -> str | None:
    """The host name (or IPv4 address) in canonical ASCII form, or None when invalid.

    Every label is 1-63 letters, digits or inner hyphens, `xn--` labels must be valid
    IDNA, a Unicode name is converted with IDNA (UTS #46) and may not contain
    characters that IDNA would silently drop.
    """
    if not name or len(name) > 4 * _MAX_HOST_LENGTH:
        return None
    if not name.isascii():
        try:
            if any(
                unicodedata.category(char)[0] in "CZ" or not idna.uts46_remap(char)
                for char in name
                if not char.isascii()
            ):
                return None
            name = idna.encode(name, uts46=True).decode("ascii")
        except UnicodeError:  # idna.IDNAError is one
            return None
    name = name.lower().removesuffix(".")
    labels = name.split(".")
    if len(name) > _MAX_HOST_LENGTH or not all(_LABEL_PATTERN.fullmatch(lb) for lb in labels):
        return None
    try:
        for label in labels:
            if label.startswith("xn--"):
                idna.decode(label)
        # What the resolver and yarl do with the host must not fail later.
        name.encode("idna")
        URL.build(scheme="https", host=name).host  # noqa: B018
    except UnicodeError, ValueError:
        return None
    if labels[-1].isdigit():
        # A numeric last label makes it an IPv4 address: only the dotted-quad form.
        try:
            return str(ipaddress.IPv4Address(name))
        except ValueError:
            return None
    return name


def normalize_wifi_sn(wifi_sn: str) -> str:
    """Return the wifiSn stripped and upper-cased: 1 to 32 ASCII letters and digits."""
    text = wifi_sn.strip()
    # Checked before upper-casing: "ß".upper() is "SS".
    if not _WIFI_SN_PATTERN.fullmatch(text):
        raise SunvecInvalidInputError("The wifiSn must be 1 to 32 letters and digits", "wifi_sn")
    return text.upper()


def normalize_token(token: str) -> str:
    """Return the token stripped, or raise when it cannot be a tokenId."""
    text = token.strip()
    if not _TOKEN_PATTERN.fullmatch(text):
        raise SunvecInvalidInputError(
            "The token must be 1 to 256 printable characters without spaces", "token"
        )
    if "://" in text:
        # The address typed into the token's field: the token may be in the address's.
        raise SunvecInvalidInputError("The token is an address", "token_is_address")
    return text


def check_address_and_token(base_url: str, token: str) -> None:
    """Raise when the address holds the token (the token typed into the address's field).

    Such an address would send the token to a name server and show it in errors.
    """
    if holds_token(base_url, token):
        raise SunvecInvalidInputError("The address holds the token", "token_in_address")


# Parsing ---------------------------------------------------------------------


def holds_token(text: str, token: str) -> bool:
    """Whether `text` holds `token`, in any letter case."""
    return bool(token) and token.casefold() in text.casefold()


def redact_token(text: str, token: str) -> str:
    """`text` with every occurrence of `token`, in any letter case, replaced by a marker."""
    if not token:
        return text
    return re.sub(re.escape(token), REDACTED, text, flags=re.IGNORECASE)


def _as_float(value: Any) -> float | None:
    """Return a finite number as float; None for null and for what is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        try:
            number = float(value)
        except OverflowError:
            return None
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > MAX_TEXT_LENGTH or not _NUMBER_TEXT.fullmatch(text):
            return None
        number = float(text)
    else:
        return None
    return number if math.isfinite(number) else None


def _clean_text(text: str, token: str) -> str | None:
    """A short, printable, token-free text, or None."""
    text = redact_token(text.strip(), token)
    if not text or len(text) > MAX_TEXT_LENGTH or not text.isprintable():
        return None
    return text


def _integer_text(value: int) -> str | None:
    """The digits of an integer of sane size (no huge-int formatting)."""
    return str(value) if -_MAX_CODE < value < _MAX_CODE else None


def _as_code(value: Any, token: str = "") -> str | None:
    """Return a status code as a string, keeping integers as their digits."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        text = _integer_text(value)
        return _clean_text(text, token) if text is not None else None
    if isinstance(value, str):
        return _clean_text(value, token)
    return None


def _as_text(value: Any, token: str = "") -> str | None:
    """Return a string field, or None when it is absent or not a string."""
    if isinstance(value, str):
        return _clean_text(value, token)
    if isinstance(value, int) and not isinstance(value, bool):
        text = _integer_text(value)
        return _clean_text(text, token) if text is not None else None
    return None


def _without_token(value: Any, token: str, depth: int = 0) -> Any:
    """A copy of a parsed JSON value with the token taken out of every string and number.

    Containers deeper than `MAX_RAW_DEPTH` are dropped (replaced by None).
    """
    if isinstance(value, str):
        return redact_token(value, token)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        try:
            shown = repr(value)
        except ValueError:  # an integer too long to format
            return None
        return REDACTED if holds_token(shown, token) else value
    if depth >= MAX_RAW_DEPTH:
        return None
    if isinstance(value, Mapping):
        return {
            redact_token(str(key), token): _without_token(item, token, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_without_token(item, token, depth + 1) for item in value]
    return None


def parse_upload_time(value: str | None) -> datetime | None:
    """Parse uploadTime (plant-local time without zone) into a naive datetime."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, UPLOAD_TIME_FORMAT)
    except ValueError:
        return None


def parse_utc_time(value: str | None) -> datetime | None:
    """Parse utcDateTime (ISO 8601 with a zone, e.g. "2026-10-06T13:23:04Z"); None without."""
    return aware_time(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class RealtimeData:
    """One answer of realtimeInfo: the inverter's latest upload.

    Numbers are finite; texts are at most `MAX_TEXT_LENGTH` printable characters.
    Built by `from_dict` with the token, no field (nor `raw`) contains it.
    """

    inverter_sn: str | None
    ac_power: float | None
    yield_today: float | None
    yield_total: float | None
    feedin_power: float | None
    feedin_energy: float | None
    consume_energy: float | None
    feedin_power_meter2: float | None
    soc: float | None
    eps_power_a: float | None
    eps_power_b: float | None
    eps_power_c: float | None
    inverter_type: str | None
    inverter_status: str | None
    upload_time_text: str | None
    upload_time: datetime | None
    """uploadTime as a naive datetime in the plant's local time."""
    utc_time: datetime | None = None
    """utcDateTime, where the answer carries one with a zone (not always right)."""
    battery_power: float | None
    pv_power_1: float | None
    pv_power_2: float | None
    pv_power_3: float | None
    pv_power_4: float | None
    battery_status: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def pv_power(self) -> float | None:
        """Sum of the PV string powers that carry data (None if it is not finite)."""
        strings = [
            value
            for value in (self.pv_power_1, self.pv_power_2, self.pv_power_3, self.pv_power_4)
            if value is not None
        ]
        total = sum(strings) if strings else None
        return total if total is not None and math.isfinite(total) else None

    @classmethod
    def from_dict(cls, result: Mapping[str, Any], *, token: str = "") -> Self:
        """Build from the `result` object of a realtimeInfo answer, redacting `token`."""

        def number(key: str) -> float | None:
            value = _as_float(result.get(key))
            # A number that spells the token (a server echoing it) is not a reading.
            return None if value is not None and holds_token(repr(value), token) else value

        upload_time_text = _as_text(result.get("uploadTime"), token)
        return cls(
            inverter_sn=_as_text(result.get("inverterSN"), token),
            ac_power=number("acpower"),
            yield_today=number("yieldtoday"),
            yield_total=number("yieldtotal"),
            feedin_power=number("feedinpower"),
            feedin_energy=number("feedinenergy"),
            consume_energy=number("consumeenergy"),
            feedin_power_meter2=number("feedinpowerM2"),
            soc=number("soc"),
            eps_power_a=number("peps1"),
            eps_power_b=number("peps2"),
            eps_power_c=number("peps3"),
            inverter_type=_as_code(result.get("inverterType"), token),
            inverter_status=_as_code(result.get("inverterStatus"), token),
            upload_time_text=upload_time_text,
            upload_time=parse_upload_time(upload_time_text),
            utc_time=parse_utc_time(_as_text(result.get("utcDateTime"), token)),
            battery_power=number("batPower"),
            pv_power_1=number("powerdc1"),
            pv_power_2=number("powerdc2"),
            pv_power_3=number("powerdc3"),
            pv_power_4=number("powerdc4"),
            battery_status=_as_code(result.get("batStatus"), token),
            raw=_without_token(result, token),
        )


_BAN_HINT: Final = re.compile(r"\bban(?:ned)?\b|violat", re.IGNORECASE)
_RATE_HINT: Final = re.compile(r"frequen|too many|limit|exceed", re.IGNORECASE)
_BUSY_HINT: Final = re.compile(r"busy|try again later|temporarily unavailable", re.IGNORECASE)
_ERRORS_BY_CODE: Final[Mapping[int, type[SunvecApiError]]] = {
    CODE_UNAUTHORIZED: SunvecAuthenticationError,
    CODE_TOKEN_INVALID: SunvecAuthenticationError,
    CODE_DATA_UNAUTHORIZED: SunvecNotAuthorizedError,
    CODE_NOT_FOUND: SunvecNotFoundError,
    CODE_INVALID_PARAMETER: SunvecInvalidParameterError,
    CODE_RATE_LIMITED: SunvecRateLimitError,
    CODE_RATE_LIMITED_ALT: SunvecRateLimitError,
    CODE_OPERATION_FAILED: SunvecServerError,
}
"""Codes that decide the error whatever the envelope's text says."""


def parse_realtime_response(
    status: int, headers: Mapping[str, str], body: bytes, *, token: str = ""
) -> RealtimeData:
    """Turn an HTTP answer of realtimeInfo into its data or one of our exceptions.

    `body` is the (decompressed, size-capped) body; `token` is redacted from
    everything built from the answer.
    """
    return RealtimeData.from_dict(_result_of(status, headers, body, token), token=token)


def _result_of(
    status: int, headers: Mapping[str, str], body: bytes, token: str
) -> Mapping[str, Any]:
    """The `result` object of a successful answer; raise for anything else."""
    if status in (401, 403):
        raise SunvecAuthenticationError(f"HTTP {status}: the token was refused")
    if status == 429:
        raise SunvecRateLimitError(
            "HTTP 429: too many requests", retry_after=retry_after_seconds(headers)
        )
    if status >= 500:
        raise SunvecServerError(f"HTTP {status} from the server")
    if status != 200:
        raise SunvecMalformedResponseError(f"Unexpected HTTP status {status}")
    if len(body) > MAX_ANSWER_BYTES:
        raise SunvecMalformedResponseError("The answer is larger than 1 MiB")
    try:
        envelope = json.loads(decode_body(body, headers.get("Content-Type")))
    except ValueError, RecursionError:
        # Raised below, outside this block: the decoder's error (which keeps the
        # whole text, token included) is not attached as the context.
        envelope = _NOT_JSON
    if envelope is _NOT_JSON:
        raise SunvecMalformedResponseError("The answer is not JSON")
    if not isinstance(envelope, dict):
        raise SunvecMalformedResponseError("The answer is not a JSON object")
    code = envelope_code(envelope.get("code"))
    if envelope.get("success") is True and code in (None, CODE_SUCCESS):
        result = envelope.get("result")
        if not isinstance(result, dict):
            raise SunvecMalformedResponseError("The answer has no result object")
        return result
    raise _api_error(envelope, code, retry_after_seconds(headers), token)


def decode_body(body: bytes, content_type: str | None) -> str:
    """Decode an answer: its declared charset when it is a known text encoding, else UTF-8."""
    encoding = "utf-8-sig"
    if content_type and (match := _CHARSET.search(content_type)):
        try:
            name = codecs.lookup(match.group(1)).name
        except LookupError, ValueError, TypeError:
            name = ""
        # Only plain text encodings: codecs such as punycode or idna are no charset.
        if name.startswith(("utf-", "iso8859-", "cp125")) or name in ("ascii", "latin-1"):
            encoding = name
    # With errors="replace" these plain text codecs cannot raise.
    return body.decode(encoding, errors="replace")


def envelope_code(value: Any) -> int | None:
    """The envelope's `code` as an integer; None when absent or not a sane integer."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _CODE_TEXT.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and -_MAX_CODE < value < _MAX_CODE:
        return value
    return None


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The pause a Retry-After header asks for, clamped; None when absent or unreadable.

    An HTTP date is measured against the answer's own Date header (no local clock).
    """
    value = headers.get("Retry-After")
    if value is None:
        return None
    text = value.strip()
    if _RETRY_SECONDS.fullmatch(text):
        return clamp_retry_after(float(text))
    sent = headers.get("Date")
    if sent is None:
        return None
    try:
        retry_at, sent_at = parsedate_to_datetime(text), parsedate_to_datetime(sent)
        if retry_at.tzinfo is None:
            retry_at = retry_at.replace(tzinfo=UTC)
        if sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)
        seconds = (retry_at - sent_at).total_seconds()
    except TypeError, ValueError, OverflowError, IndexError:
        return None
    return clamp_retry_after(seconds)


def _api_error(
    envelope: Mapping[str, Any], code: int | None, retry_after: float | None, token: str
) -> SunvecError:
    """Map an error envelope onto its exception: by code, by text only without a code.

    No code means `code` absent, null, unreadable or 0 (0 with `success: false`: the
    cloud answers "this sn did not access!" that way). Code 1 is refined by its text:
    a ban only when the text says so. Any other code that is not documented is a
    plain `SunvecApiError`, whatever its text.
    """
    texts = [
        part
        for part in (envelope.get("exception"), envelope.get("result"))
        if isinstance(part, str) and part.strip()
    ]
    text = "; ".join(texts)
    # Redacted before it is cut, so that no piece of the token survives the cut.
    detail = "".join(
        char if char.isprintable() else " " for char in redact_token(text, token)[:300]
    )
    detail = detail or "no message"
    shown_code = None if code is not None and holds_token(str(code), token) else code
    message = redact_token(
        f"API error {code}: {detail}" if code is not None else f"API error: {detail}", token
    )
    if code not in (None, CODE_SUCCESS):
        if (error := _ERRORS_BY_CODE.get(code)) is not None:
            if error is SunvecRateLimitError:
                return SunvecRateLimitError(message, shown_code, retry_after=retry_after)
            return error(message, shown_code)
        if code == CODE_BANNED and (_BAN_HINT.search(text) or _RATE_HINT.search(text)):
            return SunvecRateLimitError(message, shown_code, retry_after=BAN_SECONDS)
        if envelope.get("success") is True:
            return SunvecMalformedResponseError(message)
        return SunvecApiError(message, shown_code)
    lowered = text.lower()
    if NO_AUTH in lowered:
        return SunvecAuthenticationError(message, shown_code)
    if SN_NOT_ACCESSED in lowered:
        return SunvecNotFoundError(message, shown_code)
    if _BAN_HINT.search(text):
        return SunvecRateLimitError(message, shown_code, retry_after=retry_after or BAN_SECONDS)
    if _RATE_HINT.search(text):
        return SunvecRateLimitError(message, shown_code, retry_after=retry_after)
    if _BUSY_HINT.search(text):
        return SunvecServerError(message, shown_code)
    return SunvecApiError(message, shown_code)


async def _read_capped(content: aiohttp.StreamReader) -> bytes:
    """Read a (decompressed) body in chunks; stop past `MAX_ANSWER_BYTES`.

    aiohttp inflates gzip and deflate as the chunks are read, so a compressed
    bomb is cut off here before it takes memory.
    """
    chunks: list[bytes] = []
    total = 0
    while chunk := await content.read(_READ_CHUNK):
        total += len(chunk)
        if total > MAX_ANSWER_BYTES:
            raise SunvecMalformedResponseError("The answer is larger than 1 MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposes_token(base_url: str) -> bool:
    """Whether a token sent to `base_url` travels unencrypted to another machine."""
    endpoint = URL(normalize_url(base_url))
    return endpoint.scheme != "https" and not _is_loopback(endpoint.raw_host or "")


class SunvecClient:
    """Client for one Sunvec Connect token (an account): any of its inverters' wifiSns."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        *,
        request_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Validate and keep what every call needs."""
        self._session = session
        self.base_url = normalize_url(base_url)
        self._token = RedactedStr(normalize_token(token))
        check_address_and_token(self.base_url, self._token)
        self.request_timeout = request_timeout
        self._endpoint = URL(f"{self.base_url}/{REALTIME_PATH}")
        self._host = self._endpoint.raw_host or ""

    def __repr__(self) -> str:
        """Describe the client without its token."""
        return self._redact(f"SunvecClient(base_url={self.base_url!r}, token={REDACTED!r})")

    def _redact(self, text: str) -> str:
        """Remove the token from text that may be shown or logged."""
        return redact_token(text, self._token)

    async def async_get_realtime_data(self, wifi_sn: str) -> RealtimeData:
        """Return the latest upload of the inverter `wifi_sn`.

        The wifiSn is normalized first: one the client cannot accept raises
        `SunvecInvalidInputError` (reason `wifi_sn`) without calling the cloud.
        """
        status, headers, body = await self._post({"wifiSn": normalize_wifi_sn(wifi_sn)})
        return parse_realtime_response(status, headers, body, token=self._token)

    async def _post(self, payload: Mapping[str, Any]) -> tuple[int, Mapping[str, str], bytes]:
        """POST to the realtime endpoint; return status, headers and the capped body.

        A transport failure becomes a `SunvecConnectionError` raised outside the
        `except` block: the aiohttp exception (whose repr can show the request's
        headers, token included) is neither its cause nor its context.
        """
        headers = {
            "tokenId": self._token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        failure: SunvecError
        try:
            async with (
                asyncio.timeout(self.request_timeout),
                self._session.post(
                    self._endpoint, json=payload, headers=headers, allow_redirects=False
                ) as response,
            ):
                status = response.status
                body = await _read_capped(response.content) if status == 200 else b""
                return status, response.headers, body
        except TimeoutError:
            failure = SunvecConnectionError(
                f"Timeout after {self.request_timeout:g} s talking to {self._host}"
            )
        except aiohttp.ClientPayloadError as err:
            if isinstance(err.__cause__, DecompressSizeError):
                # aiohttp before 3.14 stops inflating past 32 MiB in one piece itself.
                failure = SunvecMalformedResponseError("The answer is larger than 1 MiB")
            elif isinstance(err.__cause__, ContentEncodingError):
                failure = SunvecMalformedResponseError("The answer's compression is broken")
            else:
                failure = SunvecConnectionError(f"The answer from {self._host} broke off")
        except aiohttp.ClientConnectorError as err:
            # Before a byte of the request left (the cloud counts no call).
            what = (
                "TLS error talking to"
                if isinstance(err, aiohttp.ClientSSLError)
                else "Cannot reach"
            )
            failure = SunvecNotSentError(f"{what} {self._host}: {type(err).__name__}")
        except (aiohttp.ClientError, OSError, UnicodeError, ValueError) as err:
            failure = SunvecConnectionError(f"Cannot reach {self._host}: {type(err).__name__}")
        failure.args = (self._redact(str(failure)),)
        raise failure
