"""AlpacaSource against FakeAlpaca: login, subscriptions, data, refusals, limits, reconnects."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import websocket

from core.config import Settings
from core.errors import ConfigError, FeedError, UnknownSymbol
from core.feeds.alpaca import AlpacaConfig, AlpacaSource
from core.feeds.alpaca.client import MISSING_CREDENTIALS
from core.feeds.reconnect import BackoffConfig, BreakerConfig
from core.feeds.ws_client import AuthError
from core.models import Bar, Event, Quote, Tick
from tests.fakes.alpaca import FakeAlpaca, rfc3339

FIXTURES = Path(__file__).parents[1] / "fixtures" / "alpaca"
KEY, SECRET = "AKLIVE7F3C9A21D4E8", "sk-live-Zq81pX0vB3mN6rT2"
WRONG_SECRET = "sk-wrong-Hh47Lw9e"
FAST = BackoffConfig(initial=0.05, factor=1.5, cap=0.2, jitter=0.0)
TS0 = datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)
EMPTY = {"trades": frozenset(), "quotes": frozenset(), "bars": frozenset()}


class Sink:
    """Thread-safe collector for ``emit``."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, batch: object) -> None:
        with self._lock:
            self.events.extend(batch)  # type: ignore[arg-type]

    def snapshot(self) -> list[Event]:
        with self._lock:
            return list(self.events)


def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


def everywhere(*symbols: str) -> dict[str, frozenset[str]]:
    return {name: frozenset(symbols) for name in ("trades", "quotes", "bars")}


def sent(venue: FakeAlpaca) -> list[dict]:
    return [json.loads(m) for m in list(venue.received)]


@pytest.fixture
def venue() -> Iterator[FakeAlpaca]:
    with FakeAlpaca(key=KEY, secret=SECRET) as fake:
        yield fake


@pytest.fixture
def make() -> Iterator[Callable[..., AlpacaSource]]:
    sources: list[AlpacaSource] = []

    def build(venue: FakeAlpaca, **config: object) -> AlpacaSource:
        values: dict[str, object] = {"key": KEY, "secret": SECRET, "url": venue.url,
                                     "backoff": FAST}
        values.update(config)
        src = AlpacaSource(AlpacaConfig(**values), recv_timeout=0.05)  # type: ignore[arg-type]
        sources.append(src)
        return src

    yield build
    for src in sources:
        src.stop()


def test_logs_in_subscribes_and_streams_trades_quotes_and_bars(venue, make, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    src, sink = make(venue), Sink()
    src.subscribe(["AAPL", "AMD"])
    src.start(sink)
    until(lambda: venue.subscriptions() == [everywhere("AAPL", "AMD")])
    assert venue.received[:2] == [
        '{"action":"auth","key":"' + KEY + '","secret":"' + SECRET + '"}',
        '{"action":"subscribe","trades":["AAPL","AMD"],"quotes":["AAPL","AMD"],'
        '"bars":["AAPL","AMD"]}']
    assert venue.push(venue.trade("AAPL", 190.5, 25, rfc3339(TS0, nanos=789)),
                      venue.quote("AMD", 120.1, 120.12, 3, 5, "2023-11-14T22:13:20.5Z"),
                      venue.bar("AAPL", 190.0, 190.7, 189.9, 190.5, 12_000,
                                "2023-11-14T22:12:00Z"),
                      venue.trade("NVDA", 480.0, 1)) == 1  # NVDA not subscribed: left out
    until(lambda: len(sink.snapshot()) == 3)
    assert sink.snapshot() == [
        Tick("AAPL", TS0, 190.5, 25.0, source="alpaca"),
        Quote("AMD", TS0.replace(microsecond=500000), 120.1, 120.12, 3.0, 5.0, "alpaca"),
        Bar("AAPL", "1m", datetime(2023, 11, 14, 22, 12, tzinfo=UTC), 190.0, 190.7, 189.9, 190.5,
            12_000.0, "alpaca"),
    ]
    health = src.health()
    assert (health.name, health.state, health.events, health.errors) == ("alpaca", "live", 3, 0)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("websockets")]
    assert any("Alpaca subscription: trades=AAPL,AMD" in m for m in ours)  # notes are logged...
    assert not any(SECRET in m or KEY in m for m in ours)  # ...the credentials never


