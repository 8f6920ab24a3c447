"""A local Binance spot market stream server speaking the frames of PROTOCOLS.md exactly.

``FakeBinance`` serves combined streams on ``/stream`` (``?streams=a/b`` and
``&timeUnit=MICROSECOND`` honoured) and raw streams on ``/ws/<stream>``. It answers SUBSCRIBE,
UNSUBSCRIBE and LIST_SUBSCRIPTIONS, keeps each connection's subscriptions, and enforces what
Binance enforces: at most 5 incoming messages a second per connection (text frames, pings and
pongs alike; the connection is closed on a violation) and, when ``ping_interval`` is set, a pong
echoing each ping's payload within ``pong_timeout``. Helpers push trade, aggTrade, bookTicker,
kline and miniTicker events to the connections subscribed to the matching stream.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.sync.server import ServerConnection, serve

from tests.fakes.ws_server import FakeWebSocketServer

KLINE_SECONDS = {"1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600,
                 "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400,
                 "3d": 259200, "1w": 604800, "1M": 2592000}
STREAM_RE = re.compile(r"^[a-z0-9]+@(?:trade|aggTrade|bookTicker|miniTicker|ticker|depth"
                       r"|kline_(?:" + "|".join(KLINE_SECONDS) + r"))$")
_COUNTED = (Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.PONG)


class _CountingConnection(ServerConnection):
    """A server connection that reports every incoming data, ping and pong frame on arrival."""

    def __init__(self, *args: Any, on_frame: Callable[[ServerConnection, Frame], None],
                 **kwargs: Any) -> None:
        self.on_frame = on_frame  # set before the base starts its reader thread
        super().__init__(*args, **kwargs)

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and event.opcode in _COUNTED:
            self.on_frame(self, event)
        super().process_event(event)


@dataclass
class _Client:
    """What the fake knows about one connection."""

    conn: ServerConnection
    combined: bool
    micro: bool
    streams: set[str] = field(default_factory=set)
    arrivals: deque[float] = field(default_factory=deque)
    kicked: bool = False
    next_ping: float = 0.0
    outstanding: list[tuple[bytes, threading.Event, float]] = field(default_factory=list)


def _dec(value: float | str) -> str:
    """A price or quantity the way Binance writes it (strings pass through, e.g. "NaN")."""
    return value if isinstance(value, str) else f"{value:.8f}"


class FakeBinance(FakeWebSocketServer):
    """Fake Binance spot streams. Use as a context manager; ``url`` ends in ``/stream``.

    Parameters
    ----------
    port
        Port on 127.0.0.1 (a free one by default).
    rate_limit
        Incoming messages a connection may send in any one second (Binance: 5).
    ping_interval
        Seconds between pings to each connection, None for no pings (Binance: 20).
    pong_timeout
        Seconds a connection has to answer a ping with a pong echoing its payload before it is
        disconnected (Binance: 60).

    Attributes
    ----------
    violations
        How many times a connection broke the message rate limit (each one was closed).
    pings_sent, pongs
        Payloads of the pings sent and of the pongs received, in order.
    pong_failures
        Connections dropped for not answering a ping in time.
    accepted
        Connections accepted since the start.
    requests
        Every well-formed control request received, as parsed JSON.
    """

    path = "/stream"

    def __init__(self, port: int | None = None, *, rate_limit: int = 5,
                 ping_interval: float | None = None, pong_timeout: float = 60.0) -> None:
        super().__init__(port)
        self.rate_limit = rate_limit
        self.ping_interval, self.pong_timeout = ping_interval, pong_timeout
        self.violations = self.pong_failures = self.accepted = 0
        self.pings_sent: list[bytes] = []
        self.pongs: list[bytes] = []
        self.requests: list[dict[str, Any]] = []
        self.kicked: list[str] = []
        self._clients: dict[ServerConnection, _Client] = {}
        self._state = threading.Lock()
        self._halt = threading.Event()
        self._pinger: threading.Thread | None = None
        self._seq = 0

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> FakeBinance:
        """Listen (with frame counting) and start the pinger when ``ping_interval`` is set."""
        factory = functools.partial(_CountingConnection, on_frame=self._on_frame)
        self._server = serve(self._handle, "127.0.0.1", self.port, ping_interval=None,
                             close_timeout=0.5, process_request=self._gate,
                             create_connection=factory)  # type: ignore[arg-type]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._halt.clear()
        if self.ping_interval:
            self._pinger = threading.Thread(target=self._ping_loop, daemon=True)
            self._pinger.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        if self._pinger is not None:
            self._pinger.join(timeout=5)
            self._pinger = None
        super().stop()

    def __enter__(self) -> FakeBinance:
        return self.start()

    # --- per-connection state ------------------------------------------------------------------
    def _client(self, conn: ServerConnection) -> _Client:
        """The state of ``conn``, created on its first frame or at ``on_connect``."""
        with self._state:
            client = self._clients.get(conn)
            if client is None:
                for gone in [c for c in self._clients if c.state is State.CLOSED]:
                    del self._clients[gone]
                target = urlsplit(conn.request.path if conn.request else "/stream")
                query = parse_qs(target.query)
                micro = query.get("timeUnit", [""])[0].upper() == "MICROSECOND"
                raw = target.path.startswith("/ws/")
                streams = ({target.path.removeprefix("/ws/")} if raw else
                           {s for s in query.get("streams", [""])[0].split("/") if s})
                client = _Client(conn, not raw, micro, streams,
                                 next_ping=time.monotonic() + (self.ping_interval or 0.0))
                self._clients[conn] = client
                self.accepted += 1
            return client

    def _clients_now(self) -> list[_Client]:
        """States of the live connections, in connection order."""
        live = self.live()
        with self._state:
            return [self._clients[c] for c in live if c in self._clients]

    def on_connect(self, conn: ServerConnection) -> None:
        self._client(conn)

    def subscriptions(self) -> list[frozenset[str]]:
        """The stream sets of the live connections (in connection order)."""
        clients = self._clients_now()
        with self._state:
            return [frozenset(c.streams) for c in clients]

    # --- rate limit and heartbeat --------------------------------------------------------------
    def _on_frame(self, conn: ServerConnection, frame: Frame) -> None:
        """Called by the connection's reader thread for each data/ping/pong frame, on arrival."""
        client = self._client(conn)
        now = time.monotonic()
        with self._state:
            if frame.opcode is Opcode.PONG:
                self.pongs.append(bytes(frame.data))
            client.arrivals.append(now)
            while now - client.arrivals[0] >= 1.0:
                client.arrivals.popleft()
            over = len(client.arrivals) > self.rate_limit and not client.kicked
            if over:
                self.violations += 1
        if over:
            self._kick(client, 1008, f"Too many requests: more than {self.rate_limit} messages "
                                     "in one second")

    def _kick(self, client: _Client, code: int, reason: str) -> None:
        """Close a connection from a thread of its own (never block the reader thread)."""
        with self._state:
            if client.kicked:
                return
            client.kicked = True
            self.kicked.append(reason)
        threading.Thread(target=client.conn.close, args=(code, reason), daemon=True).start()

    def _ping_loop(self) -> None:
        assert self.ping_interval
        while not self._halt.wait(min(0.02, self.ping_interval / 4)):
            now = time.monotonic()
            for client in self._clients_now():
                self._check_pongs(client, now)
                if now >= client.next_ping and not client.kicked:
                    client.next_ping = now + self.ping_interval
                    self._ping(client, now)

    def _ping(self, client: _Client, now: float) -> None:
        with self._state:
            self._seq += 1
            payload = f"gs-{self._seq}-{time.time():.6f}".encode()
        try:
            event = client.conn.ping(payload)
        except ConnectionClosed:
            return
        with self._state:
            self.pings_sent.append(payload)
            client.outstanding.append((payload, event, now + self.pong_timeout))

    def _check_pongs(self, client: _Client, now: float) -> None:
        late = False
        with self._state:
            waiting = []
            for payload, event, deadline in client.outstanding:
                if event.is_set():
                    continue
                if now > deadline:
                    late = True
                waiting.append((payload, event, deadline))
            client.outstanding = waiting
            if late and not client.kicked:
                self.pong_failures += 1
        if late:
            self._kick(client, 1008, "Pong timeout")

    def ping_now(self) -> None:
        """Ping every connection at once (besides the regular pings)."""
        now = time.monotonic()
        for client in self._clients_now():
            self._ping(client, now)

    # --- control messages ----------------------------------------------------------------------
    def on_message(self, conn: ServerConnection, text: str) -> None:
        client = self._client(conn)
        try:
            msg = json.loads(text)
        except ValueError as exc:
            self._reply(conn, {"code": 3, "msg": f"Invalid JSON: {exc}"})
            return
        error = self._invalid(msg)
        if error:
            self._reply(conn, {"code": 2, "msg": f"Invalid request: {error}"})
            return
        with self._state:
            self.requests.append(msg)
            method, ident = msg["method"], msg["id"]
            if method == "SUBSCRIBE":
                client.streams.update(msg["params"])
            elif method == "UNSUBSCRIBE":
                client.streams.difference_update(msg["params"])
            result = sorted(client.streams) if method == "LIST_SUBSCRIPTIONS" else None
        self._reply(conn, {"result": result, "id": ident})

    @staticmethod
    def _invalid(msg: object) -> str:
        """Why a control request is invalid, or "" when it is fine."""
        if not isinstance(msg, dict):
            return "request must be a JSON object"
        ident = msg.get("id")
        if isinstance(ident, bool) or not isinstance(ident, int | str) or (
                isinstance(ident, int) and ident < 0):
            return "request ID must be an unsigned integer or a string"
        method = msg.get("method")
        if method not in ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS"):
            return f"unknown method {method!r}"
        if method == "LIST_SUBSCRIPTIONS":
            return ""
        params = msg.get("params")
        if not isinstance(params, list) or not params:
            return "'params' must be a non-empty array of stream names"
        bad = [p for p in params if not isinstance(p, str) or not STREAM_RE.match(p)]
        if bad:
            return f"invalid stream name {bad[0]!r}"
        return ""

    @staticmethod
    def _reply(conn: ServerConnection, msg: dict[str, Any]) -> None:
        try:
            conn.send(json.dumps(msg, separators=(",", ":")))
        except ConnectionClosed:
            pass

    # --- pushing events ------------------------------------------------------------------------
    def _push(self, stream: str, build: Callable[[bool], dict[str, Any]]) -> int:
        """Send one event to every connection subscribed to ``stream``; returns how many."""
        sent = 0
        for client in self._clients_now():
            if stream not in client.streams:
                continue
            data = build(client.micro)
            body = {"stream": stream, "data": data} if client.combined else data
            try:
                client.conn.send(json.dumps(body, separators=(",", ":")))
                sent += 1
            except ConnectionClosed:
                pass
        return sent

    @staticmethod
    def _t(ts: float | None, micro: bool) -> int:
        return round((time.time() if ts is None else ts) * (1e6 if micro else 1e3))

    def trade(self, symbol: str, price: float | str, qty: float | str, *, ts: float | None = None,
              trade_id: int = 12345, buyer_maker: bool = True) -> int:
        """Push a trade to ``<symbol>@trade``; ``ts`` in epoch seconds (now by default)."""
        sym = symbol.upper()
        return self._push(f"{sym.lower()}@trade", lambda micro: {
            "e": "trade", "E": self._t(ts, micro), "s": sym, "t": trade_id, "p": _dec(price),
            "q": _dec(qty), "T": self._t(ts, micro), "m": buyer_maker, "M": True})

    def agg_trade(self, symbol: str, price: float | str, qty: float | str, *,
                  ts: float | None = None, agg_id: int = 12345, buyer_maker: bool = True) -> int:
        """Push an aggregated trade to ``<symbol>@aggTrade``."""
        sym = symbol.upper()
        return self._push(f"{sym.lower()}@aggTrade", lambda micro: {
            "e": "aggTrade", "E": self._t(ts, micro), "s": sym, "a": agg_id, "p": _dec(price),
            "q": _dec(qty), "f": 100, "l": 105, "T": self._t(ts, micro), "m": buyer_maker,
            "M": True})

    def book_ticker(self, symbol: str, bid: float | str, bid_qty: float | str, ask: float | str,
                    ask_qty: float | str, *, update_id: int = 400900217) -> int:
        """Push a best bid/ask to ``<symbol>@bookTicker`` (no event type, no time)."""
        sym = symbol.upper()
        return self._push(f"{sym.lower()}@bookTicker", lambda _micro: {
            "u": update_id, "s": sym, "b": _dec(bid), "B": _dec(bid_qty), "a": _dec(ask),
            "A": _dec(ask_qty)})

    def kline(self, symbol: str, interval: str, start: float, o: float | str, h: float | str,
              lo: float | str, c: float | str, v: float | str, *, closed: bool = True,
              ts: float | None = None) -> int:
        """Push a candle (``start`` in epoch seconds) to ``<symbol>@kline_<interval>``."""
        sym = symbol.upper()
        end = start + KLINE_SECONDS[interval]
        return self._push(f"{sym.lower()}@kline_{interval}", lambda micro: {
            "e": "kline", "E": self._t(ts, micro), "s": sym, "k": {
                "t": self._t(start, micro), "T": self._t(end, micro) - 1, "s": sym, "i": interval,
                "f": 100, "L": 200, "o": _dec(o), "c": _dec(c), "h": _dec(h), "l": _dec(lo),
                "v": _dec(v), "n": 100, "x": closed, "q": "1.0000", "V": "500", "Q": "0.500",
                "B": "123456"}})

    def mini_ticker(self, symbol: str, close: float = 0.0025, open_: float = 0.0010) -> int:
        """Push a 24 h mini ticker to ``<symbol>@miniTicker``."""
        sym = symbol.upper()
        return self._push(f"{sym.lower()}@miniTicker", lambda micro: {
            "e": "24hrMiniTicker", "E": self._t(None, micro), "s": sym, "c": _dec(close),
            "o": _dec(open_), "h": _dec(close), "l": _dec(open_), "v": "10000", "q": "18"})

    def server_shutdown(self) -> int:
        """Announce a disconnect to every connection, as Binance does before its restarts."""
        sent = 0
        for client in self._clients_now():
            data = {"e": "serverShutdown", "E": self._t(None, client.micro)}
            body = {"stream": "!serverShutdown", "data": data} if client.combined else data
            try:
                client.conn.send(json.dumps(body, separators=(",", ":")))
                sent += 1
            except ConnectionClosed:
                pass
        return sent

    def send_raw(self, text: str) -> int:
        """Send ``text`` as-is to every connection (malformed frames)."""
        return self.send_all(text)

    # --- load for the benchmark ----------------------------------------------------------------
    def _trade_writers(self, symbol: str) -> list[tuple[ServerConnection, str, float]]:
        """(connection, %-template of a trade frame, time scale) per ``symbol@trade`` subscriber."""
        sym = symbol.upper()
        stream = f"{sym.lower()}@trade"
        out = []
        for client in self._clients_now():
            if stream in client.streams:
                data = ('{"e":"trade","E":%(t)d,"s":"' + sym + '","t":%(i)d,"p":"%(p)s",'
                        '"q":"0.01000000","T":%(t)d,"m":false,"M":true}')
                text = ('{"stream":"' + stream + '","data":' + data + "}") if client.combined \
                    else data
                out.append((client.conn, text, 1e6 if client.micro else 1e3))
        return out

    def flood(self, symbol: str, n: int) -> int:
        """Push ``n`` trades of ``symbol`` as fast as possible; ``T`` is the send time."""
        return self.blast(symbol, seconds=None, count=n)

    def blast(self, symbol: str, seconds: float | None, *, rate: float | None = None,
              count: int | None = None) -> int:
        """Push trades for ``seconds`` (or ``count`` of them), at ``rate`` a second or flat out.

        Returns the number of frames sent to one subscriber.
        """
        writers = self._trade_writers(symbol)
        if not writers:
            return 0
        start = time.perf_counter()
        end = None if seconds is None else start + seconds
        sent = 0
        while (count is None or sent < count) and (end is None or time.perf_counter() < end):
            if rate:
                due = start + sent / rate
                wait = due - time.perf_counter()
                if wait > 0.0005:
                    time.sleep(wait - 0.0003)
                    continue
                while time.perf_counter() < due:
                    pass
            now = time.time()
            price = f"{100.0 + (sent % 100) * 0.01:.8f}"
            for writer in list(writers):
                conn, template, scale = writer
                try:
                    conn.send(template % {"t": round(now * scale), "i": sent, "p": price})
                except ConnectionClosed:
                    writers.remove(writer)  # a client that went away; keep serving the others
            if not writers:
                return sent
            sent += 1
        return sent
