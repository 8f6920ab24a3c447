"""The WebSocket source base against a minimal local venue."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime

import pytest

from core.errors import UnknownSymbol
from core.feeds.reconnect import Backoff, BackoffConfig, BreakerConfig, CircuitBreaker, RateLimiter
from core.feeds.ws_client import AuthError, Parsed, WebSocketSource
from core.models import Tick
from tests.fakes.ws_server import FakeWebSocketServer


class MiniVenue(FakeWebSocketServer):
    """Speaks a tiny protocol: {"sub": [...]} subscribes; it pushes {"s":..,"p":..} trades."""

    def __init__(self, refuse_auth: bool = False) -> None:
        super().__init__()
        self.refuse_auth = refuse_auth

    def on_connect(self, conn) -> None:  # noqa: ANN001
        conn.send(json.dumps({"hello": True}))

    def on_message(self, conn, text: str) -> None:  # noqa: ANN001
        msg = json.loads(text)
        if "auth" in msg:
            conn.send(json.dumps({"auth": "no" if self.refuse_auth else "ok"}))


class MiniSource(WebSocketSource):
    name = "mini"

    def accepts(self, symbol: str) -> bool:
        return symbol.endswith("USDT")

    def handshake(self, conn) -> None:  # noqa: ANN001
        assert json.loads(conn.recv())["hello"]
        conn.send(json.dumps({"auth": "key"}))
        if json.loads(conn.recv())["auth"] != "ok":
            raise AuthError("mini refused the API key")

    def subscribe_messages(self, symbols) -> list[str]:  # noqa: ANN001
        return [json.dumps({"sub": list(symbols)})]

    def unsubscribe_messages(self, symbols) -> list[str]:  # noqa: ANN001
        return [json.dumps({"unsub": list(symbols)})]

    def parse(self, text: str) -> Parsed:
        msg = json.loads(text)
        if msg.get("bye"):
            return Parsed(reconnect=True)
        if "p" not in msg:
            return Parsed(errors=[f"unexpected frame {text[:40]}"])
        ts = datetime.fromtimestamp(msg["t"], UTC)
        return Parsed(events=[Tick(msg["s"], ts, float(msg["p"]), 1.0, source=self.name)])


FAST = BackoffConfig(initial=0.05, factor=1.5, cap=0.2, jitter=0.0)


def _trade(sym: str = "BTCUSDT", p: float = 100.0) -> str:
    return json.dumps({"s": sym, "p": p, "t": time.time()})


def _until(cond, timeout: float = 5.0) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


def test_streams_resubscribes_after_a_drop_and_answers_pings() -> None:
    got: list = []
    with MiniVenue() as venue:
        src = MiniSource(venue.url, backoff=FAST)
        src.subscribe(["BTCUSDT"])
        src.start(got.extend)
        venue.wait_for(lambda: {"sub": ["BTCUSDT"]} in [json.loads(m) for m in venue.received])
        assert venue.ping_all(b"keepalive-123")
        venue.send_all(_trade(p=101.0))
        _until(lambda: len(got) == 1)
        src.subscribe(["ETHUSDT"])  # live subscribe on the open connection
        venue.wait_for(lambda: {"sub": ["ETHUSDT"]} in [json.loads(m) for m in venue.received])
        venue.received.clear()
        venue.drop_all()
        venue.wait_for(lambda: {"sub": ["BTCUSDT", "ETHUSDT"]} in
                       [json.loads(m) for m in venue.received])
        venue.send_all(_trade("ETHUSDT", 2000.0))
        _until(lambda: len(got) == 2)
        assert src.reconnects == 1 and src.health().state == "live"
        src.stop()
    assert got[1].symbol == "ETHUSDT" and got[1].price == 2000.0


def test_bad_frames_are_counted_and_a_shutdown_notice_reconnects_at_once() -> None:
    got: list = []
    with MiniVenue() as venue:
        src = MiniSource(venue.url, backoff=BackoffConfig(initial=30, jitter=0), min_session_s=0)
        src.subscribe(["BTCUSDT"])
        src.start(got.extend)
        venue.wait_for(lambda: {"sub": ["BTCUSDT"]} in [json.loads(m) for m in venue.received])
        venue.send_all('{"weird": 1}')
        venue.send_all(json.dumps({"bye": True}))
        _until(lambda: src.connections == 2)  # no 30 s backoff for a planned reconnect
        notes = [m for _, m in src.problems]
        assert src.errors == 1 and "unexpected frame" in notes[0]
        assert "announced a disconnect" in notes[1]
        src.stop()


def test_refused_auth_is_reported_and_the_breaker_opens() -> None:
    with MiniVenue(refuse_auth=True) as venue:
        src = MiniSource(venue.url, backoff=BackoffConfig(0.01, 1.0, 0.01, 0.0),
                         breaker=BreakerConfig(failures=3, cooldown=60))
        src.start(lambda _e: None)
        _until(lambda: src.health().state == "down")
        health = src.health()
        assert "refused the API key" in health.message
        assert src.errors == 1 and src.breaker.state == "open"  # a wrong key trips it at once
        time.sleep(0.3)
        assert src.errors == 1  # the open circuit stops the hammering
        src.stop()


def test_unsubscribe_and_unknown_symbols() -> None:
    with MiniVenue() as venue:
        src = MiniSource(venue.url, backoff=FAST)
        with pytest.raises(UnknownSymbol):
            src.subscribe(["AAPL"])
        src.subscribe(["BTCUSDT", "ETHUSDT"])
        src.start(lambda _e: None)
        venue.wait_for(lambda: any("sub" in json.loads(m) for m in venue.received))
        src.unsubscribe(["ETHUSDT"])
        venue.wait_for(lambda: {"unsub": ["ETHUSDT"]} in [json.loads(m) for m in venue.received])
        assert src.symbols() == ("BTCUSDT",)
        src.stop()


def test_backoff_grows_by_the_factor_is_capped_and_jittered() -> None:
    b = Backoff(BackoffConfig(), random.Random(1))
    delays = [b.next() for _ in range(8)]
    bases = [min(30.0, 5.0 * 1.5**i) for i in range(8)]
    assert all(0.8 * base <= d <= min(30.0, 1.2 * base) for d, base in zip(delays, bases,
                                                                            strict=True))
    assert delays[-1] <= 30.0
    assert all(d != base for d, base in zip(delays[:4], bases[:4], strict=True))  # jittered
    b.reset()
    assert 4.0 <= b.next() <= 6.0


def test_breaker_and_rate_limiter_follow_an_injected_clock() -> None:
    now = [0.0]
    br = CircuitBreaker(BreakerConfig(failures=2, cooldown=10), clock=lambda: now[0])
    br.failure()
    assert br.allow()
    br.failure()
    assert br.state == "open" and not br.allow()
    now[0] = 10.0
    assert br.state == "half-open" and br.allow()
    br.failure()
    assert br.state == "open"
    now[0] = 20.0
    br.success()
    assert br.state == "closed"
    lim = RateLimiter(5, 1.0, clock=lambda: now[0])
    for _ in range(5):
        assert lim.wait_time() == 0
        lim.record()
    assert lim.wait_time() == pytest.approx(1.0)
    now[0] += 0.5
    assert lim.wait_time() == pytest.approx(0.5)


def test_reconnect_delays_follow_the_backoff_policy() -> None:
    """A venue that refuses connections: delays grow 5 -> 7.5 -> 11.25 (jitter off)."""
    slept: list[float] = []
    with MiniVenue() as venue:
        venue.accepting = False
        src = MiniSource(venue.url, backoff=BackoffConfig(5.0, 1.5, 30.0, 0.0),
                         breaker=BreakerConfig(failures=99), sleep=lambda d: (slept.append(d),
                                                                              time.sleep(0.01)))
        src.start(lambda _e: None)
        _until(lambda: len(src.delays) >= 4)
        src.stop()
    assert src.delays[:4] == [5.0, 7.5, 11.25, 16.875]


class ShutdownVenue(MiniVenue):
    """A venue that announces a disconnect right after every subscription (a storm)."""

    def on_message(self, conn, text: str) -> None:  # noqa: ANN001
        super().on_message(conn, text)
        if "sub" in json.loads(text):
            conn.send(json.dumps({"bye": True}))


def test_a_venue_that_keeps_cutting_us_off_gets_backoff_not_a_storm() -> None:
    with ShutdownVenue() as venue:
        src = MiniSource(venue.url, backoff=BackoffConfig(0.2, 2.0, 5.0, 0.0),
                         breaker=BreakerConfig(failures=3, cooldown=60))
        src.subscribe(["BTCUSDT"])
        src.start(lambda _e: None)
        time.sleep(1.5)
        src.stop()
    assert src.connections <= 3 and src.delays[:2] == [0.2, 0.4]
    assert "cut the connection" in src.problems[-1][1]


def test_a_silent_socket_is_presumed_dead_and_replaced() -> None:
    class Quiet(MiniSource):
        idle_timeout_s = 0.5

    with MiniVenue() as venue:
        src = Quiet(venue.url, backoff=BackoffConfig(0.05, 1.0, 0.05, 0.0), min_session_s=0)
        src.subscribe(["BTCUSDT"])
        src.start(lambda _e: None)
        _until(lambda: src.connections >= 2, timeout=5)
        src.stop()
    assert any("presumed dead" in m for _, m in src.problems)


def test_client_pings_keep_a_quiet_connection_alive() -> None:
    class Pinging(MiniSource):
        idle_timeout_s = 0.6
        client_ping_s = 0.1  # the venue's pongs count as traffic

    with MiniVenue() as venue:
        src = Pinging(venue.url, backoff=FAST, min_session_s=0)
        src.subscribe(["BTCUSDT"])
        src.start(lambda _e: None)
        time.sleep(1.5)
        src.stop()
    assert src.connections == 1 and src.errors == 0
