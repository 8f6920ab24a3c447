"""Vectorised, causal indicators and signal builders shared by the strategy modules.

Every function here is causal: the value at bar ``t`` depends on inputs at bars ``<= t`` only, so
a strategy built from them never looks ahead (the engine fills a signal at the next bar's open).
Warm-up bars are NaN, and NaN compares false, so warm-up bars never signal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.backtest._jit import jit
from core.backtest.signals import EXIT, LONG, SHORT, SIGNAL_DTYPE


def ema(values: np.ndarray, n: int) -> np.ndarray:
    """``n``-bar exponential moving average (``alpha = 2 / (n + 1)``), NaN for ``n - 1`` bars.

    The recursion starts at the first value (pandas ``ewm(span=n, adjust=False)``), the same
    arithmetic as TA-Lib-style charting EMAs apart from the seed.
    """
    return pd.Series(values).ewm(span=n, adjust=False, min_periods=n).mean().to_numpy()


@jit
def rolling_mean(values: np.ndarray, n: int) -> np.ndarray:
    """``pd.Series(values).rolling(n).mean()``, bit for bit, compiled.

    The same arithmetic as pandas' ``roll_mean``: a running sum with separate Kahan
    compensations for added and removed values, the count of negative values (a mean of all
    positive values is never negative) and the run of identical values (a window of one repeated
    value gives exactly that value). NaN values are skipped; the first ``n - 1`` outputs, and any
    window with fewer than ``n`` valid values, are NaN. Bit-identical results matter: a crossover
    strategy must change position on the same bars as backtesting.py, which uses pandas.
    """
    size = values.shape[0]
    out = np.empty(size)
    nobs, neg_ct, same = 0, 0, 0
    total, comp_add, comp_remove = 0.0, 0.0, 0.0
    prev = values[0] if size else np.nan
    for i in range(size):
        if i >= n:  # first remove the value leaving the window, as pandas does
            old = values[i - n]
            if not np.isnan(old):
                nobs -= 1
                y = -old - comp_remove
                t = total + y
                comp_remove = t - total - y
                total = t
                if np.signbit(old):
                    neg_ct -= 1
        val = values[i]
        if not np.isnan(val):  # then add the new one
            nobs += 1
            y = val - comp_add
            t = total + y
            comp_add = t - total - y
            total = t
            if np.signbit(val):
                neg_ct += 1
            same = same + 1 if val == prev else 1
            prev = val
        if nobs >= n and nobs > 0:
            mean = total / nobs
            if same >= nobs:
                mean = prev
            elif neg_ct == 0 and mean < 0:
                mean = 0.0
            elif neg_ct == nobs and mean > 0:
                mean = 0.0
            out[i] = mean
        else:
            out[i] = np.nan
    return out


def rolling_mean_std(values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling ``n``-bar mean and population standard deviation (``ddof=0``)."""
    roll = pd.Series(values).rolling(n)
    return roll.mean().to_numpy(), roll.std(ddof=0).to_numpy()


