"""Stress tests: crisis windows replayed from data, missing windows reported, shocks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationError
from core.research.stress import (
    COLUMNS,
    CRISIS_WINDOWS,
    CrisisWindow,
    Gap,
    VolatilityShock,
    stress_test,
)

COVID = CRISIS_WINDOWS[1]


def covid_drop(start: str = "2019-06-03", end: str = "2020-12-31") -> pd.Series:
    """Business-day closes: 100 until 2020-02-19, a straight fall to 70 on 2020-03-23, flat."""
    index = pd.bdate_range(start, end, tz="UTC")
    close = pd.Series(100.0, index=index)
    fall = (index >= "2020-02-19") & (index <= "2020-03-23")
    close[fall] = np.linspace(100.0, 70.0, int(fall.sum()))
    close[index > "2020-03-23"] = 70.0
    return close


def row(result: object, name: str) -> pd.Series:
    table = result.table  # type: ignore[attr-defined]
    return table.set_index("scenario").loc[name]


def test_a_known_drop_in_the_2020_window_gives_that_pnl() -> None:
    result = stress_test({"SPY": 10_000.0}, {"SPY": covid_drop()}, windows=[COVID])
    got = row(result, COVID.name)
    assert got["status"] == "ok" and got["kind"] == "historical"
    assert got["pnl"] == pytest.approx(-3_000.0)
    assert got["return"] == pytest.approx(-0.30)
    assert got["max_drawdown"] == pytest.approx(-0.30)
    assert got["start"] == pd.Timestamp("2020-02-19", tz="UTC")
    assert got["end"] == pd.Timestamp("2020-03-23", tz="UTC")
    path = result.paths[COVID.name]
    assert path.iloc[0] == 10_000.0 and path.iloc[-1] == pytest.approx(7_000.0)
    assert list(result.table.columns) == list(COLUMNS)


def test_windows_the_data_does_not_cover_are_reported_not_raised() -> None:
    result = stress_test(25_000.0, covid_drop())  # one equity, one series: 2019-06 to 2020-12
    table = result.table.set_index("scenario")
    assert list(table.index) == [w.name for w in CRISIS_WINDOWS]
    assert table.loc[COVID.name, "status"] == "ok"
    assert table.loc[COVID.name, "pnl"] == pytest.approx(-7_500.0)
    for window in (CRISIS_WINDOWS[0], CRISIS_WINDOWS[2]):
        missing = table.loc[window.name]
        assert missing["status"] == "missing" and math.isnan(missing["pnl"])
        assert "covers 2019-06-03 to 2020-12-31" in missing["note"]
        assert window.start in missing["note"]
    assert set(result.paths) == {COVID.name}
    assert dict(result.positions) == {"equity": 25_000.0}


def test_a_window_starting_on_a_holiday_is_covered_by_the_next_session() -> None:
    # 2008-09-01 was Labor Day: data from 2008-09-02 covers the 2008 window
    index = pd.bdate_range("2008-09-02", "2009-04-30")
    close = pd.Series(np.linspace(100.0, 50.0, len(index)), index=index)  # tz-naive works too
    got = row(stress_test(1_000.0, close, windows=[CRISIS_WINDOWS[0]]), CRISIS_WINDOWS[0].name)
    assert got["status"] == "ok"
    expected = close[:"2009-03-31"].iloc[-1] / close.iloc[0] - 1
    assert got["return"] == pytest.approx(expected)


def test_positions_follow_their_own_prices_or_the_benchmark() -> None:
    flat = pd.Series(50.0, index=covid_drop().index)
    result = stress_test({"AAA": 6_000.0, "BBB": 4_000.0, "CCC": 1_000.0},
                         {"AAA": covid_drop(), "BBB": flat}, benchmark=covid_drop(),
                         windows=[COVID])
    # AAA -30% of 6,000, BBB flat, CCC (no prices) follows the benchmark: -30% of 1,000
    assert row(result, COVID.name)["pnl"] == pytest.approx(-2_100.0)
    assert result.value == 11_000.0


def test_a_position_without_prices_makes_the_window_missing() -> None:
    result = stress_test({"AAA": 1.0, "ZZZ": 1.0}, {"AAA": covid_drop()}, windows=[COVID])
    got = row(result, COVID.name)
    assert got["status"] == "missing" and got["note"] == "no prices for ZZZ"


def test_gap_shocks() -> None:
    portfolio = {"AAA": 6_000.0, "BBB": 4_000.0}
    result = stress_test(portfolio, windows=[],
                         shocks=[Gap(-0.2), Gap(-0.5, symbols=("BBB",), name="BBB halves")])
    everything, one = row(result, "gap -20%"), row(result, "BBB halves")
    assert everything["pnl"] == pytest.approx(-2_000.0)
    assert everything["return"] == pytest.approx(-0.2)
    assert everything["max_drawdown"] == pytest.approx(-0.2)
    assert one["pnl"] == pytest.approx(-2_000.0) and one["return"] == pytest.approx(-0.2)
    up = row(stress_test(1_000.0, windows=[], shocks=[Gap(0.1)]), "gap +10%")
    assert up["pnl"] == pytest.approx(100.0) and up["max_drawdown"] == 0.0
    with pytest.raises(ValidationError, match="not in the portfolio"):
        stress_test(portfolio, windows=[], shocks=[Gap(-0.1, symbols=("CCC",))])
    with pytest.raises(ValidationError, match="above -100%"):
        stress_test(portfolio, windows=[], shocks=[Gap(-1.0)])


def test_volatility_multiple_scales_the_last_returns_around_their_mean() -> None:
    index = pd.bdate_range("2024-01-01", periods=30, tz="UTC")
    returns = np.tile([0.02, -0.01], 15)[:29]
    close = pd.Series(100.0 * np.concatenate([[1.0], np.cumprod(1 + returns)]), index=index)
    last = returns[-10:]
    mean = last.mean()
    result = stress_test(1_000.0, close, windows=[],
                         shocks=[VolatilityShock(3.0, 10), VolatilityShock(1.0, 10, "same")])
    tripled = row(result, "volatility x3 for 10 days")
    expected = np.prod(1 + mean + 3.0 * (last - mean)) - 1
    assert tripled["return"] == pytest.approx(expected)
    assert tripled["pnl"] == pytest.approx(1_000.0 * expected)
    assert row(result, "same")["return"] == pytest.approx(np.prod(1 + last) - 1)
    assert tripled["max_drawdown"] < row(result, "same")["max_drawdown"] < 0
    too_long = row(stress_test(1_000.0, close, windows=[], shocks=[VolatilityShock(2.0, 60)]),
                   "volatility x2 for 60 days")
    assert too_long["status"] == "missing" and "29 returns" in too_long["note"]


def test_custom_window_and_bad_portfolios() -> None:
    window = CrisisWindow("spring", "2020-03-01", "2020-03-20")
    assert row(stress_test(1.0, covid_drop(), windows=[window]), "spring")["return"] < 0
    with pytest.raises(ValidationError, match="positive"):
        stress_test({"AAA": -5.0}, covid_drop())
    with pytest.raises(ValidationError, match="DatetimeIndex"):
        stress_test(1.0, pd.Series([1.0, 2.0]))
