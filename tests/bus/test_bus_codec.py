"""Round trips of the Redis bus wire format, and clear errors on what it cannot carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from core.bus.codec import decode, encode
from core.errors import BusError
from core.models import Bar, Quote, Tick

T0 = datetime(2024, 3, 8, 14, 30, 15, 123456, tzinfo=UTC)


def roundtrip(message: object) -> object:
    data = encode(message)
    assert isinstance(data, bytes)
    return decode(data)


def same(a: object, b: object) -> bool:
    """Equal, and of the same types all the way down (1 != 1.0 != True here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (Tick, Quote, Bar)):
        return a == b and all(same(getattr(a, f), getattr(b, f)) for f in a.__slots__)
    return a == b


TICKS = [
    Tick("AAPL", T0, 189.25, 100.0),
    Tick("BTCUSDT", T0, 65_000.5, 0.0015, bid=64_999.9, ask=65_000.5, source="binance"),
    Tick("BRK.B", T0, 410.0, 3.0, bid=409.5),
    Tick("^GSPC", T0, 5_100, 0, ask=5_101),  # ints stay ints
]


@pytest.mark.parametrize("tick", TICKS, ids=lambda t: t.symbol)
def test_tick_roundtrip(tick: Tick) -> None:
    back = roundtrip(tick)
    assert same(back, tick)
    assert back.ts.tzinfo is UTC and back.ts == tick.ts


def test_quote_and_bar_roundtrip() -> None:
    quote = Quote("MSFT", T0, 410.1, 410.2, bid_size=300.0, ask_size=0.5, source="sim")
    bar = Bar("NVDA", "5m", T0.replace(second=0, microsecond=0), 900.0, 905.5, 899.25, 903.0,
              12_345.0, source="sim")
    assert same(roundtrip(quote), quote)
    assert same(roundtrip(bar), bar)


def test_times_are_exact_to_the_microsecond_and_converted_to_utc() -> None:
    new_york = timezone(timedelta(hours=-5))
    times = [T0, datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
             datetime(2024, 1, 1, 9, 30, 0, 1, tzinfo=new_york), datetime(9999, 12, 31, tzinfo=UTC)]
    for ts in times:
        back = roundtrip(Tick("SPY", ts, 500.0, 1.0))
        assert back.ts == ts and back.ts.tzinfo is UTC
    assert orjson.loads(encode(Tick("SPY", T0, 1.0, 1.0)))[2] == 1_709_908_215_123_456


def test_containers_keep_their_types() -> None:
    message = {
        "ticks": (TICKS[0], TICKS[1]),
        "bars": [Bar("AAPL", "1m", T0, 1.0, 2.0, 0.5, 1.5, 10.0)],
        "nested": ((), [()], {"x": (1, 2.0, True, None, "s")}),
        "n": 1, "f": 1.0, "b": False, "none": None, "text": "héllo ✓",
    }
    assert same(roundtrip(message), message)
    assert same(roundtrip((TICKS[0],)), (TICKS[0],))
    assert same(roundtrip([TICKS[0]]), [TICKS[0]])
    for scalar in (0, -7, 2**63 - 1, 0.1, -0.0, 1e300, True, None, "", "quotes.*"):
        assert same(roundtrip(scalar), scalar)


def test_a_dict_that_looks_like_a_tag_is_still_a_dict() -> None:
    message = {"T": ["T", "AAPL"], "t": "l"}
    assert same(roundtrip(message), message)


@pytest.mark.parametrize("garbage", [
    b"", b"\x00\xff\xfe", b"{not json", b"[1, 2]", b"[]", b'["X", 1]', b'["T", "AAPL"]',
    b'["T", "AAPL", 1.5, 100.0, 1.0, null, null, ""]',  # time must be an int
    b'["T", "AAPL", 1, -5.0, 1.0, null, null, ""]',  # negative price
    b'["T", "aapl!", 1, 5.0, 1.0, null, null, ""]',  # invalid symbol
    b'["B", "AAPL", "7m", 1, 1.0, 1.0, 1.0, 1.0, 1.0, ""]',  # unknown timeframe
    b'["Q", "AAPL", 1, 2.0, 1.0, 0, 0, ""]',  # bid above ask
    b'["T", "AAPL", 99999999999999999999, 1.0, 1.0, null, null, ""]',  # time out of range
])
def test_garbage_raises_bus_error(garbage: bytes) -> None:
    with pytest.raises(BusError, match="cannot read"):
        decode(garbage)


@pytest.mark.parametrize("value", [
    {1, 2}, object(), b"bytes", float("nan"), float("inf"), {1: "int key"}, 2**64,
    (datetime(2024, 1, 1, tzinfo=UTC),),
])
def test_unsupported_values_raise_bus_error(value: object) -> None:
    with pytest.raises(BusError, match="bus"):
        encode(value)
