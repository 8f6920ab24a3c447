"""Wire format of the Redis bus: bus messages to compact JSON bytes and back, exactly.

The tree is JSON with two rules that make the round trip exact:

- every array carries a one-letter tag first: ``["t", ...]`` a tuple, ``["l", ...]`` a list,
  ``["T", ...]`` a :class:`~core.models.Tick`, ``["Q", ...]`` a :class:`~core.models.Quote`,
  ``["B", ...]`` a :class:`~core.models.Bar`; a bare array is never written;
- times travel as integer UTC epoch microseconds and come back as ``datetime`` objects in
  ``datetime.UTC`` (the resolution of ``datetime``, so nothing is lost).

Dicts need ``str`` keys; ``str``, ``int`` (64-bit), finite ``float``, ``bool`` and ``None`` pass
as themselves. Decoding re-runs the models' validation, so a decoded object is a valid one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from core.errors import BusError, GSError
from core.models import Bar, Quote, Tick
from core.timeframes import from_epoch_us, to_epoch_us

TICK, QUOTE, BAR, TUPLE, LIST = "T", "Q", "B", "t", "l"


_us = to_epoch_us


def _dt(us: object) -> datetime:
    if type(us) is not int:
        raise TypeError(f"time must be integer epoch microseconds, got {us!r}")
    return from_epoch_us(us)


def _pack_float(value: float) -> float:
    if not math.isfinite(value):
        raise BusError(f"Cannot send the number {value!r} on the bus: only finite floats travel.")
    return value


def _pack_dict(value: dict) -> dict:
    out = {}
    for key, item in value.items():
        if type(key) is not str:
            raise BusError(f"Cannot send a dict with the key {key!r} on the bus: keys must be str.")
        out[key] = _pack(item)
    return out


def _pack_tick(t: Tick) -> list:
    return [TICK, t.symbol, _us(t.ts), t.price, t.size, t.bid, t.ask, t.source]


def _pack_quote(q: Quote) -> list:
    return [QUOTE, q.symbol, _us(q.ts), q.bid, q.ask, q.bid_size, q.ask_size, q.source]


def _pack_bar(b: Bar) -> list:
    return [BAR, b.symbol, b.timeframe, _us(b.start), b.open, b.high, b.low, b.close, b.volume,
            b.source]


def _identity(value: Any) -> Any:
    return value


_PACKERS: dict[type, Callable[[Any], Any]] = {
    str: _identity,
    int: _identity,
    bool: _identity,
    type(None): _identity,
    float: _pack_float,
    Tick: _pack_tick,
    Quote: _pack_quote,
    Bar: _pack_bar,
    tuple: lambda v: [TUPLE, *map(_pack, v)],
    list: lambda v: [LIST, *map(_pack, v)],
    dict: _pack_dict,
}


def _pack(value: Any) -> Any:
    packer = _PACKERS.get(type(value))
    if packer is None:
        raise BusError(
            f"Cannot send a {type(value).__name__} on the bus; send a Tick, Quote, Bar, a tuple, "
            "list or dict of those, or str/int/float/bool/None."
        )
    return packer(value)


def encode(message: Any) -> bytes:
    """Serialise one bus message to bytes.

    Parameters
    ----------
    message
        A :class:`~core.models.Tick`, :class:`~core.models.Quote` or :class:`~core.models.Bar`,
        a tuple/list/dict (str keys) of supported values, or ``str``/``int``/``float``/``bool``/
        ``None``.

    Returns
    -------
    bytes
        Compact JSON (see the module docstring).

    Raises
    ------
    BusError
        For a value of an unsupported type, a non-str dict key, a non-finite float or an
        integer outside 64 bits.
    """
    try:
        return orjson.dumps(_pack(message))
    except orjson.JSONEncodeError as exc:
        raise BusError(f"Cannot send this message on the bus: {exc}.") from None


def _unpack_tick(a: list) -> Tick:
    _, symbol, ts, price, size, bid, ask, source = a
    return Tick(symbol, _dt(ts), price, size, bid, ask, source)


def _unpack_quote(a: list) -> Quote:
    _, symbol, ts, bid, ask, bid_size, ask_size, source = a
    return Quote(symbol, _dt(ts), bid, ask, bid_size, ask_size, source)


def _unpack_bar(a: list) -> Bar:
    _, symbol, timeframe, start, open_, high, low, close, volume, source = a
    return Bar(symbol, timeframe, _dt(start), open_, high, low, close, volume, source)


_UNPACKERS: dict[str, Callable[[list], Any]] = {
    TICK: _unpack_tick,
    QUOTE: _unpack_quote,
    BAR: _unpack_bar,
    TUPLE: lambda a: tuple(_unpack(v) for v in a[1:]),
    LIST: lambda a: [_unpack(v) for v in a[1:]],
}


def _unpack(node: Any) -> Any:
    kind = type(node)
    if kind is list:
        if not node:
            raise ValueError("untagged empty array")
        unpacker = _UNPACKERS.get(node[0]) if type(node[0]) is str else None
        if unpacker is None:
            raise ValueError(f"unknown array tag {node[0]!r}")
        return unpacker(node)
    if kind is dict:
        return {k: _unpack(v) for k, v in node.items()}
    return node


def decode(data: bytes | bytearray | memoryview | str) -> Any:
    """Rebuild the message :func:`encode` serialised.

    Parameters
    ----------
    data
        The bytes :func:`encode` returned (``str`` is accepted too).

    Returns
    -------
    Any
        An object equal to the one encoded: tuples come back as tuples, domain objects as
        validated domain objects with UTC times.

    Raises
    ------
    BusError
        When ``data`` is not a bus message (not JSON, unknown tag, wrong shape, invalid model).
    """
    try:
        return _unpack(orjson.loads(data))
    except (orjson.JSONDecodeError, ValueError, TypeError, OverflowError, GSError) as exc:
        preview = bytes(data[:60]) if not isinstance(data, str) else data[:60].encode()
        raise BusError(
            f"Received a message the bus cannot read ({exc}); it starts with {preview!r}. "
            "Is another program publishing on the same Redis prefix?"
        ) from None
