"""The history cache tiers on their own: range arithmetic, the LRU, a real Redis, real SQLite."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from core.data.cache import MemoryTier, RedisTier, SqlTier, covers, merge, missing
from core.errors import StoreError
from core.store import Store
from tests.redis_server import RedisServer


def bars(start: str, n: int, base: float = 100.0) -> pd.DataFrame:
    index = pd.date_range(start, periods=n, freq="D", tz="UTC", name="Date", unit="ns")
    close = base + np.arange(n, dtype=float)
    return pd.DataFrame({"Open": close - 0.5, "High": close + 1, "Low": close - 1,
                         "Close": close, "Volume": 1000.0 + np.arange(n)}, index=index)


def us(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").value) // 1000


@pytest.fixture
def sql(tmp_path) -> Iterator[SqlTier]:
    store = Store.open(f"sqlite:///{tmp_path / 'gs.db'}")
    yield SqlTier(store.engine)
    store.close()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    try:
        server.start()
    except RuntimeError as exc:  # a missing redis-server is a failure, never a skip
        server.close()
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.close()


# ----------------------------------------------------------------------------- ranges


def test_merge_joins_touching_and_overlapping_ranges() -> None:
    assert merge([(5, 7), (0, 2), (2, 3), (6, 9), (4, 4)]) == ((0, 3), (5, 9))


@pytest.mark.parametrize(("covered", "start", "end", "expected"), [
    (((0, 3), (5, 9)), 1, 12, ((3, 5), (9, 12))),
    (((0, 3), (5, 9)), 0, 3, ()),
    (((0, 3),), 5, 8, ((5, 8),)),
    ((), 2, 4, ((2, 4),)),
    (((0, 10),), 3, 4, ()),
    (((2, 4), (6, 8)), 0, 10, ((0, 2), (4, 6), (8, 10))),
])
def test_missing_is_exactly_the_uncovered_part(covered, start, end, expected) -> None:
    assert missing(covered, start, end) == expected
    assert covers(covered, start, end) == (expected == ())


# ----------------------------------------------------------------------------- memory


def test_memory_tier_evicts_the_least_recently_used() -> None:
    tier = MemoryTier(max_entries=2)
    frame = bars("2024-01-01", 3)
    tier.put("AAPL", "1d", frame, ((0, 1),))
    tier.put("MSFT", "1d", frame, ((0, 1),))
    assert tier.get("AAPL", "1d") is not None  # AAPL is now the most recent
    tier.put("SPY", "1d", frame, ((0, 1),))
    assert tier.get("MSFT", "1d") is None
    assert tier.get("AAPL", "1d") is not None and tier.get("SPY", "1d") is not None
    assert len(tier) == 2


# ----------------------------------------------------------------------------- Redis


def test_redis_tier_round_trips_bars_and_ranges(redis_server: RedisServer) -> None:
    tier = RedisTier.from_url(redis_server.url, ttl_s=60)
    frame = bars("2024-01-01", 5)
    tier.put("BTCUSDT", "1d", frame, ((us("2024-01-01"), us("2024-01-06")),))
    got = RedisTier.from_url(redis_server.url).get("BTCUSDT", "1d")  # another "replica"
    assert got is not None
    pd.testing.assert_frame_equal(got[0], frame, check_freq=False)
    assert got[1] == ((us("2024-01-01"), us("2024-01-06")),)
    assert 0 < tier._client.ttl(RedisTier.key("BTCUSDT", "1d")) <= 60
    assert tier.get("ETHUSDT", "1d") is None


def test_redis_gone_is_a_miss_then_retried_later(caplog) -> None:
    server = RedisServer()
    server.start()
    now = [0.0]
    tier = RedisTier.from_url(server.url, retry_after_s=10, clock=lambda: now[0])
    tier.put("AAPL", "1d", bars("2024-01-01", 2), ((0, 1),))
    server.stop()
    with caplog.at_level(logging.WARNING):
        assert tier.get("AAPL", "1d") is None
    assert tier.errors == 1 and not tier.available
    assert "Redis unavailable" in caplog.text and server.url not in caplog.text
    tier.put("AAPL", "1d", bars("2024-01-01", 2), ((0, 1),))  # skipped, no second error
    assert tier.errors == 1
    server.start()  # back, empty
    now[0] = 11.0
    assert tier.available
    tier.put("AAPL", "1d", bars("2024-01-01", 2), ((0, 1),))
    assert tier.get("AAPL", "1d") is not None
    server.close()


# ----------------------------------------------------------------------------- SQL


def test_sql_tier_stores_bars_and_merges_ranges(sql: SqlTier) -> None:
    first = bars("2024-01-01", 10)
    sql.put("AAPL", "1d", first.iloc[:5], (us("2024-01-01"), us("2024-01-06")), "yahoo", 1)
    sql.put("AAPL", "1d", first.iloc[5:], (us("2024-01-06"), us("2024-01-11")), "polygon", 2)
    frame, covered = sql.get("AAPL", "1d", us("2024-01-03"), us("2024-01-08"))
    assert covered == ((us("2024-01-01"), us("2024-01-11")),)
    pd.testing.assert_frame_equal(frame, first.iloc[2:7], check_freq=False)
    assert sql.ranges("MSFT", "1d") == ()


def test_sql_tier_newest_wins_and_logs_the_change(sql: SqlTier, caplog) -> None:
    old = bars("2024-01-01", 3)
    sql.put("AAPL", "1d", old, (us("2024-01-01"), us("2024-01-04")), "yahoo", 1)
    new = old.copy()
    new.loc[new.index[1], "Close"] = 999.0
    with caplog.at_level(logging.INFO, logger="core.data.cache.sql_tier"):
        changes = sql.put("AAPL", "1d", new, (us("2024-01-01"), us("2024-01-04")), "polygon", 2)
    assert [(c.start, c.field, c.old, c.new, c.source) for c in changes] == [
        (new.index[1], "Close", 101.0, 999.0, "polygon")]
    assert "Close 101.0 -> 999.0" in caplog.text
    stored, _ = sql.get("AAPL", "1d", us("2024-01-01"), us("2024-01-04"))
    assert stored["Close"].tolist() == [100.0, 999.0, 102.0]


def test_sql_tier_keeps_stored_bars_a_refetch_lacks(sql: SqlTier) -> None:
    full = bars("2024-01-01", 5)
    sql.put("AAPL", "1d", full, (us("2024-01-01"), us("2024-01-06")), "yahoo", 1)
    sql.put("AAPL", "1d", full.drop(full.index[2]), (us("2024-01-01"), us("2024-01-06")),
            "yahoo", 2)
    stored, _ = sql.get("AAPL", "1d", us("2024-01-01"), us("2024-01-06"))
    assert len(stored) == 5


def test_sql_tier_failure_is_a_store_error_and_loses_nothing(sql: SqlTier, tmp_path) -> None:
    sql.put("AAPL", "1d", bars("2024-01-01", 3), (us("2024-01-01"), us("2024-01-04")), "y", 1)
    broken = bars("2024-01-04", 2)
    broken["Close"] = ["x", "y"]  # not numbers: the insert fails inside the transaction
    with pytest.raises((StoreError, ValueError)):
        sql.put("AAPL", "1d", broken, (us("2024-01-04"), us("2024-01-06")), "y", 2)
    stored, covered = sql.get("AAPL", "1d", us("2024-01-01"), us("2024-02-01"))
    assert len(stored) == 3 and covered == ((us("2024-01-01"), us("2024-01-04")),)
