"""Feed hub benchmark, run by hand; writes its table into BENCHMARKS.md.

    .venv/bin/python bench/bench_hub.py [--seconds 5] [--write]

Measures, each next to a reference measured in the same run:

1. Hub throughput in-process: the simulator at full speed -> hub (validate, snapshot, candles for
   six timeframes) -> InMemoryBus -> a counting subscriber; and the same with the SQLite store on.
   Reference: the simulator feeding a thread that only counts (what the source alone can deliver).
2. Hub throughput through Redis: the same hub publishing to a real redis-server, counted by a
   subscriber in another process (an app replica). Reference: raw redis-py, one process publishing
   pipelined PUBLISHes of the same payloads, another counting them.
3. Latency from tick creation to bus delivery at 5,000 ticks/s (p50/p99), in-process and through
   Redis. Reference: raw redis-py PUBLISH -> subscriber at the same rate.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import queue
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_block  # noqa: E402
from core.bus import InMemoryBus  # noqa: E402
from core.bus.codec import decode, encode  # noqa: E402
from core.bus.redis_bus import RedisBus  # noqa: E402
from core.feeds.aggregator import FeedHub  # noqa: E402
from core.feeds.simulator import SimulatorConfig, SimulatorSource  # noqa: E402
from core.models import Tick  # noqa: E402
from core.store import Store  # noqa: E402
from core.store.writer import TickWriter  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

SYMBOLS = ("AAPL", "MSFT", "NVDA", "SPY", "QQQ", "BTCUSDT", "ETHUSDT")
LATENCY_RATE = 5_000


def _source(rate: float) -> SimulatorSource:
    src = SimulatorSource(SimulatorConfig(seed=1, tick_rate=rate), interval=0.002, batch=1000)
    src.subscribe(SYMBOLS)
    return src


def bare_source(seconds: float, rate: float = 0) -> tuple[float, list[float]]:
    """Reference: the simulator feeding a thread that only counts (ticks/s, latencies)."""
    q: queue.SimpleQueue = queue.SimpleQueue()
    count = [0]
    lat: list[float] = []
    stop = threading.Event()

    def consume() -> None:
        while not stop.is_set() or not q.empty():
            try:
                batch = q.get(timeout=0.1)
            except queue.Empty:
                continue
            count[0] += len(batch)
            if rate:
                now = time.time()
                lat.extend(now - t.ts.timestamp() for t in batch)
    t = threading.Thread(target=consume)
    t.start()
    src = _source(rate)
    src.start(q.put)
    time.sleep(seconds)
    src.stop()
    stop.set()
    t.join()
    return count[0] / seconds, lat


def hub_in_process(seconds: float, with_store: bool) -> tuple[float, float]:
    """(ticks/s through the hub to a subscriber, ticks/s written to SQLite)."""
    bus = InMemoryBus()
    got = [0]
    bus.subscribe(["quotes.*"], lambda _t, m: got.__setitem__(0, got[0] + len(m)))
    tmp = tempfile.mkdtemp()
    store = Store.open(f"sqlite:///{tmp}/bench.db") if with_store else None
    hub = FeedHub(_source(0), bus=bus, sink=TickWriter(store) if store else None)
    hub.start()
    time.sleep(seconds)
    hub.source.stop()
    delivered = got[0]
    t0 = time.perf_counter()
    hub.stop()
    drain = time.perf_counter() - t0
    stored = store.ticks.count() if store else 0
    if store:
        store.close()
    return delivered / seconds, stored / (seconds + drain)


def _count_subscriber(url: str, prefix: str, pattern: str, seconds: float, raw: bool,
                      out: mp.Queue, ready: mp.Event) -> None:
    """Runs in a child process: count ticks and their creation->delivery latency."""
    lat: list[float] = []
    count = [0]

    def on_ticks(ticks: tuple) -> None:
        now = time.time()
        count[0] += len(ticks)
        for t in ticks:
            lat.append(now - t.ts.timestamp())

    if raw:
        import redis
        client = redis.Redis.from_url(url)
        ps = client.pubsub(ignore_subscribe_messages=True)
        ps.psubscribe(pattern)
        ready.set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            msg = ps.get_message(timeout=0.1)
            if msg:
                on_ticks(decode(msg["data"]))
        ps.close()
    else:
        bus = RedisBus(url, prefix=prefix)
        bus.subscribe([pattern], lambda _t, m: on_ticks(m))
        ready.set()
        time.sleep(seconds)
        bus.close()
    out.put((count[0], lat))


def _in_child(url: str, prefix: str, pattern: str, seconds: float, raw: bool):  # noqa: ANN202
    ctx = mp.get_context("spawn")
    out, ready = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_count_subscriber, args=(url, prefix, pattern, seconds, raw, out,
                                                       ready))
    proc.start()
    ready.wait(30)
    time.sleep(0.3)
    return proc, out


def hub_through_redis(url: str, seconds: float, rate: float) -> tuple[float, list[float]]:
    proc, out = _in_child(url, "hubbench", "quotes.*", seconds + 1.0, raw=False)
    bus = RedisBus(url, prefix="hubbench")
    hub = FeedHub(_source(rate), bus=bus)
    hub.start()
    time.sleep(seconds)
    hub.stop()
    count, lat = out.get(timeout=60)
    proc.join()
    bus.close()
    return count / seconds, lat


def raw_redis(url: str, seconds: float, rate: float) -> tuple[float, list[float]]:
    """Reference: redis-py pipelined PUBLISH of tick tuples (batch 1000, or paced singles)."""
    import redis
    proc, out = _in_child(url, "raw", "raw:quotes.*", seconds + 1.0, raw=True)
    client = redis.Redis.from_url(url)
    end = time.monotonic() + seconds
    now = datetime.now(UTC)
    i = 0
    while time.monotonic() < end:
        if rate:
            time.sleep(0.002)
            n = max(1, int(rate * 0.002))
        else:
            n = 1000
        now = datetime.now(UTC)
        pipe = client.pipeline(transaction=False)
        for _ in range(n):
            sym = SYMBOLS[i % len(SYMBOLS)]
            i += 1
            pipe.publish(f"raw:quotes.{sym}", encode((Tick(sym, now, 100.0, 1.0, 99.9, 100.1,
                                                            "raw"),)))
        pipe.execute()
    count, lat = out.get(timeout=60)
    proc.join()
    return count / seconds, lat


def latency_in_process(seconds: float) -> list[float]:
    bus = InMemoryBus()
    lat: list[float] = []

    def on(_t: str, m: tuple) -> None:
        now = time.time()
        lat.extend(now - t.ts.timestamp() for t in m)
    bus.subscribe(["quotes.*"], on)
    hub = FeedHub(_source(LATENCY_RATE / len(SYMBOLS)), bus=bus)
    hub.start()
    time.sleep(seconds)
    hub.stop()
    return lat


def pct(lat: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(lat) * 1000, q)) if lat else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    s = args.seconds
    rows = []
    bare, _ = bare_source(s)
    hub_tps, _ = hub_in_process(s, with_store=False)
    hub_store_tps, stored_tps = hub_in_process(s, with_store=True)
    rows.append(("Hub in-process, ticks/s (goal >= 50,000)", hub_tps, "simulator -> counting "
                 "thread", bare))
    rows.append(("Hub in-process + SQLite store, ticks/s", hub_store_tps, "same", bare))
    rows.append(("  of which written to SQLite, ticks/s", stored_tps, "same", bare))
    with RedisServer() as server:
        redis_tps, _ = hub_through_redis(server.url, s, rate=0)
        raw_tps, _ = raw_redis(server.url, s, rate=0)
        rows.append(("Hub through Redis to another process, ticks/s (goal >= 20,000)", redis_tps,
                     "raw redis-py pipelined PUBLISH", raw_tps))
        _, lat_redis = hub_through_redis(server.url, s, rate=LATENCY_RATE / len(SYMBOLS))
        _, lat_raw = raw_redis(server.url, s, rate=LATENCY_RATE)
    lat_mem = latency_in_process(s)
    _, lat_bare = bare_source(s, rate=LATENCY_RATE / len(SYMBOLS))
    lines = [
        f"Machine: {platform.machine()}, {mp.cpu_count()} cores, Python {platform.python_version()}"
        f"; {s:.0f} s per measurement; run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| Measure | GoldenSignals | Reference (same run) | Reference value | Ratio |",
        "|---|---:|---|---:|---:|",
    ]
    for name, ours, ref_name, ref in rows:
        lines.append(f"| {name} | {ours:,.0f} | {ref_name} | {ref:,.0f} | {ours / ref:.2f} |")
    latency = (("in-process", lat_mem, "simulator -> counting thread", lat_bare),
               ("through Redis", lat_redis, "raw redis-py PUBLISH -> subscriber", lat_raw))
    for label, lat, ref_name, ref_lat in latency:
        for q in (50, 99):
            ours, ref = pct(lat, q), pct(ref_lat, q)
            lines.append(f"| Tick creation -> delivery {label} at 5,000 ticks/s, p{q} ms "
                         f"(goal p99 < 10) | {ours:.2f} | {ref_name}, p{q} | {ref:.2f} | "
                         f"{ours / ref:.2f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        write_block("bench_hub", "## Feed hub (`bench/bench_hub.py`)", table)


if __name__ == "__main__":
    main()
