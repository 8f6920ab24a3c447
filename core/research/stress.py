"""Stress tests: historical crisis windows replayed on a portfolio, and user-defined shocks.

:func:`stress_test` is the entry point: a pure function from the current portfolio (one equity
value, or ``{symbol: value}``), the loaded prices and the scenarios to a frozen
:class:`StressResult` whose ``table`` has one row per scenario.

Scenarios:

- **Historical windows** (:data:`CRISIS_WINDOWS`: the 2008 financial crisis, the 2020 COVID crash,
  the 2022 bear market, or any :class:`CrisisWindow`): each position is revalued along its
  symbol's closes from the close of the first bar on or after the window's start date to the
  close of the last bar on or before its end date (the usual peak-to-trough convention: the
  2020 window runs from the S&P 500's close of 19 February to that of 23 March), and the
  portfolio's path is the sum of the positions. A window the data does not cover (its first bar
  later than :data:`COVERAGE_SLACK` after the start, or its last bar earlier than that before the
  end, or no prices at all for a position) is reported with status ``"missing"`` and a note.
- **Price gap** (:class:`Gap`): the named symbols (all by default) jump by ``size`` (``-0.1`` for
  -10 %) at once.
- **Volatility multiple** (:class:`VolatilityShock`): the most recent ``days`` returns of each
  position's prices are replayed with their deviation from their mean multiplied by
  ``multiple``: ``r' = mean + multiple * (r - mean)``. The same days, ``multiple`` times as
  volatile.

Each row reports the P&L (in the portfolio's currency), the return on the starting value and the
max drawdown of the portfolio's path (``min(value / running peak) - 1``, a negative number, as in
:mod:`core.backtest.metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import pandas as pd

from core.errors import ValidationError

__all__ = ["COLUMNS", "COVERAGE_SLACK", "CRISIS_WINDOWS", "CrisisWindow", "Gap", "StressResult",
           "VolatilityShock", "stress_test"]


@dataclass(frozen=True)
class CrisisWindow:
    """A historical window to replay.

    Attributes
    ----------
    name : str
        Scenario name in the table.
    start, end : str
        First and last dates (``YYYY-MM-DD``, inclusive).
    label : str
        A description for people.
    """

    name: str
    start: str
    end: str
    label: str = ""


@dataclass(frozen=True)
class Gap:
    """A price gap: ``symbols`` (every position when None) move by ``size`` at once.

    Attributes
    ----------
    size : float
        The move as a fraction, ``-0.1`` for a 10 % gap down; above -1.
    symbols : tuple of str, optional
        The positions that gap; None: all of them.
    name : str, optional
        Scenario name; ``"gap -10%"`` by default.
    """

    size: float
    symbols: tuple[str, ...] | None = None
    name: str | None = None


@dataclass(frozen=True)
class VolatilityShock:
    """The last ``days`` returns replayed with ``multiple`` times their volatility.

    Attributes
    ----------
    multiple : float
        Scale of each return's deviation from the window's mean return (2.0: twice as volatile).
    days : int
        Number of most recent returns replayed.
    name : str, optional
        Scenario name; ``"volatility x2 for 20 days"`` by default.
    """

    multiple: float
    days: int
    name: str | None = None


CRISIS_WINDOWS: tuple[CrisisWindow, ...] = (
    CrisisWindow("2008 financial crisis", "2008-09-01", "2009-03-31",
                 "Lehman Brothers' failure to the March 2009 low"),
    CrisisWindow("2020 COVID crash", "2020-02-19", "2020-03-23",
                 "the S&P 500's February 2020 high to its March low"),
    CrisisWindow("2022 bear market", "2022-01-03", "2022-10-12",
                 "the S&P 500's January 2022 high to its October low"),
)
"""The historical windows replayed by default."""
COVERAGE_SLACK = pd.Timedelta(days=5)
"""How far the data's first (last) bar may fall after (before) a window's start (end) date, for
weekends and holidays (1 September 2008 was Labor Day)."""
COLUMNS: tuple[str, ...] = ("scenario", "kind", "start", "end", "status", "pnl", "return",
                            "max_drawdown", "note")
"""Columns of :attr:`StressResult.table`."""
EQUITY = "equity"
"""The position name of a portfolio given as one equity value."""


@dataclass(frozen=True, eq=False)
class StressResult:
    """The outcome of every scenario.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per scenario with :data:`COLUMNS`: ``kind`` is ``"historical"``, ``"gap"`` or
        ``"volatility"``; ``status`` is ``"ok"`` or ``"missing"`` (then ``pnl``, ``return`` and
        ``max_drawdown`` are NaN and ``note`` says why); ``start``/``end`` are the bars used.
    paths : Mapping[str, pandas.Series]
        The portfolio's value along each scenario that ran (by scenario name).
    value : float
        The portfolio's starting value (sum of the positions).
    positions : Mapping[str, float]
        The positions stressed (``{"equity": value}`` for a single equity).
    """

    table: pd.DataFrame
    paths: Mapping[str, pd.Series]
    value: float
    positions: Mapping[str, float]


PriceInput = pd.Series | pd.DataFrame | Mapping[str, pd.Series] | None


def _positions(portfolio: float | Mapping[str, float]) -> dict[str, float]:
    if isinstance(portfolio, Mapping):
        positions = {str(k): float(v) for k, v in portfolio.items()}
    else:
        positions = {EQUITY: float(portfolio)}
    if not positions or not all(math.isfinite(v) for v in positions.values()):
        raise ValidationError("the portfolio must be an equity value or {symbol: value} with "
                              "finite values.")
    if sum(positions.values()) <= 0:
        raise ValidationError("the portfolio's total value must be positive to stress it.")
    return positions


def _series_for(positions: Mapping[str, float], prices: PriceInput,
                benchmark: pd.Series | None) -> dict[str, pd.Series | None]:
    """Each position's price series: its own column, else the benchmark, else the one series."""
    if isinstance(prices, pd.DataFrame):
        prices = {str(c): prices[c] for c in prices.columns}
    out: dict[str, pd.Series | None] = {}
    for name in positions:
        series = None
        if isinstance(prices, Mapping):
            series = prices.get(name)
        elif isinstance(prices, pd.Series):
            series = prices
        if series is None:
            series = benchmark
        out[name] = None if series is None else _clean(series, name)
    return out


