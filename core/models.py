"""Immutable domain objects shared by every layer.

All are frozen, slotted dataclasses that validate themselves on construction, so an object that
exists is a valid one: prices positive and finite, sizes non-negative, bid <= ask, times tz-aware
and converted to UTC, symbols normalised by :mod:`core.symbols`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from core.errors import ValidationError
from core.symbols import is_valid_symbol
from core.timeframes import TIMEFRAMES

UTC = UTC


def _utc(ts: object, what: str) -> datetime:
    if not isinstance(ts, datetime):
        raise ValidationError(f"{what}: time must be a datetime, got {type(ts).__name__}.")
    if ts.tzinfo is UTC:
        return ts
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValidationError(f"{what}: time {ts.isoformat()} has no time zone; use UTC.")
    return ts.astimezone(UTC)


def _price(value: object, name: str, what: str) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValidationError(f"{what}: {name} must be a positive finite number, got {value!r}.")


def _size(value: object, name: str, what: str) -> None:
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ValidationError(f"{what}: {name} must be a non-negative number, got {value!r}.")


def _symbol(symbol: object, what: str) -> None:
    if not is_valid_symbol(symbol):
        raise ValidationError(f"{what}: {symbol!r} is not a valid upper-case symbol.")


@dataclass(frozen=True, slots=True)
class Tick:
    """One trade print, with the prevailing bid/ask when the source knows it."""

    symbol: str
    ts: datetime
    price: float
    size: float
    bid: float | None = None
    ask: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        what = f"Tick {self.symbol!r}"
        _symbol(self.symbol, what)
        ts = _utc(self.ts, what)
        if ts is not self.ts:
            object.__setattr__(self, "ts", ts)
        _price(self.price, "price", what)
        _size(self.size, "size", what)
        if self.bid is not None:
            _price(self.bid, "bid", what)
        if self.ask is not None:
            _price(self.ask, "ask", what)
        if self.bid is not None and self.ask is not None and self.bid > self.ask:
            raise ValidationError(f"{what}: bid {self.bid} is above ask {self.ask}.")


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book: best bid and ask with their sizes."""

    symbol: str
    ts: datetime
    bid: float
    ask: float
    bid_size: float = 0.0
    ask_size: float = 0.0
    source: str = ""

    def __post_init__(self) -> None:
        what = f"Quote {self.symbol!r}"
        _symbol(self.symbol, what)
        ts = _utc(self.ts, what)
        if ts is not self.ts:
            object.__setattr__(self, "ts", ts)
        _price(self.bid, "bid", what)
        _price(self.ask, "ask", what)
        _size(self.bid_size, "bid size", what)
        _size(self.ask_size, "ask size", what)
        if self.bid > self.ask:
            raise ValidationError(f"{what}: bid {self.bid} is above ask {self.ask}.")

    @property
    def mid(self) -> float:
        """Midpoint of bid and ask."""
        return (self.bid + self.ask) / 2.0


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV candle; ``start`` is the UTC start of the bucket."""

    symbol: str
    timeframe: str
    start: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    source: str = ""

    def __post_init__(self) -> None:
        what = f"Bar {self.symbol!r} {self.timeframe}"
        _symbol(self.symbol, what)
        if self.timeframe not in TIMEFRAMES:
            raise ValidationError(f"{what}: unknown timeframe; use one of {', '.join(TIMEFRAMES)}.")
        ts = _utc(self.start, what)
        if ts is not self.start:
            object.__setattr__(self, "start", ts)
        for name in ("open", "high", "low", "close"):
            _price(getattr(self, name), name, what)
        _size(self.volume, "volume", what)
        if self.low > min(self.open, self.close) or self.high < max(self.open, self.close):
            raise ValidationError(
                f"{what}: high/low {self.high}/{self.low} do not contain open/close "
                f"{self.open}/{self.close}."
            )


Event = Tick | Quote | Bar