def test_configured_channels_limit_the_lists(venue, make) -> None:
    src = make(venue, channels=("quotes",))
    src.subscribe(["SPY"])
    src.start(Sink())
    until(lambda: venue.subscriptions() == [{**EMPTY, "quotes": frozenset({"SPY"})}])
    assert sent(venue)[-1] == {"action": "subscribe", "quotes": ["SPY"]}


def test_refused_credentials_take_the_source_down_without_revealing_them(venue, make, caplog
                                                                         ) -> None:
    caplog.set_level(logging.DEBUG)
    src = make(venue, secret=WRONG_SECRET, breaker=BreakerConfig(failures=2, cooldown=60))
    src.subscribe(["AAPL"])
    src.start(Sink())
    until(lambda: src.health().state == "down")
    health = src.health()
    assert health.message == ("Alpaca refused the login (error 402: auth failed). Check "
                              "GS_ALPACA_KEY and GS_ALPACA_SECRET.")
    assert health.errors == 1 and venue.auth_attempts == 1 and venue.subscriptions() == []
    assert {"action": "auth", "key": KEY, "secret": WRONG_SECRET} in sent(venue)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("websockets")]
    assert any("refused the login" in m for m in ours)
    for text in [health.message, repr(src), str(src), repr(src.config), str(health),
                 *(m for _, m in src.problems), *ours]:
        assert WRONG_SECRET not in text and KEY not in text


def test_missing_credentials_say_which_settings_to_fill(venue, make) -> None:
    src = make(venue, secret="", breaker=BreakerConfig(failures=1, cooldown=60))
    src.start(Sink())
    until(lambda: src.health().state == "down")
    assert src.health().message == MISSING_CREDENTIALS and venue.auth_attempts == 0
    assert "GS_ALPACA_KEY" in MISSING_CREDENTIALS and "GS_ALPACA_SECRET" in MISSING_CREDENTIALS


def test_live_subscribe_and_unsubscribe_with_the_whole_subscription_as_reply(venue, make
                                                                            ) -> None:
    src, sink = make(venue), Sink()
    src.subscribe(["AAPL"])
    src.start(sink)
    until(lambda: venue.subscriptions() == [everywhere("AAPL")])
    src.subscribe(["MSFT"])
    until(lambda: venue.subscriptions() == [everywhere("AAPL", "MSFT")])
    src.unsubscribe(["AAPL"])
    until(lambda: venue.subscriptions() == [everywhere("MSFT")])
    assert sent(venue)[-2:] == [
        {"action": "subscribe", "trades": ["MSFT"], "quotes": ["MSFT"], "bars": ["MSFT"]},
        {"action": "unsubscribe", "trades": ["AAPL"], "quotes": ["AAPL"], "bars": ["AAPL"]}]
    assert venue.push_trade("AAPL", 190.0) == 0
    venue.push_trade("MSFT", 370.0)
    until(lambda: len(sink.snapshot()) == 1)
    assert src.errors == 0 and src.connections == 1  # subscription replies are info, not errors


def test_a_dropped_connection_reconnects_logs_in_again_and_resubscribes_everything(venue, make
                                                                                   ) -> None:
    src, sink = make(venue), Sink()
    src.subscribe(["AAPL", "AMD"])
    src.start(sink)
    until(lambda: venue.subscriptions() == [everywhere("AAPL", "AMD")])
    src.subscribe(["NVDA"])
    until(lambda: venue.subscriptions() == [everywhere("AAPL", "AMD", "NVDA")])
    venue.drop_all()
    until(lambda: src.connections == 2 and venue.subscriptions() == [everywhere("AAPL", "AMD",
                                                                               "NVDA")])
    assert venue.auth_attempts == 2 and src.reconnects == 1 and len(src.delays) == 1
    assert sent(venue)[-1] == {"action": "subscribe", "trades": ["AAPL", "AMD", "NVDA"],
                               "quotes": ["AAPL", "AMD", "NVDA"], "bars": ["AAPL", "AMD", "NVDA"]}
    venue.push_trade("NVDA", 480.0)
    until(lambda: len(sink.snapshot()) == 1)
    assert src.health().state == "live"


