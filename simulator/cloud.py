"""The simulated Sunvec Connect cloud: accounts, rate limits, faults and the aiohttp app."""

from __future__ import annotations

import asyncio
from collections import Counter, deque
import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import json
import re
from typing import Any, Final

from aiohttp import web

from .clock import Clock, ManualClock
from .plant import Plant

REALTIME_PATH: Final = "/api/v2/dataAccess/realtimeInfo/get"
CONTROL_PREFIX: Final = "/_sim"
_WIFI_SN_PATTERN: Final = re.compile(r"[A-Za-z0-9]{1,32}")


class FaultKind(StrEnum):
    """Faults the simulator can inject."""

    HTTP_500 = "http_500"
    HTTP_502 = "http_502"
    HTTP_503 = "http_503"
    HTTP_429 = "http_429"
    RATE_LIMITED = "rate_limited"
    HANG = "hang"
    INVALID_JSON = "invalid_json"
    TRUNCATED_JSON = "truncated_json"
    NOT_OBJECT = "not_object"
    RESULT_MISSING = "result_missing"
    RESULT_STRING = "result_string"
    EXTRA_FIELDS = "extra_fields"
    UNKNOWN_CODES = "unknown_codes"
    COUNTERS_LOWER = "counters_lower"
    YIELD_TODAY_DROP = "yield_today_drop"
    PAST_UPLOAD_TIME = "past_upload_time"
    BAD_UPLOAD_TIME = "bad_upload_time"
    NULL_FIELDS = "null_fields"
    NUMBERS_AS_STRINGS = "numbers_as_strings"
    FUTURE_UPLOAD_TIME = "future_upload_time"
    ZERO_COUNTERS = "zero_counters"
    STOP_UPLOADING = "stop_uploading"
    REVOKE_TOKEN = "revoke_token"
    REMOVE_WIFI_SN = "remove_wifi_sn"
    BAN = "ban"


PLANT_FAULTS: Final = {FaultKind.ZERO_COUNTERS, FaultKind.STOP_UPLOADING}
ACCOUNT_FAULTS: Final = {FaultKind.REVOKE_TOKEN, FaultKind.BAN, FaultKind.REMOVE_WIFI_SN}


@dataclass(slots=True)
class Fault:
    """A fault for the next `count` requests (None: until cleared) matching `wifi_sn`."""

    kind: FaultKind
    count: int | None = 1
    wifi_sn: str | None = None


@dataclass(slots=True)
class Account:
    """A token and the inverters it may read."""

    token: str
    wifi_sns: list[str]
    revoked: bool = False
    removed: set[str] = field(default_factory=set)
    """wifiSns taken off the account (answered with 1003) until faults are cleared."""
    banned_until: datetime | None = None
    calls: deque[datetime] = field(default_factory=deque)
    violations: deque[datetime] = field(default_factory=deque)
    calls_per_day: Counter[str] = field(default_factory=Counter)


@dataclass(slots=True)
class RequestRecord:
    """What one request was answered with, for tests and benchmarks."""

    time: datetime
    token_known: bool
    wifi_sn: str | None
    outcome: str
    upload_index: int | None = None


