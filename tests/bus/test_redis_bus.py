"""RedisBus against a real redis-server: delivery, fan-out, history, recovery and replay."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis

from core.bus.base import Bus
from core.bus.redis_bus import RedisBus
from core.errors import BusError
from core.models import Bar, Quote, Tick
from tests.redis_server import INSTALL_HINT, RedisServer, free_port

pytestmark = [pytest.mark.redis, pytest.mark.timeout(30)]

T0 = datetime(2024, 3, 8, 14, 30, tzinfo=UTC)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.005)


class Collector:
    """A handler that records ``(topic, message)`` pairs (from the subscription's thread)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, object]] = []
        self.lock = threading.Lock()

    def __call__(self, topic: str, message: object) -> None:
        with self.lock:
            self.items.append((topic, message))

    @property
    def messages(self) -> list[object]:
        with self.lock:
            return [m for _, m in self.items]

    def wait_for(self, n: int, timeout: float = 5.0) -> list[object]:
        wait_until(lambda: len(self.items) >= n, timeout, f"{n} messages (have {len(self.items)})")
        return self.messages


def ticks(symbol: str, n: int) -> list[Tick]:
    return [Tick(symbol, T0 + timedelta(microseconds=i), 100.0 + i, 1.0, bid=99.0 + i,
                 ask=101.0 + i) for i in range(n)]


def test_redis_server_helper_fails_clearly_without_the_binary() -> None:
    server = RedisServer(binary="no-such-redis-server-binary")
    with pytest.raises(RuntimeError) as err:
        server.start()
    assert str(err.value) == INSTALL_HINT and "redis-server" in INSTALL_HINT
    server.close()


def test_publish_subscribe_with_patterns_in_order(make_redis_bus) -> None:
    bus = make_redis_bus()
    assert isinstance(bus, Bus)
    got = Collector()
    bus.subscribe(["quotes.*", "bars.1m.*"], got)
    bar = Bar("AAPL", "1m", T0, 1.0, 2.0, 0.5, 1.5, 10.0, source="sim")
    quote = Quote("MSFT", T0, 10.0, 10.5, 1.0, 2.0)
    expected = [("quotes.AAPL", (t,)) for t in ticks("AAPL", 50)]
    expected += [("bars.1m.AAPL", bar), ("quotes.MSFT", quote)]
    bus.publish_many(expected[:25])
    for topic, message in expected[25:]:
        bus.publish(topic, message)
    bus.publish_many([("bars.5m.AAPL", bar), ("status", {"ok": True})])  # not subscribed
    bus.publish("quotes.END", "end")
    got.wait_for(len(expected) + 1)
    time.sleep(0.05)
    assert got.items == [*expected, ("quotes.END", "end")]
    stats = bus.stats()
    assert (stats.published, stats.delivered, stats.connected) == (len(expected) + 3,
                                                                   len(expected) + 1, True)


def test_two_subscribers_each_get_every_message(make_redis_bus) -> None:
    publisher = make_redis_bus()
    first, second = Collector(), Collector()
    publisher.subscribe(["quotes.*"], first)
    make_redis_bus().subscribe(["quotes.A*"], second)  # another bus: another "replica"
    sent = [("quotes.AAPL", i) for i in range(300)]
    publisher.publish_many(sent)
    assert first.wait_for(300) == list(range(300))
    assert second.wait_for(300) == list(range(300))


def test_history_returns_what_was_published_capped_near_maxlen(make_redis_bus) -> None:
    bus = make_redis_bus(maxlen=50)
    bus.publish_many([("t", i) for i in range(20)])
    items = bus.history("t")
    assert [m for _, m in items] == list(range(20))
    assert [m for _, m in bus.history("t", after=items[4][0], count=3)] == [5, 6, 7]
    assert bus.history("t", after=items[-1][0]) == []
    assert bus.history("unknown") == []
    bus.publish_many([("t", i) for i in range(20, 2000)])
    kept = [m for _, m in bus.history("t")]
    assert 50 <= len(kept) <= 50 + 200, len(kept)  # MAXLEN ~ trims whole nodes of ~100
    assert kept == list(range(2000 - len(kept), 2000))
    with pytest.raises(BusError, match="not an entry id"):
        bus.history("t", after="garbage")


def test_killed_subscriber_connection_loses_and_repeats_nothing(make_redis_bus, redis_server
                                                                ) -> None:
    bus = make_redis_bus()
    got = Collector()
    sub = bus.subscribe(["seq.*"], got)
    admin = redis.Redis.from_url(redis_server.url)
    n = 1500
    for i in range(1, n + 1):
        bus.publish("seq.numbers", i)
        if i in (400, 900):  # the publisher keeps going while the subscriber is away
            wait_until(lambda: sub.connected, what="the subscriber to be connected")
            assert admin.client_kill_filter(_type="pubsub") >= 1
        if i % 10 == 0:
            time.sleep(0.002)
    assert got.wait_for(n, timeout=10) == list(range(1, n + 1))
    time.sleep(0.1)  # late live duplicates would show up here
    assert got.messages == list(range(1, n + 1))
    assert sub.reconnects >= 2 and sub.replayed > 0, (sub.reconnects, sub.replayed)
    admin.close()


def test_replay_delivers_kept_history_first(make_redis_bus) -> None:
    bus = make_redis_bus(maxlen=1000)
    history = [(f"quotes.{s}", (t,)) for s in ("AAPL", "MSFT") for t in ticks(s, 30)]
    bus.publish_many(history)
    bus.publish_many([("bars.1m.AAPL", 0), ("quotes_x", 0)])  # not matching quotes.*
    got = Collector()
    bus.subscribe(["quotes.*"], got, replay=True)
    live = [("quotes.AAPL", "live-1"), ("quotes.NVDA", "live-2")]
    bus.publish_many(live)
    got.wait_for(len(history) + 2)
    time.sleep(0.05)
    replayed, later = got.items[:len(history)], got.items[len(history):]
    assert later == live
    assert sorted(replayed, key=repr) == sorted(history, key=repr)
    for topic in ("quotes.AAPL", "quotes.MSFT"):  # each topic in publish order
        assert [m for t, m in replayed if t == topic] == [m for t, m in history if t == topic]


def test_messages_both_replayed_and_live_are_delivered_once(make_redis_bus) -> None:
    bus, other = make_redis_bus(), make_redis_bus()
    other.publish_many([("d.x", i) for i in range(3)])
    read_stream, injected = bus._entries, []

    def entries_with_overlap(topic: str, start: str, count: int | None = None):
        if not injected:  # once: publish while the subscription is live, before the stream read
            injected.append(True)
            other.publish_many([("d.x", i) for i in range(3, 6)])
        return read_stream(topic, start, count)

    bus._entries = entries_with_overlap  # so 3, 4, 5 arrive live and from the stream
    got = Collector()
    sub = bus.subscribe(["d.*"], got, replay=True)
    assert got.wait_for(6) == list(range(6))
    other.publish("d.x", 6)
    assert got.wait_for(7) == list(range(7))
    time.sleep(0.05)
    assert got.messages == list(range(7))
    assert (sub.replayed, sub.duplicates) == (6, 3)


def test_handler_errors_are_counted_not_raised(make_redis_bus) -> None:
    bus = make_redis_bus()
    good = Collector()

    def picky(topic: str, message: object) -> None:
        if message % 2:
            raise ValueError("odd")

    bus.subscribe(["n"], picky)
    bus.subscribe(["n"], good)
    bus.publish_many([("n", i) for i in range(10)])
    assert good.wait_for(10) == list(range(10))
    wait_until(lambda: bus.stats().handler_errors == 5, what="5 handler errors")
    assert bus.stats().delivered == 15


def test_foreign_garbage_is_counted_and_skipped(make_redis_bus, redis_server) -> None:
    bus = make_redis_bus()
    got = Collector()
    bus.subscribe(["g.*"], got)
    raw = redis.Redis.from_url(redis_server.url)
    raw.publish(f"{bus._channel_prefix}g.x", b"1-1 {not json")
    raw.publish(f"{bus._channel_prefix}g.x", b"no-stream-id")
    raw.xadd(f"{bus._stream_prefix}g.x", {"m": b"\xff garbage"})
    raw.close()
    bus.publish("g.x", "after")
    assert got.wait_for(1) == ["after"]
    stats = bus.stats()
    assert stats.handler_errors == 2 and stats.connected and stats.last_error
    assert [m for _, m in bus.history("g.x")] == ["after"]
    assert "cannot read" in bus.stats().last_error


def test_redis_down_then_back(own_redis_server) -> None:
    server = own_redis_server
    bus = RedisBus(server.url, prefix="updown")
    try:
        got = Collector()
        bus.subscribe(["x.*"], got)
        bus.publish("x.a", 1)
        got.wait_for(1)
        server.stop()
        start = time.monotonic()
        with pytest.raises(BusError) as err:
            bus.publish("x.a", 2)
        assert time.monotonic() - start < 3
        assert f"Redis at {server.url} is unreachable" in str(err.value)
        with pytest.raises(BusError):
            bus.publish_many([("x.a", 3), ("x.a", 4)])
        stats = bus.stats()
        assert not stats.connected and stats.publish_errors == 3
        assert "unreachable" in stats.last_error

        server.start()
        bus.publish("x.a", 5)  # the very next publish works
        assert got.wait_for(2, timeout=5) == [1, 5]  # caught up from the stream or live
        wait_until(lambda: bus.stats().connected, what="the subscriber to reconnect")
        bus.publish("x.b", 6)
        assert got.wait_for(3) == [1, 5, 6]
        assert bus.stats().published == 3
    finally:
        bus.close()


def test_a_frozen_server_is_noticed_within_seconds(own_redis_server) -> None:
    server = own_redis_server
    bus = RedisBus(server.url, prefix="frozen", timeout=1.0)
    try:
        got = Collector()
        sub = bus.subscribe(["f"], got)
        bus.publish("f", 1)
        got.wait_for(1)
        server.pause()  # SIGSTOP: sockets stay open, nothing answers
        start = time.monotonic()
        with pytest.raises(BusError, match="unreachable"):
            bus.publish("f", 2)
        assert time.monotonic() - start < 2.5
        wait_until(lambda: not sub.connected, timeout=5, what="the subscriber to notice")
        assert time.monotonic() - start < 5
        assert not bus.stats().connected
        server.resume()
        wait_until(lambda: sub.connected, timeout=5, what="the subscriber to reconnect")
        bus.publish("f", 3)
        # 2 sat in the frozen server's socket buffer, so it may run after all; 3 must arrive
        wait_until(lambda: got.messages[-1:] == [3], what="message 3")
        assert got.messages in ([1, 3], [1, 2, 3])
    finally:
        server.resume()
        bus.close()


def test_unreachable_redis_errors_name_the_server_without_the_password() -> None:
    url = f"redis://app:s3cret-pw@127.0.0.1:{free_port()}/0"
    bus = RedisBus(url, timeout=1.0)
    try:
        for call in (lambda: bus.publish("t", 1), lambda: bus.history("t"),
                     lambda: bus.subscribe(["t"], print)):
            with pytest.raises(BusError) as err:
                call()
            assert "redis://app:***@127.0.0.1" in str(err.value)
            assert "s3cret" not in str(err.value)
        stats = bus.stats()
        assert not stats.connected and "s3cret" not in stats.last_error
    finally:
        bus.close()


def test_close_is_idempotent_and_final(make_redis_bus) -> None:
    bus = make_redis_bus()
    got = Collector()
    sub = bus.subscribe(["c"], got)
    bus.publish("c", 1)
    got.wait_for(1)
    sub.close()
    sub.close()
    bus.publish("c", 2)
    time.sleep(0.1)
    assert got.messages == [1]
    threads_before = threading.active_count()
    other = Collector()
    bus.subscribe(["c"], other)
    bus.close()
    bus.close()
    assert threading.active_count() < threads_before + 1
    with pytest.raises(BusError, match="closed"):
        bus.publish("c", 3)
    assert not bus.stats().connected


def test_a_password_in_the_query_never_reaches_an_error() -> None:
    from core.bus.redis_bus import RedisBus
    from core.errors import BusError
    from tests.redis_server import free_port

    bus = RedisBus(f"redis://127.0.0.1:{free_port()}/0?password=s3cret-q", timeout=0.3)
    try:
        with pytest.raises(BusError) as err:
            bus.publish("quotes.AAPL", {"x": 1})
        assert "s3cret-q" not in str(err.value) and "unreachable" in str(err.value)
        assert "s3cret-q" not in repr(bus) + bus.stats().last_error
    finally:
        bus.close()
