"""Pieces shared by the venues whose frames are JSON arrays of messages (Polygon/Massive, Alpaca).

Pure functions: field access with clear errors, the stock-symbol shape both venues stream,
frame decoding, and short renderings of messages for error text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

STOCK_SYMBOL_RE = re.compile(r"^[A-Z]{1,5}(?:\.[A-Z])?$")
SNIPPET = 120
COMPACT = (",", ":")


class FrameError(ValueError):
    """A frame that is not a JSON array."""


def is_stock_symbol(symbol: str) -> bool:
    """Whether ``symbol`` has the shape of a US stock or ETF ticker these venues stream."""
    return isinstance(symbol, str) and STOCK_SYMBOL_RE.match(symbol) is not None


def field(msg: Mapping[str, Any], key: str) -> Any:
    """``msg[key]``, or ValueError naming the missing field."""
    try:
        return msg[key]
    except KeyError:
        raise ValueError(f"missing field {key!r}") from None


def number(msg: Mapping[str, Any], key: str) -> float:
    """A numeric field as float; ValueError for a missing, boolean or non-numeric value."""
    value = field(msg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"field {key!r} is not a number: {value!r}")
    return float(value)


def snippet(text: str) -> str:
    """``text`` cut to a length fit for an error message."""
    return text if len(text) <= SNIPPET else text[:SNIPPET] + "..."


def show(msg: object) -> str:
    """A message as compact JSON, cut for an error message."""
    return snippet(json.dumps(msg, separators=COMPACT))


def one_sided(msg: Mapping[str, Any]) -> bool:
    """True for a quote with a zero (or negative) bid or ask: one side of the book is empty."""
    return any(not isinstance(v, bool) and isinstance(v, (int, float)) and v <= 0
               for v in (msg.get("bp"), msg.get("ap")))


def decode_frame(text: str, venue: str) -> list[Any]:
    """A frame's text -> its list of messages; FrameError naming ``venue`` otherwise."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise FrameError(f"{venue} frame is not JSON ({exc}): {snippet(text)}") from None
    if not isinstance(data, list):
        raise FrameError(f"{venue} frame is not a JSON array: {snippet(text)}")
    return data