def _clean(series: pd.Series, name: str) -> pd.Series:
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValidationError(f"the prices of {name} need a DatetimeIndex.")
    clean = series.astype(float)
    clean = clean[np.isfinite(clean.to_numpy()) & (clean.to_numpy() > 0)].sort_index()
    return clean[~clean.index.duplicated(keep="last")]


def _stamp(text: str, index: pd.DatetimeIndex) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    if index.tz is not None:
        return stamp.tz_localize(index.tz)
    return stamp


def _drawdown(path: pd.Series) -> float:
    values = path.to_numpy(dtype=float)
    return float(np.min(values / np.maximum.accumulate(values)) - 1.0)


def _row(name: str, kind: str, path: pd.Series | None, note: str = "",
         start: object = None, end: object = None) -> dict[str, object]:
    if path is None:
        return {"scenario": name, "kind": kind, "start": start, "end": end, "status": "missing",
                "pnl": math.nan, "return": math.nan, "max_drawdown": math.nan, "note": note}
    first, last = float(path.iloc[0]), float(path.iloc[-1])
    return {"scenario": name, "kind": kind, "start": start, "end": end, "status": "ok",
            "pnl": last - first, "return": last / first - 1.0, "max_drawdown": _drawdown(path),
            "note": note}


def _window_path(window: CrisisWindow, positions: Mapping[str, float],
                 series: Mapping[str, pd.Series | None]) -> tuple[pd.Series | None, str]:
    """The portfolio's value along the window, or None and why not."""
    legs = []
    for name, value in positions.items():
        prices = series[name]
        if prices is None or prices.empty:
            return None, f"no prices for {name}"
        start, end = _stamp(window.start, prices.index), _stamp(window.end, prices.index)
        end_of_day = end + pd.Timedelta(days=1)
        if prices.index[0] > start + COVERAGE_SLACK or prices.index[-1] < end - COVERAGE_SLACK:
            return None, (f"the data of {name} covers {prices.index[0].date()} to "
                          f"{prices.index[-1].date()}; the window needs {window.start} to "
                          f"{window.end}")
        inside = prices[(prices.index >= start) & (prices.index < end_of_day)]
        if len(inside) < 1:
            return None, f"no bars of {name} between {window.start} and {window.end}"
        legs.append(value * inside / float(inside.iloc[0]))
    path = pd.concat(legs, axis=1).sort_index().ffill().bfill().sum(axis=1)
    return path.rename(window.name), window.label


