"""Compiled loops behind :func:`core.backtest.metrics.compute_stats`.

:mod:`core.backtest.metrics` validates its inputs, reads the arrays out of pandas objects and
names the results; the arithmetic lives here, one pass per group of statistics, in numba's
nopython subset (see :mod:`core.backtest._jit`; without numba the same code runs as Python).
Each function takes float64 / int64 arrays and returns a float64 vector whose slots are the
module's ``*_`` constants, so the caller reads them by name.

The definitions are the ones documented on :class:`core.backtest.metrics.BacktestStats`
(quantstats where it defines the metric, backtesting.py otherwise). Sums run left to right rather
than numpy's pairwise order, so results can differ from pandas in the last bits (relative 1e-15
on thousands of returns); the tests hold them to quantstats and backtesting.py at 1e-9.
"""

from __future__ import annotations

import math

import numpy as np

from core.backtest._jit import jit

# return_moments(...) slots
R_N, R_MEAN, R_STD, R_EX_MEAN, R_EX_STD, R_DOWNSIDE, R_WEALTH = 0, 1, 2, 3, 4, 5, 6
N_R = 7

# drawdowns(...) slots; durations in the index's time unit
D_MAX, D_PERIODS, D_MAX_DURATION, D_AVG_DURATION, D_AVG_DEPTH = 0, 1, 2, 3, 4
N_D = 5

# trade_stats(...) slots; durations in the index's time unit
T_N, T_WIN_RATE, T_PROFIT_FACTOR, T_EXPECTANCY, T_EXPECTANCY_RET, T_GEOMEAN = 0, 1, 2, 3, 4, 5
T_BEST, T_WORST, T_AVG_DURATION, T_MAX_DURATION, T_SQN, T_KELLY, T_EXPOSURE = (
    6, 7, 8, 9, 10, 11, 12)
N_T = 13

# paired_beta(...) slots
B_N, B_ALPHA_PER_PERIOD, B_BETA = 0, 1, 2
N_B = 3

NAT = np.iinfo(np.int64).min
"""NaT as int64 (pandas' ``iNaT``)."""


@jit
def _div(num: float, den: float) -> float:
    """``num / den``; NaN when the denominator is zero or not finite."""
    if den == 0.0 or not math.isfinite(den):
        return np.nan
    return num / den


@jit
def _nan_moments(x: np.ndarray, shift: float) -> tuple[int, float, float]:
    """Count, mean and sample (ddof=1) standard deviation of ``x - shift``, NaN skipped.

    Two passes, as pandas' ``Series.std``: NaN mean with no value, NaN deviation with fewer than
    two.
    """
    n, total = 0, 0.0
    for v in x:
        if not math.isnan(v):
            n += 1
            total += v - shift
    if n == 0:
        return 0, np.nan, np.nan
    mean = total / n
    if n < 2:
        return n, mean, np.nan
    sq = 0.0
    for v in x:
        if not math.isnan(v):
            d = v - shift - mean
            sq += d * d
    return n, mean, math.sqrt(sq / (n - 1))


@jit
def period_returns(values: np.ndarray) -> np.ndarray:
    """Per-period simple returns (``pct_change`` without its first row); inf becomes NaN."""
    n = values.shape[0]
    out = np.empty(max(n - 1, 0))
    for i in range(1, n):
        prev = values[i - 1]
        if prev == 0.0 or math.isnan(prev):  # 0 -> anything is undefined (numpy: inf or NaN)
            out[i - 1] = np.nan
            continue
        r = values[i] / prev - 1.0
        out[i - 1] = r if math.isfinite(r) or math.isnan(r) else np.nan
    return out


