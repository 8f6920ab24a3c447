"""Pure Yahoo parsing: symbols, yfinance frame layouts, history windows, option chains."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.errors import DataError, InvalidSymbol
from core.feeds.yahoo.client import describe_failure
from core.feeds.yahoo.parsing import (
    CHAIN_COLUMNS,
    chain_to_quotes,
    clean_ohlcv,
    frame_to_bars,
    from_yahoo,
    history_window,
    last_tick,
    parse_expiries,
    select_ticker,
    to_yahoo,
)
from core.models import Bar, OptionQuote, Tick

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yahoo"
NY = "America/New_York"


def history_fixture(name: str) -> pd.DataFrame:
    """A ``Ticker.history`` frame as yfinance returns it: index in New York time."""
    frame = pd.read_csv(FIXTURES / name, index_col=0)
    frame.index = pd.to_datetime(frame.index, utc=True).tz_convert(NY).rename(frame.index.name)
    return frame


def download_fixture() -> pd.DataFrame:
    """A ``yf.download([...], group_by="ticker")`` frame: columns (Ticker, Price)."""
    frame = pd.read_csv(FIXTURES / "download_1m_group_by_ticker.csv", header=[0, 1], index_col=0)
    frame.index = pd.to_datetime(frame.index, utc=True)
    return frame


def chain_fixture(right: str) -> pd.DataFrame:
    kind = "calls" if right == "C" else "puts"
    frame = pd.read_csv(FIXTURES / f"aapl_{kind}_2026-01-16.csv")
    frame["lastTradeDate"] = pd.to_datetime(frame["lastTradeDate"], utc=True)
    return frame


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- symbols --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("ours", "yahoo"), [
    ("BTCUSDT", "BTC-USD"), ("ETHUSDT", "ETH-USD"), ("SOLUSDC", "SOL-USD"),
    ("^GSPC", "^GSPC"), ("BRK.B", "BRK-B"), ("AAPL", "AAPL"), ("BTC-USD", "BTC-USD"),
    ("ETH-BTC", "ETH-BTC"), ("SAP.DE", "SAP.DE"), ("AAPL240119C00150000", "AAPL240119C00150000"),
])
def test_to_yahoo(ours: str, yahoo: str) -> None:
    assert to_yahoo(ours) == yahoo


@pytest.mark.parametrize(("yahoo", "ours"), [
    ("BTC-USD", "BTCUSDT"), ("ETH-USD", "ETHUSDT"), ("^GSPC", "^GSPC"), ("BRK-B", "BRK.B"),
    ("AAPL", "AAPL"), ("ETH-BTC", "ETH-BTC"), ("SAP.DE", "SAP.DE"), ("brk-b", "BRK.B"),
])
def test_from_yahoo(yahoo: str, ours: str) -> None:
    assert from_yahoo(yahoo) == ours


@pytest.mark.parametrize("ours", ["BTCUSDT", "ETHUSDT", "^GSPC", "BRK.B", "AAPL", "SAP.DE"])
def test_symbol_round_trip(ours: str) -> None:
    assert from_yahoo(to_yahoo(ours)) == ours


@pytest.mark.parametrize("yahoo", ["ES=F", "EURUSD=X"])
def test_from_yahoo_refuses_shapes_we_cannot_name(yahoo: str) -> None:
    with pytest.raises(InvalidSymbol, match="no equivalent"):
        from_yahoo(yahoo)


def test_to_yahoo_refuses_an_invalid_symbol() -> None:
    with pytest.raises(InvalidSymbol):
        to_yahoo("aapl")


# --- price frames ---------------------------------------------------------------------------------

def test_history_frame_is_cleaned_to_utc_lower_case_ohlcv() -> None:
    frame = clean_ohlcv(history_fixture("aapl_history_1m.csv"), interval="1m")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert frame.index.name == "start" and str(frame.index.tz) == "UTC"
    assert list(frame.index) == [pd.Timestamp("2026-03-02 14:30", tz="UTC"),
                                 pd.Timestamp("2026-03-02 14:31", tz="UTC"),
                                 pd.Timestamp("2026-03-02 14:33", tz="UTC")]  # 14:32 had no close
    assert frame.iloc[1].tolist() == [241.5, 241.9, 241.3, 241.7, 402210.0]
    assert (frame.dtypes == "float64").all()


@pytest.mark.parametrize("swap", [False, True], ids=["ticker-price", "price-ticker"])
def test_download_layouts_give_each_ticker(swap: bool) -> None:
    frame = download_fixture()
    if swap:  # yf.download's default group_by="column": (Price, Ticker)
        frame = frame.swaplevel(0, 1, axis=1).sort_index(axis=1)
    aapl = clean_ohlcv(frame, "AAPL", "1m")
    btc = clean_ohlcv(frame, "BTC-USD", "1m")
    assert list(aapl.index.strftime("%H:%M")) == ["14:30", "14:31"]  # NaN padding dropped
    assert list(btc.index.strftime("%H:%M")) == ["14:29", "14:30", "14:31"]
    assert btc["close"].tolist() == [67001.2, 67044.8, 67032.5]
    assert list(aapl.columns) == ["open", "high", "low", "close", "volume"]


def test_select_ticker_needs_a_name_for_several_and_misses_cleanly() -> None:
    frame = download_fixture()
    with pytest.raises(DataError, match="2 tickers"):
        select_ticker(frame)
    assert select_ticker(frame, "MSFT").empty
    one = frame.xs("AAPL", axis=1, level=0, drop_level=False)
    assert list(select_ticker(one).columns) == ["Open", "High", "Low", "Close", "Volume"]


def test_clean_ohlcv_of_yfinance_empty_frame_is_empty() -> None:
    empty = pd.DataFrame(columns=["Open", "High", "Low", "Close", "Adj Close", "Volume"],
                         index=pd.DatetimeIndex([], name="Date"))
    frame = clean_ohlcv(empty)
    assert frame.empty and list(frame.columns) == ["open", "high", "low", "close", "volume"]


def test_clean_ohlcv_refuses_a_frame_without_prices() -> None:
    with pytest.raises(DataError, match="lacks high, low"):
        clean_ohlcv(pd.DataFrame({"Open": [1.0], "Close": [1.0]},
                                 index=pd.DatetimeIndex(["2026-03-02"], tz="UTC")))


def test_last_tick_is_the_last_bar() -> None:
    frame = clean_ohlcv(history_fixture("aapl_history_1m.csv"), interval="1m")
    assert last_tick(frame, "AAPL") == Tick("AAPL", utc(2026, 3, 2, 14, 33), 241.05, 0.0,
                                            source="yahoo")
    assert last_tick(frame.iloc[:2], "AAPL") == Tick("AAPL", utc(2026, 3, 2, 14, 31), 241.7,
                                                     402210.0, source="yahoo")
    assert last_tick(frame.iloc[:0], "AAPL") is None


def test_frame_to_bars_intraday_exact() -> None:
    frame = clean_ohlcv(download_fixture(), "BTC-USD", "1m")
    assert frame_to_bars(frame, "BTCUSDT", "1m") == [
        Bar("BTCUSDT", "1m", utc(2026, 3, 2, 14, 29), 67010.5, 67022.0, 66990.1, 67001.2, 0.0,
            "yahoo"),
        Bar("BTCUSDT", "1m", utc(2026, 3, 2, 14, 30), 67001.2, 67050.0, 67000.0, 67044.8,
            1_250_000.0, "yahoo"),
        Bar("BTCUSDT", "1m", utc(2026, 3, 2, 14, 31), 67044.8, 67060.3, 67031.0, 67032.5,
            980_000.0, "yahoo"),
    ]


def test_daily_bars_start_at_utc_midnight_of_the_session_date() -> None:
    frame = clean_ohlcv(history_fixture("aapl_history_1d.csv"), interval="1d")
    bars = frame_to_bars(frame, "AAPL", "1d")
    assert [b.start for b in bars] == [utc(2026, 2, 26), utc(2026, 2, 27), utc(2026, 3, 2)]
    assert bars[-1] == Bar("AAPL", "1d", utc(2026, 3, 2), 241.1, 243.0, 240.5, 242.4,
                           50_112_000.0, "yahoo")
    tokyo = pd.DataFrame({"Open": [1.0], "High": [1.0], "Low": [1.0], "Close": [1.0]},
                         index=pd.DatetimeIndex(["2026-03-02 00:00"]).tz_localize("Asia/Tokyo"))
    assert clean_ohlcv(tokyo, interval="1d").index[0] == pd.Timestamp("2026-03-02", tz="UTC")


def test_frame_to_bars_widens_a_glitched_high_low_and_skips_missing_prices() -> None:
    index = pd.DatetimeIndex(["2026-03-02 14:30", "2026-03-02 14:31"], tz="UTC", name="start")
    frame = pd.DataFrame({"open": [10.0, math.nan], "high": [10.2, 11.0], "low": [10.1, 9.0],
                          "close": [10.3, 10.0], "volume": [5.0, 1.0]}, index=index)
    assert frame_to_bars(frame, "AAPL", "1m") == [
        Bar("AAPL", "1m", utc(2026, 3, 2, 14, 30), 10.0, 10.3, 10.0, 10.3, 5.0, "yahoo")]


# --- history windows ------------------------------------------------------------------------------

NOW = utc(2026, 3, 4, 15, 0)


@pytest.mark.parametrize(("timeframe", "count", "interval", "days"), [
    ("1m", 100, "1m", 6), ("1m", 5000, "1m", 7), ("5m", 500, "5m", 14), ("15m", 200, "15m", 16),
    ("1h", 500, "1h", 105), ("1d", 250, "1d", 354),
])
def test_history_window(timeframe: str, count: int, interval: str, days: int) -> None:
    end = utc(2026, 3, 4, 14, 37, 12)
    got_interval, start, stop = history_window(timeframe, end, count, NOW)
    assert got_interval == interval
    expected_stop = {"1m": utc(2026, 3, 4, 14, 37), "5m": utc(2026, 3, 4, 14, 35),
                     "15m": utc(2026, 3, 4, 14, 30), "1h": utc(2026, 3, 4, 14),
                     "1d": utc(2026, 3, 4)}[timeframe]
    assert stop == expected_stop
    assert stop - start == timedelta(days=days)


def test_history_window_respects_yahoo_retention() -> None:
    interval, start, stop = history_window("1m", utc(2026, 2, 7), 100, NOW)
    assert interval == "1m"
    assert start == NOW - timedelta(days=30) + timedelta(hours=1)
    assert stop - start < timedelta(days=6)


# --- option chains --------------------------------------------------------------------------------

SNAP = utc(2025, 11, 21, 15, 0)


def test_chain_fixtures_have_yfinance_columns() -> None:
    assert tuple(chain_fixture("C").columns) == CHAIN_COLUMNS
    assert tuple(chain_fixture("P").columns) == CHAIN_COLUMNS


def test_chain_to_quotes_exact_with_nans() -> None:
    quotes = chain_to_quotes(chain_fixture("C"), chain_fixture("P"), "AAPL", date(2026, 1, 16),
                             SNAP)
    assert [q.contract for q in quotes] == [
        "AAPL260116C00150000", "AAPL260116C00200000", "AAPL260116C00270000",
        "AAPL260116C00300000", "AAPL260116C00400000",
        "AAPL260116P00150000", "AAPL260116P00200000", "AAPL260116P00270000"]
    by = {q.contract: q for q in quotes}
    assert by["AAPL260116C00270000"] == OptionQuote(
        "AAPL260116C00270000", "AAPL", date(2026, 1, 16), "C", 270.0, SNAP, bid=9.8, ask=9.95,
        last=9.85, volume=5123.0, open_interest=40211.0, implied_vol=0.2401, source="yahoo")
    # NaN volume -> 0
    assert by["AAPL260116C00150000"].volume == 0.0
    assert by["AAPL260116C00150000"].open_interest == 1266.0
    # no bid/ask, no volume, no open interest
    far = by["AAPL260116C00400000"]
    assert (far.bid, far.ask, far.volume, far.open_interest) == (None, None, 0.0, 0.0)
    assert far.implied_vol == pytest.approx(1e-05)
    # crossed bid 1.2 / ask 1.1: quote dropped, the rest kept
    crossed = by["AAPL260116C00300000"]
    assert (crossed.bid, crossed.ask, crossed.last, crossed.volume) == (None, None, 1.12, 845.0)
    # zero bid is a real "no bid"; NaN implied vol -> None
    assert by["AAPL260116P00150000"].bid == 0.0
    assert by["AAPL260116P00200000"].implied_vol is None
    assert by["AAPL260116P00200000"].open_interest == 0.0
    assert all(q.right == q.contract[10] and q.ts == SNAP for q in quotes)


def test_chain_expiry_from_symbols_when_not_given_and_checked_when_given() -> None:
    quotes = chain_to_quotes(chain_fixture("C"), None, "AAPL", None, SNAP)
    assert {q.expiry for q in quotes} == {date(2026, 1, 16)}
    with pytest.raises(DataError, match="expires 2026-01-16, not 2026-02-20"):
        chain_to_quotes(chain_fixture("C"), None, "AAPL", date(2026, 2, 20), SNAP)


def test_chain_errors_name_the_problem() -> None:
    with pytest.raises(DataError, match="lacks openInterest"):
        chain_to_quotes(chain_fixture("C").drop(columns=["openInterest"]), None, "AAPL", None,
                        SNAP)
    puts_as_calls = chain_fixture("P")
    with pytest.raises(DataError, match="AAPL260116P00150000"):
        chain_to_quotes(puts_as_calls, None, "AAPL", None, SNAP)
    assert chain_to_quotes(None, chain_fixture("P").iloc[:0], "AAPL", None, SNAP) == []


def test_parse_expiries() -> None:
    assert parse_expiries(("2026-01-16", "2025-12-19", "2026-01-16")) == [
        date(2025, 12, 19), date(2026, 1, 16)]
    with pytest.raises(DataError, match="YYYY-MM-DD"):
        parse_expiries(["Jan 16"])


# --- failure text ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "reason"), [
    ("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com. See "
     "https://curl.se/libcurl/c/libcurl-errors.html first for more details.",
     "cannot resolve query2.finance.yahoo.com (no network or DNS)"),
    ("HTTPSConnectionPool(host='query2.finance.yahoo.com', port=443): Max retries exceeded "
     "(Caused by NameResolutionError(\"Failed to resolve 'query2.finance.yahoo.com' ([Errno -2] "
     "Name or service not known)\"))",
     "cannot resolve query2.finance.yahoo.com (no network or DNS)"),
    ("Cookie/crumb fetch failed (ConnectionError), continuing without crumb",
     "cannot connect to Yahoo"),
    ("HTTPSConnectionPool(host='query1.finance.yahoo.com', port=443): Read timed out.",
     "no answer from query1.finance.yahoo.com in time"),
    ("$AAPL: possibly delisted;  no price data found  (period=1d)",
     "$AAPL: possibly delisted; no price data found (period=1d)"),
])
def test_describe_failure(text: str, reason: str) -> None:
    assert describe_failure(text) == reason
