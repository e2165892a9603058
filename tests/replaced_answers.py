"""Answer chosen requests of the simulated cloud with a body the real cloud has sent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest.mock import patch

from aiohttp import web

from simulator import SunvecCloud
from simulator.cloud import RequestRecord

REAL_NOT_IN_ACCOUNT: dict[str, Any] = {
    "success": False,
    "exception": "no auth!",
    "result": None,
    "code": 1003,
}
"""What the real cloud answers for a wifiSn that is not in the token's account."""
REAL_SERVER_BUSY: dict[str, Any] = {
    "success": False,
    "exception": "The server is busy. Please try again later!",
}
"""What the real cloud answered during an outage: no code, no result."""


@contextmanager
def replaced_answers(
    cloud: SunvecCloud, replace: Callable[[RequestRecord], Any | None]
) -> Iterator[list[RequestRecord]]:
    """While active, answer with `replace(record)` when it is not None.

    The simulator answers first (counting the call, applying faults), so `record`
    says what it answered; the list yielded collects the records replaced.
    """
    original = cloud.handle_realtime
    replaced: list[RequestRecord] = []

    async def handle(token: str | None, body_text: str) -> web.Response:
        response = await original(token, body_text)
        record = cloud.requests[-1]
        if (body := replace(record)) is None:
            return response
        replaced.append(record)
        return web.json_response(body)

    with patch.object(cloud, "handle_realtime", handle):
        yield replaced