class SunvecCloud:
    """State and behaviour of the simulated cloud, usable without HTTP."""

    def __init__(
        self,
        clock: Clock,
        *,
        per_minute: int = 10,
        per_day: int = 10_000,
        violations_before_ban: int = 3,
        ban_seconds: float = 3600.0,
        hang_seconds: float = 3600.0,
    ) -> None:
        """Create an empty cloud; add plants and accounts next."""
        self.clock = clock
        self.per_minute = per_minute
        self.per_day = per_day
        self.violations_before_ban = violations_before_ban
        self.ban_seconds = ban_seconds
        self.hang_seconds = hang_seconds
        self.plants: dict[str, Plant] = {}
        self.accounts: dict[str, Account] = {}
        self.faults: list[Fault] = []
        self.requests: list[RequestRecord] = []
        self.release_hangs = asyncio.Event()
        self.hanging = 0
        """Requests the HANG fault is holding right now."""

    # Set-up -------------------------------------------------------------
    def add_plant(self, plant: Plant) -> Plant:
        """Register a plant under its wifiSn."""
        self.plants[plant.config.wifi_sn] = plant
        return plant

    def add_account(self, token: str, wifi_sns: list[str]) -> Account:
        """Register a token owning the given wifiSns."""
        account = Account(token=token, wifi_sns=list(wifi_sns))
        self.accounts[token] = account
        return account

    # Control ------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        """Inject a fault; plant and account faults take effect at once."""
        now = self.clock.now()
        targets = [
            plant
            for sn, plant in self.plants.items()
            if fault.wifi_sn is None or sn == fault.wifi_sn
        ]
        if fault.kind is FaultKind.ZERO_COUNTERS:
            for plant in targets:
                plant.advance_to(now)
                plant.zero_counters_next_upload = True
        elif fault.kind is FaultKind.STOP_UPLOADING:
            for plant in targets:
                plant.advance_to(now)
                plant.uploading = False
        elif fault.kind in ACCOUNT_FAULTS:
            for account in self._accounts_for(fault.wifi_sn):
                if fault.kind is FaultKind.REVOKE_TOKEN:
                    account.revoked = True
                elif fault.kind is FaultKind.REMOVE_WIFI_SN:
                    account.removed.update(
                        sn for sn in account.wifi_sns if fault.wifi_sn in (None, sn)
                    )
                else:
                    account.banned_until = now + timedelta(seconds=self.ban_seconds)
        else:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        """End every fault: uploads resume, tokens are valid, bans lifted."""
        now = self.clock.now()
        self.faults.clear()
        for plant in self.plants.values():
            plant.advance_to(now)
            plant.uploading = True
            plant.zero_counters_next_upload = False
        for account in self.accounts.values():
            account.revoked = False
            account.removed.clear()
            account.banned_until = None

    def _accounts_for(self, wifi_sn: str | None) -> list[Account]:
        return [
            account
            for account in self.accounts.values()
            if wifi_sn is None or wifi_sn in account.wifi_sns
        ]

    def _take_fault(self, wifi_sn: str | None) -> Fault | None:
        for fault in self.faults:
            if fault.wifi_sn is not None and fault.wifi_sn != wifi_sn:
                continue
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
            return fault
        return None

    # Rate limiting ------------------------------------------------------
    def _rate_limit(self, account: Account, now: datetime) -> dict[str, Any] | None:
        """Count the call; return an error body when the token is over its budget."""
        if account.banned_until is not None:
            if now < account.banned_until:
                return _ban_body()
            account.banned_until = None
        window_start = now - timedelta(seconds=60)
        while account.calls and account.calls[0] <= window_start:
            account.calls.popleft()
        day = now.date().isoformat()
        account.calls.append(now)
        account.calls_per_day[day] += 1
        if len(account.calls) <= self.per_minute and account.calls_per_day[day] <= self.per_day:
            return None
        account.violations.append(now)
        while account.violations and account.violations[0] <= now - timedelta(minutes=10):
            account.violations.popleft()
        if len(account.violations) >= self.violations_before_ban:
            account.banned_until = now + timedelta(seconds=self.ban_seconds)
            account.violations.clear()
            return _ban_body()
        return self._rate_limited_body()

    def _rate_limited_body(self) -> dict[str, Any]:
        return _envelope(
            False,
            f"Request frequency exceeded: at most {self.per_minute} calls per minute "
            f"and {self.per_day} per day",
            None,
            104,
        )

    # Requests -----------------------------------------------------------
    async def handle_realtime(self, token: str | None, body_text: str) -> web.Response:
        """Answer one realtimeInfo request as the real cloud would."""
        now = self.clock.now()
        wifi_sn = _wifi_sn_of(body_text)
        fault = self._take_fault(wifi_sn)
        record = RequestRecord(now, token in self.accounts, wifi_sn, "ok")
        self.requests.append(record)
        if fault is not None:
            response = await self._transport_fault(fault)
            if response is not None:
                record.outcome = fault.kind.value
                return response

        body = self._answer(token, wifi_sn, body_text, now, record)
        if record.outcome == "ok" and fault is not None:
            record.outcome = fault.kind.value
            return _body_fault(fault.kind, body)
        return web.json_response(body)

    def _answer(
        self,
        token: str | None,
        wifi_sn: str | None,
        body_text: str,
        now: datetime,
        record: RequestRecord,
    ) -> dict[str, Any]:
        account = self.accounts.get(token or "")
        if account is None:
            record.outcome = "unauthorized"
            return _envelope(False, "Interface Unauthorized", None, 1001)
        if account.revoked:
            record.outcome = "token_invalid"
            return _envelope(False, f"tokenId {token} invalid", None, 103)
        if (limited := self._rate_limit(account, now)) is not None:
            record.outcome = "rate_limited" if limited["code"] == 104 else "banned"
            return limited
        if wifi_sn is None or not _WIFI_SN_PATTERN.fullmatch(wifi_sn):
            record.outcome = "invalid_parameter"
            return _envelope(False, "Parameter validation failed", None, 1002)
        plant = self.plants.get(wifi_sn)
        if plant is None:
            record.outcome = "not_found"
            return _envelope(False, "Data not found", None, 2002)
        if wifi_sn not in account.wifi_sns or wifi_sn in account.removed:
            record.outcome = "data_unauthorized"
            return _envelope(False, "Data Unauthorized", None, 1003)
        upload = plant.latest_available(now)
        if upload is None:
            record.outcome = "not_accessed"
            return _envelope(False, "Query failed", "this sn did not access!", 0)
        record.upload_index = upload.index
        return _envelope(True, "Query success!", dict(upload.result), 0)

    async def _transport_fault(self, fault: Fault) -> web.Response | None:
        kind = fault.kind
        if kind in (FaultKind.HTTP_500, FaultKind.HTTP_502, FaultKind.HTTP_503):
            status = int(kind.value.removeprefix("http_"))
            return web.Response(status=status, text=f"<html><body>{status}</body></html>")
        if kind is FaultKind.HTTP_429:
            return web.Response(
                status=429, text="Too Many Requests", headers={"Retry-After": "120"}
            )
        if kind is FaultKind.RATE_LIMITED:
            return web.json_response(self._rate_limited_body())
        if kind is FaultKind.HANG:
            self.hanging += 1
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.release_hangs.wait(), self.hang_seconds)
            finally:
                self.hanging -= 1
            return web.Response(status=504, text="gateway timeout")
        if kind is FaultKind.INVALID_JSON:
            return web.Response(
                status=200, text="<html>maintenance</html>", content_type="text/html"
            )
        return None

    def state(self) -> dict[str, Any]:
        """A JSON-ready summary for the control interface."""
        now = self.clock.now()
        for plant in self.plants.values():
            plant.advance_to(now)
        return {
            "now": now.isoformat(),
            "faults": [
                {"kind": fault.kind.value, "count": fault.count, "wifi_sn": fault.wifi_sn}
                for fault in self.faults
            ],
            "plants": {
                sn: {
                    "uploading": plant.uploading,
                    "weather": plant.config.weather.value,
                    "pv_energy_kwh": round(plant.pv_energy, 4),
                    "truth_kwh": {
                        name: round(value, 4) for name, value in plant.truth.as_dict().items()
                    },
                    "latest": (upload.result if (upload := plant.latest_available(now)) else None),
                }
                for sn, plant in self.plants.items()
            },
            "requests": len(self.requests),
            "outcomes": dict(Counter(record.outcome for record in self.requests)),
            "ok_by_wifi_sn": dict(
                Counter(record.wifi_sn for record in self.requests if record.outcome == "ok")
            ),
        }