def zscore(values: np.ndarray, n: int) -> np.ndarray:
    """``(x - rolling mean) / rolling std`` over ``n`` bars; NaN where the std is zero."""
    mean, std = rolling_mean_std(values, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (values - mean) / std
    z[~np.isfinite(z)] = np.nan
    return z


def wilder_rsi(close: np.ndarray, n: int) -> np.ndarray:
    """Wilder's relative strength index over ``n`` bars, in [0, 100]; NaN for the first ``n``.

    Gains and losses are smoothed with ``alpha = 1 / n``; a window without losses gives 100.
    """
    delta = pd.Series(close).diff()
    gain = delta.clip(lower=0.0).ewm(alpha=1.0 / n, adjust=False, min_periods=n).mean()
    loss = (-delta).clip(lower=0.0).ewm(alpha=1.0 / n, adjust=False, min_periods=n).mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        rsi = 100.0 - 100.0 / (1.0 + gain.to_numpy() / loss.to_numpy())
    rsi[(loss.to_numpy() == 0.0) & np.isfinite(gain.to_numpy())] = 100.0
    return rsi


def true_range_atr(high: np.ndarray, low: np.ndarray, close: np.ndarray, n: int) -> np.ndarray:
    """Average true range: Wilder-smoothed (``alpha = 1 / n``) true range, NaN for ``n - 1``."""
    prev = np.concatenate(([np.nan], close[:-1]))
    tr = np.fmax(high - low, np.fmax(np.abs(high - prev), np.abs(low - prev)))
    return pd.Series(tr).ewm(alpha=1.0 / n, adjust=False, min_periods=n).mean().to_numpy()


def prior_high(high: np.ndarray, n: int) -> np.ndarray:
    """Highest high of the ``n`` bars *before* each bar (the current bar excluded)."""
    return pd.Series(high).rolling(n).max().shift(1).to_numpy()


def prior_low(low: np.ndarray, n: int) -> np.ndarray:
    """Lowest low of the ``n`` bars *before* each bar (the current bar excluded)."""
    return pd.Series(low).rolling(n).min().shift(1).to_numpy()


def entered(condition: np.ndarray) -> np.ndarray:
    """Bars where ``condition`` becomes true (false on the bar before, or bar 0 when true)."""
    out = condition.copy()
    out[1:] &= ~condition[:-1]
    return out


def zone_signals(z: np.ndarray, entry: float, exit_: float, long_only: bool) -> np.ndarray:
    """Mean-reversion events from a z-score.

    ``LONG`` on the bar ``z`` enters ``z < -entry``; ``SHORT`` (``EXIT`` when ``long_only``) on
    the bar it enters ``z > entry``; ``EXIT`` on the bar it enters ``|z| < exit_``. Events, not
    states: nothing repeats while ``z`` stays in a zone.
    """
    out = np.zeros(z.shape[0], dtype=SIGNAL_DTYPE)
    with np.errstate(invalid="ignore"):
        below, above, inside = z < -entry, z > entry, np.abs(z) < exit_
    out[entered(inside)] = EXIT
    out[entered(above)] = EXIT if long_only else SHORT
    out[entered(below)] = LONG
    return out


@jit
def _position_events(long_in: np.ndarray, short_in: np.ndarray, long_out: np.ndarray,
                     short_out: np.ndarray) -> np.ndarray:  # pragma: no cover - numba-compiled
    n = long_in.shape[0]
    out = np.zeros(n, dtype=np.int8)
    pos = 0
    for i in range(n):
        if long_in[i] and pos != 1:
            out[i] = 1
            pos = 1
        elif short_in[i] and pos != -1:
            out[i] = -1
            pos = -1
        elif (pos == 1 and long_out[i]) or (pos == -1 and short_out[i]):
            out[i] = 2
            pos = 0
    return out


def position_events(long_in: np.ndarray, short_in: np.ndarray, long_out: np.ndarray,
                    short_out: np.ndarray) -> np.ndarray:
    """Turn entry and exit conditions into events by tracking the strategy's intended position.

    Parameters
    ----------
    long_in, short_in, long_out, short_out : numpy.ndarray
        Boolean masks, one per bar. An entry wins over an exit on the same bar, long over short.

    Returns
    -------
    numpy.ndarray
        ``LONG`` / ``SHORT`` when the intended position changes to long / short, ``EXIT`` when a
        long meets ``long_out`` or a short meets ``short_out``. The loop runs forward, so bar
        ``t`` depends on bars ``<= t`` only. (A broker stop that closes a trade is not seen here:
        the intended position stays until the strategy's own exit, as for every event strategy.)
    """
    masks = [np.ascontiguousarray(m, dtype=np.bool_) for m in (long_in, short_in, long_out,
                                                                 short_out)]
    return _position_events(*masks).astype(SIGNAL_DTYPE, copy=False)
