"""Immutable domain objects shared by every layer.

All are frozen, slotted dataclasses that validate themselves on construction, so an object that
exists is a valid one: prices positive and finite, sizes non-negative, bid <= ask, times tz-aware
and converted to UTC, symbols normalised by :mod:`core.symbols`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime

from core.errors import ValidationError
from core.symbols import OCC_RE, is_valid_symbol
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


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """One listed option contract's quote (from a chain snapshot).

    ``contract`` is the OCC symbol (``AAPL240119C00150000``); prices may be zero (no bid), never
    negative; ``implied_vol`` is annualised (0.25 = 25 %) when the source gives it.
    """

    contract: str
    underlying: str
    expiry: date
    right: str
    strike: float
    ts: datetime
    bid: float | None = None
    ask: float | None = None
    last: float | None = None
    volume: float = 0.0
    open_interest: float = 0.0
    implied_vol: float | None = None
    source: str = ""

    def __post_init__(self) -> None:
        what = f"OptionQuote {self.contract!r}"
        m = OCC_RE.match(self.contract) if isinstance(self.contract, str) else None
        if m is None:
            raise ValidationError(f"{what}: not an OCC option symbol such as AAPL240119C00150000.")
        _symbol(self.underlying, what)
        if self.right not in ("C", "P") or m["right"] != self.right:
            raise ValidationError(f"{what}: right must be 'C' or 'P' and match the symbol.")
        if not isinstance(self.expiry, date) or isinstance(self.expiry, datetime):
            raise ValidationError(f"{what}: expiry must be a date.")
        _price(self.strike, "strike", what)
        ts = _utc(self.ts, what)
        if ts is not self.ts:
            object.__setattr__(self, "ts", ts)
        for name in ("bid", "ask", "last"):
            value = getattr(self, name)
            if value is not None:
                _size(value, name, what)
        _size(self.volume, "volume", what)
        _size(self.open_interest, "open interest", what)
        if self.implied_vol is not None:
            _size(self.implied_vol, "implied volatility", what)
        if self.bid and self.ask and self.bid > self.ask:
            raise ValidationError(f"{what}: bid {self.bid} is above ask {self.ask}.")


Event = Tick | Quote | Bar
