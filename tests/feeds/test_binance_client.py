"""BinanceSource against FakeBinance (tests/fakes/binance.py): protocol, limits and lifecycle."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import websocket

from core.config import Settings
from core.errors import ConfigError, FeedError, UnknownSymbol
from core.feeds.binance import BinanceConfig, BinanceSource, parse_frame
from core.feeds.binance.client import control_frames, merge_control_frames
from core.feeds.reconnect import BackoffConfig, BreakerConfig
from core.feeds.ws_transport import ReadAheadSocket
from core.models import Bar, Quote, Tick
from tests.fakes.binance import FakeBinance

FAST = BackoffConfig(initial=0.05, factor=1.5, cap=0.2, jitter=0.0)
SLOW = BackoffConfig(initial=30.0, factor=1.5, cap=30.0, jitter=0.0)  # a reconnect must not wait
NOW = 1_700_000_000.25
BTC = frozenset({"btcusdt@trade", "btcusdt@bookTicker", "btcusdt@kline_1m"})


def _until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


class Run:
    """A source started against a fake, collecting what it emits."""

    def __init__(self, fake: FakeBinance, **kwargs: object) -> None:
        source_kw = {k: kwargs.pop(k) for k in ("clock", "sleep", "min_session_s") if k in kwargs}
        kwargs.setdefault("backoff", FAST)
        self.src = BinanceSource(BinanceConfig(fake.url, **kwargs), **source_kw)  # type: ignore
        self.got: list = []
        self._lock = threading.Lock()

    def emit(self, events: object) -> None:
        with self._lock:
            self.got.extend(events)  # type: ignore[arg-type]

    def start(self, *symbols: str) -> Run:
        self.src.subscribe(symbols)
        self.src.start(self.emit)
        return self


@pytest.fixture
def run() -> Iterator[Callable[..., Run]]:
    runs: list[Run] = []

    def make(fake: FakeBinance, *symbols: str, **kwargs: object) -> Run:
        r = Run(fake, **kwargs)
        runs.append(r)
        return r.start(*symbols)

    yield make
    for r in runs:
        r.src.stop()


def test_subscribes_on_connect_and_streams_ticks_quotes_and_closed_bars(run) -> None:  # noqa: ANN001
    with FakeBinance() as fake:
        r = run(fake, "BTCUSDT", "ETHBTC", clock=lambda: NOW)
        fake.wait_for(lambda: len(fake.requests) == 1)
        assert fake.paths == ["/stream"]
        assert fake.requests[0] == {"method": "SUBSCRIBE", "id": 1, "params": [
            "btcusdt@trade", "btcusdt@bookTicker", "btcusdt@kline_1m",
            "ethbtc@trade", "ethbtc@bookTicker", "ethbtc@kline_1m"]}
        assert fake.trade("BTCUSDT", 43000.5, 0.25, ts=1_700_000_000.123) == 1
        fake.book_ticker("ETHBTC", 0.05, 3, 0.0501, 4)
        fake.kline("BTCUSDT", "1m", 1_699_999_940, 42900, 43100, 42800, 43000.5, 12.5,
                   closed=False)
        fake.kline("BTCUSDT", "1m", 1_699_999_940, 42900, 43100, 42800, 43000.5, 12.5)
        assert fake.mini_ticker("BTCUSDT") == 0  # not subscribed: nothing sent
        _until(lambda: len(r.got) == 3)
        time.sleep(0.05)
        assert r.src.errors == 0 and r.src.health().events == 3
    assert r.got == [
        Tick("BTCUSDT", datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC), 43000.5, 0.25,
             source="binance"),
        Quote("ETHBTC", datetime.fromtimestamp(NOW, UTC), 0.05, 0.0501, 3.0, 4.0, "binance"),
        Bar("BTCUSDT", "1m", datetime(2023, 11, 14, 22, 12, 20, tzinfo=UTC), 42900.0, 43100.0,
            42800.0, 43000.5, 12.5, "binance"),
    ]


def test_aggtrades_and_microsecond_timestamps(run) -> None:  # noqa: ANN001
    with FakeBinance() as fake:
        r = run(fake, "BNBBTC", streams=("aggTrade",), micro=True)
        fake.wait_for(lambda: fake.subscriptions() == [frozenset({"bnbbtc@aggTrade"})])
        assert fake.paths == ["/stream?timeUnit=MICROSECOND"]
        fake.agg_trade("BNBBTC", 0.001, 100, ts=1_700_000_000.123456)
        _until(lambda: len(r.got) == 1)
    assert r.got[0].ts == datetime(2023, 11, 14, 22, 13, 20, 123456, tzinfo=UTC)


def test_live_subscribe_and_unsubscribe_send_control_messages(run) -> None:  # noqa: ANN001
    with FakeBinance() as fake:
        r = run(fake, "BTCUSDT")
        fake.wait_for(lambda: fake.subscriptions() == [BTC])
        r.src.subscribe(["ETHUSDT"])
        fake.wait_for(lambda: len(fake.requests) == 2)
        r.src.unsubscribe(["BTCUSDT"])
        fake.wait_for(lambda: len(fake.requests) == 3)
        assert [(m["method"], m["id"]) for m in fake.requests] == [
            ("SUBSCRIBE", 1), ("SUBSCRIBE", 2), ("UNSUBSCRIBE", 3)]
        assert fake.requests[2]["params"] == sorted(BTC, key=["btcusdt@trade",
                                                              "btcusdt@bookTicker",
                                                              "btcusdt@kline_1m"].index)
        assert fake.subscriptions() == [frozenset(s.replace("btc", "eth") for s in BTC)]
        assert fake.trade("BTCUSDT", 1, 1) == 0
        assert r.src.symbols() == ("ETHUSDT",) and r.src.errors == 0


def test_thirty_quick_subscriptions_stay_under_five_messages_a_second(run) -> None:  # noqa: ANN001
    symbols = [f"C{chr(65 + i // 10)}{chr(65 + i % 10)}USDT" for i in range(30)]
    with FakeBinance() as fake:
        r = run(fake, "BTCUSDT")
        fake.wait_for(lambda: fake.subscriptions() == [BTC])
        done = threading.Event()

        def market() -> None:  # trades keep the read loop busy, as on a live connection
            while not done.wait(0.003):
                fake.trade("BTCUSDT", 100.0, 1)

        pusher = threading.Thread(target=market)
        pusher.start()
        try:
            for symbol in symbols:
                r.src.subscribe([symbol])
                time.sleep(0.02)  # one by one, as a user clicking through a list
        finally:
            done.set()
            pusher.join()
        wanted = BTC | {f"{s.lower()}@{k}" for s in symbols for k in
                        ("trade", "bookTicker", "kline_1m")}
        fake.wait_for(lambda: fake.subscriptions() == [wanted], timeout=5)
        time.sleep(0.2)
        assert fake.violations == 0 and fake.kicked == []
        assert fake.accepted == 1 and r.src.connections == 1 and r.src.health().state == "live"
        assert 2 <= len(fake.requests) <= 12  # limited and merged, not 31 messages
        assert r.src.errors == 0 and len(r.got) > 50


def test_the_fake_closes_a_client_sending_more_than_five_messages_a_second() -> None:
    with FakeBinance() as fake:
        ws = websocket.create_connection(fake.url, timeout=2)
        for i in range(6):
            ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
        fake.wait_for(lambda: fake.violations == 1)
        with pytest.raises(websocket.WebSocketException):
            for _ in range(10):
                ws.recv()
        ws.close()
    assert fake.kicked == ["Too many requests: more than 5 messages in one second"]


def test_pongs_echo_the_ping_payload_and_keep_the_connection(run) -> None:  # noqa: ANN001
    with FakeBinance(ping_interval=0.3, pong_timeout=0.5) as fake:
        r = run(fake, "BTCUSDT")
        time.sleep(1.5)  # three pong timeouts
        pings, pongs = list(fake.pings_sent), list(fake.pongs)
        assert len(pings) >= 4
        assert pongs == pings[:len(pongs)] and len(pings) - len(pongs) <= 1  # echoed, in order
        assert fake.pong_failures == 0 and fake.violations == 0 and fake.kicked == []
        assert fake.accepted == 1 and r.src.connections == 1 and r.src.health().state == "live"
        fake.trade("BTCUSDT", 1.5, 1)
        _until(lambda: len(r.got) == 1)


def test_the_fake_drops_a_client_that_does_not_pong() -> None:
    with FakeBinance(ping_interval=0.2, pong_timeout=0.3) as fake:
        silent = websocket.create_connection(fake.url, timeout=2)  # never reads: never pongs
        fake.wait_for(lambda: fake.pong_failures == 1, timeout=3)
        assert fake.kicked == ["Pong timeout"] and fake.pongs == []
        silent.close()


def test_reconnects_after_a_drop_and_resubscribes_everything(run) -> None:  # noqa: ANN001
    with FakeBinance() as fake:
        r = run(fake, "BTCUSDT", "ETHUSDT", "BNBBTC")
        fake.wait_for(lambda: len(fake.subscriptions()) == 1 and len(fake.subscriptions()[0]) == 9)
        before = fake.subscriptions()
        fake.drop_all()
        fake.wait_for(lambda: fake.accepted == 2 and fake.subscriptions() == before)
        fake.trade("ETHUSDT", 2000.0, 1.0)
        _until(lambda: len(r.got) == 1)
        assert r.got[0].symbol == "ETHUSDT" and r.got[0].price == 2000.0
        assert r.src.reconnects == 1 and r.src.connections == 2
        assert r.src.delays == [0.05]


def test_server_shutdown_reconnects_at_once(run) -> None:  # noqa: ANN001
    with FakeBinance() as fake:
        r = run(fake, "BTCUSDT", backoff=SLOW, min_session_s=0.0)
        fake.wait_for(lambda: fake.subscriptions() == [BTC])
        assert fake.server_shutdown() == 1
        _until(lambda: r.src.connections == 2, timeout=2)  # not after a 30 s backoff
        fake.wait_for(lambda: fake.subscriptions() == [BTC])
        assert r.src.delays == [] and r.src.errors == 0
        assert "announced a disconnect" in r.src.problems[-1][1]


def test_max_connection_age_renews_the_connection_before_the_venue_cuts_it(run) -> None:  # noqa: ANN001
    with FakeBinance() as fake:
        r = run(fake, "BTCUSDT", backoff=SLOW, max_connection_age_s=0.4, min_session_s=0.0)
        _until(lambda: r.src.connections >= 3, timeout=3)
        fake.wait_for(lambda: fake.subscriptions() == [BTC])
        assert r.src.delays == [] and r.src.errors == 0
        assert "renewing the connection" in r.src.problems[-1][1]


def test_reconnect_delays_follow_the_backoff_when_the_venue_refuses(run) -> None:  # noqa: ANN001
    slept: list[float] = []
    with FakeBinance() as fake:
        fake.accepting = False
        r = run(fake, "BTCUSDT", backoff=BackoffConfig(5.0, 1.5, 30.0, 0.0),
                breaker=BreakerConfig(failures=99),
                sleep=lambda d: (slept.append(d), time.sleep(0.01)))
        _until(lambda: len(r.src.delays) >= 3)
        r.src.stop()
    assert r.src.delays[:3] == [5.0, 7.5, 11.25] and slept[:3] == [5.0, 7.5, 11.25]
    assert fake.accepted == 0 and r.src.errors >= 3


def test_bad_frames_are_counted_without_killing_the_stream(run) -> None:  # noqa: ANN001
    with FakeBinance() as fake:
        r = run(fake, "BTCUSDT")
        fake.wait_for(lambda: fake.subscriptions() == [BTC])
        fake.send_raw('{"stream":"btcusdt@trade","data":{"e":"trade"')
        fake.trade("BTCUSDT", "NaN", 1)
        fake.book_ticker("BTCUSDT", 101, 1, 100, 1)
        fake.send_raw('{"code":2,"msg":"Invalid request: unknown property"}')
        fake.trade("BTCUSDT", 100.0, 1)
        _until(lambda: len(r.got) == 1)
        health = r.src.health()
        assert health.errors == 4 and health.events == 1 and health.state == "live"
        assert r.src.connections == 1
        assert "Invalid request: unknown property" in health.message


@pytest.mark.parametrize(("symbol", "ok"), [
    ("BTCUSDT", True), ("ETHBTC", True), ("BNBETH", True), ("USDTTRY", True), ("TUSDT", True),
    ("1000SATSUSDT", True), ("SOLFDUSD", True), ("AAPL", False), ("BTC-USD", False),
    ("SPY", False), ("USDT", False), ("BTC", False), ("BRK.B", False), ("btcusdt", False),
    ("AAPL240119C00150000", False), ("^GSPC", False), ("VERYLONGNAMEUSDT", False),
])
def test_accepts_only_binance_pairs(symbol: str, ok: bool) -> None:
    assert BinanceSource().accepts(symbol) is ok


def test_unknown_equity_symbols_raise_and_nothing_is_added() -> None:
    src = BinanceSource()
    for bad in ("AAPL", "BTC-USD"):
        with pytest.raises(UnknownSymbol, match="Binance does not trade"):
            src.subscribe(["BTCUSDT", bad])
    assert src.symbols() == ()
    with pytest.raises(FeedError, match="1024 streams"):
        src.subscribe([f"X{i:04d}USDT" for i in range(342)])  # 1,026 streams
    src.subscribe([f"X{i:04d}USDT" for i in range(341)])
    assert len(src.symbols()) == 341


def test_control_frames_are_chunked_and_merged() -> None:
    streams = [f"s{i}@trade" for i in range(450)]
    ids = iter(range(7, 100))
    frames = [json.loads(f) for f in control_frames("SUBSCRIBE", streams, ids)]
    assert [len(f["params"]) for f in frames] == [200, 200, 50]
    assert [f["id"] for f in frames] == [7, 8, 9] and next(ids) == 10
    assert sum((f["params"] for f in frames), []) == streams
    assert control_frames("SUBSCRIBE", [], ids) == []
    sub = control_frames("SUBSCRIBE", ["a@trade"], iter([1]))
    sub2 = control_frames("SUBSCRIBE", ["b@trade", "a@trade"], iter([2]))
    unsub = control_frames("UNSUBSCRIBE", ["a@trade"], iter([3]))
    merged = [json.loads(f) for f in merge_control_frames(sub + sub2 + unsub + sub)]
    assert merged == [{"method": "SUBSCRIBE", "params": ["a@trade", "b@trade"], "id": 1},
                      {"method": "UNSUBSCRIBE", "params": ["a@trade"], "id": 3},
                      {"method": "SUBSCRIBE", "params": ["a@trade"], "id": 1}]
    big = control_frames("SUBSCRIBE", streams[:150], iter([1])) + control_frames(
        "SUBSCRIBE", streams[150:300], iter([2]))
    assert len(merge_control_frames(big)) == 2  # never more than 200 names in one frame


def test_the_fake_answers_control_messages_like_binance() -> None:
    with FakeBinance() as fake:
        ws = websocket.create_connection(fake.url, timeout=2)

        def ask(text: str) -> str:
            ws.send(text)
            return ws.recv()

        assert ask('{"method":"SUBSCRIBE","params":["btcusdt@aggTrade"],"id":1}') == \
            '{"result":null,"id":1}'
        assert ask('{"method":"LIST_SUBSCRIPTIONS","id":3}') == \
            '{"result":["btcusdt@aggTrade"],"id":3}'
        time.sleep(1.0)  # stay under the rate limit
        bad = [ask('{"method":"SUBSCRIBE","params":["BTCUSDT@trade"],"id":4}'),
               ask('{"method":"FLY","id":5}'), ask('{"method":"SUBSCRIBE",')]
        ws.close()
    assert [json.loads(b)["code"] for b in bad] == [2, 2, 3]
    assert bad[0] == '{"code":2,"msg":"Invalid request: invalid stream name \'BTCUSDT@trade\'"}'
    assert json.loads(bad[2])["msg"].startswith("Invalid JSON: ")
    assert all(parse_frame(b, NOW).errors for b in bad)


def test_raw_stream_path_sends_bare_payloads() -> None:
    with FakeBinance() as fake:
        ws = websocket.create_connection(fake.url.replace("/stream", "/ws/btcusdt@trade"),
                                         timeout=2)
        fake.wait_for_clients()
        fake.wait_for(lambda: fake.subscriptions() == [frozenset({"btcusdt@trade"})])
        fake.trade("BTCUSDT", 10, 1, ts=1_700_000_000.5)
        fake.server_shutdown()
        trade, shutdown = json.loads(ws.recv()), ws.recv()
        ws.close()
    assert trade["e"] == "trade" and trade["T"] == 1_700_000_000_500 and "stream" not in trade
    assert parse_frame(shutdown, NOW).reconnect


def test_config_from_settings_and_validation() -> None:
    settings = Settings(binance_url="wss://data-stream.binance.vision/stream/",
                        reconnect_initial_s=2.0, reconnect_factor=2.0, reconnect_cap_s=20.0)
    config = BinanceConfig.from_settings(settings)
    assert config.url == "wss://data-stream.binance.vision"
    assert (config.backoff.initial, config.backoff.factor, config.backoff.cap) == (2.0, 2.0, 20.0)
    assert config.max_connection_age_s == 23.5 * 3600
    assert config.streams == ("trade", "bookTicker", "kline_1m")
    src = BinanceSource.from_settings(settings)
    assert src.name == "binance" and not src.simulated and src.control_rate == 4
    assert src.max_connection_age == 23.5 * 3600
    assert src.endpoint(()) == "wss://data-stream.binance.vision/stream"
    assert BinanceSource.from_settings(settings, name="binance-vision").name == "binance-vision"
    with pytest.raises(ConfigError, match="kline_4h"):
        BinanceConfig(streams=("trade", "kline_4h"))
    with pytest.raises(ConfigError, match="ws://"):
        BinanceConfig(url="https://api.binance.com")
    with pytest.raises(ConfigError, match="positive"):
        BinanceConfig(max_connection_age_s=0)


def test_read_ahead_socket_hands_out_exact_sizes_from_one_read() -> None:
    a, b = socket.socketpair()
    with a, b:
        reader = ReadAheadSocket(a)
        b.sendall(b"\x81\x05hello\x81\x02ok")
        assert [reader.recv(2), reader.recv(5), reader.recv(2), reader.recv(10)] == [
            b"\x81\x05", b"hello", b"\x81\x02", b"ok"]
        assert reader.fileno() == a.fileno()  # the rest is the socket's own
        reader.settimeout(0.05)
        with pytest.raises(TimeoutError):
            reader.recv(1)
        b.shutdown(socket.SHUT_WR)
        assert reader.recv(1) == b""
