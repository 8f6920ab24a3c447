from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from core.bus import InMemoryBus
from core.errors import BusError, InvalidSymbol, UnknownSymbol
from core.feeds.aggregator import FeedHub
from core.feeds.base import Emit, SourceHealth
from core.models import Bar, Tick
from tests.conftest import make_ticks


class ListSource:
    """A source that plays fixed batches from its own thread as fast as it can."""

    name = "list"
    simulated = False

    def __init__(self, batches: Sequence[Sequence[object]], known: Iterable[str] = ("AAPL",)):
        self.batches = batches
        self.known = set(known)
        self.subscribed: set[str] = set()
        self.thread: threading.Thread | None = None
        self.done = threading.Event()

    def start(self, emit: Emit) -> None:
        def run() -> None:
            for batch in self.batches:
                emit(batch)  # type: ignore[arg-type]
            self.done.set()
        self.thread = threading.Thread(target=run)
        self.thread.start()

    def stop(self) -> None:
        if self.thread:
            self.thread.join()

    def subscribe(self, symbols: Iterable[str]) -> None:
        for s in symbols:
            if s not in self.known:
                raise UnknownSymbol(f"no {s}")
            self.subscribed.add(s)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        self.subscribed -= set(symbols)

    def symbols(self) -> tuple[str, ...]:
        return tuple(self.subscribed)

    def health(self) -> SourceHealth:
        return SourceHealth(self.name, "live", False)


class ListSink:
    def __init__(self) -> None:
        self.ticks: list[Tick] = []
        self.started = self.stopped = 0

    def start(self) -> None:
        self.started += 1

    def stop(self, timeout: float | None = None) -> bool:
        self.stopped += 1
        return True

    def submit(self, ticks: Sequence[Tick]) -> None:
        self.ticks.extend(ticks)


