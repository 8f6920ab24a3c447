"""Binance spot market stream frames -> domain events (pure functions, no I/O).

One text frame goes in, one :class:`~core.feeds.ws_client.Parsed` comes out. Frames are either
combined-stream events ``{"stream": "<sym>@<kind>", "data": {...}}``, raw-stream events (the bare
payload), or replies to our control messages (``{"result": ..., "id": N}`` and the error frames
``{"code": 2|3, "msg": ...}``). Nothing here raises for bad input: a frame that cannot be used is
reported in ``Parsed.errors`` with a message that says what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from core.errors import ValidationError
from core.feeds.ws_client import Parsed
from core.models import Bar, Quote, Tick
from core.timeframes import TIMEFRAMES

SOURCE = "binance"
"""The ``source`` stamped on every event."""

KLINE_INTERVALS: frozenset[str] = frozenset(("1s", "1m", "5m", "15m", "1h", "1d")) & frozenset(
    TIMEFRAMES)
"""Kline intervals turned into bars; Binance's others (3m, 4h, 1w, ...) are ignored."""

_BOOK_KEYS = frozenset(("u", "s", "b", "B", "a", "A"))
_CLIP = 160
_NOTHING = Parsed()
_SHUTDOWN = Parsed(reconnect=True, info=("binance announced a server shutdown",))
_BAD_DATA = (KeyError, TypeError, ValueError, OverflowError, OSError)

Handler = Callable[[dict[str, Any], float, bool], Parsed]


def _clip(text: str | bytes) -> str:
    shown = (text if isinstance(text, str) else text.decode("utf-8", errors="replace")).strip()
    return shown if len(shown) <= _CLIP else shown[:_CLIP] + "..."


def event_time(value: object, micro: bool = False) -> datetime:
    """A Binance timestamp (integer epoch milliseconds, or microseconds) as a UTC datetime.

    Parameters
    ----------
    value
        The ``T``/``E``/``t`` field of a frame.
    micro
        True when the connection asked for ``timeUnit=MICROSECOND``.

    Raises
    ------
    TypeError
        When ``value`` is not an integer.
    """
    if type(value) is not int:
        raise TypeError(f"time {value!r} is not an integer")
    return datetime.fromtimestamp(value / (1_000_000 if micro else 1_000), UTC)


def _number(data: dict[str, Any], key: str) -> float:
    """A price or quantity: Binance sends them as decimal strings."""
    raw = data[key]
    if type(raw) is not str:
        raise TypeError(f"field '{key}' is {raw!r}, expected a decimal string")
    return float(raw)


# --- one function per payload kind --------------------------------------------------------------
def _trade(data: dict[str, Any], now: float, micro: bool) -> Parsed:
    tick = Tick(data["s"], event_time(data["T"], micro), _number(data, "p"), _number(data, "q"),
                source=SOURCE)
    return Parsed(events=(tick,))


def _book_ticker(data: dict[str, Any], now: float, micro: bool) -> Parsed:
    quote = Quote(data["s"], datetime.fromtimestamp(now, UTC), _number(data, "b"),
                  _number(data, "a"), _number(data, "B"), _number(data, "A"), source=SOURCE)
    return Parsed(events=(quote,))


def _kline(data: dict[str, Any], now: float, micro: bool) -> Parsed:
    k = data["k"]
    if not isinstance(k, dict):
        raise TypeError(f"field 'k' is {k!r}, expected an object")
    interval = k["i"]
    if interval not in KLINE_INTERVALS:
        return Parsed(info=(f"kline interval {interval!r} is not a timeframe we use; ignored",))
    if k["x"] is not True:
        return _NOTHING  # the candle is still open; Binance repeats it every 2 s
    bar = Bar(data["s"], interval, event_time(k["t"], micro), _number(k, "o"), _number(k, "h"),
              _number(k, "l"), _number(k, "c"), _number(k, "v"), source=SOURCE)
    return Parsed(events=(bar,))


def _mini_ticker(data: dict[str, Any], now: float, micro: bool) -> Parsed:
    return Parsed(info=(f"24h mini ticker for {data.get('s')!r} ignored",))


def _shutdown(data: dict[str, Any], now: float, micro: bool) -> Parsed:
    return _SHUTDOWN


