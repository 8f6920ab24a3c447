"""BinanceHistory against the local fake of Binance's REST klines."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from core.data.frames import OHLCV
from core.data.sources.base import HistorySource, SourceUnavailable, SymbolNotFound
from core.data.sources.binance import BinanceHistory
from core.data.sources.http import HttpJson
from core.errors import DataError
from tests.fakes.rest_binance import FakeBinanceRest
from tests.fakes.rest_server import Fault, make_bars

DAY = pd.Timedelta(days=1)
T0 = pd.Timestamp("2024-03-01", tz="UTC")


def expected(bars: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return bars[(bars.index >= start) & (bars.index < end)]


@pytest.fixture
def source(binance_rest: FakeBinanceRest,
           fast_http: Callable[..., HttpJson]) -> BinanceHistory:
    return BinanceHistory(binance_rest.url, http=fast_http("binance"), page_limit=3)


def test_days_across_pages_are_exactly_the_fakes_window(binance_rest: FakeBinanceRest,
                                                        source: BinanceHistory) -> None:
    bars = make_bars("2024-03-01", 10, "1D")
    binance_rest.add("BTCUSDT", "1d", bars)
    start, end = T0 + DAY + pd.Timedelta(hours=6), T0 + 8 * DAY  # bars of 03-03 .. 03-08
    got = source.fetch("BTCUSDT", start, end, "1d")
    pd.testing.assert_frame_equal(got, expected(bars, start, end))
    assert list(got.columns) == list(OHLCV) and str(got.index.tz) == "UTC"
    assert got.index.name == "Date" and (got.dtypes == "float64").all()
    pages = binance_rest.requests
    assert len(pages) == 2  # 3 + 3 bars; the second page reaches the last bar before end
    assert [p.query["limit"] for p in pages] == ["3", "3"]
    assert pages[0].query["endTime"] == str(int(end.value // 1_000_000) - 1)
    assert int(pages[1].query["startTime"]) > int(pages[0].query["startTime"])


def test_a_short_page_ends_the_paging(binance_rest: FakeBinanceRest,
                                      source: BinanceHistory) -> None:
    bars = make_bars("2024-03-01", 7, "1h", seed=3)
    binance_rest.add("ETHUSDT", "1h", bars)
    got = source.fetch("ETHUSDT", T0 - DAY, T0 + DAY, "1h")
    pd.testing.assert_frame_equal(got, bars)
    assert binance_rest.count() == 3  # 3 + 3 + 1


def test_unknown_symbol_is_a_data_error_naming_it(binance_rest: FakeBinanceRest,
                                                  source: BinanceHistory) -> None:
    binance_rest.add("BTCUSDT", "1d", make_bars("2024-03-01", 2, "1D"))
    with pytest.raises(SymbolNotFound, match="Binance does not list the symbol 'FOOUSDT'") as err:
        source.fetch("FOOUSDT", T0, T0 + DAY, "1d")
    assert isinstance(err.value, DataError)
    assert binance_rest.count() == 1  # a refusal is not retried


def test_empty_windows(binance_rest: FakeBinanceRest, source: BinanceHistory) -> None:
    binance_rest.add("BTCUSDT", "1d", make_bars("2024-03-01", 3, "1D"))
    assert source.fetch("BTCUSDT", T0, T0, "1d").empty
    assert binance_rest.count() == 0
    later = source.fetch("BTCUSDT", T0 + 30 * DAY, T0 + 40 * DAY, "1d")
    assert later.empty and list(later.columns) == list(OHLCV) and str(later.index.tz) == "UTC"


def test_only_dashless_crypto_pairs_are_served(source: BinanceHistory) -> None:
    assert isinstance(source, HistorySource)
    assert source.supports("BTCUSDT", "1m") and not source.supports("BTC-USD", "1d")
    assert not source.supports("AAPL", "1d") and not source.supports("BTCUSDT", "4h")
    with pytest.raises(DataError, match="crypto pairs"):
        source.fetch("AAPL", T0, T0 + DAY, "1d")


def test_restricted_location_makes_the_source_unavailable(binance_rest: FakeBinanceRest,
                                                          source: BinanceHistory) -> None:
    binance_rest.add("BTCUSDT", "1d", make_bars("2024-03-01", 3, "1D"))
    binance_rest.fail_next(Fault("451"))
    with pytest.raises(SourceUnavailable, match="451"):
        source.fetch("BTCUSDT", T0, T0 + DAY, "1d")
