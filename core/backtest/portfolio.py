"""Multi-asset portfolio backtest: hold target weights, rebalanced on a calendar.

:func:`run_portfolio` is a pure function from a wide frame of closes and target weights to a
frozen :class:`PortfolioRun` (equity, holdings, orders, realised weights and portfolio-level
statistics from :func:`core.backtest.metrics.compute_stats`).

Target weights are either fixed (a mapping of symbol to weight) or time-varying (a DataFrame of
target weights per bar, forward-filled per symbol; see :func:`run_portfolio`). On a rebalance
bar the target is the mapping, or the weights frame's last known row at or before that bar.

Rules, in the order they apply on a rebalance bar ``t``:

1. Rebalance bars are the first bar and the last bar of each period of the pandas offset
   ``rebalance`` (``"W-FRI"``, ``"ME"``, ``"QE"``, ``"YE"``; ``"D"`` is every bar of daily data,
   the last bar of each day for intraday data; ``None`` trades on the first bar only, i.e. buy and
   hold). The last bar of the data closes its (possibly partial) period, so it is a rebalance bar.
2. Equity ``E`` is cash plus every holding valued at its last known close (a NaN close is
   carried forward from the previous valid one for valuation).
3. A symbol is *tradable* when its close on ``t`` is a finite number; one with a NaN close (not
   listed yet, suspended, missing row) is not traded on that bar and keeps its units. With
   ``drift_band > 0`` a tradable symbol is traded only if ``|current weight - target| >
   drift_band``, current weight being ``units * close / E``.
4. Each traded symbol goes to ``w * B / close`` units, where ``B = E - fees`` is the equity left
   after this rebalance's commission (solved as a fixed point), so right after a rebalance every
   traded symbol sits exactly at its target weight of the post-fee equity and, with net weights
   ``<= 1``, cash never goes negative because of fees. With ``fractional=False`` target units are
   truncated toward zero (whole units; the sizing equity is the one of the fractional solution).
5. Orders fill at the close of ``t``; commission (any model of :mod:`core.backtest.costs`) is
   charged per order from cash. Short proceeds are credited to cash.

Between rebalance bars the units are held constant, so weights drift with prices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from core.backtest.costs import CommissionModel, CommissionTerms, resolve_commission
from core.backtest.data import _check_index
from core.errors import DataError, ValidationError

__all__ = ["ORDER_COLUMNS", "PortfolioRun", "run_portfolio"]

ORDER_COLUMNS: tuple[str, ...] = ("time", "symbol", "size", "price", "commission")
"""Columns of :attr:`PortfolioRun.orders`."""

_WEIGHT_TOL = 1e-9      # slack on the net and gross weight limits (float sums)
_DUST = 1e-12           # trades worth less than this fraction of equity are not placed
_MAX_FEE_ITER = 100     # fixed-point iterations for the post-fee sizing equity


@dataclass(frozen=True, eq=False)
class PortfolioRun:
    """A finished portfolio backtest.

    Attributes
    ----------
    equity : pandas.Series
        Account value (cash plus holdings at their last known close) at each bar's close.
    holdings : pandas.DataFrame
        Units held per symbol (columns: the symbols of ``weights``, in the order of ``closes``)
        at each bar's close, after that bar's orders.
    orders : pandas.DataFrame
        One row per fill, columns :data:`ORDER_COLUMNS`: ``time``, ``symbol``, ``size`` (units,
        negative = sell), ``price`` (the close) and ``commission`` (cash).
    stats : Mapping
        ``compute_stats(equity, None, benchmark=benchmark)``: portfolio-level statistics (trade
        statistics are NaN; there are no round-trip trades in a weights portfolio).
    weights_realised : pandas.DataFrame
        ``holdings * last known close / equity`` at each bar's close (NaN when equity <= 0).
    cash : pandas.Series
        Cash at each bar's close (negative only when net weights exceed what the equity allows,
        e.g. after equity turned negative).
    """

    equity: pd.Series
    holdings: pd.DataFrame
    orders: pd.DataFrame
    stats: Mapping[str, Any]
    weights_realised: pd.DataFrame
    cash: pd.Series


# --------------------------------------------------------------------------- validation


def _check_closes(closes: pd.DataFrame) -> pd.DataFrame:
    """Shape, columns and index of ``closes`` (prices are checked by :func:`_check_prices`)."""
    if not isinstance(closes, pd.DataFrame):
        raise DataError(
            f"closes must be a DataFrame with one column of close prices per symbol "
            f"(got {type(closes).__name__}).")
    if closes.shape[0] == 0 or closes.shape[1] == 0:
        raise DataError(
            f"closes is empty ({closes.shape[0]} rows, {closes.shape[1]} columns); give at least "
            "one bar and one symbol.")
    if not closes.columns.is_unique:
        dup = closes.columns[closes.columns.duplicated()][0]
        raise DataError(f"closes has two columns named {dup!r}; keep one per symbol.")
    _check_index(closes.index)
    return closes


def _check_prices(closes: pd.DataFrame) -> pd.DataFrame:
    try:
        values = closes.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError("closes must hold numbers (NaN for a missing close).") from None
    bad = ~np.isnan(values) & ~(np.isfinite(values) & (values > 0.0))
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise DataError(
            f"row {row} ({closes.index[row]}): close of {closes.columns[col]!r} is "
            f"{float(values[row, col])!r}; prices must be finite and positive (NaN = missing).")
    return pd.DataFrame(values, index=closes.index, columns=closes.columns)


def _check_weights(weights: Mapping[str, float], closes: pd.DataFrame,
                   max_gross: float) -> dict[Any, float]:
    if not isinstance(weights, Mapping) or not weights:
        raise ValidationError(
            "weights must be a non-empty mapping of symbol to target weight (or a DataFrame of "
            "target weights per bar).")
    unknown = [s for s in weights if s not in closes.columns]
    if unknown:
        have = ", ".join(map(str, closes.columns))
        raise ValidationError(
            f"weights name symbols that are not columns of closes: "
            f"{', '.join(map(str, unknown))} (columns: {have}).")
    out: dict[Any, float] = {}
    for sym, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, int | float | np.number) \
                or not math.isfinite(float(w)):
            raise ValidationError(f"weight of {sym!r} must be a finite number (got {w!r}).")
        out[sym] = float(w)
    net, gross = sum(out.values()), sum(abs(w) for w in out.values())
    if net > 1.0 + _WEIGHT_TOL:
        raise ValidationError(
            f"weights sum to {net:.6g}; they must sum to at most 1 (the rest is held as cash).")
    if gross > max_gross + _WEIGHT_TOL:
        raise ValidationError(
            f"gross exposure (sum of |weight|) is {gross:.6g}, above max_gross={max_gross:g}; "
            "reduce the weights or raise max_gross.")
    return out


def _check_weight_limits(net: np.ndarray, gross: np.ndarray, index: pd.Index,
                         max_gross: float) -> None:
    """Raise on the first row whose net weight exceeds 1 or gross weight ``max_gross``."""
    over = np.flatnonzero(net > 1.0 + _WEIGHT_TOL)
    if over.size:
        i = int(over[0])
        raise ValidationError(
            f"weights at {index[i]} sum to {net[i]:.6g}; they must sum to at most 1 (the rest is "
            "held as cash).")
    over = np.flatnonzero(gross > max_gross + _WEIGHT_TOL)
    if over.size:
        i = int(over[0])
        raise ValidationError(
            f"gross exposure (sum of |weight|) at {index[i]} is {gross[i]:.6g}, above "
            f"max_gross={max_gross:g}; reduce the weights or raise max_gross.")


def _check_weight_frame(weights: pd.DataFrame, closes: pd.DataFrame,
                        max_gross: float) -> pd.DataFrame:
    """Validate a frame of per-bar target weights; return it on ``closes.index``, filled.

    Each column is forward-filled (NaN = no change) and is 0 before its first value.
    """
    if weights.shape[1] == 0 or weights.shape[0] == 0:
        raise ValidationError(
            "weights frame is empty; give at least one row (a bar) and one column (a symbol).")
    if not weights.columns.is_unique:
        dup = weights.columns[weights.columns.duplicated()][0]
        raise ValidationError(f"weights frame has two columns named {dup!r}; keep one.")
    unknown = [s for s in weights.columns if s not in closes.columns]
    if unknown:
        raise ValidationError(
            f"weights name symbols that are not columns of closes: "
            f"{', '.join(map(str, unknown))} (columns: {', '.join(map(str, closes.columns))}).")
    if not isinstance(weights.index, pd.DatetimeIndex) or not weights.index.is_unique:
        raise ValidationError("weights frame must have a unique DatetimeIndex of bar times.")
    outside = ~weights.index.isin(closes.index)
    if outside.any():
        raise ValidationError(
            f"weights frame row {weights.index[outside][0]} is not a bar of closes; its index "
            "must be closes' index or a subset of it.")
    try:
        values = weights.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError("weights frame must hold numbers (NaN = no change).") from None
    if np.isinf(values).any():
        raise ValidationError("weights frame holds an infinite weight; weights must be finite.")
    frame = pd.DataFrame(values, index=weights.index, columns=weights.columns)
    frame = frame.reindex(closes.index).ffill().fillna(0.0)
    arr = frame.to_numpy()
    _check_weight_limits(arr.sum(axis=1), np.abs(arr).sum(axis=1), frame.index, max_gross)
    return frame


def _targets(weights: Mapping[str, float] | pd.DataFrame, closes: pd.DataFrame,
             max_gross: float) -> tuple[list[Any], np.ndarray]:
    """Traded symbols (in the order of ``closes``) and the target weights, one row per bar."""
    if isinstance(weights, pd.DataFrame):
        frame = _check_weight_frame(weights, closes, max_gross)
        symbols = [c for c in closes.columns if c in frame.columns]
        return symbols, np.ascontiguousarray(frame[symbols].to_numpy(dtype=np.float64))
    target_map = _check_weights(weights, closes, max_gross)
    symbols = [c for c in closes.columns if c in target_map]
    row = np.array([target_map[s] for s in symbols], dtype=np.float64)
    return symbols, np.broadcast_to(row, (closes.shape[0], len(symbols)))


def _check_settings(cash: float, drift_band: float, max_gross: float) -> None:
    for name, value, low_ok in (("cash", cash, False), ("drift_band", drift_band, True),
                                ("max_gross", max_gross, False)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValidationError(f"{name} must be a number (got {type(value).__name__}).")
        v = float(value)
        if not math.isfinite(v) or v < 0.0 or (v == 0.0 and not low_ok):
            bound = ">= 0" if low_ok else "> 0"
            raise ValidationError(f"{name} must be a finite number {bound} (got {value!r}).")


def _rebalance_mask(index: pd.DatetimeIndex, rebalance: str | pd.DateOffset | None) -> np.ndarray:
    mask = np.zeros(len(index), dtype=bool)
    mask[0] = True
    if rebalance is None:
        return mask
    try:
        offset = to_offset(rebalance)
        positions = pd.Series(np.arange(len(index)), index=index).resample(offset).last()
    except (TypeError, ValueError) as err:
        raise ValidationError(
            f"rebalance must be a pandas offset such as 'W-FRI', 'ME', 'QE', 'YE' or 'D', or None "
            f"for buy and hold (got {rebalance!r}: {err}).") from None
    mask[positions.dropna().to_numpy(dtype=np.int64)] = True
    return mask


# --------------------------------------------------------------------------- simulation


def _fees(terms: CommissionTerms, sizes: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """Commission of each order, via :meth:`CommissionTerms.cost` (0 for a zero size)."""
    return np.array([terms.cost(s, p) for s, p in zip(sizes, prices, strict=True)],
                    dtype=np.float64)


def _free_of_charge(terms: CommissionTerms) -> bool:
    return terms.fixed == 0.0 and terms.per_unit == 0.0 and terms.rate == 0.0 \
        and terms.minimum == 0.0


def _sizing_equity(equity: float, w: np.ndarray, held: np.ndarray, price: np.ndarray,
                   terms: CommissionTerms) -> float:
    """Solve ``B = equity - fees(trades to w * B / price)`` by fixed-point iteration."""
    if _free_of_charge(terms):
        return equity
    budget = equity
    for _ in range(_MAX_FEE_ITER):
        trade = w * budget / price - held
        trade[np.abs(trade) * price <= _DUST * abs(equity)] = 0.0
        new = max(equity - float(_fees(terms, trade, price).sum()), 0.0)
        if abs(new - budget) <= 1e-13 * abs(equity):
            return new
        budget = new
    return budget


def _rebalance_trades(equity: float, target: np.ndarray, held: np.ndarray, price: np.ndarray,
                      terms: CommissionTerms, fractional: bool, drift_band: float) -> np.ndarray:
    """Units to trade per symbol on one rebalance bar (0 for symbols left alone)."""
    trade = np.zeros_like(held)
    if not equity > 0.0:
        return trade
    live = np.isfinite(price)
    if drift_band > 0.0:
        current = np.where(live, held * np.where(live, price, 0.0) / equity, 0.0)
        live &= np.abs(current - target) > drift_band
    if not live.any():
        return trade
    p, w, h = price[live], target[live], held[live]
    budget = _sizing_equity(equity, w, h, p, terms)
    units = w * budget / p
    if not fractional:
        units = np.trunc(units * (1.0 + 1e-12))
    delta = units - h
    delta[np.abs(delta) * p <= _DUST * equity] = 0.0
    trade[live] = delta
    return trade


def _simulate(prices: np.ndarray, mask: np.ndarray, target: np.ndarray, cash: float,
              terms: CommissionTerms, fractional: bool, drift_band: float
              ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, float, float, float]]]:
    """Walk the bars; returns cash per bar, units per bar and ``(bar, col, size, price, fee)``.

    ``target`` holds the target weights of each bar (shape ``(n_bars, n_symbols)``).
    """
    n, k = prices.shape
    value_px = pd.DataFrame(prices).ffill().fillna(0.0).to_numpy()
    held = np.zeros(k)
    cash_path = np.empty(n)
    units_path = np.empty((n, k))
    fills: list[tuple[int, int, float, float, float]] = []
    for t in range(n):
        if mask[t]:
            equity = cash + float(held @ value_px[t])
            trade = _rebalance_trades(equity, target[t], held, prices[t], terms, fractional,
                                      drift_band)
            for j in np.flatnonzero(trade):
                fee = terms.cost(trade[j], prices[t, j])
                cash -= trade[j] * prices[t, j] + fee
                fills.append((t, int(j), float(trade[j]), float(prices[t, j]), fee))
            held = held + trade
        cash_path[t] = cash
        units_path[t] = held
    return cash_path, units_path, fills


def run_portfolio(
    closes: pd.DataFrame,
    weights: Mapping[str, float] | pd.DataFrame,
    *,
    rebalance: str | pd.DateOffset | None = "ME",
    cash: float = 10_000,
    commission: CommissionModel | float | str | None = 0.0,
    fractional: bool = True,
    drift_band: float = 0.0,
    max_gross: float = 1.0,
    benchmark: pd.Series | None = None,
) -> PortfolioRun:
    """Backtest a fixed- or time-varying-weight portfolio rebalanced at period ends.

    See the module docstring for the rules applied on a rebalance bar.

    Pure: the inputs are not modified.

    Parameters
    ----------
    closes : pandas.DataFrame
        Close prices, one column per symbol, on a strictly increasing DatetimeIndex. NaN marks a
        missing close (e.g. leading NaNs for a symbol listed later); other values must be finite
        and positive. Columns not in ``weights`` are ignored (not checked, not traded).
    weights : mapping of str to float, or pandas.DataFrame
        Target weight per symbol (fraction of equity; negative = short). Net sum ``<= 1`` (the
        rest is cash), ``sum(|w|) <= max_gross``. A DataFrame gives targets per bar: index =
        bar times of ``closes`` (all of them or a subset), columns = symbols, NaN = no change
        (each column is forward-filled; a symbol's target is 0 before its first value). On a
        rebalance bar the portfolio goes to the last known row at or before that bar, so with
        ``rebalance="D"`` on daily bars it trades whenever the targets change (and back to the
        targets after any drift). The limits apply to every forward-filled row.
    rebalance : str, pandas.DateOffset or None, default "ME"
        Pandas offset whose periods' last bars are rebalance bars (plus the first bar); ``None``
        trades on the first bar only.
    cash : float, default 10_000
        Starting cash, > 0.
    commission : CommissionModel, float, str or None, default 0.0
        A fraction of traded value, a preset name (``"us_per_share"``) or a model, resolved by
        :func:`core.backtest.costs.resolve_commission` as in ``run_backtest``.
    fractional : bool, default True
        Trade fractional units; ``False`` truncates target units toward zero.
    drift_band : float, default 0.0
        On a rebalance bar, trade a symbol only if its weight is more than this away from its
        target (absolute, e.g. ``0.05`` for 5 percentage points); 0 trades every drift.
    max_gross : float, default 1.0
        Upper bound on ``sum(|w|)``.
    benchmark : pandas.Series, optional
        Passed to :func:`core.backtest.metrics.compute_stats` (buy & hold return, alpha, beta).

    Returns
    -------
    PortfolioRun
        Equity, holdings, orders, stats, realised weights and cash.

    Raises
    ------
    DataError
        If ``closes`` is empty, not a DataFrame, has a non-datetime, unsorted or duplicated index,
        duplicate columns, a non-positive or infinite price, or a weighted symbol with no price.
    ValidationError
        On a weight for an unknown symbol, a non-finite weight, net weights above 1, gross above
        ``max_gross``, a bad ``rebalance`` offset, commission, ``cash`` or ``drift_band``; for a
        weights frame also on an empty frame, duplicate columns, or an index that is not a
        unique DatetimeIndex of bars of ``closes``.
    """
    from core.backtest.metrics import compute_stats

    _check_closes(closes)
    _check_settings(cash, drift_band, max_gross)
    symbols, target = _targets(weights, closes, float(max_gross))
    terms = resolve_commission(commission).terms
    mask = _rebalance_mask(closes.index, rebalance)
    frame = _check_prices(closes[symbols])
    empty = [s for j, s in enumerate(symbols)
             if (target[:, j] != 0.0).any() and frame[s].isna().all()]
    if empty:
        raise DataError(f"symbol {empty[0]!r} has no prices (its close column is all NaN).")
    prices = np.ascontiguousarray(frame.to_numpy())

    cash_path, units, fills = _simulate(prices, mask, target, float(cash), terms,
                                        bool(fractional), float(drift_band))
    index = frame.index
    value_px = frame.ffill().fillna(0.0).to_numpy()
    positions = units * value_px
    equity = pd.Series(cash_path + positions.sum(axis=1), index=index, name="equity")
    holdings = pd.DataFrame(units, index=index, columns=pd.Index(symbols))
    with np.errstate(divide="ignore", invalid="ignore"):
        realised = np.where(equity.to_numpy()[:, None] > 0.0,
                            positions / equity.to_numpy()[:, None], np.nan)
    orders = pd.DataFrame(
        [(index[t], symbols[j], size, px, fee) for t, j, size, px, fee in fills],
        columns=list(ORDER_COLUMNS))
    orders = orders.astype({"size": np.float64, "price": np.float64, "commission": np.float64})
    stats = compute_stats(equity, None, benchmark=benchmark)
    return PortfolioRun(
        equity=equity, holdings=holdings, orders=orders, stats=stats,
        weights_realised=pd.DataFrame(realised, index=index, columns=pd.Index(symbols)),
        cash=pd.Series(cash_path, index=index, name="cash"))
