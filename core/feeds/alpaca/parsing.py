"""Alpaca market data v2 WebSocket frames <-> domain objects. Pure: no I/O, no clock.

Every frame is a JSON array of messages told apart by ``T``: ``t`` trade, ``q`` quote, ``b``
minute bar, ``success``/``subscription`` (control replies) and ``error`` (numbered codes).
:func:`parse_frame` turns one frame into a :class:`~core.feeds.ws_client.Parsed` and never raises;
the builders at the bottom write the client's control frames.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
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

SOURCE = "alpaca"
VENUE = "Alpaca"
TEST_SYMBOL = "FAKEPACA"
"""The one symbol of the ``v2/test`` stream."""
ERROR_MEANINGS = {
    400: "invalid syntax",
    401: "not authenticated",
    402: "auth failed",
    403: "already authenticated",
    404: "auth timeout",
    405: "symbol limit exceeded",
    406: "connection limit exceeded",
    407: "slow client",
    409: "insufficient subscription",
    410: "invalid subscribe action",
    500: "internal error",
}
"""The documented error codes."""
CONNECTION_LIMIT_NOTE = ("Alpaca allows one market data connection per account: another app, "
                         "replica or script is using these credentials; stop it or use other keys")
SUBSCRIPTION_LISTS = ("trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses")
_TIME_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$")


def parse_time(text: object) -> datetime:
    """RFC 3339 text (``2021-02-22T15:51:45.335689322Z``) -> tz-aware UTC datetime.

    Fractions finer than a microsecond are truncated (``.335689322`` -> ``.335689``).

    Raises
    ------
    ValueError
        When the text is not an RFC 3339 time with a zone.
    """
    m = _TIME_RE.match(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"time {text!r} is not RFC 3339")
    day, clock, fraction, zone = m.groups()
    micro = (fraction or "")[:6].ljust(6, "0")
    offset = "+00:00" if zone in ("Z", "z") else zone
    return datetime.fromisoformat(f"{day}T{clock}.{micro}{offset}").astimezone(UTC)


def parse_trade(msg: Mapping[str, Any]) -> Tick:
    """A ``t`` message -> :class:`~core.models.Tick` (``S`` symbol, ``p`` price, ``s`` size).

    Raises
    ------
    ValueError
        For a missing or mistyped field, or values the model rejects (ValidationError).
    """
    return Tick(_field(msg, "S"), parse_time(_field(msg, "t")), _num(msg, "p"), _num(msg, "s"),
                source=SOURCE)


def parse_quote(msg: Mapping[str, Any]) -> Quote:
    """A ``q`` message -> :class:`~core.models.Quote` (``bp``/``ap`` with sizes ``bs``/``as``).

    Raises
    ------
    ValueError
        For a missing or mistyped field, or values the model rejects (ValidationError).
    """
    return Quote(_field(msg, "S"), parse_time(_field(msg, "t")), _num(msg, "bp"),
                 _num(msg, "ap"), _num(msg, "bs"), _num(msg, "as"), source=SOURCE)


def parse_bar(msg: Mapping[str, Any]) -> Bar:
    """A ``b`` message -> ``1m`` :class:`~core.models.Bar` starting at ``t``.

    Raises
    ------
    ValueError
        For a missing or mistyped field, or values the model rejects (ValidationError).
    """
    return Bar(_field(msg, "S"), "1m", parse_time(_field(msg, "t")), _num(msg, "o"),
               _num(msg, "h"), _num(msg, "l"), _num(msg, "c"), _num(msg, "v"), source=SOURCE)


def error_text(code: object, msg: object = "") -> str:
    """``Alpaca error {code}: {meaning}``, the documented meaning or else the venue's text.

    A connection limit (406) also says what to do about it.
    """
    meaning = ERROR_MEANINGS.get(code, str(msg or "unknown error")) if isinstance(code, int) \
        else str(msg or "unknown error")
    text = f"{VENUE} error {code}: {meaning}"
    if code == 406:
        text += f" - {CONNECTION_LIMIT_NOTE}."
    return text


def _subscription_info(msg: Mapping[str, Any]) -> str:
    parts = [f"{name}={','.join(map(str, msg[name]))}" for name in SUBSCRIPTION_LISTS
             if isinstance(msg.get(name), list) and msg[name]]
    return f"{VENUE} subscription: {'; '.join(parts) or 'nothing'}"


def _control(kind: object, msg: Mapping[str, Any]) -> Parsed:
    if kind == "error":
        return Parsed(errors=[error_text(msg.get("code"), msg.get("msg"))])
    if kind == "success":
        return Parsed(info=[f"{VENUE}: {msg.get('msg', '')}"])
    if kind == "subscription":
        return Parsed(info=[_subscription_info(msg)])
    return Parsed()  # corrections, cancel errors, statuses, LULDs, updated/daily bars: unused


def parse_message(msg: object) -> Parsed:
    """One element of a frame -> :class:`Parsed`. Unknown ``T`` values are ignored."""
    if not isinstance(msg, Mapping):
        return Parsed(errors=[f"{VENUE} message is not an object: {_show(msg)}"])
    kind = msg.get("T")
    try:
        if kind == "t":
            return Parsed(events=[parse_trade(msg)])
        if kind == "q":
            if _one_sided(msg):  # IEX often has one side empty: nothing to show, no error
                return Parsed(info=[f"{VENUE} one-sided quote skipped: {_show(msg)}"])
            return Parsed(events=[parse_quote(msg)])
        if kind == "b":
            return Parsed(events=[parse_bar(msg)])
    except (ValueError, OverflowError) as exc:  # ValueError includes ValidationError
        return Parsed(errors=[f"bad {VENUE} {kind} message ({exc}): {_show(msg)}"])
    return _control(kind, msg)


def decode_frame(text: str) -> list[Any]:
    """A frame's text -> its list of messages (FrameError when not a JSON array)."""
    return _decode(text, VENUE)


