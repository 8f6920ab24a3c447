"""Redis bus benchmark, run by hand (not collected by pytest).

    .venv/bin/python bench/bench_redis_bus.py

Starts a private redis-server and prints: publish_many throughput (one tuple-of-1-Tick message
per item, batches of 500), subscriber delivery throughput, and publish->handler latency
percentiles at a paced ~5,000 msg/s.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bus.codec import decode, encode  # noqa: E402
from core.bus.redis_bus import RedisBus  # noqa: E402
from core.models import Tick  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA", "SPY", "QQQ", "BTCUSDT", "ETHUSDT", "TSLA"]


def _batch(n: int, offset: int = 0) -> list[tuple[str, tuple[Tick]]]:
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        sym = SYMBOLS[(i + offset) % len(SYMBOLS)]
        out.append((f"quotes.{sym}", (Tick(sym, now, 100.0 + i * 0.01, 10.0, 99.99, 100.02,
                                           "bench"),)))
    return out


def bench_codec(n: int = 50_000) -> None:
    msg = _batch(1)[0][1]
    t0 = time.perf_counter()
    for _ in range(n):
        data = encode(msg)
    t1 = time.perf_counter()
    for _ in range(n):
        decode(data)
    t2 = time.perf_counter()
    print(f"codec: encode {n / (t1 - t0):,.0f}/s, decode {n / (t2 - t1):,.0f}/s, "
          f"{len(data)} bytes")


def bench_publish(url: str, total: int = 200_000, batch: int = 500) -> None:
    bus = RedisBus(url, maxlen=10_000, prefix="bench-pub")
    batches = [_batch(batch, k) for k in range(8)]
    bus.publish_many(batches[0])  # warm up: script load, connection
    t0 = time.perf_counter()
    for k in range(total // batch):
        bus.publish_many(batches[k % 8])
    dt = time.perf_counter() - t0
    print(f"publish_many: {total / dt:,.0f} msg/s ({total} msgs, batches of {batch})")
    t0 = time.perf_counter()
    for topic, msg in batches[0][:5000]:
        bus.publish(topic, msg)
    n = min(5000, len(batches[0]))
    print(f"publish (one by one): {n / (time.perf_counter() - t0):,.0f} msg/s")
    bus.close()


def bench_deliver(url: str, total: int = 200_000, batch: int = 500) -> None:
    bus = RedisBus(url, maxlen=10_000, prefix="bench-sub")
    done = threading.Event()
    count = [0]

    def handler(topic: str, message: object) -> None:
        count[0] += 1
        if count[0] == total:
            done.set()

    sub = bus.subscribe(["quotes.*"], handler)
    batches = [_batch(batch, k) for k in range(8)]
    t0 = time.perf_counter()
    for k in range(total // batch):
        bus.publish_many(batches[k % 8])
    t_pub = time.perf_counter() - t0
    done.wait(120)
    dt = time.perf_counter() - t0
    print(f"delivery: {count[0] / dt:,.0f} msg/s end to end ({count[0]}/{total} delivered, "
          f"publisher alone took {t_pub:.2f} s, {sub.reconnects} reconnects, "
          f"{sub.replayed} replayed)")
    bus.close()


def paced_publisher(url: str, prefix: str, topic: str, rate: float, n: int, batch: int) -> float:
    """Publish ``n`` ``{"t": perf_counter(), "i": k}`` dicts at ``rate``; returns the rate made.

    Sleeps between batches (no spinning, so a subscriber in the same process gets the GIL).
    ``perf_counter`` is CLOCK_MONOTONIC on Linux, so other processes can compare it.
    """
    bus = RedisBus(url, maxlen=10_000, prefix=prefix)
    t_start = time.perf_counter()
    sent = 0
    while sent < n:
        delay = t_start + sent / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        now = time.perf_counter()
        if batch == 1:
            bus.publish(topic, {"t": now, "i": sent})
        else:
            bus.publish_many([(topic, {"t": now, "i": sent + j}) for j in range(batch)])
        sent += batch
    achieved = sent / (time.perf_counter() - t_start)
    bus.close()
    return achieved


def bench_latency(url: str, rate: float = 5_000.0, seconds: float = 4.0, batch: int = 1,
                  other_process: bool = False) -> None:
    prefix = f"bench-lat-{batch}-{int(other_process)}"
    bus = RedisBus(url, maxlen=10_000, prefix=prefix)
    lat: list[float] = []

    def handler(topic: str, message: dict) -> None:
        lat.append(time.perf_counter() - message["t"])

    bus.subscribe(["lat.*"], handler)
    n = int(rate * seconds)
    if other_process:
        out = subprocess.run([sys.executable, __file__, "publish", url, prefix, str(rate), str(n),
                              str(batch)], check=True, capture_output=True, text=True).stdout
        achieved = float(out.strip())
    else:
        achieved = paced_publisher(url, prefix, "lat.x", rate, n, batch)
    deadline = time.monotonic() + 10
    while len(lat) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    q = statistics.quantiles(lat, n=100)
    where = "publisher in another process" if other_process else "same process"
    print(f"latency @ {achieved:,.0f} msg/s (batch {batch}, {where}): p50 {q[49] * 1e3:.2f} ms, "
          f"p99 {q[98] * 1e3:.2f} ms, max {max(lat) * 1e3:.2f} ms ({len(lat)}/{n} received)")
    bus.close()


def bench_deliver_only(url: str, total: int = 200_000) -> None:
    """Subscriber throughput with the publisher in another process (no shared GIL)."""
    prefix = "bench-sub2"
    bus = RedisBus(url, maxlen=10_000, prefix=prefix)
    done = threading.Event()
    count = [0]
    first = [0.0]

    def handler(topic: str, message: object) -> None:
        if not count[0]:
            first[0] = time.perf_counter()
        count[0] += 1
        if count[0] == total:
            done.set()

    sub = bus.subscribe(["quotes.*"], handler)
    proc = subprocess.Popen([sys.executable, __file__, "flood", url, prefix, str(total)],
                            stdout=subprocess.PIPE, text=True)
    done.wait(120)
    dt = time.perf_counter() - first[0]
    pub_rate = float(proc.communicate()[0].strip())
    print(f"delivery (publisher in another process at {pub_rate:,.0f} msg/s): "
          f"{count[0] / dt:,.0f} msg/s ({count[0]}/{total}, {sub.reconnects} reconnects, "
          f"{sub.replayed} replayed)")
    bus.close()


def flood(url: str, prefix: str, total: int, batch: int = 500) -> float:
    bus = RedisBus(url, maxlen=10_000, prefix=prefix)
    batches = [_batch(batch, k) for k in range(8)]
    t0 = time.perf_counter()
    for k in range(total // batch):
        bus.publish_many(batches[k % 8])
    rate = total / (time.perf_counter() - t0)
    bus.close()
    return rate


def main() -> None:
    bench_codec()
    with RedisServer() as server:
        bench_publish(server.url)
        bench_deliver(server.url)
        bench_deliver_only(server.url)
        for other in (False, True):
            bench_latency(server.url, batch=1, other_process=other)
            bench_latency(server.url, batch=10, other_process=other)


if __name__ == "__main__":
    if sys.argv[1:2] == ["publish"]:
        url, prefix, rate, n, batch = sys.argv[2:7]
        print(paced_publisher(url, prefix, "lat.x", float(rate), int(n), int(batch)))
    elif sys.argv[1:2] == ["flood"]:
        print(flood(sys.argv[2], sys.argv[3], int(sys.argv[4])))
    else:
        main()
