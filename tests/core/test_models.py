from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import InvalidSymbol, ValidationError
from core.models import Bar, Quote, Tick
from core.symbols import normalize_symbol

T0 = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize("raw,expected", [
    ("aapl", "AAPL"), (" brk.b ", "BRK.B"), ("^gspc", "^GSPC"), ("BTCUSDT", "BTCUSDT"),
    ("btc-usd", "BTC-USD"), ("AAPL  240119C00150000", "AAPL240119C00150000"),
    ("O:SPY241220P00720000", "SPY241220P00720000"),
])
def test_normalize_accepts_supported_shapes(raw: str, expected: str) -> None:
    assert normalize_symbol(raw) == expected


@pytest.mark.parametrize("raw", ["NOT A SYMBOL!", "", "   ", "12AB", "AAPL$", "A" * 30, "BRK..B"])
def test_normalize_rejects_malformed(raw: str) -> None:
    with pytest.raises(InvalidSymbol) as err:
        normalize_symbol(raw)
    assert "symbol" in str(err.value).lower()


def test_tick_is_frozen_and_slotted() -> None:
    tick = Tick("AAPL", T0, 100.0, 5.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tick.price = 1.0  # type: ignore[misc]
    assert not hasattr(tick, "__dict__")


@pytest.mark.parametrize("kwargs,fragment", [
    ({"price": -1.0}, "price"), ({"price": float("nan")}, "price"),
    ({"price": float("inf")}, "price"),
    ({"size": -3.0}, "size"), ({"bid": 101.0, "ask": 100.0}, "above ask"),
    ({"symbol": "aapl"}, "symbol"), ({"ts": datetime(2026, 1, 5, 15, 0)}, "time zone"),
])
def test_tick_validation(kwargs: dict, fragment: str) -> None:
    base = {"symbol": "AAPL", "ts": T0, "price": 100.0, "size": 5.0}
    base.update(kwargs)
    with pytest.raises(ValidationError) as err:
        Tick(**base)
    assert fragment in str(err.value)


def test_times_are_converted_to_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    tick = Tick("AAPL", datetime(2026, 1, 5, 10, 0, tzinfo=eastern), 100.0, 1.0)
    assert tick.ts.tzinfo is UTC and tick.ts == T0


def test_quote_and_bar_validation() -> None:
    assert Quote("SPY", T0, 99.0, 101.0).mid == 100.0
    with pytest.raises(ValidationError):
        Quote("SPY", T0, 102.0, 101.0)
    Bar("SPY", "1m", T0, 10, 12, 9, 11, 100)
    with pytest.raises(ValidationError, match="do not contain"):
        Bar("SPY", "1m", T0, 10, 10.5, 9, 11, 100)
    with pytest.raises(ValidationError, match="timeframe"):
        Bar("SPY", "2m", T0, 10, 12, 9, 11, 100)
