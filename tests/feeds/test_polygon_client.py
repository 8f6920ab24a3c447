"""PolygonSource against FakePolygon: login, subscriptions, data, refusals, reconnects."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import websocket

from core.config import Settings
from core.errors import ConfigError, FeedError, UnknownSymbol
from core.feeds.polygon import PolygonConfig, PolygonSource
from core.feeds.polygon.client import MISSING_KEY, refused
from core.feeds.reconnect import BackoffConfig, BreakerConfig
from core.feeds.ws_client import AuthError
from core.models import Bar, Event, Quote, Tick
from tests.fakes.polygon import FakePolygon

KEY = "pk-LIVE-7f3c9a21d4e8b6"
WRONG_KEY = "pk-WRONG-55aa0c1e9b"
FAST = BackoffConfig(initial=0.05, factor=1.5, cap=0.2, jitter=0.0)
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
TS0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
ALL_AAPL = {"T.AAPL", "Q.AAPL", "AM.AAPL"}


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


def sent(venue: FakePolygon) -> list[dict]:
    return [json.loads(m) for m in list(venue.received)]


@pytest.fixture
def venue() -> Iterator[FakePolygon]:
    with FakePolygon(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def make() -> Iterator[Callable[..., PolygonSource]]:
    sources: list[PolygonSource] = []

    def build(venue: FakePolygon, **config: object) -> PolygonSource:
        values: dict[str, object] = {"api_key": KEY, "url": venue.url, "backoff": FAST}
        values.update(config)
        src = PolygonSource(PolygonConfig(**values), recv_timeout=0.05)  # type: ignore[arg-type]
        sources.append(src)
        return src

    yield build
    for src in sources:
        src.stop()


def test_logs_in_subscribes_and_streams_trades_quotes_and_bars(venue, make, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    src, sink = make(venue), Sink()
    src.subscribe(["AAPL", "MSFT"])
    src.start(sink)
    until(lambda: venue.topics() == ALL_AAPL | {"T.MSFT", "Q.MSFT", "AM.MSFT"})
    assert venue.received[:2] == ['{"action":"auth","params":"' + KEY + '"}',
                                  '{"action":"subscribe","params":"T.AAPL,Q.AAPL,AM.AAPL,'
                                  'T.MSFT,Q.MSFT,AM.MSFT"}']
    assert venue.push(venue.trade("AAPL", 190.5, 25, T0), venue.quote("AAPL", 190.49, 190.51,
                                                                      300, 200, T0 + 1),
                      venue.aggregate("AAPL", 190.0, 190.7, 189.9, 190.5, 12_000, T0 - 60_000),
                      venue.aggregate("MSFT", 1.0, 1.0, 1.0, 1.0, 1, T0, minute=False)) == 1
    venue.push_trade("MSFT", 370.25, 10, T0 + 2)
    until(lambda: len(sink.snapshot()) == 4)
    assert sink.snapshot() == [
        Tick("AAPL", TS0, 190.5, 25.0, source="polygon"),
        Quote("AAPL", TS0.replace(microsecond=1000), 190.49, 190.51, 300.0, 200.0, "polygon"),
        Bar("AAPL", "1m", datetime(2023, 11, 14, 22, 12, 20, tzinfo=UTC), 190.0, 190.7, 189.9,
            190.5, 12_000.0, "polygon"),
        Tick("MSFT", TS0.replace(microsecond=2000), 370.25, 10.0, source="polygon"),
    ]  # the A (second) bar was not subscribed (default channels T, Q, AM): not delivered
    health = src.health()
    assert (health.name, health.state, health.events, health.errors) == ("polygon", "live", 4, 0)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("websockets")]
    assert any("subscribed to: T.AAPL" in m for m in ours)  # venue notes are logged...
    assert not any(KEY in m for m in ours)  # ...the credentials never


def test_configured_channels_subscribe_second_bars(venue, make) -> None:
    src, sink = make(venue, channels=("A", "T")), Sink()
    src.subscribe(["SPY"])
    src.start(sink)
    until(lambda: venue.topics() == {"A.SPY", "T.SPY"})
    venue.push_aggregate("SPY", 450.0, 450.2, 449.9, 450.1, 900, T0, minute=False)
    until(lambda: len(sink.snapshot()) == 1)
    assert sink.snapshot()[0] == Bar("SPY", "1s", TS0, 450.0, 450.2, 449.9, 450.1, 900.0,
                                     "polygon")


def test_a_refused_key_takes_the_source_down_without_revealing_the_key(venue, make, caplog
                                                                        ) -> None:
    caplog.set_level(logging.DEBUG)
    src = make(venue, api_key=WRONG_KEY, breaker=BreakerConfig(failures=2, cooldown=60))
    src.subscribe(["AAPL"])
    src.start(Sink())
    until(lambda: src.health().state == "down")
    health = src.health()
    assert health.message == refused("auth_failed") == (
        "Polygon/Massive refused the API key (auth_failed). Check GS_POLYGON_API_KEY.")
    assert health.errors == 1 and venue.auth_attempts == 1 and venue.topics() == set()
    assert {"action": "auth", "params": WRONG_KEY} in sent(venue)  # the key really went out...
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("websockets")]
    assert any("refused the API key" in m for m in ours)
    for text in [health.message, repr(src), str(src), repr(src.config), str(health),
                 *(m for _, m in src.problems), *ours]:
        assert WRONG_KEY not in text  # ...but never into a message, repr or log line


def test_a_missing_key_says_which_setting_to_fill(venue, make) -> None:
    src = make(venue, api_key="", breaker=BreakerConfig(failures=1, cooldown=60))
    src.start(Sink())
    until(lambda: src.health().state == "down")
    assert src.health().message == MISSING_KEY and "GS_POLYGON_API_KEY" in MISSING_KEY
    assert venue.auth_attempts == 0


def test_live_subscribe_and_unsubscribe_on_the_open_connection(venue, make) -> None:
    src, sink = make(venue), Sink()
    src.subscribe(["AAPL"])
    src.start(sink)
    until(lambda: venue.topics() == ALL_AAPL)
    src.subscribe(["MSFT", "AAPL"])  # AAPL already there: only MSFT goes out
    until(lambda: venue.topics() == ALL_AAPL | {"T.MSFT", "Q.MSFT", "AM.MSFT"})
    assert sent(venue)[-1] == {"action": "subscribe", "params": "T.MSFT,Q.MSFT,AM.MSFT"}
    src.unsubscribe(["AAPL", "NVDA"])  # NVDA never subscribed: ignored
    until(lambda: venue.topics() == {"T.MSFT", "Q.MSFT", "AM.MSFT"})
    assert sent(venue)[-1] == {"action": "unsubscribe", "params": "T.AAPL,Q.AAPL,AM.AAPL"}
    assert venue.push_trade("AAPL", 1.0, 1, T0) == 0
    venue.push_trade("MSFT", 370.0, 1, T0)
    until(lambda: len(sink.snapshot()) == 1)
    assert src.symbols() == ("MSFT",) and src.connections == 1 and src.errors == 0


def test_a_dropped_connection_reconnects_logs_in_again_and_resubscribes_everything(venue, make
                                                                                   ) -> None:
    src, sink = make(venue), Sink()
    src.subscribe(["AAPL", "MSFT"])
    src.start(sink)
    until(lambda: len(venue.subscriptions()) == 1 and len(venue.topics()) == 6)
    src.subscribe(["NVDA"])
    until(lambda: len(venue.topics()) == 9)
    before = venue.subscriptions()
    venue.drop_all()
    until(lambda: src.connections == 2 and venue.subscriptions() == before)
    assert venue.auth_attempts == 2 and src.reconnects == 1 and len(src.delays) == 1
    venue.push_trade("NVDA", 480.0, 5, T0)
    until(lambda: len(sink.snapshot()) == 1)
    assert sink.snapshot()[0].symbol == "NVDA" and src.health().state == "live"


def test_force_disconnect_reconnects_at_once_without_backoff(venue, make) -> None:
    src, sink = make(venue, backoff=BackoffConfig(initial=30, jitter=0), min_session_s=0.0), Sink()
    src.subscribe(["AAPL"])
    src.start(sink)
    until(lambda: venue.topics() == ALL_AAPL)
    venue.send_status("force_disconnect", "Another connection was opened with this API key.")
    until(lambda: src.connections == 2 and venue.topics() == ALL_AAPL, timeout=3)
    assert src.delays == [] and src.reconnects == 1
    notes = [m for _, m in src.problems]
    assert any("force_disconnect" in m for m in notes) and "announced a disconnect" in notes[-1]
    venue.push_trade("AAPL", 190.0, 1, T0)
    until(lambda: len(sink.snapshot()) == 1)


def test_a_disconnect_notice_right_after_login_backs_off_instead(venue, make) -> None:
    src = make(venue, backoff=BackoffConfig(initial=0.3, jitter=0), min_session_s=10.0)
    src.subscribe(["AAPL"])
    src.start(Sink())
    until(lambda: venue.topics() == ALL_AAPL)
    venue.send_status("max_connections", "Maximum number of websocket connections exceeded.")
    until(lambda: src.connections == 2)
    assert src.delays == [0.3] and src.errors == 2  # the notice, and the short session
    assert "cut the connection" in src.problems[-1][1]
    assert "max_connections" in src.problems[-1][1]


def test_pings_are_answered_with_the_same_payload(venue, make) -> None:
    src = make(venue)
    src.start(Sink())
    until(lambda: src.health().state == "live")
    assert venue.ping_all(b"gs-polygon-ping-42")


def test_crypto_pairs_indices_and_options_are_unknown_symbols(make, venue) -> None:
    src = make(venue)
    for symbol in ("BTCUSDT", "BTC-USD", "^GSPC", "AAPL240119C00150000"):
        with pytest.raises(UnknownSymbol, match="polygon does not trade"):
            src.subscribe([symbol])
    src.subscribe(["AAPL", "BRK.B"])
    assert src.symbols() == ("AAPL", "BRK.B")


def test_bad_frames_are_counted_and_the_stream_goes_on(venue, make) -> None:
    src, sink = make(venue), Sink()
    src.subscribe(["AAPL"])
    src.start(sink)
    until(lambda: venue.topics() == ALL_AAPL)
    venue.send_raw("garbage")
    venue.send_raw('{"ev":"T"}')
    venue.send_raw('[{"ev":"T","sym":"AAPL","p":-5,"s":1,"t":1700000000000}]')
    venue.send_status("slow_consumer", "falling behind")
    venue.push_trade("AAPL", 190.0, 1, T0)
    until(lambda: len(sink.snapshot()) == 1)
    assert src.errors == 4 and src.connections == 1 and src.health().state == "live"
    assert "slow_consumer" in src.health().message


def test_long_symbol_lists_go_out_in_several_frames(venue, make) -> None:
    src = make(venue, channels=("T",), symbols_per_message=2)
    src.subscribe(["AAPL", "MSFT", "NVDA"])
    src.start(Sink())
    until(lambda: venue.topics() == {"T.AAPL", "T.MSFT", "T.NVDA"})
    assert sent(venue)[1:] == [{"action": "subscribe", "params": "T.AAPL,T.MSFT"},
                               {"action": "subscribe", "params": "T.NVDA"}]


def test_the_fake_answers_with_the_documented_frames() -> None:
    with FakePolygon(api_key=KEY) as fake:
        bad = websocket.create_connection(fake.url, timeout=5)
        good = websocket.create_connection(fake.url, timeout=5)
        try:
            bad.recv()
            bad.send(json.dumps({"action": "auth", "params": WRONG_KEY}))
            assert json.loads(bad.recv()) == [{"ev": "status", "status": "auth_failed",
                                               "message": "authentication failed"}]
            good.recv()
            good.send(json.dumps({"action": "auth", "params": KEY}))
            assert json.loads(good.recv()) == [{"ev": "status", "status": "auth_success",
                                                "message": "authenticated"}]
            good.send(json.dumps({"action": "subscribe", "params": "T.AAPL,Q.AAPL"}))
            assert json.loads(good.recv()) == [
                {"ev": "status", "status": "success", "message": "subscribed to: T.AAPL"},
                {"ev": "status", "status": "success", "message": "subscribed to: Q.AAPL"}]
            assert fake.subscriptions() == [frozenset({"T.AAPL", "Q.AAPL"})]
        finally:
            bad.close()
            good.close()


def test_the_fake_times_out_a_silent_client() -> None:
    with FakePolygon(api_key=KEY, auth_timeout=0.1) as fake:
        conn = websocket.create_connection(fake.url, timeout=5)
        try:
            assert json.loads(conn.recv()) == [{"ev": "status", "status": "connected",
                                                "message": "Connected Successfully"}]
            assert json.loads(conn.recv())[0]["status"] == "auth_timeout"
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


def _status(name: str, message: str = "") -> list[dict]:
    return [{"ev": "status", "status": name, "message": message}]


@pytest.mark.parametrize("frames, error, words", [
    ([_status("connected"), _status("auth_failed")], AuthError,
     "refused the API key (auth_failed)"),
    ([_status("connected"), _status("auth_timeout")], FeedError, "timed out our login"),
    ([_status("max_connections", "limit")], FeedError, "too many connections"),
    ([_status("connected"), _status("max_connections", "limit")], FeedError, "max_connections"),
    (["<html>"], FeedError, "Polygon/Massive frame is not JSON (Expecting value: line 1 column 1 "
                            "(char 0)): <html> (during the greeting)"),
    ([], FeedError, "did not answer the greeting within 10 s"),
    ([_status("connected")], FeedError, "did not answer the login"),
    ([_status("connected"), [], [], []], FeedError, "did not send the 'auth_success' status"),
])
def test_handshake_failures(frames: list, error: type, words: str) -> None:
    src = PolygonSource(PolygonConfig(api_key=KEY))
    conn = ScriptedConn(*frames)
    with pytest.raises(error) as info:
        src.handshake(conn)  # type: ignore[arg-type]
    assert words in str(info.value) and KEY not in str(info.value)


def test_handshake_sends_exactly_the_documented_auth_frame() -> None:
    src = PolygonSource(PolygonConfig(api_key=KEY))
    conn = ScriptedConn(_status("connected", "Connected Successfully"),
                        _status("auth_success", "authenticated"))
    src.handshake(conn)  # type: ignore[arg-type]
    assert conn.sent == [json.dumps({"action": "auth", "params": KEY}, separators=(",", ":"))]


def test_config_from_settings_keeps_the_key_out_of_repr() -> None:
    settings = Settings(polygon_url="wss://delayed.massive.com/stocks", reconnect_initial_s=2.0,
                        reconnect_factor=2.0, reconnect_cap_s=20.0,
                        secrets={"GS_POLYGON_API_KEY": KEY})
    config = PolygonConfig.from_settings(settings, channels=("t", "am"))
    assert config.api_key == KEY and config.url == "wss://delayed.massive.com/stocks"
    assert config.channels == ("T", "AM")
    assert config.backoff == BackoffConfig(initial=2.0, factor=2.0, cap=20.0)
    assert KEY not in repr(config) and KEY not in repr(PolygonSource(config))
    assert PolygonConfig.from_settings(Settings()).api_key == ""
    with pytest.raises(ConfigError, match="XA"):
        PolygonConfig(channels=("T", "XA"))
    with pytest.raises(ConfigError):
        PolygonConfig(channels=())
