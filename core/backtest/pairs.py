"""Two-leg pairs trading: trade the rolling-OLS hedge spread of A against B as a portfolio.

:func:`run_pairs` trades both legs (unlike the single-leg ``"pairs"`` strategy of
:mod:`core.backtest.strategies.pairs`, which executes leg A only) by turning the spread's z-score
into per-bar target weights (:func:`pairs_weights`) and running them through
:func:`core.backtest.portfolio.run_portfolio` with ``rebalance="D"``.

Rules, for bar ``t`` (everything on the right-hand side uses bars ``<= t`` only):

1. Hedge ratio: a rolling OLS over ``lookback`` bars (bar ``t`` included) gives
   ``A ~ alpha_t + beta_t * B``; the spread is ``A_t - alpha_t - beta_t * B_t`` and ``z_t`` its
   z-score over the last ``z_lookback`` bars (same arithmetic as the single-leg strategy).
2. Position state: short the spread (``-1``) when ``z`` enters ``z > entry_z``, long it (``+1``)
   when ``z`` enters ``z < -entry_z``, flat when ``|z| < exit_z``; otherwise unchanged (warm-up
   bars, where ``z`` is NaN, never change the state).
3. Weights: one spread unit is ``s`` units of A and ``-s * beta`` units of B, so at prices
   ``P_A, P_B`` the weights are ``w_A = s * gross * P_A / D`` and
   ``w_B = -s * gross * beta * P_B / D`` with ``D = P_A + |beta| * P_B``: ``|w_A| + |w_B| =
   gross`` and the unit ratio ``w_B / P_B : w_A / P_A`` is ``-beta``. Where ``beta`` is not
   finite (``B`` constant over the window) the target is flat.
4. No look-ahead: the weights computed on bar ``t`` are the targets of bar ``t + 1`` and are
   filled at its close (the first bar's target is flat). With ``rebalance="D"`` the portfolio is
   brought back to the targets on every bar, so the unit ratio tracks the latest hedge ratio.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from core.backtest.portfolio import PortfolioRun, _check_closes, _check_prices, run_portfolio
from core.backtest.signals import EXIT, LONG, SHORT
from core.backtest.strategies._indicators import position_events, zscore
from core.backtest.strategies.pairs import rolling_beta
from core.errors import DataError, ValidationError

__all__ = ["pairs_weights", "run_pairs"]


def _check_params(lookback: int, z_lookback: int, entry_z: float, exit_z: float,
                  gross: float) -> None:
    for name, value, low in (("lookback", lookback, 3), ("z_lookback", z_lookback, 2)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
            raise ValidationError(f"{name} must be an integer >= {low} (got {value!r}).")
    for name, value in (("entry_z", entry_z), ("exit_z", exit_z), ("gross", gross)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
                or not math.isfinite(float(value)) or float(value) < 0.0:
            raise ValidationError(f"{name} must be a finite number >= 0 (got {value!r}).")
    if not float(entry_z) > float(exit_z):
        raise ValidationError(
            f"entry_z ({entry_z!r}) must be greater than exit_z ({exit_z!r}).")
    if float(gross) == 0.0:
        raise ValidationError("gross must be > 0 (got 0).")


def _pair_closes(close_a: pd.Series, close_b: pd.Series) -> pd.DataFrame:
    """Both legs on their common bar times, columns named after the series (else A and B)."""
    for leg, series in (("close_a", close_a), ("close_b", close_b)):
        if not isinstance(series, pd.Series):
            raise DataError(f"{leg} must be a pandas Series of closes (got "
                            f"{type(series).__name__}).")
    name_a = close_a.name if close_a.name is not None else "A"
    name_b = close_b.name if close_b.name is not None else "B"
    if name_a == name_b:
        name_a, name_b = "A", "B"
    closes = pd.concat([close_a.rename(name_a), close_b.rename(name_b)], axis=1, join="inner")
    if closes.empty:
        raise DataError("close_a and close_b have no bar time in common.")
    _check_closes(closes)
    return _check_prices(closes)


def _spread_state(a: np.ndarray, b: np.ndarray, lookback: int, z_lookback: int,
                  entry_z: float, exit_z: float) -> tuple[np.ndarray, np.ndarray]:
    """Hedge ratio and spread position state (+1 long, -1 short, 0 flat) at each bar."""
    alpha, beta = rolling_beta(a, b, lookback)
    z = zscore(a - alpha - beta * b, z_lookback)
    with np.errstate(invalid="ignore"):
        inside = np.abs(z) < exit_z
        events = position_events(z < -entry_z, z > entry_z, inside, inside)
    state = pd.Series(np.nan, index=np.arange(len(a)))
    state[events == LONG] = 1.0
    state[events == SHORT] = -1.0
    state[events == EXIT] = 0.0
    return beta, state.ffill().fillna(0.0).to_numpy()


def pairs_weights(
    close_a: pd.Series,
    close_b: pd.Series,
    *,
    lookback: int = 60,
    z_lookback: int = 20,
    entry_z: float = 2.0,
    exit_z: float = 0.5,
    gross: float = 1.0,
) -> pd.DataFrame:
    """Per-bar target weights of the two legs of a spread-reversion pair (see module rules).

    Parameters
    ----------
    close_a, close_b : pandas.Series
        Closes of leg A (the dependent leg) and leg B on DatetimeIndexes; only their common bar
        times are used. Columns of the result are the series' names (``"A"`` / ``"B"`` when a
        name is missing or both names are equal).
    lookback : int, default 60
        Bars in the rolling OLS hedge ratio (>= 3).
    z_lookback : int, default 20
        Bars in the spread's z-score (>= 2).
    entry_z : float, default 2.0
        Enter when the z-score goes beyond this (short the spread above, long below).
    exit_z : float, default 0.5
        Go flat when ``|z|`` falls below this; must be below ``entry_z``.
    gross : float, default 1.0
        ``|w_A| + |w_B|`` while in a position (> 0).

    Returns
    -------
    pandas.DataFrame
        Target weights, one row per common bar, already shifted by one bar: the row of bar
        ``t`` uses data up to bar ``t - 1`` only (the first row is flat).

    Raises
    ------
    DataError
        If a leg is not a Series, the legs share no bar time, or a price is invalid.
    ValidationError
        On an out-of-range parameter or ``entry_z <= exit_z``.
    """
    _check_params(lookback, z_lookback, entry_z, exit_z, gross)
    closes = _pair_closes(close_a, close_b)
    pa, pb = closes.iloc[:, 0].to_numpy(), closes.iloc[:, 1].to_numpy()
    beta, state = _spread_state(pa, pb, int(lookback), int(z_lookback), float(entry_z),
                                float(exit_z))
    with np.errstate(invalid="ignore"):
        denom = pa + np.abs(beta) * pb
        w_a = state * float(gross) * pa / denom
        w_b = -state * float(gross) * beta * pb / denom
    ok = np.isfinite(w_a) & np.isfinite(w_b)
    raw = pd.DataFrame({closes.columns[0]: np.where(ok, w_a, 0.0),
                        closes.columns[1]: np.where(ok, w_b, 0.0)}, index=closes.index)
    return raw.shift(1).fillna(0.0) + 0.0  # + 0.0 turns -0.0 into 0.0


def run_pairs(
    close_a: pd.Series,
    close_b: pd.Series,
    *,
    lookback: int = 60,
    z_lookback: int = 20,
    entry_z: float = 2.0,
    exit_z: float = 0.5,
    gross: float = 1.0,
    cash: float = 10_000,
    commission: Any = 0.0,
    fractional: bool = True,
) -> PortfolioRun:
    """Backtest a two-leg spread-reversion pair, trading both legs.

    The targets of :func:`pairs_weights` (signals of bar ``t - 1`` filled at the close of bar
    ``t``) are run through :func:`core.backtest.portfolio.run_portfolio` with
    ``rebalance="D"`` and ``max_gross=gross``, so on daily bars both legs are traded on every
    bar where a target or the hedge drift asks for it (on intraday bars only the first bar and
    the last bar of each day trade). Pure: the inputs are not modified.

    Parameters
    ----------
    close_a, close_b : pandas.Series
        Closes of leg A and leg B (see :func:`pairs_weights`).
    lookback, z_lookback, entry_z, exit_z, gross
        As in :func:`pairs_weights`. With ``gross > 1`` the net weight ``w_A + w_B`` must still
        stay ``<= 1`` on every bar (it can reach ``gross`` when ``beta < 0``), else
        ``run_portfolio`` raises :class:`~core.errors.ValidationError`.
    cash : float, default 10_000
        Starting cash, > 0.
    commission : CommissionModel, float, str or None, default 0.0
        As in :func:`core.backtest.portfolio.run_portfolio` (charged on both legs).
    fractional : bool, default True
        Trade fractional units; ``False`` truncates target units toward zero.

    Returns
    -------
    PortfolioRun
        Equity, holdings (one column per leg), orders of both legs, stats, realised weights,
        cash.

    Raises
    ------
    DataError
        As in :func:`pairs_weights`.
    ValidationError
        As in :func:`pairs_weights` and :func:`core.backtest.portfolio.run_portfolio`.
    """
    weights = pairs_weights(close_a, close_b, lookback=lookback, z_lookback=z_lookback,
                            entry_z=entry_z, exit_z=exit_z, gross=gross)
    closes = _pair_closes(close_a, close_b)
    return run_portfolio(closes, weights, rebalance="D", cash=cash, commission=commission,
                         fractional=fractional, max_gross=float(gross))