def _wait(cond, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


def test_stop_drains_everything_received_into_the_sink() -> None:
    ticks = make_ticks(60_000)
    batches = [ticks[i:i + 500] for i in range(0, len(ticks), 500)]
    sink = ListSink()
    hub = FeedHub(ListSource(batches), sink=sink, clock=lambda: 2e9)
    hub.start()
    hub.start()
    hub.source.done.wait(10)
    hub.stop()  # right away: the queue still holds batches
    hub.stop()
    assert sink.ticks == ticks
    assert (sink.started, sink.stopped) == (1, 2)
    assert hub.stats().accepted == 60_000 and not hub.stats().running


def test_bad_events_are_counted_and_dropped_without_killing_the_thread() -> None:
    now = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    good = Tick("AAPL", now, 100.0, 1.0)
    future = Tick("AAPL", now + timedelta(minutes=5), 100.0, 1.0)
    batches = [[good, "garbage", None], [future], [Tick("AAPL", now, 101.0, 2.0)]]
    hub = FeedHub(ListSource(batches), clock=lambda: now.timestamp())
    hub.start()
    _wait(lambda: hub.stats().received == 5)
    stats = hub.stats()
    assert (stats.accepted, stats.rejected) == (2, 3)
    assert "future" in stats.last_rejection
    assert hub.running and hub.snapshot()["AAPL"].last == 101.0
    hub.stop()


def test_snapshot_change_and_volume() -> None:
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    ticks = [Tick("AAPL", t0 + timedelta(seconds=i), p, 10.0, p - 0.01, p + 0.01)
             for i, p in enumerate([200.0, 201.0, 210.0])]
    hub = FeedHub(ListSource([ticks]), clock=lambda: t0.timestamp() + 10)
    hub.start()
    _wait(lambda: hub.stats().accepted == 3)
    row = hub.snapshot()["AAPL"]
    assert (row.last, row.bid, row.ask, row.volume) == (210.0, 209.99, 210.01, 30.0)
    assert row.change == pytest.approx(10.0) and row.change_pct == pytest.approx(5.0)
    hub.stop()


def test_publishes_quote_batches_and_closed_candles() -> None:
    ticks = make_ticks(3000, symbols=("AAPL",), mean_gap_s=0.5)
    bus = InMemoryBus()
    got: dict[str, list] = {"quotes": [], "bars": []}
    bus.subscribe(["quotes.*"], lambda topic, m: got["quotes"].extend(m))
    bus.subscribe(["bars.1m.AAPL"], lambda topic, m: got["bars"].append(m))
    hub = FeedHub(ListSource([ticks]), bus=bus, clock=lambda: 2e9)
    hub.start()
    hub.source.done.wait(5)
    hub.stop()
    assert got["quotes"] == ticks
    live = hub.candles("AAPL", "1m")
    assert got["bars"] == live[:-1] and all(isinstance(b, Bar) for b in got["bars"])


def test_a_failing_bus_is_counted_and_the_hub_keeps_going() -> None:
    class DownBus(InMemoryBus):
        def publish_many(self, items):  # noqa: ANN001
            raise BusError("Redis at redis://127.0.0.1:1/0 is unreachable")

    sink = ListSink()
    ticks = make_ticks(100)
    hub = FeedHub(ListSource([ticks[:50], ticks[50:]]), bus=DownBus(), sink=sink,
                  clock=lambda: 2e9)
    hub.start()
    hub.source.done.wait(5)
    hub.stop()
    assert hub.stats().bus_errors >= 1 and "unreachable" in hub.stats().last_bus_error
    assert len(sink.ticks) == 100 and hub.snapshot()["AAPL"].last == \
        [t for t in ticks if t.symbol == "AAPL"][-1].price


def test_add_symbol_validates_then_subscribes() -> None:
    hub = FeedHub(ListSource([], known=("AAPL", "TSLA")))
    assert hub.add_symbol(" tsla ") == "TSLA" and "TSLA" in hub.source.subscribed
    with pytest.raises(InvalidSymbol):
        hub.add_symbol("NOT A SYMBOL!")
    with pytest.raises(UnknownSymbol):
        hub.add_symbol("ZZZZ")


def test_a_source_that_cannot_start_leaves_no_thread_behind() -> None:
    from core.errors import FeedError

    class Broken(ListSource):
        def start(self, emit: Emit) -> None:
            raise FeedError("file.csv: data row 3, column 'price': not a number")

    sink = ListSink()
    hub = FeedHub(Broken([]), sink=sink)
    with pytest.raises(FeedError, match="data row 3"):
        hub.start()
    assert not hub.running and sink.stopped == 1


@pytest.mark.parametrize("speed", [20.0, 0.0])
def test_replay_at_any_speed_reaches_the_hub_whole(speed: float, tmp_path) -> None:  # noqa: ANN001
    """A replay runs ahead of the wall clock at speed > 1: its events are not 'in the future'."""
    from core.feeds.replay import ReplayConfig, ReplaySource

    ticks = make_ticks(400, mean_gap_s=0.02)  # about 8 s of trading
    path = tmp_path / "ticks.csv"
    path.write_text("ts,symbol,price,size\n" + "".join(
        f"{t.ts.isoformat()},{t.symbol},{t.price},{t.size}\n" for t in ticks))
    sink = ListSink()
    source = ReplaySource(ReplayConfig(path=path, speed=speed))
    hub = FeedHub(source, sink=sink).start()
    _wait(lambda: source.health().state == "finished", timeout=15)
    hub.stop()
    assert hub.stats().rejected == 0 and len(sink.ticks) == 400


def test_quotes_update_the_book_and_a_failing_event_costs_nothing_else(monkeypatch) -> None:  # noqa: ANN001
    from core.feeds.candles import CandleBook
    from core.models import Quote

    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    real = CandleBook.add_tick

    def flaky(self, symbol, *args):  # noqa: ANN001, ANN202
        if symbol == "MSFT":
            raise RuntimeError("boom")
        return real(self, symbol, *args)

    monkeypatch.setattr(CandleBook, "add_tick", flaky)
    batch = [Tick("AAPL", t0, 100.0, 1.0), Quote("AAPL", t0, 99.5, 100.5, 3, 4),
             Tick("MSFT", t0, 400.0, 1.0), Tick("AAPL", t0 + timedelta(seconds=1), 101.0, 1.0)]
    sink, bus, got = ListSink(), InMemoryBus(), []
    bus.subscribe(["quotes.*"], lambda _t, m: got.extend(m))
    hub = FeedHub(ListSource([batch], known=("AAPL", "MSFT")), bus=bus, sink=sink,
                  clock=lambda: t0.timestamp())
    hub.start()
    hub.source.done.wait(5)
    hub.stop()
    assert len(sink.ticks) == 3 and sorted(got, key=repr) == sorted(batch, key=repr)
    row = hub.snapshot()["AAPL"]
    assert (row.last, row.bid, row.ask) == (101.0, 99.5, 100.5)
    assert "internal error" in hub.stats().last_rejection


def test_a_venue_bar_does_not_add_its_volume_twice() -> None:
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    trades = [Tick("AAPL", t0 + timedelta(seconds=i), 100.0 + i, 1.0, source="polygon")
              for i in range(7)]
    minute = Bar("AAPL", "1m", t0, 100.0, 106.0, 100.0, 106.0, 7.0, source="polygon")
    hub = FeedHub(ListSource([trades + [minute]]), clock=lambda: t0.timestamp() + 120)
    hub.start()
    hub.source.done.wait(5)
    hub.stop()
    assert hub.snapshot()["AAPL"].volume == 7.0
    assert hub.candles("AAPL", "1m")[-1].volume == 7.0