_EVENTS: dict[str, Handler] = {
    "trade": _trade,
    "aggTrade": _trade,
    "kline": _kline,
    "24hrMiniTicker": _mini_ticker,
    "serverShutdown": _shutdown,
}


# --- control replies -----------------------------------------------------------------------------
def _control(msg: dict[str, Any]) -> Parsed:
    """Replies to SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS and the error frames."""
    if "result" in msg and "id" in msg:
        result, ident = msg["result"], msg["id"]
        if result is None:
            return Parsed(info=(f"request {ident} acknowledged",))
        if isinstance(result, list):
            return Parsed(info=(f"request {ident}: subscribed to {', '.join(map(str, result))}"
                                if result else f"request {ident}: no subscriptions",))
        return Parsed(info=(f"request {ident} answered {result!r}",))
    error = msg.get("error") if isinstance(msg.get("error"), dict) else msg
    if "code" in error:
        ident = msg.get("id")
        which = "a request" if ident is None else f"request {ident}"
        return Parsed(errors=(f"binance refused {which} (code {error['code']}): "
                              f"{error.get('msg', 'no message')}",))
    return Parsed(errors=(f"binance sent a frame of unknown shape: {_clip(orjson.dumps(msg))}",))


# --- entry point ---------------------------------------------------------------------------------
def _payload(msg: dict[str, Any]) -> tuple[str | None, Any]:
    """(stream name or None for a raw/control frame, payload)."""
    stream = msg.get("stream")
    if stream is None:
        return None, msg
    if not isinstance(stream, str):
        raise TypeError(f"field 'stream' is {stream!r}, expected text")
    return stream, msg["data"]


def _route(stream: str | None, data: dict[str, Any]) -> tuple[str, Handler] | None:
    """The payload kind and its parser, or None for a control reply."""
    kind = data.get("e")
    if kind is not None:
        handler = _EVENTS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            return str(kind), lambda _d, _n, _m: Parsed(info=(f"event {kind!r} ignored",))
        return kind, handler
    if stream is not None:
        if stream.endswith("@bookTicker"):
            return "bookTicker", _book_ticker
        if stream == "!serverShutdown":
            return "serverShutdown", _shutdown
    elif _BOOK_KEYS <= data.keys():
        return "bookTicker", _book_ticker
    if stream is not None:
        return "unknown", lambda _d, _n, _m: Parsed(info=(f"stream {stream!r} ignored",))
    return None


def parse_frame(text: str | bytes, now: float, *, micro: bool = False) -> Parsed:
    """Turn one Binance text frame into events, control information or errors.

    Parameters
    ----------
    text
        The frame as received (combined ``{"stream", "data"}``, a raw payload, or a reply).
    now
        Receive time, epoch seconds: the time of a bookTicker quote, which carries none.
    micro
        Timestamps are microseconds (the connection asked for ``timeUnit=MICROSECOND``).

    Returns
    -------
    Parsed
        ``events`` for trades, aggTrades, bookTickers and closed klines of a supported interval;
        ``info`` for acknowledgements and ignored frames; ``errors`` (never an exception) for
        malformed JSON, missing or invalid fields, rejected values and the venue's error replies;
        ``reconnect=True`` for the server-shutdown notice.
    """
    try:
        msg = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        return Parsed(errors=(f"binance sent a frame that is not JSON ({exc}): {_clip(text)}",))
    if not isinstance(msg, dict):
        return Parsed(errors=(f"binance sent JSON that is not an object: {_clip(text)}",))
    try:
        stream, data = _payload(msg)
    except _BAD_DATA as exc:
        return Parsed(errors=(f"binance stream frame {_why(exc)}: {_clip(text)}",))
    if not isinstance(data, dict):
        return Parsed(errors=(f"binance stream {stream} carried {type(data).__name__}, "
                              f"not an object: {_clip(text)}",))
    route = _route(stream, data)
    if route is None:
        return _control(msg)
    kind, handler = route
    try:
        return handler(data, now, micro)
    except ValidationError as exc:
        return Parsed(errors=(f"binance {kind} rejected: {exc}",))
    except _BAD_DATA as exc:
        return Parsed(errors=(f"binance {kind} frame {_why(exc)}: {_clip(text)}",))


def _why(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"is missing the field {exc}"
    return f"has an invalid value ({exc})"
