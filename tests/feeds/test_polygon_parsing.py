"""core.feeds.polygon.parsing on recorded frames (tests/fixtures/polygon): exact objects out."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.feeds.polygon.parsing import (
    FrameError,
    auth_message,
    decode_frame,
    is_stock_symbol,
    ms_to_utc,
    parse_frame,
    statuses,
    subscription_messages,
)
from core.feeds.ws_client import Parsed
from core.models import Bar, Quote, Tick

FIXTURES = Path(__file__).parents[1] / "fixtures" / "polygon"
T_MSFT = datetime(2018, 9, 4, 4, 53, 38, 784000, tzinfo=UTC)
T_MIXED = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def frame(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


MALFORMED = json.loads(frame("malformed"))


def test_trade_frame_from_the_docs() -> None:
    assert parse_frame(frame("trade")) == Parsed(
        events=(Tick("MSFT", T_MSFT, 114.125, 100.0, source="polygon"),))


def test_quote_frame_from_the_docs() -> None:
    assert parse_frame(frame("quote")) == Parsed(
        events=(Quote("MSFT", T_MSFT, 114.125, 114.128, 100.0, 160.0, source="polygon"),))


def test_second_and_minute_aggregates_become_1s_and_1m_bars_starting_at_s() -> None:
    second = parse_frame(frame("second_bar"))
    minute = parse_frame(frame("minute_bar"))
    assert second == Parsed(events=(Bar("SPCE", "1s", datetime(2021, 1, 8, 22, 27, 48, tzinfo=UTC),
                                        25.39, 25.39, 25.39, 25.39, 200.0, "polygon"),))
    assert minute == Parsed(events=(Bar("SPCE", "1m", datetime(2021, 1, 8, 22, 27, tzinfo=UTC),
                                        25.39, 25.95, 25.32, 25.92, 4110.0, "polygon"),))


def test_several_messages_in_one_frame_keep_their_order_and_skip_unknown_events() -> None:
    parsed = parse_frame(frame("mixed"))
    assert parsed.events == (
        Tick("AAPL", T_MIXED.replace(microsecond=123000), 150.01, 25.0, source="polygon"),
        Quote("AAPL", T_MIXED.replace(microsecond=124000), 150.0, 150.02, 3.0, 2.0, "polygon"),
        Tick("BRK.B", T_MIXED.replace(microsecond=126000), 363.2, 10.0, source="polygon"),
    )
    assert parsed.errors == () and not parsed.reconnect  # LULD ignored, no error
    assert parsed.info == ("Polygon/Massive status success: subscribed to: T.MSFT",)


@pytest.mark.parametrize("name, status", [
    ("status_connected", "connected: Connected Successfully"),
    ("status_auth_success", "auth_success: authenticated"),
])
def test_greeting_and_login_statuses_are_info(name: str, status: str) -> None:
    assert parse_frame(frame(name)) == Parsed(info=(f"Polygon/Massive status {status}",))


def test_one_status_per_subscribed_topic_is_info() -> None:
    parsed = parse_frame(frame("status_subscribed"))
    assert parsed.info == tuple(f"Polygon/Massive status success: subscribed to: {t}.AAPL"
                                for t in ("T", "Q", "AM"))
    assert not parsed.errors and not parsed.events and not parsed.reconnect


@pytest.mark.parametrize("name, words", [
    ("status_force_disconnect", "the venue is closing this connection (force_disconnect)"),
    ("status_max_connections", "too many connections for this API key (max_connections)"),
])
def test_disconnect_notices_ask_for_a_planned_reconnect_with_a_note(name: str, words: str) -> None:
    parsed = parse_frame(frame(name))
    assert parsed.reconnect and not parsed.events
    (note,) = parsed.errors
    assert note.startswith(f"Polygon/Massive: {words}") and "reconnecting" in note


def test_slow_consumer_is_an_error_note_without_reconnecting() -> None:
    parsed = parse_frame(frame("status_slow_consumer"))
    assert not parsed.reconnect
    assert parsed.errors == ("Polygon/Massive: the venue says we read too slowly (slow_consumer) "
                             "and may drop messages or disconnect (slow_consumer: Your connection "
                             "is not keeping up with the data.).",)


@pytest.mark.parametrize("name", ["status_auth_failed", "status_auth_timeout"])
def test_login_refusals_in_the_stream_are_errors(name: str) -> None:
    parsed = parse_frame(frame(name))
    assert len(parsed.errors) == 1 and "auth_" in parsed.errors[0] and not parsed.reconnect


def test_a_one_sided_quote_is_skipped_without_an_error() -> None:
    parsed = parse_frame(frame("quote_one_sided"))
    assert parsed.events == () and parsed.errors == () and len(parsed.info) == 1


@pytest.mark.parametrize("case, words", [
    ("not_json", "frame is not JSON"),
    ("not_an_array", "frame is not a JSON array"),
    ("not_an_object", "message is not an object: 42"),
    ("missing_price", "bad Polygon/Massive T message (missing field 'p')"),
    ("string_price", "field 'p' is not a number: '114.125'"),
    ("negative_price", "price must be a positive finite number"),
    ("crossed_quote", "bid 114.2 is above ask 114.1"),
    ("bad_time", "time 'yesterday' is not epoch milliseconds"),
    ("bar_high_below_close", "do not contain open/close"),
    ("lower_case_symbol", "'msft' is not a valid upper-case symbol"),
])
def test_malformed_frames_become_errors_not_exceptions(case: str, words: str) -> None:
    parsed = parse_frame(MALFORMED[case])
    assert parsed.events == () and not parsed.reconnect
    (error,) = parsed.errors
    assert words in error


def test_a_bad_message_does_not_hide_the_good_ones_in_its_frame() -> None:
    good = json.loads(frame("trade"))[0]
    parsed = parse_frame(json.dumps([{"ev": "T", "sym": "MSFT"}, good, "junk"]))
    assert parsed.events == (Tick("MSFT", T_MSFT, 114.125, 100.0, source="polygon"),)
    assert len(parsed.errors) == 2


def test_milliseconds_convert_exactly_and_booleans_are_not_times() -> None:
    assert ms_to_utc(1536036818784) == T_MSFT
    assert ms_to_utc(1536036818784.0) == T_MSFT
    with pytest.raises(ValueError):
        ms_to_utc(True)
    for t in ("1e300", "NaN", "-1e300"):  # out of range times are errors, never exceptions
        parsed = parse_frame(f'[{{"ev":"T","sym":"A","p":1,"s":1,"t":{t}}}]')
        assert parsed.events == () and len(parsed.errors) == 1


def test_handshake_statuses_and_frame_decoding() -> None:
    assert statuses(frame("status_connected")) == [("connected", "Connected Successfully")]
    assert statuses(frame("trade")) == []
    assert decode_frame("[]") == []
    with pytest.raises(FrameError):
        statuses('{"ev":"status"}')


def test_control_frames_are_exactly_the_documented_ones() -> None:
    assert auth_message("KEY") == '{"action":"auth","params":"KEY"}'
    assert subscription_messages("subscribe", ["AAPL"], ("T", "Q", "A", "AM")) == [
        '{"action":"subscribe","params":"T.AAPL,Q.AAPL,A.AAPL,AM.AAPL"}']
    assert subscription_messages("unsubscribe", ["AAPL", "MSFT"], ("T",)) == [
        '{"action":"unsubscribe","params":"T.AAPL,T.MSFT"}']
    assert subscription_messages("subscribe", [], ("T",)) == []


def test_long_subscription_lists_are_split() -> None:
    symbols = [f"S{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(5)]
    frames = [json.loads(f) for f in subscription_messages("subscribe", symbols, ("T", "Q"), 2)]
    assert [f["params"] for f in frames] == [
        "T.SAA,Q.SAA,T.SAB,Q.SAB", "T.SAC,Q.SAC,T.SAD,Q.SAD", "T.SAE,Q.SAE"]


@pytest.mark.parametrize("symbol, ok", [
    ("AAPL", True), ("F", True), ("GOOGL", True), ("BRK.B", True), ("BTCUSDT", False),
    ("ETHUSDT", False), ("BTC-USD", False), ("^GSPC", False), ("AAPL240119C00150000", False),
    ("aapl", False), ("TOOLONG", False),
])
def test_stock_symbol_shape(symbol: str, ok: bool) -> None:
    assert is_stock_symbol(symbol) is ok
