"""A local Polygon.io (now Massive) stocks WebSocket that speaks the documented frames.

Greets with ``connected``, logs in with one configured API key (``auth_failed`` and a close for
any other, ``auth_timeout`` and a close when no ``auth`` arrives in time), answers each
subscribed topic with its own ``success`` status and keeps subscriptions per connection, so
``push`` delivers a message only to connections subscribed to its ``EV.SYMBOL`` topic (or
``EV.*``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection

from tests.fakes.ws_server import FakeWebSocketServer

Message = dict[str, Any]


def status(status_name: str, message: str = "") -> Message:
    """A ``{"ev":"status",...}`` message."""
    return {"ev": "status", "status": status_name, "message": message}


def now_ms() -> int:
    return int(time.time() * 1000)


class FakePolygon(FakeWebSocketServer):
    """Polygon/Massive stocks endpoint on ``ws://127.0.0.1:<port>/stocks``.

    Parameters
    ----------
    api_key
        The one key that logs in.
    auth_timeout
        Seconds a connection may stay without a valid ``auth`` before ``auth_timeout`` and a
        close; ``None`` waits forever.
    """

    path = "/stocks"

    def __init__(self, api_key: str = "pk-test-0123456789", *, auth_timeout: float | None = 10.0,
                 port: int | None = None) -> None:
        super().__init__(port)
        self.api_key = api_key
        self.auth_timeout = auth_timeout
        self.auth_attempts = 0
        self._state = threading.Lock()
        self._subs: dict[ServerConnection, set[str]] = {}
        self._authed: set[ServerConnection] = set()
        self._timers: dict[ServerConnection, threading.Timer] = {}

    # --- venue behaviour -----------------------------------------------------------------------
    def on_connect(self, conn: ServerConnection) -> None:
        with self._state:
            self._subs[conn] = set()
        self._send(conn, [status("connected", "Connected Successfully")])
        if self.auth_timeout is not None:
            timer = threading.Timer(self.auth_timeout, self._auth_timed_out, args=(conn,))
            timer.daemon = True
            with self._state:
                self._timers[conn] = timer
            timer.start()

    def on_message(self, conn: ServerConnection, text: str) -> None:
        try:
            msg = json.loads(text)
            action, params = msg["action"], msg.get("params", "")
        except (ValueError, TypeError, KeyError):
            self._send(conn, [status("error", "invalid message")])  # not documented; never hit
            return
        if action == "auth":
            self._auth(conn, params)
        elif action in ("subscribe", "unsubscribe"):
            self._subscribe(conn, action, [t for t in str(params).split(",") if t])

    def _auth(self, conn: ServerConnection, key: object) -> None:
        self.auth_attempts += 1
        self._cancel_timer(conn)
        if key != self.api_key:
            self._send(conn, [status("auth_failed", "authentication failed")])
            conn.close()
            return
        with self._state:
            self._authed.add(conn)
        self._send(conn, [status("auth_success", "authenticated")])

    def _subscribe(self, conn: ServerConnection, action: str, topics: list[str]) -> None:
        with self._state:
            if conn not in self._authed:
                return
            subs = self._subs.setdefault(conn, set())
            if action == "subscribe":
                subs.update(topics)
            else:
                subs.difference_update(topics)
        verb = "subscribed to" if action == "subscribe" else "unsubscribed to"
        self._send(conn, [status("success", f"{verb}: {t}") for t in topics])

    def _auth_timed_out(self, conn: ServerConnection) -> None:
        with self._state:
            if conn in self._authed:
                return
        self._send(conn, [status("auth_timeout", "authentication timed out")])
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
                self._authed.discard(conn)

    @staticmethod
    def _send(conn: ServerConnection, messages: list[Message]) -> bool:
        try:
            conn.send(json.dumps(messages))
            return True
        except ConnectionClosed:
            return False

    # --- what tests look at --------------------------------------------------------------------
    def subscriptions(self) -> list[frozenset[str]]:
        """Topics of each logged-in connection, oldest connection first."""
        with self._state:
            return [frozenset(topics) for conn, topics in self._subs.items()
                    if conn in self._authed]

    def topics(self) -> set[str]:
        """Every topic some logged-in connection is subscribed to."""
        return set().union(*self.subscriptions())

    # --- message builders (the documented shapes) ----------------------------------------------
    @staticmethod
    def trade(sym: str, price: float, size: int = 100, t: int | None = None) -> Message:
        return {"ev": "T", "sym": sym, "x": 4, "i": "12345", "z": 3, "p": price, "s": size,
                "c": [0, 12], "t": now_ms() if t is None else t, "q": 3681328}

    @staticmethod
    def quote(sym: str, bid: float, ask: float, bid_size: int = 100, ask_size: int = 100,
              t: int | None = None) -> Message:
        return {"ev": "Q", "sym": sym, "bx": 4, "bp": bid, "bs": bid_size, "ax": 7, "ap": ask,
                "as": ask_size, "c": 0, "i": [604], "t": now_ms() if t is None else t,
                "q": 50385480, "z": 3}

    @staticmethod
    def aggregate(sym: str, o: float, h: float, low: float, c: float, v: int, start: int,
                  minute: bool = True) -> Message:
        span = 60_000 if minute else 1_000
        return {"ev": "AM" if minute else "A", "sym": sym, "v": v, "av": v * 10, "op": o,
                "vw": round((h + low + c) / 3, 4), "o": o, "c": c, "h": h, "l": low,
                "a": round((h + low) / 2, 4), "z": 50, "s": start, "e": start + span}

    # --- levers --------------------------------------------------------------------------------
    def push(self, *messages: Message) -> int:
        """Send the messages, several per array, to each connection subscribed to them.

        Returns the number of frames sent.
        """
        with self._state:
            targets = [(conn, set(subs)) for conn, subs in self._subs.items()
                       if conn in self._authed]
        sent = 0
        for conn, subs in targets:
            mine = [m for m in messages
                    if f"{m['ev']}.{m['sym']}" in subs or f"{m['ev']}.*" in subs]
            if mine and self._send(conn, mine):
                sent += 1
        return sent

    def push_trade(self, sym: str, price: float, size: int = 100, t: int | None = None) -> int:
        return self.push(self.trade(sym, price, size, t))

    def push_quote(self, sym: str, bid: float, ask: float, bid_size: int = 100,
                   ask_size: int = 100, t: int | None = None) -> int:
        return self.push(self.quote(sym, bid, ask, bid_size, ask_size, t))

    def push_aggregate(self, sym: str, o: float, h: float, low: float, c: float, v: int,
                       start: int, minute: bool = True) -> int:
        return self.push(self.aggregate(sym, o, h, low, c, v, start, minute))

    def send_status(self, status_name: str, message: str = "",
                    conns: Iterable[ServerConnection] | None = None) -> int:
        """Send one status frame (``force_disconnect``, ``slow_consumer``...) to clients."""
        frame = [status(status_name, message)]
        return sum(self._send(c, frame) for c in (self.live() if conns is None else conns))

    def send_raw(self, text: str) -> int:
        """Send any text (malformed frames) to every client."""
        return self.send_all(text)
