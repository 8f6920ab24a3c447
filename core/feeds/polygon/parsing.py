"""Polygon.io (now Massive) stocks WebSocket frames <-> domain objects. Pure: no I/O, no clock.

Every frame is a JSON array of messages told apart by ``ev``: ``T`` trade, ``Q`` quote, ``A``
second bar, ``AM`` minute bar and ``status`` (connection, auth, subscription and disconnect
notices). :func:`parse_frame` turns one frame into a :class:`~core.feeds.ws_client.Parsed` and
never raises; the builders at the bottom write the client's control frames.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from core.feeds.json_arrays import COMPACT as _COMPACT
from core.feeds.json_arrays import STOCK_SYMBOL_RE as STOCK_SYMBOL_RE  # re-exported
from core.feeds.json_arrays import FrameError as FrameError  # re-exported
from core.feeds.json_arrays import decode_frame as _decode
from core.feeds.json_arrays import field as _field
from core.feeds.json_arrays import is_stock_symbol as is_stock_symbol  # re-exported
from core.feeds.json_arrays import number as _num
from core.feeds.json_arrays import one_sided as _one_sided
from core.feeds.json_arrays import show as _show
from core.feeds.ws_client import Parsed
from core.models import Bar, Event, Quote, Tick
from core.timeframes import from_epoch_us

SOURCE = "polygon"
VENUE = "Polygon/Massive"
AGGREGATE_TIMEFRAMES = {"A": "1s", "AM": "1m"}
AUTH_REFUSALS = ("auth_failed", "auth_timeout")
DISCONNECT_NOTES = {
    "max_connections": "too many connections for this API key (max_connections); another app, "
                       "replica or script is using it",
    "force_disconnect": "the venue is closing this connection (force_disconnect)",
}
SLOW_CONSUMER_NOTE = ("the venue says we read too slowly (slow_consumer) and may drop messages or "
                      "disconnect")


def ms_to_utc(ms: object) -> datetime:
    """Epoch milliseconds (the venue's SIP time) to an exact tz-aware UTC datetime."""
    if isinstance(ms, bool) or not isinstance(ms, (int, float)):
        raise ValueError(f"time {ms!r} is not epoch milliseconds")
    us = ms * 1000 if isinstance(ms, int) else round(ms * 1000)
    return from_epoch_us(us)


def parse_trade(msg: Mapping[str, Any]) -> Tick:
    """A ``T`` message -> :class:`~core.models.Tick` (price ``p``, size ``s``, time ``t`` ms).

    Raises
    ------
    ValueError
        For a missing or mistyped field, or values the model rejects (ValidationError).
    """
    return Tick(_field(msg, "sym"), ms_to_utc(_field(msg, "t")), _num(msg, "p"), _num(msg, "s"),
                source=SOURCE)


def parse_quote(msg: Mapping[str, Any]) -> Quote:
    """A ``Q`` message -> :class:`~core.models.Quote` (``bp``/``ap`` with sizes ``bs``/``as``).

    Raises
    ------
    ValueError
        For a missing or mistyped field, or values the model rejects (ValidationError).
    """
    return Quote(_field(msg, "sym"), ms_to_utc(_field(msg, "t")), _num(msg, "bp"),
                 _num(msg, "ap"), _num(msg, "bs"), _num(msg, "as"), source=SOURCE)


def parse_aggregate(msg: Mapping[str, Any]) -> Bar:
    """An ``A`` (``1s``) or ``AM`` (``1m``) message -> :class:`~core.models.Bar` starting at ``s``.

    Raises
    ------
    ValueError
        For a missing or mistyped field, or values the model rejects (ValidationError).
    """
    timeframe = AGGREGATE_TIMEFRAMES[_field(msg, "ev")]
    return Bar(_field(msg, "sym"), timeframe, ms_to_utc(_field(msg, "s")), _num(msg, "o"),
               _num(msg, "h"), _num(msg, "l"), _num(msg, "c"), _num(msg, "v"), source=SOURCE)


def parse_status(msg: Mapping[str, Any]) -> Parsed:
    """A ``status`` message -> info, an error note, or a planned reconnect with a note."""
    status = str(msg.get("status", ""))
    text = f"{status}: {msg.get('message', '')}".rstrip(": ")
    if status in DISCONNECT_NOTES:
        return Parsed(errors=[f"{VENUE}: {DISCONNECT_NOTES[status]}; reconnecting ({text})."],
                      reconnect=True)
    if status == "slow_consumer":
        return Parsed(errors=[f"{VENUE}: {SLOW_CONSUMER_NOTE} ({text})."])
    if status in AUTH_REFUSALS or status == "error" or not status:
        return Parsed(errors=[f"{VENUE} status {text or '(empty)'}"])
    return Parsed(info=[f"{VENUE} status {text}"])


def parse_message(msg: object) -> Parsed:
    """One element of a frame -> :class:`Parsed`. Unknown ``ev`` values are ignored."""
    if not isinstance(msg, Mapping):
        return Parsed(errors=[f"{VENUE} message is not an object: {_show(msg)}"])
    ev = msg.get("ev")
    try:
        if ev == "T":
            return Parsed(events=[parse_trade(msg)])
        if ev == "Q":
            if _one_sided(msg):  # no bid or no ask (e.g. pre-market): nothing to show, no error
                return Parsed(info=[f"{VENUE} one-sided quote skipped: {_show(msg)}"])
            return Parsed(events=[parse_quote(msg)])
        if ev in AGGREGATE_TIMEFRAMES:
            return Parsed(events=[parse_aggregate(msg)])
    except (ValueError, OverflowError) as exc:  # ValueError includes ValidationError
        return Parsed(errors=[f"bad {VENUE} {ev} message ({exc}): {_show(msg)}"])
    if ev == "status":
        return parse_status(msg)
    return Parsed()


def decode_frame(text: str) -> list[Any]:
    """A frame's text -> its list of messages (FrameError when not a JSON array)."""
    return _decode(text, VENUE)


def parse_frame(text: str) -> Parsed:
    """One text frame -> every event, error, note and reconnect request in it. Never raises."""
    try:
        messages = decode_frame(text)
    except FrameError as exc:
        return Parsed(errors=[str(exc)])
    events: list[Event] = []
    errors: list[str] = []
    info: list[str] = []
    reconnect = False
    for msg in messages:
        one = parse_message(msg)
        events += one.events
        errors += one.errors
        info += one.info
        reconnect = reconnect or one.reconnect
    return Parsed(events=tuple(events), errors=tuple(errors), reconnect=reconnect,
                  info=tuple(info))


def statuses(text: str) -> list[tuple[str, str]]:
    """``(status, message)`` of every status message in a frame (for the handshake).

    Raises
    ------
    FrameError
        When the text is not a JSON array.
    """
    return [(str(m.get("status", "")), str(m.get("message", ""))) for m in decode_frame(text)
            if isinstance(m, Mapping) and m.get("ev") == "status"]


# --- frames the client sends -----------------------------------------------------------------
def auth_message(api_key: str) -> str:
    """``{"action":"auth","params":KEY}``. The result holds the key: send it, never log it."""
    return json.dumps({"action": "auth", "params": api_key}, separators=_COMPACT)


def topics(symbols: Iterable[str], channels: Sequence[str]) -> list[str]:
    """``CHANNEL.SYMBOL`` topics, symbol by symbol: ``T.AAPL, Q.AAPL, AM.AAPL, T.MSFT...``."""
    return [f"{channel}.{symbol}" for symbol in symbols for channel in channels]


def subscription_messages(action: str, symbols: Sequence[str], channels: Sequence[str],
                          per_message: int = 200) -> list[str]:
    """``{"action":"subscribe"|"unsubscribe","params":"T.AAPL,Q.AAPL,..."}`` frames.

    Parameters
    ----------
    action
        ``"subscribe"`` or ``"unsubscribe"``.
    symbols
        Symbols in the order to send them; an empty list gives no frames.
    channels
        Channels per symbol (``T``, ``Q``, ``A``, ``AM``).
    per_message
        At most this many symbols per frame.

    Returns
    -------
    list of str
    """
    out = []
    for i in range(0, len(symbols), per_message):
        params = ",".join(topics(symbols[i:i + per_message], channels))
        out.append(json.dumps({"action": action, "params": params}, separators=_COMPACT))
    return out
