"""The Router's decisions with an injected clock, and the hub failing over between sources."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest

from core.errors import UnknownSymbol
from core.feeds.aggregator import FeedHub
from core.feeds.base import Emit, SourceHealth
from core.feeds.failover import ACTIVE, OUTLIER, STANDBY, Router
from core.feeds.multi import MultiSource
from core.models import Tick


def _tick(source: str, t: float, price: float = 100.0, symbol: str = "AAPL") -> Tick:
    return Tick(symbol, datetime.fromtimestamp(t, UTC), price, 1.0, source=source)


def _health(**states: str) -> dict[str, SourceHealth]:
    return {n: SourceHealth(n, s, False) for n, s in states.items()}


def test_first_data_then_failover_then_failback_with_hysteresis() -> None:
    r = Router(stale_after_s=2.0, failback_after_s=10.0)
    r.set_route("AAPL", ["polygon", "alpaca"])
    assert r.observe(_tick("alpaca", 0.0), 0.0) == ACTIVE  # first data wins at the start
    assert r.observe(_tick("polygon", 0.1), 0.1) == ACTIVE  # the preferred one takes over
    assert r.observe(_tick("alpaca", 0.2), 0.2) == STANDBY
    r.check(_health(polygon="live", alpaca="live"), 0.3)
    assert r.active("AAPL") == "polygon"
    r.observe(_tick("alpaca", 1.0), 1.0)
    r.check(_health(polygon="reconnecting", alpaca="live"), 1.05)
    assert r.active("AAPL") == "alpaca"
    last = r.log()[-1]
    assert (last.from_source, last.to_source) == ("polygon", "alpaca")
    assert "polygon is reconnecting" in last.reason
    # polygon comes back: not used again until it has been healthy for 10 s
    for t in range(2, 12):
        r.observe(_tick("polygon", t), t)
        r.observe(_tick("alpaca", t), t)
        r.check(_health(polygon="live", alpaca="live"), t + 0.01)
        assert r.active("AAPL") == "alpaca", t
    r.observe(_tick("polygon", 12.0), 12.0)
    r.observe(_tick("alpaca", 12.0), 12.0)
    r.check(_health(polygon="live", alpaca="live"), 12.5)
    assert r.active("AAPL") == "polygon" and "healthy again" in r.log()[-1].reason


def test_a_silent_source_is_stale_and_a_drifting_one_is_an_outlier() -> None:
    r = Router(stale_after_s=2.0, max_deviation=0.02, quality_every_s=0.0)
    r.set_route("AAPL", ["a", "b", "c"])
    for name in "abc":
        r.observe(_tick(name, 0.0), 0.0)
    r.observe(_tick("b", 3.0), 3.0)
    r.observe(_tick("c", 3.0), 3.0)
    r.check(_health(a="live", b="live", c="live"), 3.0)
    assert r.active("AAPL") == "b" and "sent nothing for 3.0 s" in r.log()[-1].reason
    r.observe(_tick("a", 3.1), 3.1)
    assert r.observe(_tick("b", 3.2, price=110.0), 3.2) == OUTLIER
    r.check(_health(a="live", b="live", c="live"), 3.3)
    assert r.active("AAPL") == "a" and "off the other sources" in r.log()[-1].reason
    fused = r.fused("AAPL", 3.3)
    assert fused is not None and fused.price == 100.0 and fused.outliers == ("b",)
    quality = {q.source: q for q in r.quality(3.3)}
    assert quality["b"].score < quality["a"].score and quality["b"].deviation_pct > 2


class ManualSource:
    """A source the test drives: push events, flip its state."""

    simulated = False

    def __init__(self, name: str, symbols: Iterable[str] = ("AAPL",)) -> None:
        self.name, self.known = name, set(symbols)
        self.state = "live"
        self.emit: Emit | None = None
        self.subscribed: set[str] = set()

    def start(self, emit: Emit) -> None:
        self.emit = emit

    def stop(self) -> None:
        self.emit = None

    def subscribe(self, symbols: Iterable[str]) -> None:
        for s in symbols:
            if s not in self.known:
                raise UnknownSymbol(f"{self.name} has no {s}")
            self.subscribed.add(s)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        self.subscribed -= set(symbols)

    def symbols(self) -> tuple[str, ...]:
        return tuple(self.subscribed)

    def health(self) -> SourceHealth:
        return SourceHealth(self.name, self.state, False)

    def push(self, price: float, symbol: str = "AAPL") -> Tick:
        tick = Tick(symbol, datetime.now(UTC), price, 1.0, source=self.name)
        assert self.emit is not None
        self.emit([tick])
        return tick


def _until(cond, timeout: float = 3.0) -> float:  # noqa: ANN001
    start = time.monotonic()
    while not cond():
        assert time.monotonic() - start < timeout, "condition not met in time"
        time.sleep(0.005)
    return time.monotonic() - start


class ListSink:
    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.lock = threading.Lock()

    def start(self) -> None: ...

    def stop(self, timeout: float | None = None) -> bool:
        return True

    def submit(self, ticks) -> None:  # noqa: ANN001
        with self.lock:
            self.ticks.extend(ticks)


def test_hub_fails_over_within_a_second_and_stores_every_tick_once() -> None:
    primary, secondary = ManualSource("polygon"), ManualSource("alpaca")
    multi = MultiSource([primary, secondary], {"equity": ("polygon", "alpaca")},
                        Router(stale_after_s=5.0))
    sink = ListSink()
    hub = FeedHub(multi, sink=sink).start()
    try:
        hub.add_symbol("AAPL")
        assert multi.router.route("AAPL") == ("polygon", "alpaca")
        sent = [primary.push(100.0), secondary.push(100.01)]
        _until(lambda: hub.snapshot().get("AAPL") is not None)
        assert hub.snapshot()["AAPL"].source == "polygon"
        primary.state = "down"  # the venue drops us mid-stream
        sent.append(secondary.push(100.02))
        waited = _until(lambda: multi.router.active("AAPL") == "alpaca")
        assert waited < 1.0
        sent.append(secondary.push(100.03))
        _until(lambda: hub.snapshot()["AAPL"].last == 100.03)
        assert hub.snapshot()["AAPL"].source == "alpaca"
        assert hub.stats().failovers == 1
    finally:
        hub.stop()
    assert sorted(sink.ticks, key=repr) == sorted(sent, key=repr)  # each exactly once


def test_routes_keep_simulated_data_out_of_real_symbols() -> None:
    sim = ManualSource("simulator", symbols=("AAPL", "BTCUSDT"))
    sim.simulated = True
    binance = ManualSource("binance", symbols=("BTCUSDT",))
    multi = MultiSource([binance, sim], {"crypto": ("binance",), "equity": ("polygon",)},
                        Router())
    multi.subscribe(["BTCUSDT"])
    assert multi.router.route("BTCUSDT") == ("binance",) and "BTCUSDT" not in sim.subscribed
    with pytest.raises(UnknownSymbol, match="No running source serves AAPL"):
        multi.subscribe(["AAPL"])
    offline = MultiSource([sim], {"crypto": ("binance",)}, Router())
    offline.subscribe(["AAPL"])  # only simulated sources run: they serve everything
    assert offline.router.route("AAPL") == ("simulator",)


def test_a_real_symbol_never_gets_simulated_history() -> None:
    from core.feeds.simulator import SimulatorConfig, SimulatorSource

    sim = SimulatorSource(SimulatorConfig(seed=1))
    binance = ManualSource("binance", symbols=("BTCUSDT",))
    multi = MultiSource([binance, sim], {"crypto": ("binance", "simulator"),
                                         "equity": ("simulator",)}, Router())
    multi.subscribe(["BTCUSDT", "AAPL"])
    end = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    assert multi.history("BTCUSDT", "1h", end, 10) == []  # binance is real: no invented bars
    assert len(multi.history("AAPL", "1h", end, 10)) == 10  # simulated symbol, simulated bars


def test_a_quiet_market_is_not_a_failure_and_a_quiet_symbol_fails_back() -> None:
    r = Router(stale_after_s=5.0, failback_after_s=10.0)
    r.set_route("XYZ", ["polygon", "alpaca"])
    live = _health(polygon="live", alpaca="live")
    r.check(live, 0.0)
    r.observe(_tick("polygon", 0.0, symbol="XYZ"), 0.0)
    r.observe(_tick("alpaca", 0.0, symbol="XYZ"), 0.0)
    r.check(live, 60.0)  # nobody traded XYZ for a minute: nothing to fail over to
    assert r.active("XYZ") == "polygon" and len(r.log()) == 1
    r.observe(_tick("alpaca", 61.0, symbol="XYZ"), 61.0)  # alpaca prints, polygon silent
    r.check(live, 61.0)
    assert r.active("XYZ") == "alpaca" and "while alpaca did" in r.log()[-1].reason
    r.observe(_tick("polygon", 66.0, symbol="XYZ"), 66.0)  # polygon prints every few seconds
    r.check(live, 66.1)
    assert r.active("XYZ") == "polygon"  # connected all along and newer again: back at once
    assert (r.log()[-1].from_source, r.log()[-1].to_source) == ("alpaca", "polygon")


def test_events_off_the_route_never_reach_the_snapshot() -> None:
    r = Router()
    r.set_route("BTCUSDT", ["binance"])
    assert r.observe(_tick("replay", 0.0, symbol="BTCUSDT"), 0.0) == "off-route"
    assert r.observe(_tick("binance", 0.0, symbol="AAPL"), 0.0) == "off-route"  # unrouted
    assert r.off_route == 2


def test_fusion_leaves_simulated_prices_out_while_a_real_one_is_fresh() -> None:
    r = Router(stale_after_s=5.0)
    r.set_route("BTCUSDT", ["binance", "simulator"])
    r.set_simulated(["simulator"])
    r.observe(_tick("binance", 0.0, 67_250.0, "BTCUSDT"), 0.0)
    r.observe(_tick("simulator", 0.0, 65_000.0, "BTCUSDT"), 0.0)
    assert r.fused("BTCUSDT", 1.0).price == 67_250.0
    assert r.fused("BTCUSDT", 1.0).used == ("binance",)
    assert r.fused("BTCUSDT", 9.0) is None  # everything stale: no fused price at all


def test_weighted_median_interpolates_at_exactly_half() -> None:
    from core.feeds.fusion import weighted_median

    assert weighted_median([100.0, 101.0], [1, 1]) == 100.5
    assert weighted_median([101.0, 100.0], [1, 1]) == 100.5
    assert weighted_median([100.0, 101.0], [1, 3]) == 101.0
