"""The history service end to end: real SQLite, a real Redis, a local Binance REST fake.

The clock is fixed at 2024-07-01 12:00 UTC so "finished bars" are deterministic: daily bars up to
2024-06-30 are final, the one of 2024-07-01 is in progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import pandas as pd
import pytest

from core.data.cache import RedisTier, SqlTier
from core.data.history import HistoryService, load_history
from core.data.sources.binance import BinanceHistory
from core.data.sources.simulator import SimulatorHistory
from core.errors import DataError
from core.store import Store
from tests.fakes.rest_binance import FakeBinanceRest
from tests.fakes.rest_server import make_bars
from tests.redis_server import RedisServer

NOW = pd.Timestamp("2024-07-01 12:00", tz="UTC").timestamp()
BARS = make_bars("2023-01-01", 548, "D", seed=3)  # 2023-01-01 .. 2024-07-02


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store.open(f"sqlite:///{tmp_path / 'gs.db'}")
    yield s
    s.close()


@pytest.fixture
def venue(binance_rest: FakeBinanceRest) -> FakeBinanceRest:
    binance_rest.add("BTCUSDT", "1d", BARS)
    return binance_rest


def make_service(venue: FakeBinanceRest, fast_http: Callable, store: Store | None = None,
                 **kwargs) -> HistoryService:
    sources = {"binance": BinanceHistory(venue.url, http=fast_http("binance")),
               "simulator": SimulatorHistory(seed=7)}
    return HistoryService(sources, lambda symbol: ["binance", "simulator"],
                          sql=SqlTier(store.engine) if store else None,
                          clock=lambda: NOW, **kwargs)


def klines_asked(venue: FakeBinanceRest) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    return [(pd.Timestamp(int(r.query["startTime"]), unit="ms", tz="UTC"),
             pd.Timestamp(int(r.query["endTime"]), unit="ms", tz="UTC"))
            for r in venue.requests if r.path == "/api/v3/klines"]


def test_first_load_fetches_and_the_second_is_served_from_memory(venue, fast_http, store):
    service = make_service(venue, fast_http, store)
    first = service.load("BTCUSDT", "2024-01-01", "2024-03-01")
    assert first.attrs["history"]["served_by"] == "source"
    assert first.attrs["history"]["sources"] == ["binance"]
    pd.testing.assert_frame_equal(first, BARS.loc["2024-01-01":"2024-02-29"], check_freq=False)
    asked = len(venue.requests)
    again = service.load("BTCUSDT", "2024-01-10", "2024-02-01")
    assert again.attrs["history"]["served_by"] == "memory"
    assert len(venue.requests) == asked
    pd.testing.assert_frame_equal(again, BARS.loc["2024-01-10":"2024-01-31"], check_freq=False)
    stats = service.stats()
    assert (stats["lookups"], stats["memory_hits"], stats["fetches"]) == (2, 1, 1)
    assert stats["memory_hit_rate"] == 0.5


def test_a_new_process_is_served_by_the_store_even_offline(venue, fast_http, store):
    make_service(venue, fast_http, store).load("BTCUSDT", "2024-01-01", "2024-03-01")
    venue.stop()  # the venue is gone: only the store can answer
    fresh = make_service(venue, fast_http, store)
    frame = fresh.load("BTCUSDT", "2024-01-01", "2024-03-01")
    assert frame.attrs["history"]["served_by"] == "sql"
    pd.testing.assert_frame_equal(frame, BARS.loc["2024-01-01":"2024-02-29"], check_freq=False)
    assert fresh.stats()["sql_hits"] == 1 and fresh.stats()["fetches"] == 0


def test_incremental_load_asks_only_for_the_missing_range(venue, fast_http, store):
    service = make_service(venue, fast_http, store)
    service.load("BTCUSDT", "2024-01-01", "2024-03-01")
    venue.requests.clear()
    frame = service.load("BTCUSDT", "2023-12-01", "2024-04-01")
    asked = klines_asked(venue)
    # two gaps: December before the stored range and March after it, nothing in between
    assert [a[0] for a in asked] == [pd.Timestamp("2023-12-01", tz="UTC"),
                                     pd.Timestamp("2024-03-01", tz="UTC")]
    assert all(end < pd.Timestamp("2024-01-01", tz="UTC") or start >= pd.Timestamp(
        "2024-03-01", tz="UTC") for start, end in asked)
    pd.testing.assert_frame_equal(frame, BARS.loc["2023-12-01":"2024-03-31"], check_freq=False)
    assert frame.attrs["history"]["served_by"] == "sql+source"


def test_a_bar_in_progress_is_fetched_again_but_nothing_before_it(venue, fast_http, store):
    service = make_service(venue, fast_http, store)
    service.load("BTCUSDT", "2024-06-01", "2024-07-02")
    venue.requests.clear()
    frame = service.load("BTCUSDT", "2024-06-01", "2024-07-02")
    # only bars that ended by now (12:00) were remembered: 06-30 00:00 ended at 07-01 00:00, so
    # the next load asks again from just after 06-30 12:00 and gets the 07-01 bar again
    asked = klines_asked(venue)
    assert len(asked) == 1
    assert pd.Timestamp("2024-06-30 12:00", tz="UTC") <= asked[0][0] < pd.Timestamp(
        "2024-07-01", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2024-07-01", tz="UTC")


def test_redis_tier_serves_another_replica(venue, fast_http, store):
    server = RedisServer()
    server.start()
    try:
        a = make_service(venue, fast_http, store, redis=RedisTier.from_url(server.url))
        a.load("BTCUSDT", "2024-01-01", "2024-03-01")
        b = make_service(venue, fast_http, None, redis=RedisTier.from_url(server.url))
        frame = b.load("BTCUSDT", "2024-01-15", "2024-02-15")
        assert frame.attrs["history"]["served_by"] == "redis"
        assert b.stats()["redis_hits"] == 1
        server.stop()  # Redis gone: the store still answers, nothing fails
        c = make_service(venue, fast_http, store, redis=RedisTier.from_url(server.url))
        assert c.load("BTCUSDT", "2024-01-01", "2024-03-01").attrs["history"][
            "served_by"] == "sql"
        assert c.stats()["redis_errors"] == 1
    finally:
        server.close()


def test_a_failing_source_falls_through_to_the_next(venue, fast_http, store):
    dead = FakeBinanceRest().start()
    dead.stop()  # nothing listens on its port any more
    sources = {"binance": BinanceHistory(dead.url, http=fast_http("binance", max_retries=0)),
               "backup": BinanceHistory(venue.url, http=fast_http("backup"))}
    service = HistoryService(sources, lambda s: ["binance", "backup"],
                             sql=SqlTier(store.engine), clock=lambda: NOW)
    frame = service.load("BTCUSDT", "2024-01-01", "2024-02-01")
    assert frame.attrs["history"]["sources"] == ["backup"]
    pd.testing.assert_frame_equal(frame, BARS.loc["2024-01-01":"2024-01-31"], check_freq=False)
    assert service.stats()["fetch_failures"] == 1


def test_no_real_history_gives_simulated_bars_that_are_never_stored(venue, fast_http, store):
    service = make_service(venue, fast_http, store)
    frame = service.load("ETHUSDT", "2024-01-01", "2024-02-01")  # unknown at the venue
    info = frame.attrs["history"]
    assert info["sources"] == ["simulator"]
    assert any("simulated" in note for note in info["notes"])
    assert SqlTier(store.engine).ranges("ETHUSDT", "1d") == ()
    real = service.load("BTCUSDT", "2024-01-01", "2024-02-01")
    assert real.attrs["history"]["sources"] == ["binance"]


def test_asking_for_simulated_history_never_returns_stored_real_bars(venue, fast_http, store):
    service = make_service(venue, fast_http, store)
    real = service.load("BTCUSDT", "2024-01-01", "2024-02-01")
    simulated = service.load("BTCUSDT", "2024-01-01", "2024-02-01", only=["simulator"])
    assert simulated.attrs["history"]["sources"] == ["simulator"]
    assert not simulated["Close"].equals(real["Close"])
    again = service.load("BTCUSDT", "2024-01-01", "2024-02-01")
    pd.testing.assert_frame_equal(again, real)


def test_a_refetch_that_disagrees_replaces_stored_bars_and_is_logged(venue, fast_http, store,
                                                                     caplog):
    service = make_service(venue, fast_http, store)
    service.load("BTCUSDT", "2024-01-01", "2024-02-01")
    revised = BARS.copy()
    revised.loc["2024-01-05", "Close"] = 12345.0
    venue.add("BTCUSDT", "1d", revised)
    with caplog.at_level(logging.INFO, logger="core.data.cache.sql_tier"):
        frame = service.load("BTCUSDT", "2024-01-01", "2024-02-01", refresh=True)
    assert frame.loc["2024-01-05", "Close"].item() == 12345.0
    assert "Close" in caplog.text and "12345.0" in caplog.text
    assert service.stats()["changed_bars"] == 1
    stored = make_service(venue, fast_http, store).load("BTCUSDT", "2024-01-01", "2024-02-01")
    assert stored.loc["2024-01-05", "Close"].item() == 12345.0


def test_nothing_anywhere_is_a_clear_error(venue, fast_http, store):
    service = HistoryService({"binance": BinanceHistory(venue.url, http=fast_http("b"))},
                             lambda s: ["binance"], sql=SqlTier(store.engine),
                             clock=lambda: NOW)
    with pytest.raises(DataError, match=r"No history for ETHUSDT .*binance"):
        service.load("ETHUSDT", "2024-01-01", "2024-02-01")
    with pytest.raises(DataError, match="must be before"):
        service.load("BTCUSDT", "2024-02-01", "2024-01-01")


def test_load_history_reads_a_file_and_attaches_the_quality_report(tmp_path):
    path = tmp_path / "prices.csv"
    bars = BARS.loc["2024-01-01":"2024-03-31"].copy()
    row = bars.iloc[10]  # one bad bar: High under the Close (still above the Low)
    bars.iloc[10, bars.columns.get_loc("High")] = (max(row["Open"], row["Close"]) + row["Low"]) / 2
    bars.rename_axis("Date").to_csv(path)
    frame = load_history(path, "2024-01-01", "2024-02-15")
    assert frame.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2024-02-14", tz="UTC")
    assert frame.attrs["history"]["served_by"] == "file"
    quality = frame.attrs["quality"]
    assert quality["score"] < 100
    failed = {r["name"] for r in quality["rules"] if not r["passed"]}
    assert "high_ge_open_close" in failed


def test_load_history_with_a_malformed_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("Date,Open,High,Low,Close\n2024-01-01,1,2,x,1\n")
    with pytest.raises(DataError, match="bad.csv"):
        load_history(path)


def test_changing_a_returned_frame_never_changes_the_cache(venue, fast_http, store):
    service = make_service(venue, fast_http, store)
    first = service.load("BTCUSDT", "2024-01-01", "2024-02-01")
    first.iloc[0, first.columns.get_loc("Close")] = -1.0
    again = service.load("BTCUSDT", "2024-01-01", "2024-02-01")
    assert again.attrs["history"]["served_by"] == "memory"
    assert again["Close"].iloc[0] == BARS.loc["2024-01-01", "Close"].item()


def test_every_tier_knows_which_source_its_bars_came_from(venue, fast_http, store):
    server = RedisServer()
    server.start()
    try:
        a = make_service(venue, fast_http, store, redis=RedisTier.from_url(server.url))
        a.load("BTCUSDT", "2024-01-01", "2024-02-01")
        assert a.load("BTCUSDT", "2024-01-01", "2024-02-01").attrs["history"]["sources"] == [
            "binance"]  # memory
        b = make_service(venue, fast_http, None, redis=RedisTier.from_url(server.url))
        hit = b.load("BTCUSDT", "2024-01-01", "2024-02-01").attrs["history"]
        assert (hit["served_by"], hit["sources"]) == ("redis", ["binance"])
        c = make_service(venue, fast_http, store)
        hit = c.load("BTCUSDT", "2024-01-01", "2024-02-01").attrs["history"]
        assert (hit["served_by"], hit["sources"]) == ("sql", ["binance"])
    finally:
        server.close()


def test_a_bar_not_aligned_on_the_clock_is_not_stored_before_it_ends(venue, fast_http, store):
    hourly = make_bars("2024-07-01 08:30", 6, "h", seed=5)  # 08:30 .. 13:30, like Yahoo's
    venue.add("BTCUSDT", "1h", hourly)
    now = pd.Timestamp("2024-07-01 14:10", tz="UTC").timestamp()
    sources = {"binance": BinanceHistory(venue.url, http=fast_http("binance"))}
    service = HistoryService(sources, lambda s: ["binance"], sql=SqlTier(store.engine),
                             clock=lambda: now)
    service.load("BTCUSDT", "2024-07-01 08:00", "2024-07-01 15:00", "1h")
    stored, covered = SqlTier(store.engine).get("BTCUSDT", "1h", 0, 2**62)
    assert stored.index[-1] == pd.Timestamp("2024-07-01 12:30", tz="UTC")  # 13:30 still forming
    assert covered[0][1] <= int(pd.Timestamp("2024-07-01 13:10:00.000001", tz="UTC").value) // 1000
