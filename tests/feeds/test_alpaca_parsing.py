"""core.feeds.alpaca.parsing on recorded frames (tests/fixtures/alpaca): exact objects out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.feeds.alpaca.parsing import (
    ERROR_MEANINGS,
    FrameError,
    auth_message,
    control_messages,
    error_text,
    is_stock_symbol,
    parse_frame,
    parse_time,
    subscription_messages,
)
from core.feeds.ws_client import Parsed
from core.models import Bar, Quote, Tick

FIXTURES = Path(__file__).parents[1] / "fixtures" / "alpaca"
T_MIXED = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def frame(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


MALFORMED = json.loads(frame("malformed"))


def test_trade_frame_from_the_docs() -> None:
    assert parse_frame(frame("trade")) == Parsed(events=(
        Tick("AAPL", datetime(2021, 2, 22, 15, 51, 44, 208000, tzinfo=UTC), 126.55, 1.0,
             source="alpaca"),))


def test_quote_frame_from_the_docs_truncates_nanoseconds() -> None:
    assert parse_frame(frame("quote")) == Parsed(events=(
        Quote("AMD", datetime(2021, 2, 22, 15, 51, 45, 335689, tzinfo=UTC), 87.66, 87.68, 1.0,
              4.0, "alpaca"),))


def test_bar_frame_from_the_docs_is_a_minute_bar() -> None:
    assert parse_frame(frame("bar")) == Parsed(events=(
        Bar("FAKEPACA", "1m", datetime(2024, 7, 24, 7, 56, tzinfo=UTC), 132.65, 136.0, 132.12,
            134.65, 205.0, "alpaca"),))


def test_several_messages_in_one_frame_become_several_events_in_order() -> None:
    parsed = parse_frame(frame("mixed"))
    assert parsed.events == (
        Tick("AAPL", T_MIXED.replace(microsecond=123456), 150.01, 25.0, source="alpaca"),
        Quote("AAPL", T_MIXED.replace(microsecond=124000), 150.0, 150.02, 3.0, 2.0, "alpaca"),
        Bar("BRK.B", "1m", datetime(2023, 11, 14, 22, 12, tzinfo=UTC), 363.1, 363.4, 363.0,
            363.2, 310.0, "alpaca"),
    )  # the updated bar ("u") and the trading status ("s") are not subscribed: ignored
    assert parsed.errors == () and parsed.info == ()


@pytest.mark.parametrize("name, info", [
    ("connected", "Alpaca: connected"),
    ("authenticated", "Alpaca: authenticated"),
    ("subscription", "Alpaca subscription: trades=AAPL; quotes=AMD; bars=*"),
])
def test_control_replies_are_info(name: str, info: str) -> None:
    assert parse_frame(frame(name)) == Parsed(info=(info,))


def test_every_documented_error_code_has_its_meaning() -> None:
    parsed = parse_frame(frame("errors"))
    expected = [f"Alpaca error {code}: {meaning}" for code, meaning in ERROR_MEANINGS.items()]
    assert [e.split(" - ")[0] for e in parsed.errors] == expected
    assert [code for code in ERROR_MEANINGS] == [400, 401, 402, 403, 404, 405, 406, 407, 409,
                                                 410, 500]
    assert parse_frame(frame("auth_failed")) == Parsed(errors=("Alpaca error 402: auth failed",))


def test_the_connection_limit_error_says_what_to_do() -> None:
    (error,) = parse_frame('[{"T":"error","code":406,"msg":"connection limit exceeded"}]').errors
    assert error.startswith("Alpaca error 406: connection limit exceeded - ")
    assert "one market data connection per account" in error


def test_an_undocumented_error_code_keeps_the_venue_text() -> None:
    assert error_text(499, "brand new") == "Alpaca error 499: brand new"
    assert error_text(None, "") == "Alpaca error None: unknown error"


def test_a_one_sided_quote_is_skipped_without_an_error() -> None:
    parsed = parse_frame(frame("quote_one_sided"))
    assert parsed.events == () and parsed.errors == () and len(parsed.info) == 1


@pytest.mark.parametrize("case, words", [
    ("not_json", "frame is not JSON"),
    ("not_an_array", "frame is not a JSON array"),
    ("not_an_object", 'message is not an object: "t"'),
    ("missing_symbol", "bad Alpaca t message (missing field 'S')"),
    ("string_price", "field 'p' is not a number: '126.55'"),
    ("zero_price", "price must be a positive finite number"),
    ("time_without_zone", "time '2021-02-22T15:51:44.208' is not RFC 3339"),
    ("epoch_time", "time 1614009104208 is not RFC 3339"),
    ("crossed_quote", "bid 87.7 is above ask 87.6"),
    ("bar_low_above_open", "do not contain open/close"),
])
def test_malformed_frames_become_errors_not_exceptions(case: str, words: str) -> None:
    parsed = parse_frame(MALFORMED[case])
    assert parsed.events == () and not parsed.reconnect
    (error,) = parsed.errors
    assert words in error


@pytest.mark.parametrize("text, expected", [
    ("2021-02-22T15:51:45.335689322Z", datetime(2021, 2, 22, 15, 51, 45, 335689, tzinfo=UTC)),
    ("2021-02-22T15:51:45.335689999Z", datetime(2021, 2, 22, 15, 51, 45, 335689, tzinfo=UTC)),
    ("2021-02-22T15:51:45.3Z", datetime(2021, 2, 22, 15, 51, 45, 300000, tzinfo=UTC)),
    ("2021-02-22T15:51:45Z", datetime(2021, 2, 22, 15, 51, 45, tzinfo=UTC)),
    ("2021-02-22T10:51:45.5-05:00", datetime(2021, 2, 22, 15, 51, 45, 500000, tzinfo=UTC)),
])
def test_rfc3339_times_truncate_to_microseconds_in_utc(text: str, expected: datetime) -> None:
    got = parse_time(text)
    assert got == expected and got.tzinfo is UTC


@pytest.mark.parametrize("text", ["2021-02-22", "2021-02-22T15:51:45", "15:51:45Z",
                                  "2021-02-22T15:51:45.1234567890Z", "2021-13-22T15:51:45Z"])
def test_bad_times_raise_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


def test_handshake_control_messages_and_frame_decoding() -> None:
    assert control_messages(frame("connected")) == [("success", None, "connected")]
    assert control_messages(frame("auth_failed")) == [("error", 402, "auth failed")]
    with pytest.raises(FrameError):
        control_messages('{"T":"success"}')


def test_control_frames_are_exactly_the_documented_ones() -> None:
    assert auth_message("K", "S") == '{"action":"auth","key":"K","secret":"S"}'
    assert subscription_messages("subscribe", ["AAPL", "AMD"], ("trades", "quotes", "bars")) == [
        '{"action":"subscribe","trades":["AAPL","AMD"],"quotes":["AAPL","AMD"],'
        '"bars":["AAPL","AMD"]}']
    assert subscription_messages("unsubscribe", ["AMD"], ("quotes",)) == [
        '{"action":"unsubscribe","quotes":["AMD"]}']
    assert subscription_messages("subscribe", [], ("trades",)) == []
    chunks = subscription_messages("subscribe", ["A", "B", "C"], ("trades",), per_message=2)
    assert [json.loads(c)["trades"] for c in chunks] == [["A", "B"], ["C"]]


@pytest.mark.parametrize("symbol, ok", [
    ("AAPL", True), ("BRK.B", True), ("GOOGL", True), ("BTCUSDT", False), ("BTC-USD", False),
    ("BTC/USD", False), ("^GSPC", False), ("FAKEPACA", False), ("AAPL240119C00150000", False),
])
def test_stock_symbol_shape(symbol: str, ok: bool) -> None:
    assert is_stock_symbol(symbol) is ok
