"""Backtest statistics: a pure function from an equity curve (and trades) to a frozen result.

:func:`compute_stats` is the only entry point. It does no I/O, no plotting and no formatting; it
takes an equity curve, optionally the closed trades and a benchmark, and returns
:class:`BacktestStats`, a frozen dataclass that also reads as a mapping (``stats["sharpe"]``,
``dict(stats)``, ``stats.to_dict()``).

Definitions follow one reference per metric, with the conventions of
:mod:`core.backtest.conventions`:

- quantstats 0.0.86 (``quantstats.stats``) where it defines the metric: ``sharpe``, ``sortino``,
  ``volatility``, ``cagr``, ``calmar``, ``max_drawdown``, ``value_at_risk`` (parametric VaR),
  ``cvar`` (parametric and historical ES) and ``greeks`` (alpha, beta);
- backtesting.py 0.6.6 (``backtesting._stats.compute_stats``) for what quantstats does not define
  on an equity curve and trades: exposure, return, buy & hold return, average drawdown and drawdown
  durations, and every trade statistic (win rate, best/worst/average trade, profit factor,
  expectancy, SQN, Kelly criterion, trade durations).

Each field of :class:`BacktestStats` names its reference. On ordinary data the quantstats and
backtesting.py figures are reproduced to floating-point precision (the tests hold them to a
relative 1e-9 on GOOG). Deliberate differences, all in degenerate cases or by design:

- undefined ratios are NaN, never infinite: quantstats gives ``inf`` for Sharpe with constant
  non-zero returns and for Calmar without a drawdown, and 0 (``greeks(...).fillna(0)``) for alpha
  and beta against a benchmark that does not move;
- parametric VaR with zero variance is the mean return (quantstats: NaN, from scipy's scale 0);
  parametric ES with a single return is NaN (quantstats: the mean);
- a negative ``risk_free`` is applied (quantstats only applies ``rf > 0``);
- a drawdown that begins on the last bar counts as a drawdown period (backtesting.py drops it), and
  durations are exact days, not rounded up to the bar resolution as backtesting.py displays them;
- buy & hold runs from the benchmark's first valid value, not from the first bar after the
  strategy's indicator warm-up as in backtesting.py (slice the benchmark to reproduce that);
- CAGR, volatility, Sharpe, Sortino, Calmar, alpha and beta are quantstats', so they differ from
  backtesting.py's same-named figures (calendar-year CAGR, geometric annualised return over
  compounded volatility on daily-resampled equity, log-return beta, total-return Jensen alpha).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from core.backtest import stats_kernel as K
from core.backtest.conventions import DEFAULT_CONVENTIONS, infer_periods_per_year, units_per_day

__all__ = ["TRADE_COLUMNS", "BacktestStats", "compute_stats"]

TRADE_COLUMNS = ("entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl",
                 "return_pct")
"""Columns of the ``trades`` frame; ``entry_time``, ``exit_time``, ``pnl`` and ``return_pct`` (in
percent) are the ones the statistics read; other columns are ignored."""

_REQUIRED_TRADE_COLUMNS = ("entry_time", "exit_time", "pnl", "return_pct")
_DAY = pd.Timedelta(days=1)
_NAN = float("nan")


@dataclass(frozen=True)
class BacktestStats(Mapping[str, Any]):
    """Statistics of one backtest; a frozen dataclass that is also a read-only mapping.

    Percent fields (``*_pct``) are in percent; returns-based risk figures (VaR, ES, drawdowns) are
    negative numbers for losses, as in quantstats and backtesting.py. A metric that is undefined
    for the input (no trades, zero variance, no benchmark) is NaN, never infinite.

    Attributes
    ----------
    start, end : pandas.Timestamp
        First and last timestamps of the equity curve.
    duration_days : float
        ``end - start`` in days.
    periods_per_year : float
        Annualisation factor used (given, or inferred by
        :func:`core.backtest.conventions.infer_periods_per_year`).
    exposure_pct : float
        Share of bars with an open trade, counted in bars from each trade's entry bar to its exit
        bar inclusive (backtesting.py's ``Exposure Time [%]``); 0 with an empty trades frame, NaN
        when ``trades`` is None.
    final_equity, peak_equity : float
        Last and highest equity.
    return_pct : float
        ``(final - first) / first`` (backtesting.py's ``Return [%]``; equals quantstats' ``comp``).
    buy_hold_return_pct : float
        Return of the benchmark from its first to its last valid value over the equity span; NaN
        without a benchmark.
    cagr_pct : float
        quantstats' ``cagr``: ``prod(1 + r) ** (periods_per_year / n) - 1``, years counted as the
        number of returns over ``periods_per_year``; NaN if wealth ends below zero.
    volatility_pct : float
        quantstats' ``volatility``: sample standard deviation times ``sqrt(periods_per_year)``.
    sharpe : float
        quantstats' ``sharpe``: mean / sample std of the excess returns, times
        ``sqrt(periods_per_year)``.
    sortino : float
        quantstats' ``sortino``: mean excess return over the downside deviation
        ``sqrt(sum(r[r < 0] ** 2) / n)``, times ``sqrt(periods_per_year)``.
    calmar : float
        quantstats' ``calmar``: CAGR / ``|max drawdown|``; NaN without a drawdown.
    max_drawdown_pct : float
        quantstats' ``max_drawdown`` (same as backtesting.py's ``Max. Drawdown [%]``):
        ``min(equity / running max) - 1``.
    max_drawdown_duration_days, avg_drawdown_duration_days : float
        Longest and mean time under water, from the last peak to the recovery bar (or to the last
        bar if not recovered), in days (backtesting.py's definitions, without its rounding up to
        the bar resolution); 0 and NaN when equity never falls below its running peak.
    avg_drawdown_pct : float
        Mean of the deepest drawdown of each drawdown period (backtesting.py's
        ``Avg. Drawdown [%]``); NaN without a drawdown.
    var_95_pct, var_99_pct : float
        Historical Value at Risk: the empirical quantile of the per-period returns at 5% / 1%
        (pandas' linear interpolation, the threshold quantstats' historical ``cvar`` uses;
        quantstats defines no historical VaR).
    es_95_pct, es_99_pct : float
        Historical Expected Shortfall: quantstats' ``cvar(method="historical")``, the mean of the
        returns at or below that quantile.
    var_95_param_pct, var_99_param_pct : float
        Parametric (normal) VaR: quantstats' ``value_at_risk(sigma=1)``, ``mu + sd * z``.
    es_95_param_pct, es_99_param_pct : float
        Parametric (normal) ES: quantstats' ``cvar(method="parametric")``,
        ``mu - sd * pdf(z) / alpha``.
    trades : int
        Number of trades.
    win_rate_pct : float
        Share of trades with ``pnl > 0`` (backtesting.py's ``Win Rate [%]``).
    profit_factor : float
        Sum of positive trade returns over the absolute sum of negative ones, on ``return_pct``
        (backtesting.py's ``Profit Factor``); NaN without a losing trade.
    expectancy : float
        Mean ``pnl`` per trade, in account currency (win rate times average win minus loss rate
        times average loss).
    expectancy_pct : float
        Mean ``return_pct`` per trade (backtesting.py's ``Expectancy [%]``).
    avg_trade_pct : float
        Geometric mean of the trade returns (backtesting.py's ``Avg. Trade [%]``; 0 if any trade
        lost 100% or more).
    best_trade_pct, worst_trade_pct : float
        Largest and smallest ``return_pct`` (backtesting.py).
    avg_trade_duration_days, max_trade_duration_days : float
        Mean and longest ``exit_time - entry_time`` in days (backtesting.py, without its rounding
        up to the bar resolution).
    sqn : float
        System Quality Number, ``sqrt(n) * mean(pnl) / std(pnl)`` (backtesting.py's ``SQN``).
    kelly : float
        Kelly criterion ``W - (1 - W) / (mean win pnl / mean loss pnl)`` (backtesting.py).
    alpha, beta : float
        quantstats' ``greeks`` against the benchmark's per-period returns, over the periods both
        are observed: beta = cov / var (sample), alpha = (mean r - beta * mean b) *
        ``periods_per_year`` (annualised, arithmetic). NaN without a benchmark or when the
        benchmark does not move.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    duration_days: float
    periods_per_year: float
    exposure_pct: float
    final_equity: float
    peak_equity: float
    return_pct: float
    buy_hold_return_pct: float
    cagr_pct: float
    volatility_pct: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown_pct: float
    max_drawdown_duration_days: float
    avg_drawdown_pct: float
    avg_drawdown_duration_days: float
    var_95_pct: float
    var_99_pct: float
    es_95_pct: float
    es_99_pct: float
    var_95_param_pct: float
    var_99_param_pct: float
    es_95_param_pct: float
    es_99_param_pct: float
    trades: int
    win_rate_pct: float
    profit_factor: float
    expectancy: float
    expectancy_pct: float
    avg_trade_pct: float
    best_trade_pct: float
    worst_trade_pct: float
    avg_trade_duration_days: float
    max_trade_duration_days: float
    sqn: float
    kelly: float
    alpha: float
    beta: float

    def __getitem__(self, key: str) -> Any:
        if key not in _FIELD_NAMES:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELD_NAMES)

    def __len__(self) -> int:
        return len(_FIELD_NAMES)

    def to_dict(self) -> dict[str, Any]:
        """Return the statistics as a plain ``dict`` in field order.

        Returns
        -------
        dict
            Snake_case field name to value.
        """
        return {name: getattr(self, name) for name in _FIELD_NAMES}


_FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(BacktestStats))


def compute_stats(
    equity: pd.Series,
    trades: pd.DataFrame | None = None,
    *,
    benchmark: pd.Series | None = None,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
) -> BacktestStats:
    """Compute the statistics of a backtest from its equity curve, trades and benchmark.

    Pure: the inputs are not modified and nothing outside the arguments is read.

    Parameters
    ----------
    equity : pandas.Series
        Account value on an increasing DatetimeIndex (tz-aware or naive). Per-period returns are
        ``equity.pct_change()`` without the first row.
    trades : pandas.DataFrame, optional
        One row per closed trade with columns ``entry_time``, ``exit_time``, ``entry_price``,
        ``exit_price``, ``size`` (negative = short), ``pnl`` (account currency) and
        ``return_pct`` (in **percent**, 5.0 for 5%: backtesting.py's ``ReturnPct`` times 100,
        as :mod:`core.backtest.engine` produces it). Only
        ``entry_time``, ``exit_time``, ``pnl`` and ``return_pct`` are read; a NaT ``exit_time``
        (open trade) runs to the last equity timestamp. None or empty: no trades (trade metrics
        NaN, ``trades == 0``).
    benchmark : pandas.Series, optional
        Benchmark prices (or equity) on the same index as ``equity``; reindexed to it, and
        missing values leave gaps rather than being filled.
    risk_free : float, default 0.0
        Annual risk-free rate, de-annualised per period and subtracted for Sharpe and Sortino.
    periods_per_year : float, optional
        Annualisation factor; inferred from the index when None.

    Returns
    -------
    BacktestStats
        Frozen statistics; see its attributes for each definition and reference.

    Raises
    ------
    TypeError
        If ``equity`` is not a Series on a DatetimeIndex.
    ValueError
        If ``equity`` has fewer than two points ("need at least two equity points"), a NaN or
        infinite value (the message names the first such timestamp), a non-increasing index or
        a first value not above zero; if
        ``trades`` lacks a required column; if ``benchmark`` shares no timestamp with
        ``equity``; or if ``periods_per_year`` or ``risk_free`` is out of range.
    """
    index, stamps, values = _validate_equity(equity)
    conventions = DEFAULT_CONVENTIONS
    if periods_per_year is None:
        periods_per_year = infer_periods_per_year(index, conventions)
    periods_per_year = float(periods_per_year)
    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise ValueError(f"periods_per_year must be a positive number, got {periods_per_year}")
    if not (math.isfinite(risk_free) and risk_free > -1):
        raise ValueError(f"risk_free must be a finite annual rate above -1, got {risk_free}")
    trades_df = _validate_trades(trades)

    returns = K.period_returns(values)  # on index[1:], NaN where undefined
    rf = float(np.power(1 + risk_free, 1.0 / periods_per_year) - 1.0) if risk_free else 0.0
    moments = K.return_moments(returns, rf)  # quantstats' to_excess_returns with nperiods
    day = float(units_per_day(index))
    start, end = index[0], index[-1]
    result: dict[str, Any] = {
        "start": start,
        "end": end,
        "duration_days": (end - start) / _DAY,
        "periods_per_year": periods_per_year,
        "final_equity": float(values[-1]),
        "peak_equity": float(values.max()),
        "return_pct": _safe_div(values[-1] - values[0], values[0]) * 100,
        **_return_metrics(moments, periods_per_year),
        **_drawdown_metrics(values, stamps, day),
        **_tail_metrics(returns, moments, conventions.var_confidences, conventions.var_sigma),
        **_trade_metrics(trades, trades_df, index, stamps, day),
        **_benchmark_metrics(returns, benchmark, index, periods_per_year),
    }
    result["calmar"] = _safe_div(result["cagr_pct"], abs(result["max_drawdown_pct"]))
    return BacktestStats(**{k: _clean(result[k]) for k in _FIELD_NAMES})


# ----------------------------------------------------------------------------- validation


def _validate_equity(equity: pd.Series) -> tuple[pd.DatetimeIndex, np.ndarray, np.ndarray]:
    """Check the equity curve; return its index, the index's int64 stamps and float values."""
    if not isinstance(equity, pd.Series):
        raise TypeError(f"equity must be a pandas Series, got {type(equity).__name__}")
    if not isinstance(equity.index, pd.DatetimeIndex):
        raise TypeError(f"equity must have a DatetimeIndex, got {type(equity.index).__name__}")
    if len(equity) < 2:
        raise ValueError(f"need at least two equity points, got {len(equity)}")
    values = _float_values(equity)
    index = equity.index
    bad = ~np.isfinite(values)
    if bad.any():
        first = int(np.argmax(bad))
        raise ValueError(
            f"equity has a non-finite value ({values[first]}) at {index[first]}"
            f" (first of {int(bad.sum())})"
        )
    stamps = index.asi8  # UTC instants for tz-aware indexes, so comparable across zones
    if stamps[0] == K.NAT or not bool(np.all(stamps[1:] > stamps[:-1])):
        raise ValueError("equity index must be strictly increasing (sorted, no duplicates)")
    if values[0] <= 0:
        raise ValueError(f"equity must start above zero, got {values[0]} at {index[0]}")
    return index, stamps, values


def _validate_trades(trades: pd.DataFrame | None) -> pd.DataFrame | None:
    """Check the trades frame; None or an empty frame means no trades."""
    if trades is None:
        return None
    if not isinstance(trades, pd.DataFrame):
        raise TypeError(f"trades must be a pandas DataFrame or None, got {type(trades).__name__}")
    if trades.empty:
        return None
    present = set(trades.columns)
    missing = [c for c in _REQUIRED_TRADE_COLUMNS if c not in present]
    if missing:
        raise ValueError(f"trades lacks column(s) {missing}; expected {list(TRADE_COLUMNS)}")
    return trades


# ----------------------------------------------------------------------------- helpers

_F8 = np.dtype(np.float64)


def _float_values(series: pd.Series) -> np.ndarray:
    """``series.astype(float).to_numpy()``, without the copy when already float64."""
    if series.dtype == _F8:
        return series.to_numpy()
    return series.astype(float).to_numpy()


def _safe_div(num: float, den: float) -> float:
    """``num / den``, NaN when the denominator is zero or not finite."""
    num, den = float(num), float(den)
    if den == 0 or not math.isfinite(den):
        return _NAN
    return num / den


def _clean(value: Any) -> Any:
    """numpy scalars to Python scalars, infinities to NaN."""
    if type(value) is float:  # exactly float: np.float64 (a subclass) is converted below
        return value if math.isfinite(value) or math.isnan(value) else _NAN
    if isinstance(value, np.integer | int) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, np.floating):
        value = float(value)
        return value if math.isfinite(value) or math.isnan(value) else _NAN
    return value


# ----------------------------------------------------------------------------- returns


def _return_metrics(m: np.ndarray, periods: float) -> dict[str, float]:
    """CAGR, volatility, Sharpe and Sortino as quantstats computes them, from the moments."""
    n, root = int(m[K.R_N]), math.sqrt(periods)
    wealth = m[K.R_WEALTH]  # quantstats' comp() + 1
    cagr = _NAN if n == 0 or wealth < 0 else abs(wealth) ** (1.0 / (n / periods)) - 1
    return {
        "cagr_pct": cagr * 100,
        "volatility_pct": m[K.R_STD] * root * 100,
        "sharpe": _safe_div(m[K.R_EX_MEAN], m[K.R_EX_STD]) * root,
        "sortino": _safe_div(m[K.R_EX_MEAN], m[K.R_DOWNSIDE]) * root,
    }


def _tail_metrics(returns: np.ndarray, m: np.ndarray, confidences: tuple[float, ...],
                  sigma: float) -> dict[str, float]:
    """Historical and parametric (normal) VaR and Expected Shortfall per confidence level."""
    out: dict[str, float] = {}
    ordered = returns[~np.isnan(returns)]
    n = len(ordered)
    if n:  # only the order statistics the quantiles read need to be in place
        positions = [(1 - c) * (n - 1) for c in confidences]
        kth = sorted({min(int(p) + k, n - 1) for p in positions for k in (0, 1)})
        ordered = np.partition(ordered, kth)
    mu = float(m[K.R_MEAN]) if n else _NAN
    sd = sigma * float(m[K.R_STD]) if n > 1 else _NAN
    normal = NormalDist()
    for confidence in confidences:
        label = f"{round(confidence * 100):d}"
        alpha = 1 - confidence
        threshold = K.quantile(ordered, alpha)  # pandas' Series.quantile (linear)
        z = normal.inv_cdf(alpha)
        if math.isnan(sd):
            var_param = es_param = _NAN
        else:  # quantstats: norm.ppf(alpha, mu, sd); closed-form normal ES (mu if sd == 0)
            var_param = mu + sd * z
            es_param = mu - sd * normal.pdf(z) / alpha if sd else mu
        out[f"var_{label}_pct"] = threshold * 100
        out[f"es_{label}_pct"] = K.mean_at_or_below(ordered, threshold) * 100
        out[f"var_{label}_param_pct"] = var_param * 100
        out[f"es_{label}_param_pct"] = es_param * 100
    return out


# ----------------------------------------------------------------------------- drawdowns


def _drawdown_metrics(values: np.ndarray, stamps: np.ndarray, day: float) -> dict[str, float]:
    """Maximum drawdown (quantstats) and drawdown periods (backtesting.py).

    Drawdown periods run from a bar at its peak to the next bar at a peak (the recovery), or to
    the last bar; as backtesting.py's compute_drawdown_duration_peaks, except that a drawdown that
    starts on the very last bar is kept (backtesting.py drops it).
    """
    d = K.drawdowns(values, stamps)
    return {
        "max_drawdown_pct": d[K.D_MAX] * 100,
        "max_drawdown_duration_days": d[K.D_MAX_DURATION] / day,
        "avg_drawdown_pct": -d[K.D_AVG_DEPTH] * 100,
        "avg_drawdown_duration_days": d[K.D_AVG_DURATION] / day,
    }


# ----------------------------------------------------------------------------- trades

_TRADE_FIELDS = {  # BacktestStats field -> (kernel slot, scale)
    "win_rate_pct": (K.T_WIN_RATE, 100.0),
    "profit_factor": (K.T_PROFIT_FACTOR, 1.0),
    "expectancy": (K.T_EXPECTANCY, 1.0),
    "expectancy_pct": (K.T_EXPECTANCY_RET, 100.0),
    "avg_trade_pct": (K.T_GEOMEAN, 100.0),
    "best_trade_pct": (K.T_BEST, 100.0),
    "worst_trade_pct": (K.T_WORST, 100.0),
    "sqn": (K.T_SQN, 1.0),
    "kelly": (K.T_KELLY, 1.0),
}


def _trade_metrics(raw: pd.DataFrame | None, trades: pd.DataFrame | None,
                   index: pd.DatetimeIndex, stamps: np.ndarray, day: float) -> dict[str, Any]:
    """Trade statistics as backtesting.py's compute_stats defines them, and the exposure.

    ``raw`` is the argument as given (None: exposure undefined), ``trades`` the validated frame
    (None when there are no trades: exposure 0).
    """
    if trades is None:
        empty = dict.fromkeys(_TRADE_FIELDS, _NAN)
        return {"trades": 0, "exposure_pct": _NAN if raw is None else 0.0, **empty,
                "avg_trade_duration_days": _NAN, "max_trade_duration_days": _NAN}
    entry, exit_, scale = _trade_stamps(trades, index)
    t = K.trade_stats(_float_values(trades["pnl"]),
                      _float_values(trades["return_pct"]) / 100,  # percent -> fraction
                      entry, exit_, stamps if scale == 1 else stamps * scale)
    unit_day = day * scale
    return {
        "trades": len(trades),
        "exposure_pct": t[K.T_EXPOSURE] * 100,
        **{name: t[slot] * factor for name, (slot, factor) in _TRADE_FIELDS.items()},
        "avg_trade_duration_days": t[K.T_AVG_DURATION] / unit_day,
        "max_trade_duration_days": t[K.T_MAX_DURATION] / unit_day,
    }


def _trade_stamps(trades: pd.DataFrame, index: pd.DatetimeIndex
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """Entry and exit times as int64 stamps comparable with ``index``'s (NaT = ``K.NAT``).

    Columns already of the index's dtype are read as they are; anything else (another unit,
    strings, Python datetimes) is parsed and brought to nanoseconds, and the returned scale
    (ticks of the index's unit per nanosecond tick) converts the index's stamps to match.
    """
    entry_col, exit_col = trades["entry_time"], trades["exit_time"]
    if entry_col.dtype == index.dtype == exit_col.dtype:
        return entry_col.array.asi8, exit_col.array.asi8, 1
    entry, exit_ = pd.DatetimeIndex(entry_col), pd.DatetimeIndex(exit_col)
    for times in (entry, exit_):
        if (times.tz is None) != (index.tz is None):
            raise ValueError(
                "trade times and the equity index must both be tz-aware or both naive")
    scale = int(np.timedelta64(1, index.unit).astype("m8[ns]").astype(np.int64))
    return entry.as_unit("ns").asi8, exit_.as_unit("ns").asi8, scale


# ----------------------------------------------------------------------------- benchmark


def _benchmark_metrics(returns: np.ndarray, benchmark: pd.Series | None,
                       index: pd.DatetimeIndex, periods: float) -> dict[str, float]:
    """Buy & hold return of the benchmark and quantstats' greeks (alpha, beta) against it."""
    if benchmark is None:
        return {"buy_hold_return_pct": _NAN, "alpha": _NAN, "beta": _NAN}
    if not isinstance(benchmark, pd.Series):
        raise TypeError(f"benchmark must be a pandas Series, got {type(benchmark).__name__}")
    if benchmark.dtype != _F8:
        benchmark = benchmark.astype(float)
    if benchmark.index is index or benchmark.index.equals(index):
        prices = benchmark.to_numpy()
    else:
        prices = benchmark.reindex(index).to_numpy()
    prices = np.where(np.isinf(prices), np.nan, prices)
    valid = prices[~np.isnan(prices)]
    if valid.size == 0:
        raise ValueError("benchmark shares no timestamp with equity (check the index and its tz)")
    buy_hold = _safe_div(valid[-1] - valid[0], valid[0]) * 100
    greeks = K.paired_beta(returns, K.period_returns(prices))
    if greeks[K.B_N] < 2:
        return {"buy_hold_return_pct": buy_hold, "alpha": _NAN, "beta": _NAN}
    return {"buy_hold_return_pct": buy_hold,
            "alpha": greeks[K.B_ALPHA_PER_PERIOD] * periods, "beta": greeks[K.B_BETA]}