def test_a_second_connection_over_the_limit_reports_406_and_backs_off(make) -> None:
    with FakeAlpaca(key=KEY, secret=SECRET, max_connections=1) as venue:
        first = make(venue)
        first.start(Sink())
        until(lambda: first.health().state == "live")
        second = make(venue, backoff=BackoffConfig(initial=5, jitter=0))
        second.start(Sink())
        until(lambda: second.delays != [])
        message = second.health().message
        assert message.startswith("Alpaca error 406: connection limit exceeded - ")
        assert "another app, replica or script" in message and second.delays == [5.0]
        assert second.errors == 1 and second.health().state == "reconnecting"
        assert first.health().state == "live"


def test_error_frames_in_the_stream_are_counted_with_their_meaning(venue, make) -> None:
    src, sink = make(venue), Sink()
    src.subscribe(["AAPL"])
    src.start(sink)
    until(lambda: venue.subscriptions() == [everywhere("AAPL")])
    venue.send_error(405)
    until(lambda: src.errors == 1)
    assert src.health().message == "alpaca: Alpaca error 405: symbol limit exceeded"
    venue.send_error(406)
    until(lambda: src.errors == 2)
    assert "one market data connection per account" in src.health().message
    venue.push_trade("AAPL", 190.0)
    until(lambda: len(sink.snapshot()) == 1)
    assert src.connections == 1 and src.health().state == "live"


def test_pings_are_answered_with_the_same_payload(venue, make) -> None:
    src = make(venue)
    src.start(Sink())
    until(lambda: src.health().state == "live")
    assert venue.ping_all(b"gs-alpaca-ping-7")


def test_crypto_pairs_indices_and_options_are_unknown_symbols(venue, make) -> None:
    src = make(venue)
    for symbol in ("BTCUSDT", "BTC-USD", "^GSPC", "AAPL240119C00150000", "FAKEPACA"):
        with pytest.raises(UnknownSymbol, match="alpaca does not trade"):
            src.subscribe([symbol])
    src.subscribe(["AAPL", "BRK.B"])
    assert src.symbols() == ("AAPL", "BRK.B")
    test_feed = AlpacaSource(AlpacaConfig(url="wss://stream.data.alpaca.markets/v2/test"))
    test_feed.subscribe(["FAKEPACA"])
    assert test_feed.symbols() == ("FAKEPACA",)


def test_bad_frames_are_counted_and_the_stream_goes_on(venue, make) -> None:
    src, sink = make(venue), Sink()
    src.subscribe(["AAPL"])
    src.start(sink)
    until(lambda: venue.subscriptions() == [everywhere("AAPL")])
    venue.send_raw("garbage")
    venue.send_raw('{"T":"t"}')
    venue.send_raw('[{"T":"t","S":"AAPL","p":190.0,"s":1,"t":"yesterday"}]')
    venue.push_trade("AAPL", 190.0)
    until(lambda: len(sink.snapshot()) == 1)
    assert src.errors == 3 and src.connections == 1 and src.health().state == "live"


def test_the_fake_follows_the_documented_errors() -> None:
    with FakeAlpaca(key=KEY, secret=SECRET, auth_timeout=0.2) as fake:
        conn = websocket.create_connection(fake.url, timeout=5)
        try:
            assert json.loads(conn.recv()) == [{"T": "success", "msg": "connected"}]
            conn.send('{"action":"subscribe","trades":["AAPL"]}')
            assert json.loads(conn.recv()) == [{"T": "error", "code": 401,
                                                "msg": "not authenticated"}]
            conn.send("not json")
            assert json.loads(conn.recv()) == [{"T": "error", "code": 400,
                                                "msg": "invalid syntax"}]
            assert json.loads(conn.recv()) == [{"T": "error", "code": 404, "msg": "auth timeout"}]
        finally:
            conn.close()
        conn = websocket.create_connection(fake.url, timeout=5)
        try:
            conn.recv()
            conn.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
            assert json.loads(conn.recv()) == [{"T": "success", "msg": "authenticated"}]
            conn.send(json.dumps({"action": "subscribe", "trades": ["AAPL"], "quotes": ["AMD"],
                                  "bars": ["*"]}))
            assert json.loads(conn.recv()) == json.loads(
                (FIXTURES / "subscription.json").read_text(encoding="utf-8"))
            conn.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
            assert json.loads(conn.recv()) == [{"T": "error", "code": 403,
                                                "msg": "already authenticated"}]
        finally:
            conn.close()


