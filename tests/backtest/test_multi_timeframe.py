"""higher_timeframe: exact aggregation, closed-bar alignment, and no leak of future bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest.timeframes import higher_timeframe
from core.errors import DataError, ValidationError


def minute_bars(n: int = 150, start: str = "2024-01-02 09:30") -> pd.DataFrame:
    """Minute bars, Close = 1, 2, 3, ... so each aggregate is easy to state."""
    index = pd.date_range(start, periods=n, freq="min")
    close = np.arange(1.0, n + 1.0)
    return pd.DataFrame({"Open": close - 0.5, "High": close + 1, "Low": close - 1,
                         "Close": close, "Volume": np.ones(n)}, index=index)


def daily_bars(n: int = 120, seed: int = 1) -> pd.DataFrame:
    """Business-day bars with a random walk close."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2024-01-01", periods=n)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    return pd.DataFrame({"Open": close * 0.999, "High": close * 1.01, "Low": close * 0.99,
                         "Close": close, "Volume": rng.integers(1, 100, n).astype(float)},
                        index=index)


def mutate_after(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    out = frame.copy()
    rng = np.random.default_rng(k)
    out.iloc[k + 1:] = out.iloc[k + 1:].to_numpy() * rng.uniform(0.5, 2.0, (len(out) - k - 1, 1))
    return out


def test_minute_to_hour_sees_an_hour_only_once_it_has_closed() -> None:
    bars = minute_bars()  # 09:30 .. 11:59
    hourly = higher_timeframe(bars, "h")
    t = bars.index
    assert hourly.loc[t[:29]].isna().all().all()  # 09:30-09:58: the 09:00 hour is still open
    first = hourly.loc[pd.Timestamp("2024-01-02 09:59")]  # its last minute closes at 10:00
    assert first["period"] == pd.Timestamp("2024-01-02 09:00")
    assert (first["Open"], first["High"], first["Low"], first["Close"], first["Volume"]) == (
        0.5, 31.0, 0.0, 30.0, 30.0)
    assert hourly.loc["2024-01-02 10:58", "Close"] == 30.0  # 10:00 hour not closed yet
    assert hourly.loc["2024-01-02 10:59", "Close"] == 90.0
    assert hourly.loc["2024-01-02 11:59", "Close"] == 150.0
    partial = higher_timeframe(bars.iloc[:100], "h")  # ends 11:09: 11:00 hour never shows
    assert partial["Close"].iloc[-1] == 90.0
    assert list(hourly.columns) == ["Open", "High", "Low", "Close", "Volume", "period"]


def test_daily_to_weekly_closes_on_the_week_end() -> None:
    bars = daily_bars(20)  # Mon 2024-01-01 .. Fri 2024-01-26
    friday = higher_timeframe(bars, "W-FRI")
    assert friday.iloc[:4]["Close"].isna().all()
    assert friday.loc["2024-01-05", "Close"] == bars.loc["2024-01-05", "Close"]
    assert friday.loc["2024-01-05", "High"] == bars.loc["2024-01-01":"2024-01-05", "High"].max()
    assert friday.loc["2024-01-05", "Volume"] == bars.loc["2024-01-01":"2024-01-05",
                                                          "Volume"].sum()
    assert friday.loc["2024-01-08", "Close"] == bars.loc["2024-01-05", "Close"]
    # Weeks ending Sunday: a weekend bar could still come, so the week shows on Monday.
    sunday = higher_timeframe(bars, "W")
    assert sunday.loc[:"2024-01-05", "Close"].isna().all()
    assert sunday.loc["2024-01-08", "Close"] == bars.loc["2024-01-05", "Close"]


def test_lower_case_columns_and_gaps() -> None:
    bars = minute_bars().rename(columns=str.lower).drop(index=minute_bars().index[60:120])
    hourly = higher_timeframe(bars, "h")  # 10:30-11:29 missing: the 10:00 hour ends at 10:29
    assert "close" in hourly.columns
    assert hourly.loc["2024-01-02 10:29", "close"] == 30.0  # 10:29 + 1 min is not 11:00 yet
    assert hourly.loc["2024-01-02 11:30", "close"] == 60.0  # seen from the next bar on
    assert hourly.loc["2024-01-02 11:59", "close"] == 150.0


@pytest.mark.parametrize(("make", "rule"), [
    (daily_bars, "W-FRI"), (daily_bars, "W"), (daily_bars, "ME"),
    (minute_bars, "h"), (minute_bars, "15min"),
])
def test_a_future_bar_never_leaks(make, rule: str) -> None:
    bars = make()
    aligned = higher_timeframe(bars, rule)
    for k in range(0, len(bars) - 1, 7):
        mutated = higher_timeframe(mutate_after(bars, k), rule)
        pd.testing.assert_frame_equal(mutated.iloc[:k + 1], aligned.iloc[:k + 1])
    # and the same holds when the future simply is not there yet
    for k in (10, 50, len(bars) // 2):
        truncated = higher_timeframe(bars.iloc[:k + 1], rule, bar_length=bars.index[1]
                                     - bars.index[0] if make is minute_bars else "1D")
        pd.testing.assert_frame_equal(truncated, aligned.iloc[:k + 1], check_freq=False)


def test_bad_input() -> None:
    with pytest.raises(DataError, match="DatetimeIndex"):
        higher_timeframe(pd.DataFrame({"Close": [1.0, 2.0]}), "h")
    with pytest.raises(DataError, match="Open, High, Low, Close or Volume"):
        higher_timeframe(minute_bars()[[]].assign(x=1), "h")
    with pytest.raises(ValidationError, match="rule 'fortnightly'"):
        higher_timeframe(minute_bars(), "fortnightly")
    with pytest.raises(DataError, match="pass bar_length"):
        higher_timeframe(minute_bars(1), "h")
