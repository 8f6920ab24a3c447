"""YahooHistory over the real Yahoo client, with yfinance (the outside world) faked in-process.

The fake's ``Ticker.history`` behaves like yfinance 1.7's: it slices its canned frame to
``[start, end)`` in the exchange's time zone, and when it has nothing it logs what yfinance logs
(offline: the connection failure; an unknown ticker: ``no timezone found``; a known ticker in a
window without trading: ``no price data found``) and returns an empty frame.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import pytest
from yfinance.exceptions import YFRateLimitError

from core.data.sources.base import HistorySource, SourceUnavailable, SymbolNotFound
from core.data.sources.yahoo import YahooHistory, classify
from core.errors import DataError
from core.feeds.yahoo import YahooSource
from core.feeds.yahoo.client import YahooUnavailable
from tests.fakes.rest_server import make_bars

NY = "America/New_York"
NOW = pd.Timestamp("2024-03-20T12:00Z")
UTC_DAYS = pd.bdate_range("2024-03-04", "2024-03-15", tz="UTC")


def as_yfinance(bars: pd.DataFrame, daily: bool) -> pd.DataFrame:
    """Canonical bars as ``Ticker.history`` returns them (exchange time zone)."""
    out = bars.copy()
    index = bars.index.tz_localize(None).tz_localize(NY) if daily else bars.index.tz_convert(NY)
    out.index = index.rename("Date" if daily else "Datetime")
    return out


class FakeYF:
    """Module-like stand-in for ``yfinance`` with one canned frame per (ticker, interval)."""

    def __init__(self) -> None:
        self.frames: dict[tuple[str, str], pd.DataFrame] = {}
        self.mode = "ok"
        self.calls: list[dict[str, Any]] = []

    def Ticker(self, ticker: str, session: Any = None) -> FakeTicker:  # noqa: N802 - yfinance's
        return FakeTicker(self, ticker)


class FakeTicker:
    def __init__(self, yf: FakeYF, ticker: str) -> None:
        self.yf, self.ticker = yf, ticker

    def history(self, **kwargs: Any) -> pd.DataFrame:
        self.yf.calls.append({"ticker": self.ticker, **kwargs})
        log = logging.getLogger("yfinance")
        if self.yf.mode == "rate_limit":
            raise YFRateLimitError()
        if self.yf.mode == "offline":
            log.error(f"Failed to get ticker '{self.ticker}' reason: HTTPSConnectionPool(host="
                      "'query2.finance.yahoo.com', port=443): Max retries exceeded (Caused by "
                      "NameResolutionError(\"Failed to resolve 'query2.finance.yahoo.com'\"))")
        frame = self.yf.frames.get((self.ticker, kwargs["interval"]))
        if self.yf.mode == "offline" or frame is None:
            log.error(f"${self.ticker}: possibly delisted; no timezone found")
            return pd.DataFrame(columns=["Open", "High", "Low", "Close", "Volume"])
        start, end = pd.Timestamp(kwargs["start"]), pd.Timestamp(kwargs["end"])
        part = frame[(frame.index >= start) & (frame.index < end)]
        if part.empty:
            log.error(f"${self.ticker}: possibly delisted; no price data found  "
                      f"({kwargs['interval']} {start} -> {end})")
        return part


@pytest.fixture
def yf() -> FakeYF:
    return FakeYF()


@pytest.fixture
def source(yf: FakeYF) -> YahooHistory:
    return YahooHistory(YahooSource(yf=yf), clock=lambda: NOW.timestamp())


def test_days_are_the_window_of_yahoos_bars(yf: FakeYF, source: YahooHistory) -> None:
    bars = make_bars("", 0, "1D", index=UTC_DAYS)
    yf.frames[("AAPL", "1d")] = as_yfinance(bars, daily=True)
    start, end = pd.Timestamp("2024-03-05T12:00Z"), pd.Timestamp("2024-03-14", tz="UTC")
    got = source.fetch("AAPL", start, end.tz_localize(None), "1d")  # naive is UTC
    pd.testing.assert_frame_equal(got, bars[(bars.index >= start) & (bars.index < end)])
    (call,) = yf.calls
    assert call["auto_adjust"] is False and call["interval"] == "1d"
    assert call["start"] == start.to_pydatetime() and call["end"] == end.to_pydatetime()
    assert isinstance(source, HistorySource)


def test_crypto_goes_to_yahoos_dollar_pair(yf: FakeYF, source: YahooHistory) -> None:
    bars = make_bars("2024-03-04", 5, "1D")
    yf.frames[("BTC-USD", "1d")] = as_yfinance(bars, daily=True)
    got = source.fetch("BTCUSDT", bars.index[0], bars.index[-1] + pd.Timedelta(days=1), "1d")
    pd.testing.assert_frame_equal(got, bars)


def test_offline_is_unavailable(yf: FakeYF, source: YahooHistory) -> None:
    yf.mode = "offline"
    with pytest.raises(SourceUnavailable, match="^Yahoo unavailable: cannot resolve"):
        source.fetch("AAPL", UTC_DAYS[0], UTC_DAYS[-1], "1d")
    yf.mode = "rate_limit"
    with pytest.raises(SourceUnavailable, match="rate limit"):
        source.fetch("AAPL", UTC_DAYS[0], UTC_DAYS[-1], "1d")


def test_a_ticker_yahoo_does_not_know_is_a_data_error(source: YahooHistory) -> None:
    with pytest.raises(SymbolNotFound, match="Yahoo does not know the symbol 'NOPEXQ'") as err:
        source.fetch("NOPEXQ", UTC_DAYS[0], UTC_DAYS[-1], "1d")
    assert isinstance(err.value, DataError) and "no timezone found" in str(err.value)


def test_a_window_without_trading_is_empty(yf: FakeYF, source: YahooHistory) -> None:
    yf.frames[("AAPL", "1d")] = as_yfinance(make_bars("", 0, "1D", index=UTC_DAYS), daily=True)
    got = source.fetch("AAPL", pd.Timestamp("2024-03-09"), pd.Timestamp("2024-03-11"), "1d")
    assert got.empty and str(got.index.tz) == "UTC"


def test_minutes_come_in_pieces_of_a_week_within_what_yahoo_keeps(
        yf: FakeYF, source: YahooHistory) -> None:
    bars = make_bars("2024-03-01", 19 * 24 * 4, "15min", seed=9)  # one bar an hour is enough
    minutes = bars.iloc[::4].copy()
    yf.frames[("MSFT", "1m")] = as_yfinance(minutes, daily=False)
    start, end = pd.Timestamp("2024-03-05", tz="UTC"), pd.Timestamp("2024-03-19", tz="UTC")
    got = source.fetch("MSFT", start, end, "1m")
    pd.testing.assert_frame_equal(got, minutes[(minutes.index >= start) & (minutes.index < end)])
    spans = [(c["start"], c["end"]) for c in yf.calls]
    assert len(spans) == 2 and all(hi - lo <= pd.Timedelta(days=7) for lo, hi in spans)
    assert spans[0][1] == spans[1][0]
    with pytest.raises(SourceUnavailable, match="keeps 1m bars for 30 days"):
        source.fetch("MSFT", NOW - pd.Timedelta(days=60), NOW - pd.Timedelta(days=40), "1m")
    assert len(yf.calls) == 2
    source.fetch("MSFT", NOW - pd.Timedelta(days=35), NOW - pd.Timedelta(days=28), "1m")
    assert yf.calls[-1]["start"] > (NOW - pd.Timedelta(days=30)).to_pydatetime()


def test_any_client_with_history_frame_fits(source: YahooHistory) -> None:
    class StandIn:
        def history_frame(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
            raise YahooUnavailable("no answer from query2.finance.yahoo.com in time")

    with pytest.raises(SourceUnavailable, match="no answer"):
        YahooHistory(StandIn()).fetch("AAPL", UTC_DAYS[0], UTC_DAYS[-1], "1d")
    assert classify("AAPL", YahooUnavailable("$AAPL: possibly delisted; no price data found "
                                             "(1d)(Yahoo status_code = 404)")) is not None
    assert not source.supports("AAPL240119C00150000", "1d") and source.supports("^GSPC", "1h")
