"""Failover and fusion across real socket sources, each against its venue's local fake."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.feeds.aggregator import FeedHub
from core.feeds.alpaca import AlpacaConfig, AlpacaSource
from core.feeds.failover import Router
from core.feeds.multi import MultiSource
from core.feeds.polygon import PolygonConfig, PolygonSource
from core.feeds.reconnect import BackoffConfig
from core.store import Store
from core.store.writer import TickWriter
from tests.fakes.alpaca import FakeAlpaca
from tests.fakes.polygon import FakePolygon

FAST = BackoffConfig(initial=0.2, factor=1.5, cap=1.0, jitter=0.0)
POLY_KEY, ALP_KEY, ALP_SECRET = "pk-test-0123456789", "AKTESTKEY123", "sk-test-secret-987"


def _until(cond, timeout: float = 5.0, what: str = "condition") -> float:  # noqa: ANN001
    start = time.monotonic()
    while not cond():
        assert time.monotonic() - start < timeout, f"{what} not met within {timeout} s"
        time.sleep(0.005)
    return time.monotonic() - start


def _polygon(venue: FakePolygon, name: str | None = None) -> PolygonSource:
    return PolygonSource(PolygonConfig(api_key=POLY_KEY, url=venue.url, backoff=FAST), name=name)


def _alpaca(venue: FakeAlpaca) -> AlpacaSource:
    return AlpacaSource(AlpacaConfig(key=ALP_KEY, secret=ALP_SECRET, url=venue.url,
                                     backoff=FAST))


@pytest.mark.slow
def test_killing_the_primary_moves_the_symbol_to_the_secondary_within_a_second(
        tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'gs.db'}")
    with FakePolygon(POLY_KEY) as poly, FakeAlpaca(ALP_KEY, ALP_SECRET) as alp:
        primary, secondary = _polygon(poly), _alpaca(alp)
        multi = MultiSource([primary, secondary], {"equity": ("polygon", "alpaca")},
                            Router(stale_after_s=5.0, failback_after_s=30.0))
        hub = FeedHub(multi, sink=TickWriter(store)).start()
        try:
            hub.add_symbol("AAPL")
            _until(lambda: "T.AAPL" in poly.topics() and "AAPL" in alp.subscribed("trades"),
                   what="both venues subscribed")
            for i in range(1, 41):  # both stream; polygon is preferred
                poly.push_trade("AAPL", 190.0 + i / 100, size=i)
                alp.push_trade("AAPL", 190.0 + i / 100, size=1000 + i)
            _until(lambda: primary.events == 40 and secondary.events == 40, what="80 trades")
            _until(lambda: hub.snapshot().get("AAPL") is not None
                   and hub.snapshot()["AAPL"].source == "polygon",
                   what=f"polygon active (log: {[e.describe() for e in multi.router.log()]})")
            poly.stop()  # the primary venue goes away mid-stream
            waited = _until(lambda: multi.router.active("AAPL") == "alpaca", timeout=1.0,
                            what="failover to alpaca")
            for i in range(41, 61):
                alp.push_trade("AAPL", 191.0 + i / 100, size=1000 + i)
            _until(lambda: secondary.events == 60, what="alpaca trades after failover")
            _until(lambda: hub.snapshot()["AAPL"].last == 191.6, what="alpaca price shown")
            row = hub.snapshot()["AAPL"]
            assert row.source == "alpaca" and waited < 1.0
            last = multi.router.log()[-1]
            assert (last.from_source, last.to_source) == ("polygon", "alpaca")
            assert "polygon" in last.reason
        finally:
            hub.stop()
    stored = store.ticks.fetch("AAPL")
    keys = sorted((t.source, t.size) for t in stored)
    expected = sorted([("polygon", float(i)) for i in range(1, 41)]
                      + [("alpaca", float(1000 + i)) for i in range(1, 61)])
    assert keys == expected  # every tick from either source, exactly once
    store.close()


@pytest.mark.slow
def test_the_fused_price_follows_the_two_sources_that_agree() -> None:
    with FakePolygon(POLY_KEY) as rt, FakePolygon(POLY_KEY) as delayed, \
            FakeAlpaca(ALP_KEY, ALP_SECRET) as alp:
        sources = [_polygon(rt), _polygon(delayed, name="polygon-delayed"), _alpaca(alp)]
        multi = MultiSource(sources, {"equity": ("polygon", "polygon-delayed", "alpaca")},
                            Router(stale_after_s=5.0, max_deviation=0.02))
        hub = FeedHub(multi).start()
        try:
            hub.add_symbol("MSFT")
            _until(lambda: "T.MSFT" in rt.topics() and "T.MSFT" in delayed.topics()
                   and "MSFT" in alp.subscribed("trades"), what="three venues subscribed")
            for step in range(31):  # alpaca drifts up 0.2 % a step; the others hold near 400
                rt.push_trade("MSFT", 400.00 + (step % 2) / 100)
                delayed.push_trade("MSFT", 400.01)
                alp.push_trade("MSFT", round(400.0 * (1 + 0.002 * step), 2))
                time.sleep(0.01)
            _until(lambda: sources[2].events == 31 and sources[0].events == 31
                   and sources[1].events == 31, what="all trades")
            _until(lambda: hub.stats().accepted >= 93, what="hub has all")
            fused = multi.router.fused("MSFT")
            assert fused is not None and fused.outliers == ("alpaca",)
            assert abs(fused.price - 400.0) < 0.05
            row = hub.snapshot()["MSFT"]
            assert row.fused == fused.price and abs(row.last - 400.0) < 0.05
            assert hub.stats().outliers > 0
            def alpaca_scores_lowest() -> bool:  # scores refresh about once a second
                quality = {q.source: q.score for q in multi.router.quality()}
                return 0 < quality["alpaca"] < min(quality["polygon"], quality["polygon-delayed"])
            _until(alpaca_scores_lowest, timeout=5, what="the drifting source scored lowest")
        finally:
            hub.stop()
