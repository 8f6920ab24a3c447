"""The in-process bus: the reference semantics the Redis bus mirrors."""

from __future__ import annotations

from datetime import UTC, datetime

from core.bus.base import Bus
from core.bus.memory import InMemoryBus
from core.models import Tick

T0 = datetime(2024, 3, 8, 14, 30, tzinfo=UTC)


def tick(symbol: str, price: float) -> Tick:
    return Tick(symbol, T0, price, 1.0)


def test_is_a_bus() -> None:
    assert isinstance(InMemoryBus(), Bus)


def test_patterns_select_topics() -> None:
    bus = InMemoryBus()
    quotes: list = []
    aapl: list = []
    bus.subscribe(["quotes.*"], lambda t, m: quotes.append((t, m)))
    bus.subscribe(["bars.*.AAPL", "quotes.AAPL"], lambda t, m: aapl.append(t))
    bus.publish("quotes.AAPL", tick("AAPL", 1.0))
    bus.publish("quotes.MSFT", tick("MSFT", 2.0))
    bus.publish("bars.1m.AAPL", "bar")
    bus.publish("bars.1m.MSFT", "bar")
    bus.publish("status", {"ok": True})
    assert quotes == [("quotes.AAPL", tick("AAPL", 1.0)), ("quotes.MSFT", tick("MSFT", 2.0))]
    assert aapl == ["quotes.AAPL", "bars.1m.AAPL"]


def test_replay_delivers_history_first_in_publish_order() -> None:
    bus = InMemoryBus(maxlen=3)
    bus.publish_many([("quotes.A", 1), ("quotes.B", 2), ("other", 0), ("quotes.A", 3),
                      ("quotes.B", 4), ("quotes.A", 5), ("quotes.A", 6)])
    got: list = []
    bus.subscribe(["quotes.*"], lambda t, m: got.append(m), replay=True)
    bus.publish("quotes.B", 7)
    # quotes.A keeps its last 3 (3, 5, 6), quotes.B both (2, 4); then the live message
    assert got == [2, 3, 4, 5, 6, 7]


def test_handler_errors_are_counted_and_others_still_served() -> None:
    bus = InMemoryBus()
    good: list = []

    def bad(topic: str, message: object) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe(["*"], bad)
    bus.subscribe(["*"], lambda t, m: good.append(m))
    bus.publish_many([("a", 1), ("b", 2)])
    stats = bus.stats()
    assert good == [1, 2]
    assert (stats.published, stats.delivered, stats.handler_errors) == (2, 2, 2)


def test_history_after_and_count() -> None:
    bus = InMemoryBus()
    for i in range(5):
        bus.publish("t", i)
    bus.publish("other", 99)
    items = bus.history("t")
    assert [m for _, m in items] == [0, 1, 2, 3, 4]
    second_id = items[1][0]
    assert [m for _, m in bus.history("t", after=second_id)] == [2, 3, 4]
    assert [m for _, m in bus.history("t", after=second_id, count=2)] == [2, 3]
    assert bus.history("nothing") == []


def test_closed_subscription_gets_nothing() -> None:
    bus = InMemoryBus()
    got: list = []
    sub = bus.subscribe(["*"], lambda t, m: got.append(m))
    bus.publish("a", 1)
    sub.close()
    sub.close()
    bus.publish("a", 2)
    assert got == [1]