def parse_frame(text: str) -> Parsed:
    """One text frame -> every event, error and note in it, in order. Never raises."""
    try:
        messages = decode_frame(text)
    except FrameError as exc:
        return Parsed(errors=[str(exc)])
    events: list[Event] = []
    errors: list[str] = []
    info: list[str] = []
    for msg in messages:
        one = parse_message(msg)
        events += one.events
        errors += one.errors
        info += one.info
    return Parsed(events=tuple(events), errors=tuple(errors), info=tuple(info))


def control_messages(text: str) -> list[tuple[str, object, str]]:
    """``(T, code, msg)`` of every control message in a frame (for the handshake).

    Raises
    ------
    FrameError
        When the text is not a JSON array.
    """
    return [(str(m.get("T", "")), m.get("code"), str(m.get("msg", "")))
            for m in decode_frame(text) if isinstance(m, Mapping)]


# --- frames the client sends -----------------------------------------------------------------
def auth_message(key: str, secret: str) -> str:
    """``{"action":"auth","key":...,"secret":...}``. Holds secrets: send it, never log it."""
    return json.dumps({"action": "auth", "key": key, "secret": secret}, separators=_COMPACT)


def subscription_messages(action: str, symbols: Sequence[str], channels: Sequence[str],
                          per_message: int = 200) -> list[str]:
    """``{"action":"subscribe"|"unsubscribe","trades":[...],"quotes":[...],"bars":[...]}``.

    Parameters
    ----------
    action
        ``"subscribe"`` or ``"unsubscribe"``.
    symbols
        Symbols in the order to send them; an empty list gives no frames.
    channels
        Lists each symbol goes into (``trades``, ``quotes``, ``bars``).
    per_message
        At most this many symbols per frame.

    Returns
    -------
    list of str
    """
    out = []
    for i in range(0, len(symbols), per_message):
        chunk = list(symbols[i:i + per_message])
        out.append(json.dumps({"action": action, **{channel: chunk for channel in channels}},
                              separators=_COMPACT))
    return out
