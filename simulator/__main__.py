"""Run the simulated Sunvec Connect cloud: python -m simulator --help."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime
import logging
import sys

from aiohttp import web

from .clock import ManualClock, ScaledClock
from .cloud import CONTROL_PREFIX, REALTIME_PATH, create_app
from .demo import HYBRID_WIFI_SN, PV_ONLY_WIFI_SN, build_demo_cloud
from .weather import Weather


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="A simulated Sunvec Connect cloud with a hybrid and a PV-only inverter.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8099, help="port to listen on")
    parser.add_argument("--token", help="tokenId of the demo account (default: random)")
    parser.add_argument("--timezone", default="Europe/Amsterdam", help="plant time zone")
    parser.add_argument(
        "--speed", type=float, default=1.0, help="simulated seconds per real second"
    )
    parser.add_argument(
        "--manual-clock",
        action="store_true",
        help=f"freeze the clock; move it with POST {CONTROL_PREFIX}/clock/advance",
    )
    parser.add_argument("--start", help="simulated start time, ISO 8601 (default: now)")
    parser.add_argument("--upload-interval", type=float, default=300.0, help="seconds")
    parser.add_argument(
        "--publish-delay",
        type=float,
        nargs=2,
        default=(20.0, 90.0),
        metavar=("MIN", "MAX"),
        help="seconds from an upload's time until the API returns it",
    )
    parser.add_argument(
        "--weather",
        type=Weather,
        choices=list(Weather),
        default=Weather.PASSING,
        help="cloud cover: passing (smooth 15-minute changes), clear, broken (sun and "
        "shadow alternating within minutes), overcast; seeded per plant",
    )
    parser.add_argument("--per-minute", type=int, default=10, help="rate limit per token")
    parser.add_argument("--per-day", type=int, default=10_000, help="rate limit per token")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    """Serve until cancelled."""
    start = datetime.fromisoformat(args.start) if args.start else datetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    clock = ManualClock(start) if args.manual_clock else ScaledClock(start, args.speed)
    cloud, token = build_demo_cloud(
        clock,
        args.token,
        timezone=args.timezone,
        upload_interval=args.upload_interval,
        publish_delay=(args.publish_delay[0], args.publish_delay[1]),
        per_minute=args.per_minute,
        per_day=args.per_day,
        weather=args.weather,
    )
    runner = web.AppRunner(create_app(cloud), shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    url = f"http://{args.host}:{args.port}"
    print(f"Sunvec Connect simulator listening on {url}", flush=True)
    print(f"  API:        POST {url}{REALTIME_PATH}", flush=True)
    print(f"  URL:        {url}", flush=True)
    print(f"  token:      {token}", flush=True)
    print(f"  wifiSn:     {HYBRID_WIFI_SN} (hybrid with battery)", flush=True)
    print(f"  wifiSn:     {PV_ONLY_WIFI_SN} (PV only)", flush=True)
    print(f"  weather:    {args.weather}", flush=True)
    print(f"  control:    {url}{CONTROL_PREFIX}/state", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    logging.basicConfig(level=logging.WARNING)
    try:
        asyncio.run(serve(parse_args(argv)))
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
