"""TickWriter: batching background writes, retries, drain on stop, periodic compaction."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import OperationalError

from core.models import Tick
from core.store import Store, TickWriter, WriterStats

T0 = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)


def _wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


class FlakyTicks:
    """Wraps a TickRepository: the first ``failures`` inserts raise "database is locked"."""

    def __init__(self, inner, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.batches: list[int] = []

    def insert_many(self, ticks: Sequence[Tick]) -> int:
        if self.failures > 0:
            self.failures -= 1
            raise OperationalError("INSERT INTO ticks ...", {}, Exception("database is locked"))
        self.batches.append(len(ticks))
        return self.inner.insert_many(ticks)


def _target(store: Store, failures: int = 0) -> SimpleNamespace:
    return SimpleNamespace(ticks=FlakyTicks(store.ticks, failures), compact=store.compact)


def test_stop_drains_20000_ticks_submitted_from_another_thread(store: Store, make_ticks) -> None:
    ticks = make_ticks([("AAPL", ("sim",)), ("MSFT", ("sim",))], n=10_000,
                       span=timedelta(hours=1))
    writer = TickWriter(store, batch_size=5000, flush_interval=0.05)
    writer.start()

    def produce() -> None:
        for i in range(0, len(ticks), 137):
            writer.submit(ticks[i:i + 137])

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join()
    assert writer.stop() is True

    assert store.ticks.count() == 20_000
    assert store.ticks.fetch() == ticks
    assert writer.stats() == WriterStats(submitted=20_000, written=20_000, errors=0, pending=0,
                                         last_error="", compactions=0)
    assert not writer.running


def test_failed_writes_are_retried_not_dropped(store: Store, make_ticks) -> None:
    ticks = make_ticks(n=1200)
    target = _target(store, failures=2)
    writer = TickWriter(target, batch_size=500, flush_interval=0.01, retry_initial=0.01)
    writer.start()
    writer.submit(ticks)
    assert writer.flush(timeout=5) is True
    stats = writer.stats()
    writer.stop()
    assert store.ticks.fetch() == ticks
    assert stats.errors == 2
    assert stats.written == 1200 and stats.pending == 0
    assert "database is locked" in stats.last_error
    assert target.ticks.batches == [500, 500, 200]  # the failed first batch was kept, not split
    assert writer.running is False


def test_batches_respect_batch_size(store: Store, make_ticks) -> None:
    ticks = make_ticks(n=12_001, span=timedelta(hours=1))
    target = _target(store)
    writer = TickWriter(target, batch_size=5000, flush_interval=10.0)
    writer.submit(ticks)  # queued before start: written once the thread runs
    assert writer.stats().pending == 12_001
    writer.start()
    assert writer.stop() is True
    assert target.ticks.batches == [5000, 5000, 2001]
    assert store.ticks.count() == 12_001


def test_flush_writes_a_partial_batch_at_once(store: Store, make_ticks) -> None:
    writer = TickWriter(store, batch_size=5000, flush_interval=30.0)
    with writer:
        writer.submit(make_ticks(n=10))
        started = time.monotonic()
        assert writer.flush(timeout=5) is True
        assert time.monotonic() - started < 5  # did not wait for the 30 s interval
        assert store.ticks.count() == 10
        assert writer.stats().pending == 0


def test_partial_batch_is_written_after_flush_interval(store: Store, make_ticks) -> None:
    with TickWriter(store, batch_size=5000, flush_interval=0.02) as writer:
        writer.submit(make_ticks(n=3))
        _wait_until(lambda: store.ticks.count() == 3)
        assert writer.stats().written == 3


def test_start_and_stop_are_idempotent(store: Store, make_ticks) -> None:
    writer = TickWriter(store, flush_interval=0.01)
    assert writer.stop() is True  # never started, nothing pending
    assert writer.flush(timeout=0.01) is True
    writer.start()
    writer.start()
    names = [t.name for t in threading.enumerate()]
    assert names.count("gs-tick-writer") == 1
    writer.submit(make_ticks(n=5))
    assert writer.stop() is True
    assert writer.stop() is True
    assert "gs-tick-writer" not in [t.name for t in threading.enumerate()]
    writer.start()  # restartable
    writer.submit(make_ticks(n=5, seed=8))
    assert writer.stop() is True
    assert store.ticks.count() == 10


def test_retention_compacts_old_ticks_periodically(store: Store, make_ticks) -> None:
    ticks = make_ticks(n=300, span=timedelta(minutes=10))
    store.ticks.insert_many(ticks)
    now = {"t": (T0 + timedelta(minutes=5, seconds=20)).timestamp()}
    writer = TickWriter(store, flush_interval=0.01, retention_s=60, compact_every_s=600,
                        clock=lambda: now["t"])
    writer.start()
    try:
        _wait_until(lambda: writer.stats().compactions == 1)  # runs when the thread starts
        assert store.ticks.fetch() == [t for t in ticks if t.ts >= T0 + timedelta(minutes=4)]
        time.sleep(0.05)
        assert writer.stats().compactions == 1  # not again before compact_every_s
        now["t"] += 600
        _wait_until(lambda: writer.stats().compactions == 2)
        assert store.ticks.count() == 0  # everything is older than the new cutoff
    finally:
        writer.stop()
    bars = store.bars.fetch("AAPL", "1m")
    assert [b.start for b in bars] == [T0 + timedelta(minutes=m) for m in range(10)]
    assert sum(b.volume for b in bars) == pytest.approx(sum(t.size for t in ticks))


def test_failed_compaction_is_counted_and_the_thread_lives(store: Store, make_ticks) -> None:
    def broken(_older_than):
        raise RuntimeError("compaction exploded")

    target = SimpleNamespace(ticks=store.ticks, compact=broken)
    writer = TickWriter(target, flush_interval=0.01, retention_s=60, compact_every_s=0.01)
    writer.start()
    try:
        _wait_until(lambda: writer.stats().errors >= 2)
        writer.submit(make_ticks(n=7))
        assert writer.flush(timeout=5) is True
    finally:
        writer.stop()
    stats = writer.stats()
    assert stats.compactions == 0
    assert "compaction exploded" in stats.last_error
    assert store.ticks.count() == 7


def test_stop_with_a_database_that_stays_down_spills_to_a_replayable_csv(tmp_path) -> None:  # noqa: ANN001
    import time as _time

    from core.feeds.replay import load_events
    from core.store.writer import TickWriter
    from tests.conftest import make_ticks

    class DownTicks:
        def insert_many(self, ticks):  # noqa: ANN001, ANN202
            raise OSError("disk I/O error")

    class DownStore:
        ticks = DownTicks()

        def compact(self, older_than):  # noqa: ANN001, ANN202
            return None

    ticks = make_ticks(1234)
    writer = TickWriter(DownStore(), batch_size=500, retry_initial=0.05, spill_dir=tmp_path)
    writer.start()
    writer.submit(ticks)
    started = _time.monotonic()
    assert writer.stop(timeout=0.5) is False
    assert _time.monotonic() - started < 3
    stats = writer.stats()
    assert stats.spilled == 1234 and stats.errors >= 1 and "disk I/O" in stats.last_error
    back = load_events(stats.spill_path, source="test")
    assert [(t.symbol, t.ts, t.price, t.size, t.bid, t.ask) for t in back] == \
        [(t.symbol, t.ts, t.price, t.size, t.bid, t.ask) for t in ticks]
