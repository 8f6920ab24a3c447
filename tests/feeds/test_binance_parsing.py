"""Binance frame parsing on recorded frames (tests/fixtures/binance/), one test per kind."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.feeds.binance.parsing import KLINE_INTERVALS, event_time, parse_frame
from core.feeds.ws_client import Parsed
from core.models import Bar, Quote, Tick

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "binance"
NOW = 1672515782.5  # receive time handed to the parser (stamps bookTicker quotes)
T = datetime(2022, 12, 31, 19, 43, 2, 136000, tzinfo=UTC)  # 1672515782136 ms


def frame(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def parse(name: str, micro: bool = False) -> Parsed:
    return parse_frame(frame(name), NOW, micro=micro)


TICK = Tick("BNBBTC", T, 0.001, 100.0, source="binance")


@pytest.mark.parametrize(("name", "expected"), [
    ("trade.json", Parsed(events=(TICK,))),
    ("trade_raw.json", Parsed(events=(TICK,))),
    ("agg_trade.json", Parsed(events=(TICK,))),
    ("book_ticker.json", Parsed(events=(Quote("BNBUSDT", datetime(2022, 12, 31, 19, 43, 2, 500000,
                                                                  tzinfo=UTC),
                                              25.3519, 25.3652, 31.21, 40.66, "binance"),))),
    ("book_ticker_raw.json", Parsed(events=(Quote("BNBUSDT", datetime.fromtimestamp(NOW, UTC),
                                                  25.3519, 25.3652, 31.21, 40.66, "binance"),))),
    ("kline_closed.json", Parsed(events=(Bar("BNBBTC", "1m", datetime(2022, 12, 31, 19, 43,
                                                                      tzinfo=UTC),
                                             0.0010, 0.0025, 0.0005, 0.0020, 1000.0,
                                             "binance"),))),
    ("kline_open.json", Parsed()),
])
def test_market_data_frames_become_exact_events(name: str, expected: Parsed) -> None:
    assert parse(name) == expected


def test_microsecond_timestamps_keep_every_digit() -> None:
    parsed = parse("trade_micro.json", micro=True)
    assert parsed.events == (Tick("BNBBTC", datetime(2022, 12, 31, 19, 43, 2, 136123, tzinfo=UTC),
                                  0.001, 100.0, source="binance"),)
    # read as milliseconds the same number is ~53,000 years out: reported, not raised
    assert parse("trade_micro.json").errors


def test_event_time_units_and_types() -> None:
    assert event_time(1672515782136) == T
    assert event_time(1672515782136000, micro=True) == T
    with pytest.raises(TypeError):
        event_time("1672515782136")
    with pytest.raises(TypeError):
        event_time(True)


@pytest.mark.parametrize(("name", "info"), [
    ("subscribe_ack.json", "request 1 acknowledged"),
    ("list_subscriptions.json", "request 3: subscribed to btcusdt@aggTrade"),
    ("mini_ticker.json", "24h mini ticker for 'BNBBTC' ignored"),
    ("kline_4h.json", "kline interval '4h' is not a timeframe we use; ignored"),
])
def test_replies_and_ignored_frames_are_information(name: str, info: str) -> None:
    assert parse(name) == Parsed(info=(info,))


def test_every_supported_kline_interval_is_a_timeframe() -> None:
    assert KLINE_INTERVALS == {"1s", "1m", "5m", "15m", "1h", "1d"}
    closed = frame("kline_closed.json")
    for interval in ("1s", "5m", "15m", "1h", "1d"):
        bar = parse_frame(closed.replace('"i":"1m"', f'"i":"{interval}"'), NOW).events[0]
        assert isinstance(bar, Bar) and bar.timeframe == interval


@pytest.mark.parametrize("name", ["server_shutdown.json", "server_shutdown_raw.json"])
def test_server_shutdown_asks_for_a_reconnect(name: str) -> None:
    parsed = parse(name)
    assert parsed.reconnect and not parsed.events and not parsed.errors


def test_shutdown_stream_without_event_type_still_reconnects() -> None:
    assert parse_frame('{"stream":"!serverShutdown","data":{"E":1}}', NOW).reconnect


@pytest.mark.parametrize(("name", "text"), [
    ("error_invalid_request.json",
     "binance refused a request (code 2): Invalid request: request ID must be an unsigned integer"),
    ("error_invalid_json.json",
     "binance refused a request (code 3): Invalid JSON: expected value at line 1 column 1"),
])
def test_venue_errors_are_reported(name: str, text: str) -> None:
    assert parse(name) == Parsed(errors=(text,))


def test_nested_error_form_names_the_request() -> None:
    parsed = parse_frame('{"error":{"code":2,"msg":"Invalid request: bad"},"id":7}', NOW)
    assert parsed.errors == ("binance refused request 7 (code 2): Invalid request: bad",)


@pytest.mark.parametrize(("name", "words"), [
    ("truncated.txt", ["not JSON", '{"stream":"bnbbtc@trade"']),
    ("trade_nan_price.json", ["trade rejected", "price must be a positive finite number", "nan"]),
    ("trade_negative_qty.json", ["trade rejected", "size must be a non-negative number"]),
    ("trade_missing_price.json", ["trade frame is missing the field 'p'"]),
    ("trade_bad_number.json", ["trade frame has an invalid value", "abc"]),
    ("trade_bad_time.json", ["trade frame has an invalid value", "'soon' is not an integer"]),
    ("book_ticker_crossed.json", ["bookTicker rejected", "bid 25.3652 is above ask 25.3519"]),
    ("kline_closed_low_above_open.json", ["kline rejected", "do not contain open/close"]),
])
def test_bad_frames_are_errors_with_a_clear_text(name: str, words: list[str]) -> None:
    parsed = parse(name)
    assert not parsed.events and not parsed.reconnect and len(parsed.errors) == 1
    for word in words:
        assert word in parsed.errors[0]


@pytest.mark.parametrize("text", [
    "", "[]", "42", "null", '"text"', "{}", '{"stream":"bnbbtc@trade"}',
    '{"stream":"bnbbtc@trade","data":[1,2]}', '{"stream":5,"data":{}}',
    '{"stream":"bnbbtc@trade","data":{"e":"trade"}}',
    '{"stream":"bnbbtc@kline_1m","data":{"e":"kline","s":"BNBBTC","k":"x"}}',
    '{"stream":"bnbbtc@trade","data":{"e":"trade","s":"bnb btc","p":"1","q":"1","T":1}}',
    '{"stream":"bnbbtc@trade","data":{"e":"trade","s":"BNBBTC","p":1.5,"q":"1","T":1}}',
    '{"stream":"bnbbtc@trade","data":{"e":"trade","s":"BNBBTC","p":"1","q":"1",'
    '"T":99999999999999999999}}',
    b'\xff\xfe{',
])
def test_garbage_never_raises(text: str | bytes) -> None:
    parsed = parse_frame(text, NOW)
    assert parsed.errors and not parsed.events


def test_unknown_streams_and_events_are_ignored_not_errors() -> None:
    assert parse_frame('{"stream":"bnbbtc@depth","data":{"lastUpdateId":1}}', NOW).info
    assert parse_frame('{"stream":"bnbbtc@depth","data":{"e":"depthUpdate"}}', NOW).info
    assert not parse_frame('{"e":"24hrTicker","s":"BNBBTC"}', NOW).errors


def test_fuzzed_recorded_frames_never_raise() -> None:
    """Every field of every fixture replaced by values of the wrong type or range (seeded)."""
    rng = random.Random(20261121)
    odd = [None, True, -1, 0, 1e308, "", "x", "-5", "inf", [], {}, [1], {"a": 1}, 2**70]
    frames = [json.loads(frame(p.name)) for p in sorted(FIXTURES.glob("*.json"))]
    checked = 0
    for original in frames:
        for _ in range(150):
            msg = json.loads(json.dumps(original))
            target = msg["data"] if "data" in msg and rng.random() < 0.8 else msg
            if isinstance(target, dict) and "k" in target and rng.random() < 0.5:
                target = target["k"]
            if isinstance(target, dict) and target:
                target[rng.choice(sorted(target))] = rng.choice(odd)
            parsed = parse_frame(json.dumps(msg), NOW, micro=rng.random() < 0.3)
            assert isinstance(parsed, Parsed)
            checked += 1
    assert checked == 150 * len(frames)