def _envelope(success: bool, exception: str, result: Any, code: int) -> dict[str, Any]:
    return {"success": success, "exception": exception, "result": result, "code": code}


def _ban_body() -> dict[str, Any]:
    return _envelope(
        False,
        "Due to repeated violations of the request frequency limit, "
        "this token is banned for 1 hour",
        None,
        1,
    )


def _wifi_sn_of(body_text: str) -> str | None:
    try:
        body = json.loads(body_text)
    except ValueError:
        return None
    value = body.get("wifiSn") if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


def _body_fault(kind: FaultKind, body: dict[str, Any]) -> web.Response:
    """Apply a fault that changes a successful answer's body."""
    result = body.get("result")
    if not isinstance(result, dict):
        return web.json_response(body)
    if kind is FaultKind.TRUNCATED_JSON:
        text = json.dumps(body)
        return web.Response(text=text[: len(text) // 2], content_type="application/json")
    if kind is FaultKind.NOT_OBJECT:
        return web.json_response([body])
    if kind is FaultKind.RESULT_MISSING:
        return web.json_response({key: value for key, value in body.items() if key != "result"})
    if kind is FaultKind.RESULT_STRING:
        return web.json_response({**body, "result": "query success"})
    moment = datetime.strptime(result["uploadTime"], "%Y-%m-%d %H:%M:%S")
    changed = _changed_result(kind, result, moment)
    if changed is not None:
        body["result"] = changed
    return web.json_response(body)


def _changed_result(
    kind: FaultKind, result: dict[str, Any], moment: datetime
) -> dict[str, Any] | None:
    """The `result` object as the fault `kind` alters it; None when it does not."""
    stamp = "%Y-%m-%d %H:%M:%S"
    changes: dict[FaultKind, dict[str, Any]] = {
        FaultKind.NULL_FIELDS: dict.fromkeys(result),
        FaultKind.NUMBERS_AS_STRINGS: {
            key: str(value) for key, value in result.items() if isinstance(value, int | float)
        },
        FaultKind.FUTURE_UPLOAD_TIME: {"uploadTime": (moment + timedelta(hours=6)).strftime(stamp)},
        FaultKind.PAST_UPLOAD_TIME: {"uploadTime": (moment - timedelta(days=3)).strftime(stamp)},
        FaultKind.BAD_UPLOAD_TIME: {"uploadTime": moment.strftime("%d/%m/%Y %H.%M")},
        FaultKind.EXTRA_FIELDS: {"utcDateTime": moment.isoformat(), "newField": {"a": [1, 2]}},
        FaultKind.UNKNOWN_CODES: {"inverterStatus": "-1", "batStatus": "7"},
        FaultKind.COUNTERS_LOWER: {
            key: round(result[key] - 50.0, 1)
            for key in ("yieldtotal", "feedinenergy", "consumeenergy")
            if isinstance(result.get(key), int | float)
        },
        FaultKind.YIELD_TODAY_DROP: {"yieldtoday": 0.0},
    }
    if kind not in changes:
        return None
    return {**result, **changes[kind]}


# HTTP application -------------------------------------------------------
CLOUD_KEY: Final = web.AppKey("cloud", SunvecCloud)


async def _realtime(request: web.Request) -> web.Response:
    cloud = request.app[CLOUD_KEY]
    return await cloud.handle_realtime(request.headers.get("tokenId"), await request.text())


async def _control_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[CLOUD_KEY].state())


async def _control_inject(request: web.Request) -> web.Response:
    cloud = request.app[CLOUD_KEY]
    try:
        data = await request.json()
        kind = FaultKind(data["kind"])
        count = data.get("count", 1)
        wifi_sn = data.get("wifi_sn")
    except (ValueError, KeyError, TypeError) as err:
        return web.json_response(
            {"error": f"expected {{'kind': one of {[k.value for k in FaultKind]}}}: {err}"},
            status=400,
        )
    cloud.inject(Fault(kind=kind, count=count, wifi_sn=wifi_sn))
    return web.json_response(cloud.state())


async def _control_clear(request: web.Request) -> web.Response:
    cloud = request.app[CLOUD_KEY]
    cloud.clear_faults()
    return web.json_response(cloud.state())


async def _control_account(request: web.Request) -> web.Response:
    """Add a token that may read the given inverters (a user's new token)."""
    cloud = request.app[CLOUD_KEY]
    try:
        data = await request.json()
        token, wifi_sns = str(data["token"]), [str(sn) for sn in data["wifi_sns"]]
    except (ValueError, KeyError, TypeError) as err:
        return web.json_response({"error": f"expected {{'token', 'wifi_sns'}}: {err}"}, status=400)
    cloud.add_account(token, wifi_sns)
    return web.json_response({"wifi_sns": wifi_sns})


async def _control_advance(request: web.Request) -> web.Response:
    cloud = request.app[CLOUD_KEY]
    if not isinstance(cloud.clock, ManualClock):
        return web.json_response({"error": "the clock is not manual"}, status=409)
    try:
        seconds = float((await request.json())["seconds"])
        cloud.clock.advance(seconds)
    except (ValueError, KeyError, TypeError) as err:
        return web.json_response({"error": f"expected {{'seconds': N >= 0}}: {err}"}, status=400)
    return web.json_response({"now": cloud.clock.now().isoformat()})


async def _control_status(request: web.Request) -> web.Response:
    """Make an inverter's uploads carry a status (`null` returns to the modelled one)."""
    cloud = request.app[CLOUD_KEY]
    expected = "expected {'wifi_sn': known, 'status': code or null}"
    try:
        data = await request.json()
        plant = cloud.plants[str(data["wifi_sn"])]
        status = data["status"]
    except (ValueError, KeyError, TypeError) as err:
        return web.json_response({"error": f"{expected}: {err}"}, status=400)
    if status is not None and not isinstance(status, str | int):
        return web.json_response({"error": expected}, status=400)
    plant.status_override = None if status is None else str(status)
    return web.json_response({"wifi_sn": data["wifi_sn"], "status": plant.status_override})


async def _release_hangs(app: web.Application) -> None:
    app[CLOUD_KEY].release_hangs.set()


def create_app(cloud: SunvecCloud) -> web.Application:
    """The aiohttp application serving the API and the control interface."""
    app = web.Application()
    app[CLOUD_KEY] = cloud
    app.router.add_post(REALTIME_PATH, _realtime)
    app.router.add_get(f"{CONTROL_PREFIX}/state", _control_state)
    app.router.add_post(f"{CONTROL_PREFIX}/faults", _control_inject)
    app.router.add_delete(f"{CONTROL_PREFIX}/faults", _control_clear)
    app.router.add_post(f"{CONTROL_PREFIX}/clock/advance", _control_advance)
    app.router.add_post(f"{CONTROL_PREFIX}/accounts", _control_account)
    app.router.add_post(f"{CONTROL_PREFIX}/status", _control_status)
    app.on_shutdown.append(_release_hangs)
    return app
