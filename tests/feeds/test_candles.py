from __future__ import annotations

from datetime import UTC

import pandas as pd
import pytest

from core.feeds.candles import CandleBook, bars_to_frame
from core.timeframes import PANDAS_RULES, TIMEFRAMES
from tests.conftest import make_ticks


def _resample(ticks: list, symbol: str, rule: str) -> pd.DataFrame:
    frame = pd.DataFrame({"ts": [t.ts for t in ticks if t.symbol == symbol],
                          "price": [t.price for t in ticks if t.symbol == symbol],
                          "size": [t.size for t in ticks if t.symbol == symbol]}).set_index("ts")
    ohlc = frame["price"].resample(rule).ohlc()
    ohlc["volume"] = frame["size"].resample(rule).sum()
    return ohlc.dropna()


@pytest.mark.parametrize("timeframe", list(TIMEFRAMES))
def test_candles_equal_a_pandas_resample_of_the_same_ticks(timeframe: str) -> None:
    ticks = make_ticks(6000, mean_gap_s=40.0 if timeframe in ("1h", "1d") else 0.4)
    book = CandleBook(keep=100_000)
    for t in ticks:
        book.add_tick(t.symbol, t.ts.timestamp(), t.price, t.size, t.source)
    for symbol in ("AAPL", "BTCUSDT"):
        ours = bars_to_frame(book.bars(symbol, timeframe))
        ref = _resample(ticks, symbol, PANDAS_RULES[timeframe])
        ref.index.name = "start"
        pd.testing.assert_frame_equal(ours, ref, check_freq=False, check_index_type=False)


def test_closed_candles_are_returned_once_and_late_ticks_counted() -> None:
    book = CandleBook(timeframes=("1s", "1m"))
    assert book.add_tick("AAPL", 100.2, 10.0, 1) == []
    closed = book.add_tick("AAPL", 101.5, 11.0, 2)
    assert [(b.timeframe, b.close) for b in closed] == [("1s", 10.0)]
    book.add_tick("AAPL", 100.9, 9.0, 1)  # older than the open 1s candle
    assert book.late == 1
    assert book.bars("AAPL", "1m")[-1].low == 10.0  # the late price did not enter


def test_bars_fold_into_longer_timeframes() -> None:
    from datetime import datetime

    from core.models import Bar
    book = CandleBook(timeframes=("1m", "5m"))
    t0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    for i, (o, h, lo, c) in enumerate([(10, 11, 9, 10.5), (10.5, 12, 10, 11), (11, 11.5, 8, 9)]):
        book.add_bar(Bar("SPY", "1m", t0 + pd.Timedelta(minutes=i), o, h, lo, c, 100))
    five = book.bars("SPY", "5m")[-1]
    assert (five.open, five.high, five.low, five.close, five.volume) == (10, 12, 8, 9, 300)


def test_a_finished_bar_closes_its_own_timeframe_at_once_and_late_bars_count() -> None:
    from datetime import datetime

    from core.models import Bar
    book = CandleBook(timeframes=("1m", "5m"))
    t0 = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    first = Bar("SPY", "1m", t0 + pd.Timedelta(minutes=1), 10, 11, 9, 10.5, 100)
    assert book.add_bar(first) == [first]  # published when it arrives, not one bar later
    assert book.bars("SPY", "1m") == [first]
    book.add_bar(Bar("SPY", "1m", t0, 10, 11, 9, 10.5, 100))
    assert book.late == 1


def test_a_bar_fed_row_is_as_old_as_the_bar_end() -> None:
    from datetime import datetime, timedelta

    from core.feeds.snapshot import QuoteBoard
    from core.models import Bar
    board = QuoteBoard()
    start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    board.apply_bar(Bar("SPY", "1d", start, 10, 11, 9, 10.5, 100))
    assert board.rows()["SPY"].updated == start + timedelta(days=1)


def test_after_a_change_of_source_a_slightly_older_clock_is_not_late() -> None:
    from datetime import UTC, datetime, timedelta

    from core.feeds.snapshot import QuoteBoard
    from core.models import Tick
    board = QuoteBoard()
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    board.apply_tick(Tick("AAPL", t0 + timedelta(milliseconds=3), 100.0, 1, source="alpaca"))
    assert board.apply_tick(Tick("AAPL", t0, 100.5, 1, source="polygon"))  # ms clock, behind
    assert board.rows()["AAPL"].source == "polygon"
    assert not board.apply_tick(Tick("AAPL", t0 - timedelta(seconds=1), 99.0, 1,
                                     source="polygon"))  # but a source cannot go back in time


def test_a_change_of_source_drops_the_old_book() -> None:
    from datetime import UTC, datetime, timedelta

    from core.feeds.snapshot import QuoteBoard
    from core.models import Tick
    board = QuoteBoard()
    t0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    board.apply_tick(Tick("BTCUSDT", t0, 100.0, 1, 99.9, 100.1, source="binance"))
    board.apply_tick(Tick("BTCUSDT", t0 + timedelta(seconds=1), 100.2, 1, source="yahoo"))
    row = board.rows()["BTCUSDT"]
    assert (row.source, row.bid, row.ask) == ("yahoo", None, None)
