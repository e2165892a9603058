"""Asynchronous client for the Sunvec Connect cloud API.

Written as a stand-alone library: it imports nothing from Home Assistant and
takes the aiohttp session it uses from its caller.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
import ipaddress
import json
import math
import re
import socket
from typing import Any, Final, Self

import aiohttp
from yarl import URL

REALTIME_PATH: Final = "api/v2/dataAccess/realtimeInfo/get"
DEFAULT_TIMEOUT: Final = 20.0
UPLOAD_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
REDACTED: Final = "**REDACTED**"

MAX_TOKEN_LENGTH: Final = 256
MAX_WIFI_SN_LENGTH: Final = 32
_TOKEN_PATTERN: Final = re.compile(r"[\x21-\x7e]+")
_WIFI_SN_PATTERN: Final = re.compile(r"[A-Z0-9]+")
_HOST_PATTERN: Final = re.compile(r"[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]")

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
    """A URL, token or wifiSn given to the client is not acceptable."""


class SunvecConnectionError(SunvecError):
    """The API could not be reached (timeout, DNS, refused, TLS)."""


class SunvecMalformedResponseError(SunvecError):
    """The API answered with something that is not a valid envelope."""


class SunvecApiError(SunvecError):
    """The API answered with an error envelope."""

    def __init__(self, message: str, code: int | None = None) -> None:
        """Store the vendor code alongside the message."""
        super().__init__(message)
        self.code = code


class SunvecServerError(SunvecApiError):
    """The server failed (code 2001 or HTTP 5xx)."""


class SunvecAuthenticationError(SunvecApiError):
    """The token is not valid (codes 1001 and 103, HTTP 401/403)."""


class SunvecNotAuthorizedError(SunvecApiError):
    """The token may not read this wifiSn (code 1003)."""


class SunvecNotFoundError(SunvecApiError):
    """The wifiSn is unknown to the cloud (code 2002)."""


class SunvecInvalidParameterError(SunvecApiError):
    """The request was rejected as invalid (code 1002)."""


class SunvecRateLimitError(SunvecApiError):
    """Too many calls for this token; `retry_after` in seconds when known."""

    def __init__(
        self, message: str, code: int | None = None, retry_after: float | None = None
    ) -> None:
        """Store how long the server asks us to wait."""
        super().__init__(message, code)
        self.retry_after = retry_after


def normalize_url(url: str) -> str:
    """Return the API base URL for what a user typed.

    Accepts a host, a URL with or without scheme, with a trailing slash or with
    the whole endpoint path pasted. No scheme means https.
    """
    text = url.strip()
    if not text:
        raise SunvecInvalidInputError("The URL is empty")
    if "://" not in text:
        text = f"https://{text}"
    try:
        parsed = URL(text)
    except ValueError as err:
        raise SunvecInvalidInputError("The URL is not valid") from err
    if parsed.scheme not in ("http", "https"):
        raise SunvecInvalidInputError("The URL must use http or https")
    host = parsed.raw_host
    if not host or not _HOST_PATTERN.fullmatch(f"[{host}]" if ":" in host else host):
        raise SunvecInvalidInputError("The URL has no valid host")
    if parsed.user is not None or parsed.password is not None:
        raise SunvecInvalidInputError("The URL must not contain credentials")
    path = parsed.path
    if (index := path.find("/api/")) != -1:
        path = path[:index]
    path = path.rstrip("/")
    base = URL.build(scheme=parsed.scheme, host=host, port=parsed.explicit_port, path=path)
    return str(base)


def normalize_wifi_sn(wifi_sn: str) -> str:
    """Return the wifiSn stripped and upper-cased, or raise when invalid."""
    text = wifi_sn.strip().upper()
    if not text or len(text) > MAX_WIFI_SN_LENGTH or not _WIFI_SN_PATTERN.fullmatch(text):
        raise SunvecInvalidInputError("The wifiSn must be 1 to 32 letters and digits")
    return text


def normalize_token(token: str) -> str:
    """Return the token stripped, or raise when it cannot be a tokenId."""
    text = token.strip()
    if not text or len(text) > MAX_TOKEN_LENGTH or not _TOKEN_PATTERN.fullmatch(text):
        raise SunvecInvalidInputError(
            "The token must be 1 to 256 printable characters without spaces"
        )
    return text


def _as_float(value: Any) -> float | None:
    """Return a number as float; None for null and for what is not a number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _as_code(value: Any) -> str | None:
    """Return a status code as a string, keeping integers as their digits."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return value.strip() or None
    return None


def _as_text(value: Any) -> str | None:
    """Return a string field, or None when it is absent or not a string."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def parse_upload_time(value: str | None) -> datetime | None:
    """Parse uploadTime (plant-local time without zone) into a naive datetime."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, UPLOAD_TIME_FORMAT)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RealtimeData:
    """One answer of realtimeInfo: the inverter's latest upload."""

    inverter_sn: str | None
    module_sn: str | None
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
    battery_power: float | None
    pv_power_1: float | None
    pv_power_2: float | None
    pv_power_3: float | None
    pv_power_4: float | None
    battery_status: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def pv_power(self) -> float | None:
        """Sum of the PV string powers that carry data."""
        strings = [
            value
            for value in (self.pv_power_1, self.pv_power_2, self.pv_power_3, self.pv_power_4)
            if value is not None
        ]
        return sum(strings) if strings else None

    @classmethod
    def from_dict(cls, result: Mapping[str, Any]) -> Self:
        """Build from the `result` object of a realtimeInfo answer."""
        upload_time_text = _as_text(result.get("uploadTime"))
        return cls(
            inverter_sn=_as_text(result.get("inverterSN")),
            module_sn=_as_text(result.get("sn")),
            ac_power=_as_float(result.get("acpower")),
            yield_today=_as_float(result.get("yieldtoday")),
            yield_total=_as_float(result.get("yieldtotal")),
            feedin_power=_as_float(result.get("feedinpower")),
            feedin_energy=_as_float(result.get("feedinenergy")),
            consume_energy=_as_float(result.get("consumeenergy")),
            feedin_power_meter2=_as_float(result.get("feedinpowerM2")),
            soc=_as_float(result.get("soc")),
            eps_power_a=_as_float(result.get("peps1")),
            eps_power_b=_as_float(result.get("peps2")),
            eps_power_c=_as_float(result.get("peps3")),
            inverter_type=_as_code(result.get("inverterType")),
            inverter_status=_as_code(result.get("inverterStatus")),
            upload_time_text=upload_time_text,
            upload_time=parse_upload_time(upload_time_text),
            battery_power=_as_float(result.get("batPower")),
            pv_power_1=_as_float(result.get("powerdc1")),
            pv_power_2=_as_float(result.get("powerdc2")),
            pv_power_3=_as_float(result.get("powerdc3")),
            pv_power_4=_as_float(result.get("powerdc4")),
            battery_status=_as_code(result.get("batStatus")),
            raw=dict(result),
        )


