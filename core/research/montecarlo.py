"""Monte Carlo simulation of a strategy's equity: resampled trades, block bootstrap, GBM, Student-t.

:func:`monte_carlo` is the only entry point: a pure, seeded function from a strategy's returns (and
trade returns) to a frozen :class:`MonteCarloResult` (fan-chart percentiles per step, per-path
distributions of final return, CAGR, Sharpe and max drawdown, probabilities of ruin and of
breaching a drawdown limit, and the worst paths).

Methods (one step of a path is one bar for the daily methods, one trade for the trade methods):

``"trades_with_replacement"``
    Each step draws one of the sample's trade returns uniformly, with replacement (i.i.d.
    bootstrap of the trade sequence).
``"trades_without_replacement"``
    Each path is a random permutation of the trade returns (its first ``horizon`` trades): the
    final equity is the same for every path when ``horizon`` is the number of trades (up to
    rounding), only the order, and so the drawdowns, change.
``"block_bootstrap"``
    Politis and Romano's (1994) stationary bootstrap of the per-bar returns: a path starts at a
    uniform random bar, and at every step either starts a new block at a uniform random bar (with
    probability ``1 / block``) or continues with the next bar, wrapping around the end of the
    sample. Blocks are geometric with mean length ``block``, ``n ** (1/3)`` by default.
``"gbm"``
    Geometric Brownian motion fitted to the log returns ``log(1 + r)``: each step's log return is
    ``mu + sigma * Z`` with ``mu`` and ``sigma`` the sample mean and standard deviation
    (``ddof=1``) of the log returns and ``Z`` standard normal.
``"student_t"``
    The same with fat tails: ``Z`` is a Student-t variate with ``df`` degrees of freedom scaled
    to unit variance (``t * sqrt((df - 2) / df)``), so the step volatility is the sample's.
    ``df`` is the maximum-likelihood estimate for the standardised log returns (location and
    scale fixed at the sample mean and standard deviation; a one-dimensional bounded search over
    ``df`` in [2.1, 200]); a sample without excess kurtosis ends at the upper bound (near normal).

Conventions, matching :mod:`core.backtest.metrics` where they overlap:

- Wealth compounds in log space: ``log W_t = sum(log(1 + r_s))``, ``W_0 = 1``; equity is
  ``start_equity * W``. A step return at or below -100 % wipes the path out (wealth stays 0).
- Trade returns compound as returns on the whole equity, which is what they are with all-in
  sizing (the engine's default); scale them by the fraction invested for smaller positions.
- Distributions are fractions (0.05 for 5 %), not percent. ``final_return = W_T - 1``;
  ``cagr = W_T ** (steps_per_year / horizon) - 1`` (quantstats' years = steps / steps per year);
  ``sharpe`` = mean / sample std of the path's simple step returns times
  ``sqrt(steps_per_year)`` (quantstats' Sharpe, risk-free 0; NaN when the std is 0);
  ``max_drawdown = min(W / running max of W) - 1`` with ``W_0 = 1`` counted as a peak (a
  negative number, as in :func:`core.backtest.metrics.compute_stats`).
- Ruin: wealth falls strictly below ``ruin_level`` at some step. Drawdown breach: the max
  drawdown is deeper than ``drawdown_limit`` (``max_drawdown < -drawdown_limit``).
- Worst paths: ``worst_path`` has the lowest final equity, ``worst_drawdown_path`` the deepest
  max drawdown (the first such path on ties).

Reproducibility and memory: the paths are cut into seed blocks of :data:`SEED_BLOCK` paths, and
block ``k`` draws from its own generator, ``default_rng(SeedSequence(seed).spawn(n_blocks)[k])``.
A chunk (one job of the :mod:`core.compute` executor) is a whole number of seed blocks, so the
paths, and every figure, are the same whatever ``chunk_paths`` and whatever the executor (serial,
process pool or Dask; bit for bit on workers with the same CPU features and numpy, whose SIMD
``expm1`` may differ in the last bit between CPU generations). Draws are made one seed block at
a time (``horizon x 1,000`` numbers), so memory is bounded by the per-step log wealth of the
paths, which the exact percentiles need: it is kept in float32 (100,000 x 252 paths: 100 MB)
when it fits in ``max_matrix_bytes``; otherwise the paths are simulated again (identically: same
seeds) once per group of steps that fits, so memory stays bounded and the percentiles stay
exact. Percentiles are numpy's ``"linear"`` percentiles of the equity at each step, computed
from exact order statistics of the float32 log wealth (a histogram narrows each order statistic
to one bin, whose values are then sorted), so they are exact up to float32 storage (relative
error about 1e-7).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from core.backtest._jit import jit
from core.compute import CancelToken, Executor, SerialExecutor
from core.errors import ValidationError

__all__ = ["METHODS", "PERCENTILES", "SEED_BLOCK", "MonteCarloResult", "fit_student_df",
           "monte_carlo"]

METHODS: tuple[str, ...] = ("trades_with_replacement", "trades_without_replacement",
                            "block_bootstrap", "gbm", "student_t")
"""Simulation methods :func:`monte_carlo` accepts (see the module docstring)."""
TRADE_METHODS: tuple[str, ...] = METHODS[:2]
PERCENTILES: tuple[float, ...] = (5.0, 25.0, 50.0, 75.0, 95.0)
"""Per-step equity percentiles of :attr:`MonteCarloResult.percentiles` (the fan chart bands)."""
SUMMARY_PERCENTILES: tuple[float, ...] = (2.5, 5.0, 25.0, 50.0, 75.0, 95.0, 97.5)
"""Percentiles of each per-path distribution in :attr:`MonteCarloResult.summary`."""
METRICS: tuple[str, ...] = ("final_return", "cagr", "sharpe", "max_drawdown")
"""Per-path distributions of :attr:`MonteCarloResult.distributions`."""
SEED_BLOCK = 1_000
"""Paths per seed block: the unit of randomness (and of work inside a chunk)."""
DEFAULT_MATRIX_BYTES = 512 * 2 ** 20
"""Default cap on the float32 per-step log-wealth matrix held for the exact percentiles."""
DF_BOUNDS = (2.1, 200.0)
"""Search interval of the Student-t degrees of freedom."""

_HIST_BINS = 4096
_EMPTY = np.empty(0)


@dataclass(frozen=True, eq=False)
class MonteCarloResult:
    """A finished Monte Carlo run (see :mod:`core.research.montecarlo` for the definitions).

    Attributes
    ----------
    percentiles : pandas.DataFrame
        Equity percentiles per step: index ``step`` 0..horizon (step 0 is ``start_equity``),
        columns ``p5``, ``p25``, ``p50``, ``p75``, ``p95``.
    distributions : Mapping[str, numpy.ndarray]
        One read-only float64 value per path for ``final_return``, ``cagr``, ``sharpe`` and
        ``max_drawdown`` (fractions), in path order.
    summary : pandas.DataFrame
        One row per metric: ``mean``, ``se_mean`` (standard error of the mean), ``std`` and the
        percentiles ``p2.5`` .. ``p97.5``; ``p2.5``/``p97.5`` bound the central 95 % interval
        of the metric and ``p5``/``p95`` the 90 % one. NaN Sharpes (flat paths) are left out.
    risk : Mapping[str, float]
        ``prob_ruin`` and ``prob_drawdown_breach`` with 95 % Wilson intervals (``*_ci_low``,
        ``*_ci_high``), ``ruin_level``, ``drawdown_limit``, ``var_95`` (5th percentile of the
        final return), ``es_95`` (mean final return at or below it), ``median_max_drawdown``,
        ``worst_final_return`` and ``worst_max_drawdown``.
    worst_path, worst_drawdown_path : pandas.Series
        Equity per step (index ``step``) of the path with the lowest final equity and of the
        path with the deepest max drawdown, in float64.
    worst_path_index, worst_drawdown_path_index : int
        Their positions among the paths.
    params : Mapping[str, float]
        What was fitted or resampled: ``mu``/``sigma`` (per-step log return) and ``df`` for the
        parametric methods, ``block`` and ``n_returns`` for the bootstrap, ``n_trades`` for the
        trade methods.
    inputs : Mapping[str, Any]
        The call's settings: ``method``, ``n_paths``, ``horizon``, ``seed`` (the seed
        sequence's entropy: pass it back to reproduce a run made with ``seed=None``),
        ``start_equity``, ``ruin_level``, ``drawdown_limit``, ``steps_per_year``.
    """

    percentiles: pd.DataFrame
    distributions: Mapping[str, np.ndarray]
    summary: pd.DataFrame
    risk: Mapping[str, float]
    worst_path: pd.Series
    worst_drawdown_path: pd.Series
    worst_path_index: int
    worst_drawdown_path_index: int
    params: Mapping[str, float]
    inputs: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready ``dict`` (NaN and infinities as None) of everything but the distributions.

        Returns
        -------
        dict
            ``inputs``, ``params``, ``percentiles`` (``{"step": [...], "p5": [...], ...}``),
            ``summary`` (metric -> column -> value), ``risk``, ``worst_path`` and
            ``worst_drawdown_path`` (equity per step).
        """
        table = self.percentiles
        return {
            "inputs": {k: _plain(v) for k, v in self.inputs.items()},
            "params": {k: _plain(v) for k, v in self.params.items()},
            "percentiles": {"step": [int(s) for s in table.index],
                            **{c: [_plain(v) for v in table[c]] for c in table.columns}},
            "summary": {m: {c: _plain(v) for c, v in row.items()}
                        for m, row in self.summary.to_dict(orient="index").items()},
            "risk": {k: _plain(v) for k, v in self.risk.items()},
            "worst_path": [_plain(v) for v in self.worst_path],
            "worst_drawdown_path": [_plain(v) for v in self.worst_drawdown_path],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- compiled kernels


@jit
def _accumulate(x, r, row0, out, final, dd, low, mean, m2):  # pragma: no cover - compiled
    """Run the paths (columns) of the log steps ``x`` and simple steps ``r`` (steps x paths).

    Per path: final log wealth, deepest log drawdown (from the running peak, ``log W_0 = 0``
    included), lowest log wealth, and Welford's running mean and sum of squared deviations of
    the simple step returns. Rows ``row0 .. row0 + len(out)`` of the log wealth go to ``out``.
    """
    h, b = x.shape
    rows = out.shape[0]
    peak = np.zeros(b)
    for i in range(b):
        final[i] = 0.0
        dd[i] = 0.0
        low[i] = 0.0
        mean[i] = 0.0
        m2[i] = 0.0
    for t in range(h):
        inv = 1.0 / (t + 1)
        keep = row0 <= t < row0 + rows
        for i in range(b):
            level = final[i] + x[t, i]
            final[i] = level
            peak[i] = max(peak[i], level)
            dd[i] = min(dd[i], level - peak[i])
            low[i] = min(low[i], level)
            delta = r[t, i] - mean[i]
            mean[i] += delta * inv
            m2[i] += delta * (r[t, i] - mean[i])
        if keep:
            for i in range(b):
                out[t - row0, i] = final[i]


@jit
def _next_index(v, t, p, n, prev):  # pragma: no cover - compiled
    """The stationary bootstrap's next source index from one uniform ``v``.

    Step 0 starts at ``floor(v * n)``; later steps restart at ``floor(v / p * n)`` when
    ``v < p`` (given that, ``v / p`` is uniform) and otherwise continue at ``prev + 1``, wrapping.
    """
    if t == 0:
        k = int(v * n)
    elif v < p:
        k = int(v / p * n)
    else:
        k = prev + 1
        if k >= n:
            k = 0
    return min(k, n - 1)


@jit
def _stationary_indices(u, p, n):  # pragma: no cover - compiled
    """Source indices of the stationary bootstrap (``p = 1``: i.i.d. resampling), steps x paths."""
    h, b = u.shape
    idx = np.empty((h, b), dtype=np.int64)
    for i in range(b):
        k = 0
        for t in range(h):
            k = _next_index(u[t, i], t, p, n, k)
            idx[t, i] = k
    return idx


@jit
def _partial_permutations(u, n):  # pragma: no cover - compiled
    """Column ``i``: the first ``h`` items of a uniform random permutation of ``range(n)``.

    A partial Fisher-Yates shuffle per path driven by the uniforms ``u[:, i]``, undone after each
    path so one work array of ``n`` serves every path.
    """
    h, b = u.shape
    perm = np.empty((h, b), dtype=np.int64)
    work = np.arange(n)
    swaps = np.empty(h, dtype=np.int64)
    for i in range(b):
        for t in range(h):
            j = t + int(u[t, i] * (n - t))
            if j >= n:
                j = n - 1
            swaps[t] = j
            tmp = work[t]
            work[t] = work[j]
            work[j] = tmp
            perm[t, i] = work[t]
        for t in range(h - 1, -1, -1):
            j = swaps[t]
            tmp = work[t]
            work[t] = work[j]
            work[j] = tmp
    return perm


@jit
def _row_bounds(x):  # pragma: no cover - compiled
    """Finite minimum and maximum of ``x``, and its counts of -inf and +inf."""
    lo = np.inf
    hi = -np.inf
    neg = 0
    pos = 0
    for v in x:
        if v == -np.inf:
            neg += 1
        elif v == np.inf:
            pos += 1
        else:
            if v < lo:
                lo = v
            if v > hi:
                hi = v
    return lo, hi, neg, pos


@jit
def _bin(v, lo, scale, nbins):  # pragma: no cover - compiled
    return min(int((np.float64(v) - lo) * scale), nbins - 1)


@jit
def _finite_ranks(x, ks, out):  # pragma: no cover - compiled
    """Fill ``out`` where rank ``ks[j]`` is infinite or all finite values are equal.

    Returns the finite bounds and, per rank, its rank among the finite values (-1 when filled).
    """
    n = x.shape[0]
    lo, hi, neg, pos = _row_bounds(x)
    want = np.full(ks.shape[0], -1, dtype=np.int64)
    for j in range(ks.shape[0]):
        k = ks[j]
        if k < neg:
            out[j] = -np.inf
        elif k >= n - pos:
            out[j] = np.inf
        elif lo == hi:
            out[j] = lo
        else:
            want[j] = k - neg
    return lo, hi, want


@jit
def _row_select(x, ks, nbins, out):  # pragma: no cover - compiled
    """The order statistics ``ks`` (sorted 0-based ranks) of ``x`` into ``out``.

    One pass finds the finite range, one counts the values per bin of a histogram over it, one
    copies out the values of the bins holding a wanted rank; sorting those alone gives the exact
    order statistics.
    """
    lo, hi, want = _finite_ranks(x, ks, out)
    if want.max() < 0:
        return
    scale = nbins / (np.float64(hi) - np.float64(lo))
    counts = np.zeros(nbins, dtype=np.int64)
    for v in x:
        if np.isfinite(v):
            counts[_bin(v, lo, scale, nbins)] += 1
    ends = np.cumsum(counts)  # ends[c]: finite values in bins 0..c
    slot = np.full(nbins, -1, dtype=np.int64)
    size = 0
    for w in want:
        c = np.searchsorted(ends, w, side="right") if w >= 0 else -1
        if c >= 0 and slot[c] < 0:
            slot[c] = size
            size += counts[c]
    buf = np.empty(size, dtype=x.dtype)
    fill = slot.copy()
    for v in x:
        if np.isfinite(v):
            c = _bin(v, lo, scale, nbins)
            if slot[c] >= 0:
                buf[fill[c]] = v
                fill[c] += 1
    for c in np.flatnonzero(slot >= 0):
        buf[slot[c]:fill[c]] = np.sort(buf[slot[c]:fill[c]])
    for j in range(ks.shape[0]):
        if want[j] >= 0:
            c = np.searchsorted(ends, want[j], side="right")
            out[j] = buf[slot[c] + want[j] - (ends[c] - counts[c])]


@jit
def _order_statistics(matrix, ks, nbins):  # pragma: no cover - compiled
    """Order statistics ``ks`` of every row of ``matrix`` (rows x len(ks), float64)."""
    out = np.empty((matrix.shape[0], ks.shape[0]))
    for r in range(matrix.shape[0]):
        _row_select(matrix[r], ks, nbins, out[r])
    return out


# --------------------------------------------------------------------------- chunk jobs


@dataclass(frozen=True)
class _Job:
    """One chunk: a run of seed blocks, and the step rows of log wealth to send back."""

    method: str
    horizon: int
    model: _Model
    seeds: tuple[np.random.SeedSequence, ...]
    sizes: tuple[int, ...]
    rows: tuple[int, int]


@dataclass(frozen=True)
class _ChunkOut:
    final: np.ndarray
    dd: np.ndarray
    low: np.ndarray
    sharpe: np.ndarray
    rows: np.ndarray
    worst: tuple[tuple[int, int, np.ndarray, np.ndarray], ...]  # per block: argmins and paths


def _draw(job: _Job, seed: np.random.SeedSequence, b: int) -> tuple[np.ndarray, np.ndarray]:
    """The steps of one seed block: log returns and simple returns, each ``(horizon, b)``."""
    rng = np.random.default_rng(seed)
    shape = (job.horizon, b)
    model = job.model
    if job.method in ("gbm", "student_t"):
        if job.method == "gbm":
            x = rng.standard_normal(shape)
        else:
            x = rng.standard_t(model.df, shape)
            x *= math.sqrt((model.df - 2.0) / model.df)
        x *= model.sigma
        x += model.mu
        return x, np.expm1(x)
    u = rng.random(shape)
    n = model.logsrc.shape[0]
    if job.method == "trades_without_replacement":
        idx = _partial_permutations(u, n)
    else:
        idx = _stationary_indices(u, model.p, n)
    return model.logsrc[idx], model.src[idx]


def _replay(x: np.ndarray, r: np.ndarray, i: int) -> np.ndarray:
    """Path ``i`` of a block again, with its log wealth at every step kept in float64."""
    h = x.shape[0]
    out = np.empty((h, 1))
    stats = [np.empty(1) for _ in range(5)]
    _accumulate(np.ascontiguousarray(x[:, i:i + 1]), np.ascontiguousarray(r[:, i:i + 1]), 0,
                out, *stats)
    return out[:, 0]


def _run_chunk(job: _Job) -> _ChunkOut:
    """Simulate one chunk (module-level, so process pools and Dask can pickle it)."""
    m = sum(job.sizes)
    rows = np.empty((job.rows[1] - job.rows[0], m), dtype=np.float32)
    final, dd, low, mean, m2 = (np.empty(m) for _ in range(5))
    worst = []
    a = 0
    for seed, b in zip(job.seeds, job.sizes, strict=True):
        x, r = _draw(job, seed, b)
        part = slice(a, a + b)
        _accumulate(x, r, job.rows[0], rows[:, part], final[part], dd[part], low[part],
                    mean[part], m2[part])
        i_final, i_dd = int(np.argmin(final[part])), int(np.argmin(dd[part]))
        worst.append((i_final, i_dd, _replay(x, r, i_final), _replay(x, r, i_dd)))
        a += b
    with np.errstate(divide="ignore", invalid="ignore"):
        std = np.sqrt(m2 / (job.horizon - 1)) if job.horizon > 1 else np.full(m, np.nan)
        sharpe = np.where(std > 0, mean / std, np.nan)
    return _ChunkOut(final, dd, low, sharpe, rows, tuple(worst))


# --------------------------------------------------------------------------- inputs


def _clean(values: Any, what: str) -> tuple[np.ndarray, pd.Index | None]:
    """Finite float64 values of a Series/array, and the Series' index of those values."""
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise ValidationError(f"{what} must be one column of returns, not {values.shape[1]}.")
        values = values.iloc[:, 0]
    index = None
    if isinstance(values, pd.Series):
        kept = values[np.isfinite(values.to_numpy(dtype=float, na_value=np.nan))]
        return kept.to_numpy(dtype=float), kept.index
    try:
        array = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise ValidationError(f"{what} must be numbers (simple returns, 0.01 for 1%).") from None
    return array[np.isfinite(array)], index


def _trade_returns(trades: Any) -> np.ndarray:
    """Fractional trade returns from a trades frame (``return_pct``, percent) or an array."""
    if trades is None:
        raise ValidationError("the trade methods resample the trade returns: pass trades= (the "
                              "backtest's trades frame, or the trade returns as fractions).")
    if isinstance(trades, pd.DataFrame):
        if "return_pct" not in trades.columns:
            raise ValidationError("trades has no return_pct column (percent per trade, as the "
                                  "backtest engine's trades frame has).")
        values, _ = _clean(trades["return_pct"] / 100.0, "trades")
    else:
        values, _ = _clean(trades, "trades")
    if values.size == 0:
        raise ValidationError("there are no trades to resample (the backtest made no trades); "
                              "use block_bootstrap, gbm or student_t on the daily returns.")
    return values


def _periods_per_year(index: pd.Index | None) -> float:
    """Bars per year of the returns' index (252 when it is not a usable DatetimeIndex)."""
    from core.backtest.conventions import infer_periods_per_year

    if isinstance(index, pd.DatetimeIndex) and len(index) >= 2:
        try:
            return float(infer_periods_per_year(index))
        except (TypeError, ValueError):
            return 252.0
    return 252.0


def _check_settings(n_paths: int, horizon: int | None, method: str, start_equity: float,
                    ruin_level: float, drawdown_limit: float, chunk_paths: int) -> None:
    if method not in METHODS:
        raise ValidationError(f"unknown Monte Carlo method {method!r}; choose one of "
                              f"{', '.join(METHODS)}.")
    checks = (
        (isinstance(n_paths, int | np.integer) and n_paths >= 1, "n_paths must be at least 1"),
        (horizon is None or (isinstance(horizon, int | np.integer) and horizon >= 1),
         "horizon must be a whole number of steps, at least 1"),
        (math.isfinite(start_equity) and start_equity > 0, "start_equity must be positive"),
        (0.0 < ruin_level < 1.0, "ruin_level must be between 0 and 1 (0.5: half the start)"),
        (0.0 < drawdown_limit <= 1.0, "drawdown_limit must be in (0, 1] (0.2 for 20%)"),
        (isinstance(chunk_paths, int | np.integer) and chunk_paths >= 1,
         "chunk_paths must be at least 1"),
    )
    for ok, message in checks:
        if not ok:
            raise ValidationError(f"monte_carlo: {message}.")


def _log_returns(values: np.ndarray, method: str) -> np.ndarray:
    if method in ("gbm", "student_t") and np.any(values <= -1.0):
        raise ValidationError(f"{method} fits log returns: every return must be above -100%.")
    with np.errstate(divide="ignore"):
        return np.log1p(np.maximum(values, -1.0))


def _student_nll(nu: float, z2: np.ndarray) -> float:
    """Negative log-likelihood of unit-variance Student-t with ``nu`` dof at ``z**2 = z2``."""
    c = nu - 2.0
    per = (math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(math.pi * c))
    return -(z2.size * per - (nu + 1) / 2 * float(np.sum(np.log1p(z2 / c))))


def fit_student_df(log_returns: np.ndarray) -> float:
    """Maximum-likelihood degrees of freedom of a unit-variance Student-t for the returns.

    The returns are standardised by their mean and sample standard deviation; the negative
    log-likelihood is minimised over ``log(df - 2)`` by golden-section search on
    :data:`DF_BOUNDS`.

    Parameters
    ----------
    log_returns : numpy.ndarray
        Per-period log returns, at least two, not all equal.

    Returns
    -------
    float
        The fitted degrees of freedom in :data:`DF_BOUNDS`.
    """
    sd = float(np.std(log_returns, ddof=1))
    if not sd > 0:
        return DF_BOUNDS[1]
    z2 = ((log_returns - np.mean(log_returns)) / sd) ** 2
    a, b = math.log(DF_BOUNDS[0] - 2), math.log(DF_BOUNDS[1] - 2)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = _student_nll(2 + math.exp(c), z2), _student_nll(2 + math.exp(d), z2)
    while b - a > 1e-6:
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = _student_nll(2 + math.exp(c), z2)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = _student_nll(2 + math.exp(d), z2)
    return 2 + math.exp((a + b) / 2)


@dataclass(frozen=True)
class _Model:
    """What the chunks simulate from, and the figures reported as ``params``."""

    mu: float
    sigma: float
    df: float
    p: float
    logsrc: np.ndarray
    src: np.ndarray
    steps_per_year: float
    natural_horizon: int
    params: dict[str, float]


def _model(returns: Any, method: str, trades: Any, block: float | None,
           steps_per_year: float | None) -> _Model:
    """Fit or prepare the source of the steps for ``method``."""
    values, index = (np.empty(0), None) if returns is None else _clean(returns, "returns")
    bars_per_year = _periods_per_year(index)
    if method in TRADE_METHODS:
        src = _trade_returns(trades)
        if steps_per_year is None:
            if values.size < 2:
                raise ValidationError("the trade methods annualise by trades per year: pass the "
                                      "daily returns the trades came from, or steps_per_year.")
            steps_per_year = src.size * bars_per_year / values.size
        params = {"n_trades": float(src.size)}
        return _Model(0.0, 0.0, 0.0, 1.0, _log_returns(src, method), src, float(steps_per_year),
                      int(src.size), params)
    if values.size < 2:
        raise ValidationError(f"{method} needs at least two finite returns (got {values.size}).")
    steps_per_year = float(bars_per_year if steps_per_year is None else steps_per_year)
    horizon = max(1, round(steps_per_year))
    logs = _log_returns(values, method)
    if method == "block_bootstrap":
        block = float(values.size ** (1 / 3)) if block is None else float(block)
        if not (math.isfinite(block) and block >= 1.0):
            raise ValidationError(f"block must be a mean block length >= 1 bar (got {block}).")
        params = {"block": block, "n_returns": float(values.size)}
        return _Model(0.0, 0.0, 0.0, 1.0 / block, logs, values, steps_per_year, horizon, params)
    mu, sigma = float(np.mean(logs)), float(np.std(logs, ddof=1))
    df = fit_student_df(logs) if method == "student_t" else math.inf
    params = {"mu": mu, "sigma": sigma, "n_returns": float(values.size)}
    if method == "student_t":
        params["df"] = df
    return _Model(mu, sigma, df, 1.0, _EMPTY, _EMPTY, steps_per_year, horizon, params)


# --------------------------------------------------------------------------- results


def _wilson(hits: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion."""
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _summary(dist: Mapping[str, np.ndarray]) -> pd.DataFrame:
    rows = {}
    for name, values in dist.items():
        v = values[~np.isnan(values)]
        if v.size == 0:
            rows[name] = [math.nan] * (3 + len(SUMMARY_PERCENTILES))
            continue
        std = float(np.std(v, ddof=1)) if v.size > 1 else math.nan
        rows[name] = [float(np.mean(v)), std / math.sqrt(v.size), std,
                      *np.percentile(v, SUMMARY_PERCENTILES).tolist()]
    columns = ["mean", "se_mean", "std", *(f"p{q:g}" for q in SUMMARY_PERCENTILES)]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def _risk(dist: Mapping[str, np.ndarray], low: np.ndarray, ruin_level: float,
          drawdown_limit: float) -> dict[str, float]:
    n = low.size
    ruined = int(np.count_nonzero(low < math.log(ruin_level)))
    breached = int(np.count_nonzero(dist["max_drawdown"] < -drawdown_limit))
    final = dist["final_return"]
    var = float(np.percentile(final, 5.0))
    ruin_ci, dd_ci = _wilson(ruined, n), _wilson(breached, n)
    return {
        "prob_ruin": ruined / n, "prob_ruin_ci_low": ruin_ci[0], "prob_ruin_ci_high": ruin_ci[1],
        "prob_drawdown_breach": breached / n, "prob_drawdown_breach_ci_low": dd_ci[0],
        "prob_drawdown_breach_ci_high": dd_ci[1], "ruin_level": ruin_level,
        "drawdown_limit": drawdown_limit, "var_95": var,
        "es_95": float(np.mean(final[final <= var])),
        "median_max_drawdown": float(np.median(dist["max_drawdown"])),
        "worst_final_return": float(final.min()),
        "worst_max_drawdown": float(dist["max_drawdown"].min()),
    }


def _percentile_rows(matrix: np.ndarray, start_equity: float) -> np.ndarray:
    """numpy-``linear`` equity percentiles per row of a float32 log-wealth matrix."""
    n = matrix.shape[1]
    pos = np.asarray(PERCENTILES) / 100.0 * (n - 1)
    lower = np.floor(pos).astype(np.int64)
    upper = np.minimum(lower + 1, n - 1)
    ks = np.unique(np.concatenate([lower, upper]))
    order = np.exp(_order_statistics(matrix, ks, _HIST_BINS))
    a = order[:, np.searchsorted(ks, lower)]
    b = order[:, np.searchsorted(ks, upper)]
    t = pos - lower
    diff = b - a
    with np.errstate(invalid="ignore"):
        value = np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)  # numpy's _lerp
    return start_equity * value


def _plan(n_paths: int, chunk_paths: int, seed: np.random.SeedSequence
          ) -> list[tuple[tuple[np.random.SeedSequence, ...], tuple[int, ...]]]:
    """Seed blocks grouped into chunks: ``[(seeds, sizes), ...]``."""
    n_blocks = -(-n_paths // SEED_BLOCK)
    seeds = seed.spawn(n_blocks)
    sizes = [SEED_BLOCK] * (n_blocks - 1) + [n_paths - SEED_BLOCK * (n_blocks - 1)]
    per = max(1, round(chunk_paths / SEED_BLOCK))
    return [(tuple(seeds[i:i + per]), tuple(sizes[i:i + per])) for i in range(0, n_blocks, per)]


def _row_groups(n_paths: int, horizon: int, max_matrix_bytes: int) -> list[tuple[int, int]]:
    per = max(1, int(max_matrix_bytes // (4 * n_paths)))
    return [(s, min(s + per, horizon)) for s in range(0, horizon, per)]


def _freeze(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array


def _worst(outs: Sequence[_ChunkOut], field: int, values: np.ndarray) -> tuple[int, np.ndarray]:
    """Index and float64 log-wealth path of the first minimum of ``values`` (0: final, 1: dd).

    Every seed block but the last holds :data:`SEED_BLOCK` paths, and each block sent back the
    path of its own first minimum, which is the global one when the global one falls in it.
    """
    index = int(np.argmin(values))
    block, local = divmod(index, SEED_BLOCK)
    candidate = [c for out in outs for c in out.worst][block]
    if candidate[field] != local:  # pragma: no cover - a broken invariant, not a user error
        raise RuntimeError("Monte Carlo chunks disagree on the worst path")
    return index, candidate[2 + field]


def _offset(progress: Callable[[int, int], None], base: int, total: int
            ) -> Callable[[int, int], None]:
    """A chunk progress callback of one pass, reported as progress over every pass."""
    return lambda done, _total: progress(base + done, total)


def _path_series(log_wealth: np.ndarray, start_equity: float, name: str) -> pd.Series:
    values = start_equity * np.exp(np.concatenate([[0.0], log_wealth]))
    return pd.Series(values, index=pd.RangeIndex(values.size, name="step"), name=name)


def monte_carlo(returns: Any, n_paths: int = 10_000, horizon: int | None = None,
                method: str = "block_bootstrap", seed: int | np.random.SeedSequence | None = 0,
                *, trades: Any = None, block: float | None = None, start_equity: float = 1.0,
                ruin_level: float = 0.5, drawdown_limit: float = 0.2,
                steps_per_year: float | None = None, chunk_paths: int = 10_000,
                max_matrix_bytes: int = DEFAULT_MATRIX_BYTES, executor: Executor | None = None,
                progress: Callable[[int, int], None] | None = None,
                cancel: CancelToken | None = None) -> MonteCarloResult:
    """Simulate ``n_paths`` equity paths of ``horizon`` steps and summarise their risk.

    Pure and seeded: the same arguments give the same result, whatever ``chunk_paths`` and
    ``executor`` (see the module docstring for the methods and definitions).

    Parameters
    ----------
    returns : pandas.Series, array-like or None
        The strategy's simple per-bar returns (``equity.pct_change()``; NaN dropped). The
        daily methods resample or fit them; the trade methods use them only to infer
        ``steps_per_year`` (trades per year), so they may be None when it is given.
    n_paths : int, default 10,000
        Paths to simulate.
    horizon : int, optional
        Steps per path: bars for the daily methods (default: one year, ``steps_per_year``),
        trades for the trade methods (default: the number of trades; without replacement it
        cannot exceed it).
    method : str, default "block_bootstrap"
        One of :data:`METHODS`.
    seed : int, SeedSequence or None, default 0
        Master seed; None draws fresh entropy (recorded in ``inputs["seed"]``).
    trades : pandas.DataFrame or array-like, optional
        For the trade methods: the backtest's trades frame (its ``return_pct`` column, in
        percent) or the trade returns as fractions.
    block : float, optional
        Mean block length of the stationary bootstrap in bars; ``n ** (1/3)`` by default.
    start_equity : float, default 1.0
        Equity at step 0 (the paths and worst paths are in this unit).
    ruin_level : float, default 0.5
        Ruin is equity below ``ruin_level * start_equity`` at any step.
    drawdown_limit : float, default 0.2
        The drawdown whose breach probability is reported (0.2 for 20 %).
    steps_per_year : float, optional
        Annualisation of CAGR and Sharpe: bars per year of ``returns`` (inferred from its
        DatetimeIndex, 252 without one) for the daily methods; trades per year of the sample
        (``len(trades) * bars per year / len(returns)``) for the trade methods.
    chunk_paths : int, default 10,000
        Paths per executor job, rounded to a whole number of :data:`SEED_BLOCK` blocks; it does
        not change the results.
    max_matrix_bytes : int, default 512 MiB
        Cap on the float32 per-step log wealth held for the exact percentiles; above it the
        paths are simulated again for each group of steps that fits.
    executor : core.compute.Executor, optional
        Where the chunks run; in this process (:class:`~core.compute.SerialExecutor`) by default.
        Pass ``core.compute.get_executor()`` for the process pool or Dask.
    progress : callable, optional
        ``progress(done, total)`` in chunks (counting every pass over the paths).
    cancel : core.compute.CancelToken, optional
        Cancelling it stops the run; :class:`~core.compute.Cancelled` is raised.

    Returns
    -------
    MonteCarloResult
        Percentiles, distributions, summary, risk figures, worst paths, params and inputs.

    Raises
    ------
    ValidationError
        On an unknown method, bad settings, too few returns, or a trade method without trades.
    core.compute.Cancelled
        If ``cancel`` is cancelled before the run ends.
    """
    _check_settings(n_paths, horizon, method, start_equity, ruin_level, drawdown_limit,
                    chunk_paths)
    model = _model(returns, method, trades, block, steps_per_year)
    horizon = int(model.natural_horizon if horizon is None else horizon)
    if method == "trades_without_replacement" and horizon > model.logsrc.size:
        raise ValidationError(f"trades_without_replacement draws each trade at most once: the "
                              f"horizon ({horizon}) cannot exceed the {model.logsrc.size} trades.")
    n_paths = int(n_paths)
    master = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    plan = _plan(n_paths, int(chunk_paths), master)
    groups = _row_groups(n_paths, horizon, max_matrix_bytes)
    executor = executor if executor is not None else SerialExecutor()
    total = len(plan) * len(groups)
    pct = np.empty((horizon, len(PERCENTILES)))
    first: list[_ChunkOut] = []
    for g, rows in enumerate(groups):
        jobs = [_Job(method, horizon, model, seeds, sizes, rows) for seeds, sizes in plan]
        report = None if progress is None else _offset(progress, g * len(plan), total)
        outs = executor.map(_run_chunk, jobs, progress=report, cancel=cancel)
        matrix = np.empty((rows[1] - rows[0], n_paths), dtype=np.float32)
        a = 0
        for out in outs:
            matrix[:, a:a + out.rows.shape[1]] = out.rows
            a += out.rows.shape[1]
        outs = [_ChunkOut(o.final, o.dd, o.low, o.sharpe, _EMPTY, o.worst) for o in outs]
        pct[rows[0]:rows[1]] = _percentile_rows(matrix, start_equity)
        del matrix
        first = first or outs
    return _result(first, pct, model, method, n_paths, horizon, master, start_equity,
                   ruin_level, drawdown_limit)


def _result(outs: Sequence[_ChunkOut], pct: np.ndarray, model: _Model, method: str,
            n_paths: int, horizon: int, master: np.random.SeedSequence, start_equity: float,
            ruin_level: float, drawdown_limit: float) -> MonteCarloResult:
    final = np.concatenate([o.final for o in outs])
    dd = np.concatenate([o.dd for o in outs])
    spy = model.steps_per_year
    dist = {
        "final_return": np.expm1(final),
        "cagr": np.expm1(final * (spy / horizon)),
        "sharpe": np.concatenate([o.sharpe for o in outs]) * math.sqrt(spy),
        "max_drawdown": np.expm1(dd),
    }
    low = np.concatenate([o.low for o in outs])
    table = pd.DataFrame(np.vstack([np.full(len(PERCENTILES), start_equity), pct]),
                         index=pd.RangeIndex(horizon + 1, name="step"),
                         columns=[f"p{q:g}" for q in PERCENTILES])
    i_final, worst_final = _worst(outs, 0, final)
    i_dd, worst_dd = _worst(outs, 1, dd)
    inputs = {"method": method, "n_paths": n_paths, "horizon": horizon,
              "seed": master.entropy, "start_equity": start_equity, "ruin_level": ruin_level,
              "drawdown_limit": drawdown_limit, "steps_per_year": spy}
    return MonteCarloResult(
        percentiles=table,
        distributions=MappingProxyType({k: _freeze(v) for k, v in dist.items()}),
        summary=_summary(dist),
        risk=MappingProxyType(_risk(dist, low, ruin_level, drawdown_limit)),
        worst_path=_path_series(worst_final, start_equity, "worst_path"),
        worst_drawdown_path=_path_series(worst_dd, start_equity, "worst_drawdown_path"),
        worst_path_index=i_final, worst_drawdown_path_index=i_dd,
        params=MappingProxyType(dict(model.params)), inputs=MappingProxyType(inputs))