def _gap_path(gap: Gap, positions: Mapping[str, float]) -> tuple[pd.Series, str]:
    if not (math.isfinite(gap.size) and gap.size > -1.0):
        raise ValidationError(f"a gap must be above -100% (got {gap.size:.0%}).")
    hit = set(positions) if gap.symbols is None else set(gap.symbols)
    unknown = sorted(hit - set(positions))
    if unknown:
        raise ValidationError(f"gap: {', '.join(unknown)} not in the portfolio "
                              f"({', '.join(positions)}).")
    before = sum(positions.values())
    after = sum(v * (1.0 + gap.size) if k in hit else v for k, v in positions.items())
    who = "every position" if gap.symbols is None else ", ".join(sorted(hit))
    return pd.Series([before, after], name=_gap_name(gap)), f"{gap.size:+.1%} on {who}"


def _gap_name(gap: Gap) -> str:
    return gap.name or f"gap {gap.size:+.0%}"


def _vol_name(shock: VolatilityShock) -> str:
    return shock.name or f"volatility x{shock.multiple:g} for {shock.days} days"


def _vol_path(shock: VolatilityShock, positions: Mapping[str, float],
              series: Mapping[str, pd.Series | None]) -> tuple[pd.Series | None, str]:
    if not (math.isfinite(shock.multiple) and shock.multiple >= 0 and shock.days >= 1):
        raise ValidationError("a volatility shock needs a multiple >= 0 and days >= 1.")
    legs = []
    for name, value in positions.items():
        prices = series[name]
        if prices is None:
            return None, f"no prices for {name}"
        returns = prices.pct_change().dropna().iloc[-shock.days:]
        if len(returns) < shock.days:
            return None, (f"{name} has {len(returns)} returns; the shock needs the last "
                          f"{shock.days}")
        mean = float(returns.mean())
        scaled = (mean + shock.multiple * (returns.to_numpy() - mean)).clip(min=-1.0)
        growth = np.concatenate([[1.0], np.cumprod(1.0 + scaled)])
        legs.append(value * growth)
    note = f"the last {shock.days} returns, deviations from their mean x{shock.multiple:g}"
    return pd.Series(np.sum(legs, axis=0), name=_vol_name(shock)), note


def stress_test(portfolio: float | Mapping[str, float], prices: PriceInput = None, *,
                benchmark: pd.Series | None = None,
                windows: Sequence[CrisisWindow] = CRISIS_WINDOWS,
                shocks: Sequence[Gap | VolatilityShock] = ()) -> StressResult:
    """Replay crisis windows and apply shocks to the current portfolio.

    Parameters
    ----------
    portfolio : float or Mapping[str, float]
        The current strategy equity (one value) or ``{symbol: value}`` (negative = short).
    prices : pandas.Series, DataFrame or Mapping[str, pandas.Series], optional
        Closes on a DatetimeIndex: one series (the asset or benchmark, applied to every
        position), or one per symbol (columns or mapping keys).
    benchmark : pandas.Series, optional
        Closes used for a position without its own prices (e.g. the S&P 500 for a strategy's
        equity).
    windows : sequence of CrisisWindow, default CRISIS_WINDOWS
        Historical windows to replay.
    shocks : sequence of Gap or VolatilityShock, default ()
        User-defined shocks.

    Returns
    -------
    StressResult
        The table (one row per window, then per shock, in the order given), the paths and the
        starting value.

    Raises
    ------
    ValidationError
        On an empty or non-positive portfolio, prices without a DatetimeIndex, a gap at or
        below -100 %, a gap naming a symbol not held, or a shock with bad settings.
    """
    positions = _positions(portfolio)
    series = _series_for(positions, prices, benchmark)
    rows, paths = [], {}
    for window in windows:
        path, note = _window_path(window, positions, series)
        span = (None, None) if path is None else (path.index[0], path.index[-1])
        rows.append(_row(window.name, "historical", path, note, *span))
        if path is not None:
            paths[window.name] = path
    for shock in shocks:
        if isinstance(shock, Gap):
            path, note = _gap_path(shock, positions)
            rows.append(_row(path.name, "gap", path, note))
        else:
            path, note = _vol_path(shock, positions, series)
            rows.append(_row(_vol_name(shock), "volatility", path, note))
        if path is not None:
            paths[str(path.name)] = path
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return StressResult(table=table, paths=MappingProxyType(paths),
                        value=float(sum(positions.values())),
                        positions=MappingProxyType(positions))