@jit
def return_moments(returns: np.ndarray, rf_per_period: float) -> np.ndarray:
    """Moments of the returns for CAGR, volatility, Sharpe and Sortino (quantstats).

    ``R_EX_*`` are the moments of the excess returns ``r - rf_per_period``; ``R_DOWNSIDE`` is
    ``sqrt(sum(min(excess, 0) ** 2) / n)``; ``R_WEALTH`` is ``prod(1 + r)``. NaN returns are
    skipped throughout.
    """
    out = np.full(N_R, np.nan)
    n, mean, std = _nan_moments(returns, 0.0)
    out[R_N], out[R_MEAN], out[R_STD] = n, mean, std
    if rf_per_period == 0.0:
        out[R_EX_MEAN], out[R_EX_STD] = mean, std
    else:
        _, out[R_EX_MEAN], out[R_EX_STD] = _nan_moments(returns, rf_per_period)
    if n == 0:
        return out
    down, wealth = 0.0, 1.0
    for r in returns:
        if math.isnan(r):
            continue
        wealth *= 1.0 + r
        e = r - rf_per_period
        if e < 0.0:
            down += e * e
    out[R_DOWNSIDE] = math.sqrt(down / n)
    out[R_WEALTH] = wealth
    return out


@jit
def quantile(sorted_values: np.ndarray, q: float) -> float:
    """Linear-interpolated quantile of sorted values (numpy's and pandas' default method).

    Only the two order statistics around ``q * (n - 1)`` are read, so a partition with those
    positions in place (``np.partition``) is enough.
    """
    n = sorted_values.shape[0]
    if n == 0:
        return np.nan
    pos = q * (n - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, n - 1)
    frac = pos - lo
    a, b = sorted_values[lo], sorted_values[hi]
    if frac >= 0.5:  # numpy's _lerp, which is exact at both ends
        return b - (b - a) * (1.0 - frac)
    return a + (b - a) * frac


@jit
def mean_at_or_below(returns: np.ndarray, threshold: float) -> float:
    """Mean of the non-NaN returns at or below ``threshold`` (historical Expected Shortfall)."""
    n, total = 0, 0.0
    for r in returns:
        if r <= threshold:
            n += 1
            total += r
    return total / n if n else np.nan


@jit
def drawdowns(values: np.ndarray, stamps: np.ndarray) -> np.ndarray:
    """Maximum drawdown (quantstats) and drawdown periods (backtesting.py), one pass.

    A period runs from a bar at its running peak to the next bar at a peak (the recovery), or to
    the last bar when equity ends under water; consecutive peaks make no period. Its depth is the
    largest ``1 - equity / peak`` inside it, its duration ``stamps[stop] - stamps[start]``.
    """
    out = np.full(N_D, np.nan)
    peak = values[0]
    worst = 1.0
    last_peak = 0
    depth = 0.0
    periods, dur_sum, dur_max, depth_sum = 0, 0.0, 0.0, 0.0
    n = values.shape[0]
    for i in range(n):
        if values[i] > peak:
            peak = values[i]
        ratio = values[i] / peak
        if ratio < worst:
            worst = ratio
        under = 1.0 - ratio
        ends_here = under == 0.0 and i > last_peak + 1
        ends_under = i == n - 1 and under > 0.0
        if under > depth:
            depth = under
        if ends_here or ends_under:
            duration = float(stamps[i] - stamps[last_peak])
            periods += 1
            dur_sum += duration
            dur_max = max(dur_max, duration)
            depth_sum += depth
        if under == 0.0:
            last_peak = i
            depth = 0.0
    out[D_MAX] = worst - 1.0
    out[D_PERIODS] = periods
    out[D_MAX_DURATION] = dur_max
    if periods:
        out[D_AVG_DURATION] = dur_sum / periods
        out[D_AVG_DEPTH] = depth_sum / periods
    return out


@jit
def _exposure(entry: np.ndarray, exit_: np.ndarray, stamps: np.ndarray) -> float:
    """Share of bars with an open trade, from each trade's entry bar to its exit bar inclusive."""
    n = stamps.shape[0]
    change = np.zeros(n + 1, np.int64)
    for k in range(entry.shape[0]):
        first = 0 if entry[k] == NAT else np.searchsorted(stamps, entry[k], side="left")
        last = n - 1 if exit_[k] == NAT else np.searchsorted(stamps, exit_[k], side="right") - 1
        if last >= first:
            change[first] += 1
            change[last + 1] -= 1
    open_trades, covered = 0, 0
    for i in range(n):
        open_trades += change[i]
        if open_trades > 0:
            covered += 1
    return covered / n


