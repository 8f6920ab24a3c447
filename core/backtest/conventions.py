"""Statistical conventions of the backtest metrics, kept in one place.

Every number :func:`core.backtest.metrics.compute_stats` reports follows the conventions below.
Where quantstats (0.0.86) defines a metric, the convention is quantstats'; where it does not,
it is backtesting.py's (0.6.6, ``backtesting._stats.compute_stats``).

Conventions
-----------
- Returns are simple returns of the equity curve, ``equity.pct_change()``, with the first
  (undefined) return dropped; an infinite return (equity rising from exactly zero) is treated as
  missing, as quantstats' ``_prepare_returns`` does, and missing returns are skipped by every
  statistic.
- The risk-free rate is 0 unless given. A non-zero annual rate is de-annualised per period as
  ``(1 + rf) ** (1 / periods_per_year) - 1`` and subtracted from the returns for Sharpe and Sortino
  only (quantstats' ``to_excess_returns``); CAGR, volatility, VaR/ES and alpha/beta ignore it, as in
  quantstats.
- Standard deviations are sample standard deviations (``ddof=1``).
- Annualisation multiplies a per-period mean by ``periods_per_year`` and a per-period deviation by
  ``sqrt(periods_per_year)``; CAGR's number of years is ``number of returns / periods_per_year``
  (quantstats' ``cagr``), not calendar time.
- ``periods_per_year`` is inferred from the index by :func:`infer_periods_per_year` unless given:
  252 for daily data that skips weekends (equities, FX), 365 for daily data that trades every day
  (crypto), 52 weekly, 12 monthly, 4 quarterly, 1 yearly, and for intraday bars the number of bars
  in a typical day times 252 (or times 365 for 24/7 data).
- Value at Risk and Expected Shortfall are reported at 95% and 99%, as returns (negative numbers are
  losses), both historical (empirical) and parametric (normal with the sample mean and sample
  standard deviation, quantstats' ``value_at_risk`` with ``sigma=1``).
- Percent fields (names ending in ``_pct``) are multiplied by 100.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DEFAULT_CONVENTIONS", "MetricConventions", "infer_periods_per_year"]


@dataclass(frozen=True)
class MetricConventions:
    """The conventions the backtest metrics follow (see the module docstring).

    Attributes
    ----------
    risk_free : float
        Default annual risk-free rate (quantstats: 0).
    ddof : int
        Delta degrees of freedom of every standard deviation (quantstats and pandas: 1).
    var_confidences : tuple of float
        Confidence levels of Value at Risk and Expected Shortfall.
    var_sigma : float
        Volatility multiplier of the parametric VaR/ES (quantstats' ``sigma``: 1).
    trading_days_per_year : int
        Periods per year of daily data that skips weekends (quantstats: 252).
    calendar_days_per_year : int
        Periods per year of daily data that trades every day (24/7 markets).
    weeks_per_year, months_per_year, quarters_per_year : int
        Periods per year of weekly, monthly and quarterly data.
    weekend_share_threshold : float
        Data whose share of Saturday/Sunday bars exceeds this is treated as trading 7 days a week;
        the same test as backtesting.py's (``> 2/7 * 0.6``), which tolerates missing weekend bars.
    percent : float
        Scale of the ``*_pct`` fields.
    """

    risk_free: float = 0.0
    ddof: int = 1
    var_confidences: tuple[float, ...] = (0.95, 0.99)
    var_sigma: float = 1.0
    trading_days_per_year: int = 252
    calendar_days_per_year: int = 365
    weeks_per_year: int = 52
    months_per_year: int = 12
    quarters_per_year: int = 4
    weekend_share_threshold: float = 2 / 7 * 0.6
    percent: float = 100.0


DEFAULT_CONVENTIONS = MetricConventions()
"""The conventions used by :func:`core.backtest.metrics.compute_stats`."""

_DAY = pd.Timedelta(days=1)


def _trades_weekends(index: pd.DatetimeIndex, conventions: MetricConventions) -> bool:
    """Whether the bars cover weekends, i.e. the market trades 7 days a week."""
    if index.tz is None and not index.hasnans:  # day of week straight from the int64 stamps
        days = index.asi8 // units_per_day(index)
        day_of_week = (days + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    else:  # wall-clock day in the index's time zone
        day_of_week = index.day_of_week
    weekend_share = float(np.mean(day_of_week >= 5))
    return weekend_share > conventions.weekend_share_threshold


def units_per_day(index: pd.DatetimeIndex) -> int:
    """Number of ticks of the index's resolution in one day."""
    return int(np.timedelta64(1, "D").astype(f"m8[{index.unit}]").astype(np.int64))


def _median_spacing(index: pd.DatetimeIndex) -> pd.Timedelta:
    """``pd.Series(index).diff().iloc[1:].median()``, computed on the int64 stamps.

    As pandas does it: the int64 differences as float64, their median (the middle value, or the
    two middle values summed and halved), truncated back to an integer timedelta.
    """
    if index.hasnans:
        return pd.Series(index).diff().iloc[1:].median()
    # sorted, not partitioned: bar spacings repeat a few values, which numpy's introselect
    # handles far slower (~0.1 ms on 2,000 daily bars) than its sort (~0.01 ms)
    steps = np.sort(np.diff(index.asi8).astype(np.float64))
    half, odd = divmod(len(steps), 2)
    median = steps[half] if odd else (steps[half - 1] + steps[half]) / 2.0
    return pd.Timedelta(np.int64(median).astype(f"m8[{index.unit}]"))


def _bars_per_day(index: pd.DatetimeIndex, spacing: pd.Timedelta) -> float:
    """Typical number of intraday bars in one trading day.

    The median count of bars per calendar date, leaving out the first and last dates (usually
    partial); with fewer than three dates it falls back to ``1 day / spacing``.
    """
    per_date = pd.Series(index.normalize()).value_counts(sort=False).sort_index()
    if len(per_date) < 3:
        return _DAY / spacing
    return float(per_date.iloc[1:-1].median())


def infer_periods_per_year(
    index: pd.DatetimeIndex, conventions: MetricConventions = DEFAULT_CONVENTIONS
) -> float:
    """Infer the number of bars in a year from a DatetimeIndex.

    The bar spacing is the median difference between consecutive timestamps (robust to holidays
    and gaps). Then:

    - spacing below one day (intraday): bars in a typical day (see below) times
      ``trading_days_per_year`` (252), or times ``calendar_days_per_year`` (365) when the data
      covers weekends. Hourly 24/7 data gives 24 * 365 = 8760, hourly FX (24 bars on weekdays)
      24 * 252 = 6048, one-minute US equities (390 bars a day) 390 * 252 = 98280. Bars in a day
      are the median count per calendar date, first and last dates excluded; with fewer than three
      dates, ``1 day / spacing``. Pass ``periods_per_year`` explicitly for short intraday samples.
    - 1 to 4 days: daily, 252 without weekends, 365 with weekends;
    - 4 to 10 days: weekly, 52; 25 to 35 days: monthly, 12; 85 to 95 days: quarterly, 4;
      360 to 370 days: yearly, 1;
    - any other spacing: ``365.25 days / spacing``.

    "With weekends" means more than ``weekend_share_threshold`` of the bars fall on Saturday or
    Sunday, backtesting.py's test.

    Parameters
    ----------
    index : pandas.DatetimeIndex
        Timestamps of the bars, sorted increasing, at least two of them; tz-aware or naive.
    conventions : MetricConventions, optional
        Day counts to use; :data:`DEFAULT_CONVENTIONS` by default.

    Returns
    -------
    float
        Periods per year.

    Raises
    ------
    TypeError
        If ``index`` is not a DatetimeIndex.
    ValueError
        If it has fewer than two timestamps or they do not increase.
    """
    if not isinstance(index, pd.DatetimeIndex):
        raise TypeError(
            f"need a DatetimeIndex to infer periods per year, got {type(index).__name__}"
        )
    if len(index) < 2:
        raise ValueError("need at least two timestamps to infer periods per year")
    spacing = _median_spacing(index)
    if not spacing > pd.Timedelta(0):
        raise ValueError("timestamps must increase to infer periods per year")
    weekends = _trades_weekends(index, conventions)
    days_per_year = (
        conventions.calendar_days_per_year if weekends else conventions.trading_days_per_year
    )
    if spacing < _DAY:
        return float(_bars_per_day(index, spacing) * days_per_year)
    days = spacing / _DAY
    for low, high, periods in (
        (1, 4, days_per_year),
        (4, 10, conventions.weeks_per_year),
        (25, 35, conventions.months_per_year),
        (85, 95, conventions.quarters_per_year),
        (360, 370, 1),
    ):
        if low <= days < high:
            return float(periods)
    return 365.25 / days
