"""Market regimes (volatility, trend or range) and a strategy's performance in each.

Every classification is causal: the label of bar ``t`` uses prices up to and including bar ``t``
only, so a label is known at that bar's close and can be traded from the next bar.

Definitions
-----------
- Volatility: the rolling sample standard deviation (``ddof=1``) of log returns over ``window``
  bars. Its thresholds are quantiles (``(1/3, 2/3)`` by default) of the rolling volatility
  observed **up to each bar** (an expanding quantile, needing ``min_history`` observations first;
  earlier bars are unlabelled), or, with ``fit_until``, quantiles of the rolling volatility up to
  that bar only (e.g. the end of a training period), frozen after it. A bar is ``"low"`` below
  the first threshold, ``"high"`` above the last and ``"mid"`` in between.
- Trend or range: Kaufman's efficiency ratio over ``window`` bars,
  ``ER = |close_t - close_{t-window}| / sum(|close_i - close_{i-1}|)`` over the same bars, in
  [0, 1]: 1 for a straight line, near 0 for a back-and-forth market. ``ER >= threshold`` (0.3 by
  default) is ``"trend"``, otherwise ``"range"``.
- Performance by regime: each bar's return is attributed to the regime known at the start of
  that bar (the label of the previous bar, ``lag=1``), i.e. the regime a trader could have acted
  on; ``lag=0`` attributes it to the bar's own label instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd

from core.backtest.conventions import infer_periods_per_year
from core.errors import ValidationError

__all__ = ["TREND_LABELS", "VOL_LABELS", "efficiency_ratio", "performance_by_regime",
           "rolling_volatility", "trend_regimes", "volatility_regimes"]

VOL_LABELS: tuple[str, ...] = ("low", "mid", "high")
"""Labels of :func:`volatility_regimes` with its default two thresholds."""
TREND_LABELS: tuple[str, ...] = ("trend", "range")
"""Labels of :func:`trend_regimes`."""
PERFORMANCE_COLUMNS: tuple[str, ...] = (
    "regime", "bars", "share_pct", "return_pct", "volatility_pct", "sharpe")
"""Columns of :func:`performance_by_regime`."""


def _close(prices: pd.Series | pd.DataFrame) -> pd.Series:
    if isinstance(prices, pd.DataFrame):
        columns = {str(c).lower(): c for c in prices.columns}
        if "close" not in columns:
            raise ValidationError("the prices frame has no Close column.")
        prices = prices[columns["close"]]
    if not isinstance(prices, pd.Series):
        raise ValidationError(f"prices must be a Series or an OHLCV frame, got "
                              f"{type(prices).__name__}.")
    values = prices.astype(np.float64)
    if (values <= 0).any():
        raise ValidationError("prices must be positive to take log returns.")
    return values


def _window(window: int, name: str = "window") -> int:
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 2:
        raise ValidationError(f"{name} must be a whole number of bars, at least 2 (got "
                              f"{window!r}).")
    return int(window)


def rolling_volatility(prices: pd.Series | pd.DataFrame, window: int = 20) -> pd.Series:
    """Rolling standard deviation of log returns over ``window`` bars (per bar, not annualised).

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Closes, or an OHLCV frame (its Close column).
    window : int
        Returns per window (at least 2).

    Returns
    -------
    pandas.Series
        NaN until ``window`` returns exist (the first ``window`` bars).
    """
    window = _window(window)
    log_returns = np.log(_close(prices)).diff()
    return log_returns.rolling(window, min_periods=window).std().rename("volatility")


def volatility_regimes(prices: pd.Series | pd.DataFrame, window: int = 20,
                       quantiles: Sequence[float] = (1 / 3, 2 / 3), *,
                       min_history: int = 60, fit_until: int | pd.Timestamp | None = None,
                       labels: Sequence[str] | None = None) -> pd.Series:
    """Label each bar low, mid or high volatility, causally.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Closes, or an OHLCV frame.
    window : int
        Bars in the rolling volatility.
    quantiles : sequence of float
        Increasing thresholds in (0, 1); ``k`` quantiles make ``k + 1`` regimes.
    min_history : int
        Rolling-volatility observations needed before the expanding thresholds label a bar.
    fit_until : int or pandas.Timestamp, optional
        Fit the thresholds on the rolling volatility up to this bar (a position, exclusive, or a
        timestamp, inclusive) and apply them to every bar; by default the thresholds expand with
        the data (each bar is compared with the history up to it).
    labels : sequence of str, optional
        One label per regime, lowest volatility first; ``("low", "mid", "high")`` by default
        (with two quantiles).

    Returns
    -------
    pandas.Series
        Categorical labels on the prices' index; NaN where not yet known.

    Raises
    ------
    ValidationError
        On bad quantiles, labels, window or ``fit_until`` (no volatility to fit on).
    """
    qs = [float(q) for q in quantiles]
    if not qs or any(not 0 < q < 1 for q in qs) or any(b <= a for a, b in zip(qs, qs[1:],
                                                                                strict=False)):
        raise ValidationError(f"quantiles must increase strictly within (0, 1) (got "
                              f"{list(quantiles)}).")
    names = list(labels) if labels is not None else (
        list(VOL_LABELS) if len(qs) == 2 else [f"q{i}" for i in range(len(qs) + 1)])
    if len(names) != len(qs) + 1:
        raise ValidationError(f"{len(qs)} quantiles make {len(qs) + 1} regimes; got "
                              f"{len(names)} labels.")
    vol = rolling_volatility(prices, window)
    if fit_until is None:
        history = _window(min_history, "min_history")
        expanding = vol.expanding(min_periods=history)
        thresholds = np.column_stack([expanding.quantile(q).to_numpy() for q in qs])
    else:
        fitted = vol.iloc[:fit_until] if isinstance(fit_until, int | np.integer) \
            else vol.loc[:fit_until]
        fitted = fitted.dropna()
        if fitted.empty:
            raise ValidationError(f"no rolling volatility before fit_until={fit_until!r} to fit "
                                  f"the thresholds on (the first {window} bars have none).")
        thresholds = np.tile(np.quantile(fitted.to_numpy(), qs), (len(vol), 1))
    values = vol.to_numpy()
    known = np.isfinite(values) & np.isfinite(thresholds).all(axis=1)
    codes = (values[:, None] > thresholds).sum(axis=1)
    codes = np.where(known, codes, -1)
    categories = pd.CategoricalDtype(names, ordered=True)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=categories), index=vol.index,
                     name="volatility_regime")


def efficiency_ratio(prices: pd.Series | pd.DataFrame, window: int = 20) -> pd.Series:
    """Kaufman's efficiency ratio: net move over path length across ``window`` bars.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Closes, or an OHLCV frame.
    window : int
        Bars back (at least 2).

    Returns
    -------
    pandas.Series
        Values in [0, 1]; NaN for the first ``window`` bars and where the price did not move.
    """
    window = _window(window)
    close = _close(prices)
    net = close.diff(window).abs()
    path = close.diff().abs().rolling(window, min_periods=window).sum()
    return (net / path.where(path > 0)).rename("efficiency_ratio")


def trend_regimes(prices: pd.Series | pd.DataFrame, window: int = 20,
                  threshold: float = 0.3) -> pd.Series:
    """Label each bar ``"trend"`` or ``"range"`` by its efficiency ratio.

    Parameters
    ----------
    prices : pandas.Series or pandas.DataFrame
        Closes, or an OHLCV frame.
    window : int
        Bars of the efficiency ratio.
    threshold : float
        Efficiency ratio from which a market trends, in (0, 1).

    Returns
    -------
    pandas.Series
        Categorical ``"trend"`` / ``"range"``; NaN where the ratio is undefined.
    """
    if not (isinstance(threshold, int | float) and 0 < threshold < 1):
        raise ValidationError(f"threshold must be in (0, 1) (got {threshold!r}).")
    er = efficiency_ratio(prices, window).to_numpy()
    codes = np.where(np.isfinite(er), np.where(er >= threshold, 0, 1), -1)
    dtype = pd.CategoricalDtype(list(TREND_LABELS), ordered=False)
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=_close(prices).index,
                     name="trend_regime")


def _as_returns(series: pd.Series, kind: str) -> pd.Series:
    values = series.astype(np.float64)
    if kind == "auto":
        finite = values[np.isfinite(values)]
        looks_like_returns = bool((finite <= 0).any()) or bool((finite.abs() < 1).all())
        kind = "returns" if looks_like_returns else "equity"
    if kind == "equity":
        return values.pct_change().iloc[1:]
    if kind == "returns":
        return values
    raise ValidationError(f"kind must be 'auto', 'equity' or 'returns' (got {kind!r}).")


def performance_by_regime(equity_or_returns: pd.Series, regimes: pd.Series, *,
                          kind: Literal["auto", "equity", "returns"] = "auto", lag: int = 1,
                          periods_per_year: float | None = None) -> pd.DataFrame:
    """Return, volatility and Sharpe ratio of a strategy within each regime.

    Parameters
    ----------
    equity_or_returns : pandas.Series
        An equity curve or per-bar returns on a DatetimeIndex.
    regimes : pandas.Series
        Labels on (a superset of) the same index, e.g. from :func:`volatility_regimes`.
    kind : {"auto", "equity", "returns"}
        How to read the first argument; ``"auto"`` takes it for returns when a value is not
        positive or every value is below 1 in size, for an equity curve otherwise.
    lag : int
        Bars between a label and the returns it is given: 1 (default) attributes a bar's return
        to the regime known at the previous close, 0 to the bar's own label.
    periods_per_year : float, optional
        Annualisation factor; inferred from the index when None.

    Returns
    -------
    pandas.DataFrame
        One row per regime (every category, in order, then any other label), columns
        ``regime``, ``bars``, ``share_pct`` (of the labelled bars), ``return_pct`` (compounded
        over the regime's bars), ``volatility_pct`` (annualised) and ``sharpe`` (annualised, no
        risk-free rate); NaN where a regime has fewer than two bars or no variation.

    Raises
    ------
    ValidationError
        On a bad ``kind`` or ``lag``, or a returns series without a DatetimeIndex when the
        annualisation must be inferred.
    """
    if isinstance(lag, bool) or not isinstance(lag, int | np.integer) or lag < 0:
        raise ValidationError(f"lag must be 0 or a positive number of bars (got {lag!r}).")
    returns = _as_returns(equity_or_returns, kind)
    if periods_per_year is None:
        if not isinstance(equity_or_returns.index, pd.DatetimeIndex):
            raise ValidationError("pass periods_per_year for returns without a DatetimeIndex.")
        periods_per_year = infer_periods_per_year(equity_or_returns.index)
    labels = regimes.shift(lag) if lag else regimes
    labels = labels.reindex(returns.index)
    frame = pd.DataFrame({"r": returns.to_numpy(), "regime": labels.to_numpy()},
                         index=returns.index)
    frame = frame[np.isfinite(frame["r"]) & frame["regime"].notna()]
    order = _order(regimes, frame["regime"])
    total = len(frame)
    rows = [_row(name, frame.loc[frame["regime"] == name, "r"].to_numpy(), total,
                 float(periods_per_year)) for name in order]
    return pd.DataFrame(rows, columns=list(PERFORMANCE_COLUMNS))


def _order(regimes: pd.Series, seen: pd.Series) -> list[object]:
    categories = list(regimes.cat.categories) if isinstance(regimes.dtype,
                                                            pd.CategoricalDtype) else []
    others = [value for value in pd.unique(seen) if value not in categories]
    return categories + sorted(others, key=str)


def _row(name: object, r: np.ndarray, total: int, periods: float) -> dict[str, object]:
    n = int(r.size)
    sd = float(r.std(ddof=1)) if n > 1 else math.nan
    defined = n > 1 and sd > 0
    return {
        "regime": name,
        "bars": n,
        "share_pct": n / total * 100 if total else math.nan,
        "return_pct": (float(np.prod(1 + r)) - 1) * 100 if n else math.nan,
        "volatility_pct": sd * math.sqrt(periods) * 100 if n > 1 else math.nan,
        "sharpe": float(r.mean()) / sd * math.sqrt(periods) if defined else math.nan,
    }