@jit
def trade_stats(pnl: np.ndarray, ret: np.ndarray, entry: np.ndarray, exit_: np.ndarray,
                stamps: np.ndarray) -> np.ndarray:
    """Trade statistics as backtesting.py's compute_stats defines them (see BacktestStats).

    ``ret`` are fractional returns; ``entry`` and ``exit_`` int64 stamps in the unit of
    ``stamps`` (NaT = :data:`NAT`; an open trade runs to the last stamp). NaN values are skipped
    as pandas' reductions skip them.
    """
    out = np.full(N_T, np.nan)
    n = pnl.shape[0]
    out[T_N] = n
    if n == 0:
        return out
    wins, gains, losses, win_pnl, n_win, loss_pnl, n_loss = 0, 0.0, 0.0, 0.0, 0, 0.0, 0
    log_growth, ruined = 0.0, False
    best, worst = -np.inf, np.inf
    for k in range(n):
        p, r = pnl[k], ret[k]
        if p > 0:
            wins += 1
            win_pnl += p
            n_win += 1
        elif p < 0:
            loss_pnl += p
            n_loss += 1
        if r > 0:
            gains += r
        elif r < 0:
            losses += r
        growth = 1.0 + (0.0 if math.isnan(r) else r)
        if growth <= 0:
            ruined = True
        else:
            log_growth += math.log(growth)
        if not math.isnan(r):
            best, worst = max(best, r), min(worst, r)
    win_rate = wins / n
    _, mean_pnl, std_pnl = _nan_moments(pnl, 0.0)
    out[T_WIN_RATE] = win_rate
    out[T_PROFIT_FACTOR] = _div(gains, abs(losses))
    out[T_EXPECTANCY] = mean_pnl
    out[T_EXPECTANCY_RET] = _nan_moments(ret, 0.0)[1]
    out[T_GEOMEAN] = 0.0 if ruined else math.exp(log_growth / n) - 1.0
    if math.isfinite(best):
        out[T_BEST], out[T_WORST] = best, worst
    out[T_SQN] = math.sqrt(n) * _div(mean_pnl, std_pnl)
    avg_win = win_pnl / n_win if n_win else np.nan
    avg_loss = -loss_pnl / n_loss if n_loss else np.nan
    out[T_KELLY] = win_rate - (1.0 - win_rate) / _div(avg_win, avg_loss)
    _durations(entry, exit_, stamps, out)
    out[T_EXPOSURE] = _exposure(entry, exit_, stamps)
    return out


@jit
def _durations(entry: np.ndarray, exit_: np.ndarray, stamps: np.ndarray,
               out: np.ndarray) -> None:
    """Mean and longest ``exit - entry`` into ``out`` (NaT entry skipped, NaT exit = last stamp)."""
    count, total, longest = 0, 0.0, -np.inf
    for k in range(entry.shape[0]):
        if entry[k] == NAT:
            continue
        stop = stamps[-1] if exit_[k] == NAT else exit_[k]
        span = float(stop - entry[k])
        count += 1
        total += span
        longest = max(longest, span)
    if count:
        out[T_AVG_DURATION] = total / count
        out[T_MAX_DURATION] = longest


@jit
def paired_beta(returns: np.ndarray, bench_returns: np.ndarray) -> np.ndarray:
    """quantstats' greeks over the periods where both returns are known.

    ``beta = cov(r, b) / var(b)`` (sample), ``alpha per period = mean(r) - beta * mean(b)``.
    """
    out = np.full(N_B, np.nan)
    n, sum_r, sum_b = 0, 0.0, 0.0
    for i in range(returns.shape[0]):
        r, b = returns[i], bench_returns[i]
        if not (math.isnan(r) or math.isnan(b)):
            n += 1
            sum_r += r
            sum_b += b
    out[B_N] = n
    if n < 2:
        return out
    mean_r, mean_b = sum_r / n, sum_b / n
    cov, var = 0.0, 0.0
    for i in range(returns.shape[0]):
        r, b = returns[i], bench_returns[i]
        if not (math.isnan(r) or math.isnan(b)):
            cov += (r - mean_r) * (b - mean_b)
            var += (b - mean_b) * (b - mean_b)
    beta = _div(cov / (n - 1), var / (n - 1))
    out[B_BETA] = beta
    out[B_ALPHA_PER_PERIOD] = mean_r - beta * mean_b
    return out
