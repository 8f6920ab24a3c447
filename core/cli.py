"""The ``gsig`` command.

``gsig feed`` runs the market data hub as its own process and publishes to Redis, so any number
of app replicas started with the same ``GS_REDIS_URL`` show its quotes.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence

from core.config import load_settings, redact_url
from core.errors import GSError
from core.runtime import build_runtime


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gsig", description="GoldenSignals command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    feed = sub.add_parser("feed", help="run the market data hub and publish it to Redis")
    feed.add_argument("--redis-url", help="Redis URL (default: GS_REDIS_URL)")
    feed.add_argument("--symbols", help="comma-separated watchlist (default: GS_WATCHLIST)")
    feed.add_argument("--rate", type=float, help="simulator trades/s per symbol; 0 = max speed")
    feed.add_argument("--seed", type=int, help="simulator seed (default: GS_SIM_SEED)")
    feed.add_argument("--duration", type=float, default=0.0,
                      help="stop after this many seconds (default: run until Ctrl+C)")
    feed.add_argument("--report-every", type=float, default=10.0,
                      help="seconds between status lines (default: 10)")
    return parser


def _feed(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    overrides = {"GS_REDIS_URL": args.redis_url, "GS_WATCHLIST": args.symbols,
                 "GS_SIM_TICK_RATE": None if args.rate is None else str(args.rate),
                 "GS_SIM_SEED": None if args.seed is None else str(args.seed)}
    env.update({k: v for k, v in overrides.items() if v is not None})
    settings = load_settings(env)
    runtime = build_runtime(settings, role="feed")
    for problem in runtime.problems:
        print(f"warning: {problem}", file=sys.stderr)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    runtime.start()  # on failure it releases what it opened, and main() prints the reason
    health = runtime.hub.health()
    print(f"gsig feed: {health.name}{' (simulated)' if health.simulated else ''} -> "
          f"{redact_url(settings.redis_url)}; symbols {','.join(runtime.hub.source.symbols())}",
          flush=True)
    started = time.monotonic()
    last = 0
    try:
        while not done.wait(min(args.report_every, args.duration or args.report_every)):
            stats = runtime.hub.stats()
            rate = (stats.accepted - last) / args.report_every
            last = stats.accepted
            print(f"{stats.accepted:,} events ({rate:,.0f}/s), {stats.bus_errors} bus errors"
                  + (f" (last: {stats.last_bus_error})" if stats.bus_errors else ""), flush=True)
            if args.duration and time.monotonic() - started >= args.duration:
                break
    finally:
        runtime.stop()
    stats = runtime.hub.stats()
    report = runtime.store_report()
    stored = "" if runtime.store is None else (" and stored" if not report else "")
    print(f"gsig feed stopped: {stats.accepted:,} events published{stored}.", flush=True)
    if report:
        print(f"gsig: {report}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gsig`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "feed":
            return _feed(args)
    except GSError as exc:
        print(f"gsig: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