class ScriptedConn:
    """Stands in for a websocket-client connection in handshake unit tests."""

    def __init__(self, *frames: object) -> None:
        self.frames = list(frames)
        self.sent: list[str] = []

    def settimeout(self, _t: float) -> None:
        pass

    def recv(self) -> str:
        if not self.frames:
            raise websocket.WebSocketTimeoutException("timed out")
        frame = self.frames.pop(0)
        return frame if isinstance(frame, str) else json.dumps(frame)

    def send(self, text: str) -> None:
        self.sent.append(text)


CONNECTED = [{"T": "success", "msg": "connected"}]


def _error(code: int, msg: str) -> list[dict]:
    return [{"T": "error", "code": code, "msg": msg}]


@pytest.mark.parametrize("frames, error, words", [
    ([CONNECTED, _error(402, "auth failed")], AuthError,
     "Alpaca refused the login (error 402: auth failed). Check GS_ALPACA_KEY and "
     "GS_ALPACA_SECRET."),
    ([CONNECTED, _error(404, "auth timeout")], FeedError, "Alpaca error 404"),
    ([CONNECTED, _error(500, "internal error")], FeedError, "Alpaca error 500"),
    ([CONNECTED, _error(409, "insufficient subscription")], AuthError,
     "(error 409: insufficient subscription)"),
    ([_error(406, "connection limit exceeded")], FeedError,
     "Alpaca error 406: connection limit exceeded - "),
    (["<html>"], FeedError, "<html> (during the greeting)"),
    ([], FeedError, "Alpaca did not answer the greeting within 10 s."),
    ([CONNECTED], FeedError, "Alpaca did not answer the login within 10 s."),
    ([CONNECTED, [], [], []], FeedError, "did not send 'authenticated' during the login"),
])
def test_handshake_failures(frames: list, error: type, words: str) -> None:
    src = AlpacaSource(AlpacaConfig(key=KEY, secret=SECRET))
    with pytest.raises(error) as info:
        src.handshake(ScriptedConn(*frames))  # type: ignore[arg-type]
    text = str(info.value)
    assert words in text and KEY not in text and SECRET not in text
    assert type(info.value) is error


def test_handshake_sends_exactly_the_documented_auth_frame() -> None:
    src = AlpacaSource(AlpacaConfig(key=KEY, secret=SECRET))
    conn = ScriptedConn(CONNECTED, [{"T": "success", "msg": "authenticated"}])
    src.handshake(conn)  # type: ignore[arg-type]
    assert conn.sent == ['{"action":"auth","key":"' + KEY + '","secret":"' + SECRET + '"}']


def test_config_from_settings_keeps_the_credentials_out_of_repr() -> None:
    settings = Settings(alpaca_url="wss://stream.data.alpaca.markets/v2/sip",
                        reconnect_initial_s=2.0, reconnect_factor=2.0, reconnect_cap_s=20.0,
                        secrets={"GS_ALPACA_KEY": KEY, "GS_ALPACA_SECRET": SECRET})
    config = AlpacaConfig.from_settings(settings, channels=("Trades", "bars"))
    assert (config.key, config.secret) == (KEY, SECRET)
    assert config.url.endswith("/v2/sip") and config.channels == ("trades", "bars")
    assert config.backoff == BackoffConfig(initial=2.0, factor=2.0, cap=20.0)
    for text in (repr(config), repr(AlpacaSource(config))):
        assert KEY not in text and SECRET not in text
    with pytest.raises(ConfigError, match="news"):
        AlpacaConfig(channels=("trades", "news"))