_BAN_HINT: Final = re.compile(r"violat|ban|frequen|too many|limit", re.IGNORECASE)
_RATE_HINT: Final = re.compile(r"frequen|too many|limit|exceed", re.IGNORECASE)


class SunvecClient:
    """Client for one wifiSn of one Sunvec Connect token."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        wifi_sn: str,
        *,
        request_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Validate and keep what every call needs."""
        self._session = session
        self.base_url = normalize_url(base_url)
        self._token = RedactedStr(normalize_token(token))
        self.wifi_sn = normalize_wifi_sn(wifi_sn)
        self.request_timeout = request_timeout
        self._endpoint = URL(self.base_url) / "api" / "v2" / "dataAccess" / "realtimeInfo" / "get"

    def __repr__(self) -> str:
        """Describe the client without its token."""
        return f"SunvecClient(base_url={self.base_url!r}, token={REDACTED!r})"

    @property
    def is_encrypted(self) -> bool:
        """True when the token travels over https."""
        return self._endpoint.scheme == "https"

    @property
    def is_loopback(self) -> bool:
        """True when the API is on this machine (such as the simulator)."""
        host = (self._endpoint.host or "").strip("[]")
        if host == "localhost":
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def _redact(self, text: str) -> str:
        """Remove the token from text that may be shown or logged."""
        return text.replace(self._token, REDACTED) if self._token else text

    async def async_get_realtime_data(self) -> RealtimeData:
        """Return the latest upload of the inverter."""
        body = await self._request({"wifiSn": self.wifi_sn})
        return RealtimeData.from_dict(body)

    async def _request(self, payload: Mapping[str, Any]) -> Mapping[str, Any]:
        """POST to the realtime endpoint and return the `result` object."""
        headers = {
            "tokenId": self._token,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        try:
            async with asyncio.timeout(self.request_timeout):
                response = await self._session.post(
                    self._endpoint, json=payload, headers=headers, allow_redirects=False
                )
                async with response:
                    status = response.status
                    retry_after = response.headers.get("Retry-After")
                    text = await response.text(errors="replace")
        except TimeoutError as err:
            raise SunvecConnectionError(
                f"Timeout after {self.request_timeout:g} s talking to {self._endpoint.host}"
            ) from err
        except aiohttp.ClientSSLError as err:
            raise SunvecConnectionError(
                f"TLS error talking to {self._endpoint.host}: {type(err).__name__}"
            ) from err
        except (aiohttp.ClientError, socket.gaierror, OSError) as err:
            raise SunvecConnectionError(
                f"Cannot reach {self._endpoint.host}: {type(err).__name__}"
            ) from err
        return self._parse(status, retry_after, text)

    def _parse(self, status: int, retry_after: str | None, text: str) -> Mapping[str, Any]:
        """Turn an HTTP answer into the `result` object or an exception."""
        if status in (401, 403):
            raise SunvecAuthenticationError(f"HTTP {status}: the token was refused")
        if status == 429:
            raise SunvecRateLimitError(
                "HTTP 429: too many requests", retry_after=_as_float(retry_after)
            )
        if status >= 500:
            raise SunvecServerError(f"HTTP {status} from the server")
        if status != 200:
            raise SunvecMalformedResponseError(f"Unexpected HTTP status {status}")
        try:
            body = json.loads(text)
        except ValueError:
            raise SunvecMalformedResponseError("The answer is not JSON") from None
        if not isinstance(body, dict):
            raise SunvecMalformedResponseError("The answer is not a JSON object")
        success = body.get("success")
        code = body.get("code")
        code_number = code if isinstance(code, int) and not isinstance(code, bool) else None
        if success is True and code_number in (None, CODE_SUCCESS):
            result = body.get("result")
            if not isinstance(result, dict):
                raise SunvecMalformedResponseError("The answer has no result object")
            return result
        raise self._api_error(body, code_number)

    def _api_error(self, body: Mapping[str, Any], code: int | None) -> SunvecError:
        """Map an error envelope onto the exception it stands for."""
        exception_text = body.get("exception")
        result = body.get("result")
        parts = [
            part for part in (exception_text, result) if isinstance(part, str) and part.strip()
        ]
        detail = self._redact("; ".join(parts))[:300] if parts else "no message"
        message = f"API error {code}: {detail}" if code is not None else f"API error: {detail}"
        lowered = detail.lower()
        if code in (CODE_UNAUTHORIZED, CODE_TOKEN_INVALID) or NO_AUTH in lowered:
            return SunvecAuthenticationError(message, code)
        if code == CODE_DATA_UNAUTHORIZED:
            return SunvecNotAuthorizedError(message, code)
        if code == CODE_NOT_FOUND or SN_NOT_ACCESSED in lowered:
            return SunvecNotFoundError(message, code)
        if code == CODE_INVALID_PARAMETER:
            return SunvecInvalidParameterError(message, code)
        if code == CODE_BANNED and _BAN_HINT.search(detail):
            return SunvecRateLimitError(message, code, retry_after=BAN_SECONDS)
        if code in (CODE_RATE_LIMITED, CODE_RATE_LIMITED_ALT) or (
            code is not None and code != CODE_SUCCESS and _RATE_HINT.search(detail)
        ):
            return SunvecRateLimitError(message, code)
        if code == CODE_OPERATION_FAILED:
            return SunvecServerError(message, code)
        if body.get("success") is True:
            return SunvecMalformedResponseError(message)
        return SunvecApiError(message, code)
