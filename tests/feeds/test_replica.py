"""An app replica (BusSource) fed by a feed process's hub and control over a shared bus."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from core.bus import InMemoryBus
from core.errors import FeedError, InvalidSymbol, UnknownSymbol
from core.feeds.aggregator import FeedHub
from core.feeds.bus_source import BusSource
from core.feeds.control import FeedControl
from core.feeds.simulator import MarketSimulator, SimulatorConfig, SimulatorSource


def _wait(cond, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.02)


@pytest.fixture()
def plane():
    bus = InMemoryBus()
    config = SimulatorConfig(seed=4, tick_rate=50)
    feed = FeedHub(SimulatorSource(config), bus=bus)
    feed.add_symbol("AAPL")
    control = FeedControl(feed, bus, interval=0.1)
    feed.start()
    control.start()
    replica = FeedHub(BusSource(bus, reply_timeout=2.0))
    replica.start()
    yield bus, feed, replica
    replica.stop()
    control.stop()
    feed.stop()


def test_replica_shows_the_feed_process_quotes_and_status(plane) -> None:
    _, feed, replica = plane
    _wait(lambda: "AAPL" in replica.snapshot())
    health = replica.health()
    assert health.simulated and health.state == "live" and "simulator" in health.name
    _wait(lambda: replica.snapshot()["AAPL"].last == feed.snapshot()["AAPL"].last
          and replica.stats().accepted == feed.stats().accepted, timeout=3)


def test_replica_asks_the_feed_process_for_new_symbols(plane) -> None:
    _, feed, replica = plane
    assert replica.add_symbol("tsla") == "TSLA"
    assert "TSLA" in feed.source.symbols()
    _wait(lambda: "TSLA" in replica.snapshot())
    with pytest.raises(UnknownSymbol, match="ZZZZ"):
        replica.add_symbol("ZZZZ")
    with pytest.raises(InvalidSymbol):
        replica.add_symbol("NOT A SYMBOL!")


def test_replica_history_matches_the_simulator(plane) -> None:
    _, _, replica = plane
    _wait(lambda: replica.source.upstream == "simulator")
    end = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    config = SimulatorConfig(seed=4, tick_rate=50)
    direct = MarketSimulator(config, 0).history("AAPL", "1h", end, 50, 230.0)
    assert replica.source.history("AAPL", "1h", end, 50, 230.0) == direct
    seed_only = MarketSimulator(SimulatorConfig(seed=4), 0).history("AAPL", "1h", end, 50, 230.0)
    assert direct != seed_only  # the test would catch a replica that ignored the rest


def test_no_feed_process_is_reported_not_hidden() -> None:
    bus = InMemoryBus()
    replica = FeedHub(BusSource(bus, reply_timeout=0.3)).start()
    try:
        assert replica.health().state == "connecting"
        with pytest.raises(FeedError, match="gsig feed"):
            replica.add_symbol("AAPL")
    finally:
        replica.stop()


def test_batched_adds_report_each_symbol_and_fail_fast_without_a_feed(plane) -> None:  # noqa: ANN001
    _, feed, replica = plane
    ok, errors = replica.add_symbols(["msft", "ZZZZ", "NOT A SYMBOL!", "SPY"])
    assert ok == ["MSFT", "SPY"] and set(errors) == {"ZZZZ", "NOT A SYMBOL!"}
    assert {"MSFT", "SPY"} <= set(feed.source.symbols())
    lonely = FeedHub(BusSource(InMemoryBus(), reply_timeout=0.3)).start()
    try:
        started = time.monotonic()
        ok, errors = lonely.add_symbols(["AAPL", "MSFT", "NVDA", "SPY", "QQQ"])
        assert ok == [] and len(errors) == 5 and "gsig feed" in errors["AAPL"]
        assert time.monotonic() - started < 1.0  # one wait for the batch, not one per symbol
    finally:
        lonely.stop()


def test_replicas_agree_with_the_feed_on_change(plane) -> None:  # noqa: ANN001
    bus, feed, replica = plane
    _wait(lambda: "AAPL" in replica.snapshot() and replica.source.reference_price("AAPL"))
    late = FeedHub(BusSource(bus)).start()  # joins later, replays only part of the history
    try:
        _wait(lambda: "AAPL" in late.snapshot())
        refs = {h.snapshot()["AAPL"].reference for h in (feed, replica, late)}
        assert refs == {232.50}  # the simulator's previous close, not each one's first price
    finally:
        late.stop()


def test_replicas_show_the_feed_process_source_quality_and_failover_log() -> None:
    from core.feeds.failover import Router
    from core.feeds.multi import MultiSource
    from tests.feeds.test_failover import ManualSource

    bus = InMemoryBus()
    a, b = ManualSource("polygon"), ManualSource("alpaca")
    feed = FeedHub(MultiSource([a, b], {"equity": ("polygon", "alpaca")}, Router()), bus=bus)
    control = FeedControl(feed, bus, interval=0.05)
    feed.start()
    control.start()
    feed.add_symbol("AAPL")
    replica = FeedHub(BusSource(bus)).start()
    try:
        a.push(100.0)
        b.push(100.1)
        a.state = "down"
        _wait(lambda: feed.router.active("AAPL") == "alpaca")
        _wait(lambda: (r := replica.sources_report()) is not None and len(r.log) >= 2)
        report = replica.sources_report()
        assert {q.source for q in report.quality} == {"polygon", "alpaca"}
        assert report.log[-1].to_source == "alpaca" and "polygon is down" in report.log[-1].reason
    finally:
        replica.stop()
        control.stop()
        feed.stop()
