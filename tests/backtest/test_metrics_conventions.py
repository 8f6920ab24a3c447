"""The metric conventions and periods-per-year inference (core.backtest.conventions)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from core.backtest.conventions import (
    DEFAULT_CONVENTIONS,
    MetricConventions,
    infer_periods_per_year,
)
from core.backtest.metrics import compute_stats


def _weekday_hours(start: str, days: int, hours: range) -> pd.DatetimeIndex:
    stamps = pd.date_range(start, periods=days * 24, freq="h")
    return stamps[(stamps.day_of_week < 5) & stamps.hour.isin(hours)]


def _us_equity_minutes(start: str, days: int) -> pd.DatetimeIndex:
    stamps = pd.date_range(start, periods=days * 24 * 60, freq="min")
    session = stamps.indexer_between_time("09:30", "15:59")
    stamps = stamps[session]
    return stamps[stamps.day_of_week < 5]


def test_defaults_are_quantstats_conventions() -> None:
    c = DEFAULT_CONVENTIONS
    assert (c.risk_free, c.ddof, c.trading_days_per_year, c.var_sigma) == (0.0, 1, 252, 1.0)
    assert c.var_confidences == (0.95, 0.99) and c.percent == 100.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.trading_days_per_year = 260  # type: ignore[misc]


@pytest.mark.parametrize(("index", "expected"), [
    (pd.bdate_range("2020-01-01", periods=300), 252),
    (pd.bdate_range("2020-01-01", periods=300).delete([5, 17, 90]), 252),  # holidays
    (pd.date_range("2020-01-01", periods=300, freq="D"), 365),  # crypto, 7 days a week
    (pd.date_range("2020-01-01", periods=24 * 40, freq="h"), 24 * 365),
    (pd.date_range("2020-01-01", periods=60 * 24 * 10, freq="min"), 60 * 24 * 365),
    (_weekday_hours("2020-01-06", 40, range(24)), 24 * 252),  # FX: 24 hours on weekdays
    (_us_equity_minutes("2020-01-06", 30), 390 * 252),  # US equities, one-minute bars
    (pd.date_range("2020-01-03", periods=100, freq="W-FRI"), 52),
    (pd.date_range("2020-01-05", periods=100, freq="W-SUN"), 52),
    (pd.date_range("2020-01-31", periods=60, freq="ME"), 12),
    (pd.date_range("2020-03-31", periods=20, freq="QE"), 4),
    (pd.date_range("2000-12-31", periods=20, freq="YE"), 1),
    (pd.date_range("2020-01-01", periods=50, freq="14D"), 365.25 / 14),
], ids=["business-daily", "with-holidays", "calendar-daily", "hourly-24/7", "minute-24/7",
        "hourly-fx", "minute-equities", "weekly-fri", "weekly-sun", "monthly", "quarterly",
        "yearly", "fortnightly"])
def test_infer_periods_per_year(index: pd.DatetimeIndex, expected: float) -> None:
    assert infer_periods_per_year(index) == pytest.approx(expected)


def test_inference_on_the_reference_data() -> None:
    from backtesting.test import EURUSD, GOOG

    assert infer_periods_per_year(GOOG.index) == 252
    assert infer_periods_per_year(EURUSD.index) == 24 * 252  # hourly FX, some Sunday bars


def test_inference_ignores_the_timezone() -> None:
    index = pd.date_range("2020-01-01", periods=24 * 40, freq="h")
    assert infer_periods_per_year(index.tz_localize("UTC")) == infer_periods_per_year(index)
    business = pd.bdate_range("2020-01-01", periods=300)
    assert infer_periods_per_year(business.tz_localize("Europe/London")) == 252


def test_short_intraday_sample_falls_back_to_the_bar_spacing() -> None:
    index = pd.date_range("2024-03-04 10:00", periods=3, freq="h")  # a Monday
    assert infer_periods_per_year(index) == 24 * 252


def test_custom_conventions() -> None:
    custom = MetricConventions(trading_days_per_year=260, calendar_days_per_year=360)
    assert infer_periods_per_year(pd.bdate_range("2020-01-01", periods=300), custom) == 260
    assert infer_periods_per_year(pd.date_range("2020-01-01", periods=300), custom) == 360


def test_inference_rejects_bad_indexes() -> None:
    with pytest.raises(TypeError, match="DatetimeIndex"):
        infer_periods_per_year(pd.RangeIndex(10))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="two"):
        infer_periods_per_year(pd.DatetimeIndex(["2020-01-01"]))
    with pytest.raises(ValueError, match="increase"):
        infer_periods_per_year(pd.DatetimeIndex(["2020-01-01"] * 3))


def test_compute_stats_annualises_with_the_inferred_periods() -> None:
    rng = np.random.default_rng(3)
    index = pd.date_range("2024-01-01", periods=500, freq="D")  # 24/7 market
    equity = pd.Series(100 * np.cumprod(1 + rng.normal(0.001, 0.03, len(index))), index=index)
    returns = equity.pct_change().dropna()
    stats = compute_stats(equity)
    assert stats.periods_per_year == 365
    assert stats.sharpe == pytest.approx(returns.mean() / returns.std() * np.sqrt(365), rel=1e-12)
    assert stats.volatility_pct == pytest.approx(returns.std() * np.sqrt(365) * 100, rel=1e-12)
    assert stats.cagr_pct == pytest.approx(
        ((1 + returns).prod() ** (365 / len(returns)) - 1) * 100, rel=1e-12)
    assert compute_stats(equity, periods_per_year=252).periods_per_year == 252
