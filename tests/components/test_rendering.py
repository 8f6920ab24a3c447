from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from components.charts import candlestick_figure
from components.watchlist import format_price, format_volume, watchlist_frame
from core.feeds.snapshot import WatchRow

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def test_watchlist_frame_keeps_order_ages_and_waiting_rows() -> None:
    rows = {"MSFT": WatchRow("MSFT", 410.0, 409.9, 410.1, 2.0, 0.49, 1500.0, "simulator",
                             NOW - timedelta(seconds=2.04), 408.0)}
    frame = watchlist_frame(["TSLA", "MSFT"], rows, NOW)
    assert list(frame["Symbol"]) == ["TSLA", "MSFT"]
    assert frame.loc[1, "Age (s)"] == 2.0 and frame.loc[1, "Last"] == 410.0
    assert frame.loc[0, "Source"] == "waiting for data" and pd.isna(frame.loc[0, "Last"])


def test_number_formats_suit_stocks_and_small_coins() -> None:
    assert format_price(67235.184) == "67,235.18" and format_price(0.11234) == "0.11234"
    assert format_price(-0.07, signed=True) == "-0.07"
    assert format_price(141.19 - 141.18, signed=True) == "+0.01"
    assert format_price(0.0012, signed=True) == "+0.00120"
    assert format_volume(3700) == "3,700" and format_volume(0.6474) == "0.6474"


def test_candlestick_figure_has_price_and_volume_panels() -> None:
    idx = pd.date_range("2026-03-02 14:30", periods=3, freq="1min", tz="UTC")
    frame = pd.DataFrame({"open": [10, 11, 12], "high": [11, 12, 13], "low": [9, 10, 11],
                          "close": [11, 10, 13], "volume": [5, 6, 7]}, index=idx)
    fig = candlestick_figure(frame, "AAPL · 1m")
    candle, volume = fig.data
    assert candle.type == "candlestick" and list(candle.close) == [11, 10, 13]
    assert volume.type == "bar" and list(volume.y) == [5, 6, 7]
    assert volume.marker.color[1] != volume.marker.color[0]  # a down bar is coloured apart
    assert fig.layout.title.text == "AAPL · 1m"


def test_history_from_a_real_source_becomes_ohlcv_and_an_empty_answer_is_explained() -> None:
    import pytest

    from components.backtest_data import history_to_ohlcv
    from core.errors import DataError
    from core.feeds.simulator import MarketSimulator, SimulatorConfig

    class Source:  # stands in for Yahoo: same history() signature
        def __init__(self, bars: list) -> None:
            self.bars, self.calls = bars, []

        def history(self, symbol, timeframe, end, count, end_price=None):  # noqa: ANN001, ANN201
            self.calls.append((symbol, timeframe, count))
            return self.bars

    drawn = MarketSimulator(SimulatorConfig(), 0).history("MSFT", "1d", NOW, 30, 400.0)
    src = Source(drawn)
    frame = history_to_ohlcv(src, "msft", 2, pd.Timestamp(NOW))
    assert src.calls == [("MSFT", "1d", 732)]
    assert list(frame.columns) == ["Open", "High", "Low", "Close", "Volume"]
    assert frame["Close"].iloc[-1] == 400.0 and len(frame) == 30
    with pytest.raises(DataError, match="no daily bars for AAPL"):
        history_to_ohlcv(Source([]), "AAPL", 1, pd.Timestamp(NOW))


def test_uploaded_files_are_validated_with_row_and_column() -> None:
    import pytest

    from components.backtest_data import read_upload
    from core.errors import DataError

    good = (b"Date,Open,High,Low,Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n"
            b"2024-01-03,1.5,2,1,1.8,11\n")
    assert len(read_upload("ok.csv", good)) == 2
    bad = b"Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,abc\n"
    with pytest.raises(DataError, match="row 1.*Close"):
        read_upload("bad.csv", bad)
    with pytest.raises(DataError, match="csv or .parquet"):
        read_upload("prices.xlsx", b"x")
