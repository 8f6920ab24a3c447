"""A local Alpaca market data v2 WebSocket that speaks the documented frames.

Greets with ``connected``, logs in with one configured key and secret (``402 auth failed`` and a
close for others, ``404 auth timeout`` and a close when no ``auth`` arrives in time, ``406``
beyond ``max_connections``), answers ``subscribe``/``unsubscribe`` with the connection's whole
subscription and keeps subscriptions per connection, so ``push`` delivers a message only where
its symbol (or ``*``) is in the matching list.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from tests.fakes.ws_server import FakeWebSocketServer

Message = dict[str, Any]
LISTS = ("trades", "quotes", "bars")
KIND_TO_LIST = {"t": "trades", "q": "quotes", "b": "bars"}
MEANINGS = {400: "invalid syntax", 401: "not authenticated", 402: "auth failed",
            403: "already authenticated", 404: "auth timeout", 405: "symbol limit exceeded",
            406: "connection limit exceeded", 407: "slow client", 409: "insufficient subscription",
            410: "invalid subscribe action", 500: "internal error"}


def error(code: int, msg: str | None = None) -> Message:
    """A ``{"T":"error","code":N,"msg":...}`` message with the documented text by default."""
    return {"T": "error", "code": code, "msg": MEANINGS.get(code, "") if msg is None else msg}


def rfc3339(ts: datetime | None = None, nanos: int = 0) -> str:
    """``2021-02-22T15:51:45.335689322Z``: UTC, microseconds plus ``nanos`` (0-999)."""
    ts = (ts or datetime.now(UTC)).astimezone(UTC)
    return f"{ts:%Y-%m-%dT%H:%M:%S}.{ts.microsecond:06d}{nanos:03d}Z"


class FakeAlpaca(FakeWebSocketServer):
    """Alpaca v2 endpoint on ``ws://127.0.0.1:<port>/v2/iex``.

    Parameters
    ----------
    key, secret
        The one pair of credentials that logs in.
    auth_timeout
        Seconds a connection may stay without a valid ``auth`` before ``404`` and a close;
        ``None`` waits forever.
    max_connections
        Logged-in connections allowed at once; one more gets ``406`` and a close.
    """

    path = "/v2/iex"

    def __init__(self, key: str = "AKTESTKEY123", secret: str = "sk-test-secret-987", *,
                 auth_timeout: float | None = 10.0, max_connections: int | None = None,
                 port: int | None = None) -> None:
        super().__init__(port)
        self.key, self.secret = key, secret
        self.auth_timeout = auth_timeout
        self.max_connections = max_connections
        self.auth_attempts = 0
        self._state = threading.Lock()
        self._subs: dict[ServerConnection, dict[str, set[str]]] = {}
        self._authed: list[ServerConnection] = []
        self._timers: dict[ServerConnection, threading.Timer] = {}

    # --- venue behaviour -----------------------------------------------------------------------
    def on_connect(self, conn: ServerConnection) -> None:
        with self._state:
            self._subs[conn] = {name: set() for name in LISTS}
        self._send(conn, [{"T": "success", "msg": "connected"}])
        if self.auth_timeout is not None:
            timer = threading.Timer(self.auth_timeout, self._auth_timed_out, args=(conn,))
            timer.daemon = True
            with self._state:
                self._timers[conn] = timer
            timer.start()

    def on_message(self, conn: ServerConnection, text: str) -> None:
        try:
            msg = json.loads(text)
            action = msg["action"]
        except (ValueError, TypeError, KeyError):
            self._send(conn, [error(400)])
            return
        if action == "auth":
            self._auth(conn, msg.get("key"), msg.get("secret"))
        elif action in ("subscribe", "unsubscribe"):
            self._subscribe(conn, action, msg)
        else:
            self._send(conn, [error(400)])

    def _auth(self, conn: ServerConnection, key: object, secret: object) -> None:
        self.auth_attempts += 1
        with self._state:
            already = conn in self._authed
            full = self.max_connections is not None and len(self._authed) >= self.max_connections
        if already:
            self._send(conn, [error(403)])
            return
        self._cancel_timer(conn)
        if key != self.key or secret != self.secret:
            self._send(conn, [error(402)])
            conn.close()
            return
        if full:
            self._send(conn, [error(406)])
            conn.close()
            return
        with self._state:
            self._authed.append(conn)
        self._send(conn, [{"T": "success", "msg": "authenticated"}])

    def _subscribe(self, conn: ServerConnection, action: str, msg: Message) -> None:
        with self._state:
            authed = conn in self._authed
        if not authed:
            self._send(conn, [error(401)])
            return
        lists = {name: msg.get(name, []) for name in LISTS}
        if any(not isinstance(v, list) or not all(isinstance(s, str) for s in v)
               for v in lists.values()):
            self._send(conn, [error(410)])
            return
        with self._state:
            subs = self._subs.setdefault(conn, {name: set() for name in LISTS})
            for name, symbols in lists.items():
                if action == "subscribe":
                    subs[name].update(symbols)
                else:
                    subs[name].difference_update(symbols)
            reply = self._subscription(subs)
        self._send(conn, [reply])

    @staticmethod
    def _subscription(subs: dict[str, set[str]]) -> Message:
        trades = sorted(subs["trades"])
        return {"T": "subscription", "trades": trades, "quotes": sorted(subs["quotes"]),
                "bars": sorted(subs["bars"]), "updatedBars": [], "dailyBars": [],
                "statuses": [], "lulds": [], "corrections": trades, "cancelErrors": trades}

    def _auth_timed_out(self, conn: ServerConnection) -> None:
        with self._state:
            if conn in self._authed:
                return
        self._send(conn, [error(404)])
        conn.close()

    def _cancel_timer(self, conn: ServerConnection) -> None:
        with self._state:
            timer = self._timers.pop(conn, None)
        if timer is not None:
            timer.cancel()

    def _handle(self, conn: ServerConnection) -> None:
        try:
            super()._handle(conn)
        finally:
            self._cancel_timer(conn)
            with self._state:
                self._subs.pop(conn, None)
                if conn in self._authed:
                    self._authed.remove(conn)

    @staticmethod
    def _send(conn: ServerConnection, messages: list[Message]) -> bool:
        try:
            conn.send(json.dumps(messages))
            return True
        except ConnectionClosed:
            return False

    # --- what tests look at --------------------------------------------------------------------
    def subscriptions(self) -> list[dict[str, frozenset[str]]]:
        """Lists of each logged-in connection, oldest connection first."""
        with self._state:
            return [{name: frozenset(subs[name]) for name in LISTS}
                    for conn, subs in self._subs.items() if conn in self._authed]

    def subscribed(self, name: str = "trades") -> set[str]:
        """Symbols in one list across every logged-in connection."""
        return set().union(*(subs[name] for subs in self.subscriptions()))

    # --- message builders (the documented shapes) ----------------------------------------------
    @staticmethod
    def trade(sym: str, price: float, size: float = 100, t: str | None = None) -> Message:
        return {"T": "t", "i": 96921, "S": sym, "x": "D", "p": price, "s": size,
                "t": t or rfc3339(), "c": ["@", "I"], "z": "C"}

    @staticmethod
    def quote(sym: str, bid: float, ask: float, bid_size: float = 1, ask_size: float = 4,
              t: str | None = None) -> Message:
        return {"T": "q", "S": sym, "bx": "U", "bp": bid, "bs": bid_size, "ax": "Q", "ap": ask,
                "as": ask_size, "t": t or rfc3339(), "c": ["R"], "z": "C"}

    @staticmethod
    def bar(sym: str, o: float, h: float, low: float, c: float, v: float, t: str) -> Message:
        return {"T": "b", "S": sym, "o": o, "h": h, "l": low, "c": c, "v": v, "t": t, "n": 16,
                "vw": round((h + low + c) / 3, 4)}

    # --- levers --------------------------------------------------------------------------------
    def push(self, *messages: Message) -> int:
        """Send the messages, several per array, to each connection subscribed to them.

        Returns the number of frames sent.
        """
        with self._state:
            targets = [(conn, {k: set(v) for k, v in subs.items()})
                       for conn, subs in self._subs.items() if conn in self._authed]
        sent = 0
        for conn, subs in targets:
            mine = [m for m in messages if m["S"] in subs[KIND_TO_LIST[m["T"]]]
                    or "*" in subs[KIND_TO_LIST[m["T"]]]]
            if mine and self._send(conn, mine):
                sent += 1
        return sent

    def push_trade(self, sym: str, price: float, size: float = 100, t: str | None = None) -> int:
        return self.push(self.trade(sym, price, size, t))

    def push_quote(self, sym: str, bid: float, ask: float, bid_size: float = 1,
                   ask_size: float = 4, t: str | None = None) -> int:
        return self.push(self.quote(sym, bid, ask, bid_size, ask_size, t))

    def push_bar(self, sym: str, o: float, h: float, low: float, c: float, v: float,
                 t: str) -> int:
        return self.push(self.bar(sym, o, h, low, c, v, t))

    def send_error(self, code: int, msg: str | None = None,
                   conns: Iterable[ServerConnection] | None = None) -> int:
        """Send one error frame (``406``, ``407``...) to clients."""
        frame = [error(code, msg)]
        return sum(self._send(c, frame) for c in (self.live() if conns is None else conns))

    def send_raw(self, text: str) -> int:
        """Send any text (malformed frames) to every client."""
        return self.send_all(text)
