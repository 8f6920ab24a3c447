"""Evaluate many parameter combinations of one strategy on one data set.

:func:`sweep` returns one row of statistics per combination. For the built-in moving-average
crossovers (``sma_cross``, ``ema_cross``) under settings the compiled loop below supports, every
combination is evaluated together: each distinct moving average is computed once (the same
compiled, pandas-identical functions the strategies use), then one compiled loop runs over all
``(fast, slow, long_only)`` combinations, each a full simulation of the engine's rules with its
statistics accumulated on the way. Anything else (other strategies, stops, slippage, a liquidity
cap, risk limits, ATR sizing) falls back to :func:`core.backtest.run_backtest` per combination,
in chunks, through the executor of :mod:`core.compute`.

The vectorised loop reproduces :func:`core.backtest.kernel.simulate` for the settings it supports
(cash, commission, spread, fill at the next open or at the close, whole or fractional units,
all-in / fraction / fixed-unit sizing, finalising at the last close or open): the same float
operations in the same order, calling the kernel's own ``entry_size`` and ``commission``. Its
statistics are those of :func:`core.backtest.metrics.compute_stats` (quantstats' definitions,
risk-free rate 0): the tests hold every combination to ``run_backtest`` at a relative 1e-9 and
the trade count exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.backtest import kernel as k
from core.backtest._jit import jit
from core.backtest.api import make_config, run_backtest
from core.backtest.conventions import infer_periods_per_year
from core.backtest.data import Bars, prepare_bars
from core.backtest.engine import BacktestConfig
from core.backtest.strategies import STRATEGIES, Strategy, get_strategy
from core.backtest.strategies._indicators import ema
from core.backtest.strategies.sma_cross import sma
from core.compute import Cancelled, CancelToken, Executor, Progress, SerialExecutor, get_executor

__all__ = ["SWEEP_STATS", "VECTORISED", "sweep", "unsupported_reason"]

SWEEP_STATS: tuple[str, ...] = (
    "return_pct", "cagr_pct", "volatility_pct", "sharpe", "sortino", "calmar",
    "max_drawdown_pct", "trades", "win_rate_pct", "final_equity")
"""Statistics per combination, named and defined as in ``BacktestStats``."""

VECTORISED: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {"sma_cross": sma,
                                                                   "ema_cross": ema}
"""Strategies with a vectorised sweep, and the moving average each crosses."""

BLOCK = 512
"""Combinations per call of the compiled loop (progress and cancellation between blocks)."""
SERIAL_BELOW = 32
"""Fallback sweeps of fewer combinations run in this process when no executor is given."""

# Per-combination kernel outputs.
O_FIRST, O_FINAL, O_N, O_MEAN, O_STD, O_DOWN, O_WEALTH, O_WORST, O_TRADES, O_WINS = range(10)
N_OUT = 10
# The simulation state a fill changes.
_CASH, _POS, _ENTRY, _ECOMM, _TRADES, _WINS = range(6)
N_ST = 6


# --------------------------------------------------------------------------- compiled loop


@jit
def _close(price: float, st: np.ndarray, p: np.ndarray) -> None:
    """Close the position at ``price``: :func:`core.backtest.kernel.close_position`'s arithmetic.

    The trade's pnl is the engine's ``size * (exit - entry) - (exit fee + entry fee)``.
    """
    size = st[_POS]
    fee = k.commission(size, price, p)
    st[_CASH] += size * (price - st[_ENTRY]) - fee
    pnl = size * (price - st[_ENTRY]) - (fee + st[_ECOMM])
    st[_TRADES] += 1.0
    if pnl > 0.0:
        st[_WINS] += 1.0
    st[_POS] = 0.0


@jit
def _open(raw: float, direction: int, st: np.ndarray, p: np.ndarray) -> None:
    """Open at ``raw`` plus spread: :func:`core.backtest.kernel.open_position` without extras."""
    d = 1.0 if direction > 0 else -1.0
    adj = raw * (1.0 + d * (p[k.P_SPREAD] + 0.0))
    units = k.entry_size(st[_CASH], raw, adj, p)
    if units <= 0.0:
        return
    size = units if direction > 0 else -units
    fee = k.commission(size, adj, p)
    st[_CASH] -= fee
    st[_POS] = size
    st[_ENTRY] = adj
    st[_ECOMM] = fee


@jit
def _act(code: int, price: float, allow_entry: bool, st: np.ndarray, p: np.ndarray) -> None:
    """One signal at ``price``: :func:`core.backtest.kernel.apply_signal` without extras."""
    pos = st[_POS]
    if pos != 0.0 and (code == k.SIG_EXIT or (code == k.SIG_LONG) != (pos > 0.0)):
        _close(price, st, p)
    if code != k.SIG_EXIT and st[_POS] == 0.0 and allow_entry:
        _open(price, code, st, p)


@jit
def _cross(prev_lt: bool, prev_gt: bool, lt: bool, gt: bool, down: int) -> int:
    """The crossover's signal code: LONG on a cross up, ``down`` on a cross down, else 0."""
    if prev_lt and gt:
        return k.SIG_LONG
    if prev_gt and lt:
        return down
    return 0


@jit
def _deviation(rets: np.ndarray, n: int, total: float, out: np.ndarray) -> None:
    """Mean and sample standard deviation of ``rets[:n]`` given their sum (left to right).

    The second pass of ``stats_kernel._nan_moments``: the same operations in the same order.
    """
    if n == 0:
        out[O_MEAN] = np.nan
        out[O_STD] = np.nan
        return
    mean = total / n
    out[O_MEAN] = mean
    if n < 2:
        out[O_STD] = np.nan
        return
    sq = 0.0
    for i in range(n):
        dev = rets[i] - mean
        sq += dev * dev
    out[O_STD] = math.sqrt(sq / (n - 1))


@jit
def _settle(i: int, value: float, o: np.ndarray, c: np.ndarray, st: np.ndarray,
            p: np.ndarray) -> float:
    """Equity of bar ``i`` when it is the last bar or the account is out of money.

    Out of money (equity <= 0): close at the close; equity is 0 from here on (returns -1, the
    engine's end of the run). Last bar: close a position still open (``finalize``) at the last
    close or open.
    """
    if value <= 0.0:
        if st[_POS] != 0.0:
            _close(c[i], st, p)
        return 0.0
    finalize = p[k.P_FINALIZE]
    if st[_POS] != 0.0 and finalize != k.FINALIZE_NONE:
        _close(o[i] if finalize == k.FINALIZE_OPEN else c[i], st, p)
        return st[_CASH]
    return value


@jit
def _simulate_pair(o: np.ndarray, c: np.ndarray, f: np.ndarray, s: np.ndarray, down: int,
                   p: np.ndarray, st: np.ndarray, rets: np.ndarray, out: np.ndarray) -> None:
    """Trade one crossover (``f`` over ``s``) and accumulate its statistics into ``out``.

    The bar loop is :func:`core.backtest.kernel.simulate_bars` for the supported settings (bar 0
    never fills: a cross needs two bars). The per-bar returns, their sum, downside sum of
    squares and product are accumulated as :func:`core.backtest.stats_kernel.return_moments`
    computes them on the equity curve. The maximum drawdown is ``stats_kernel.drawdowns``'
    ``min(equity / running peak)``, worked out once per peak from the lowest equity under it
    (division by a fixed positive peak is monotonic, so the minimum ratio is the same float).
    """
    n, last = c.shape[0], c.shape[0] - 1
    at_close = p[k.P_FILL] == k.FILL_CLOSE
    entry_at_last = p[k.P_FINALIZE] == k.FINALIZE_NONE
    st[:] = 0.0
    st[_CASH] = p[k.P_CASH]
    cash, pos, entry = st[_CASH], 0.0, 0.0
    pending, prev_lt, prev_gt = 0, f[0] < s[0], f[0] > s[0]
    prev, peak, trough, worst = cash, cash, cash, 1.0
    n_ret, total, down_sq, wealth = 0, 0.0, 0.0, 1.0
    for i in range(1, n):
        lt, gt = f[i] < s[i], f[i] > s[i]
        code = _cross(prev_lt, prev_gt, lt, gt, down)
        prev_lt, prev_gt = lt, gt
        if at_close:
            event, price, allow = code, c[i], i < last or entry_at_last
        else:
            event, price, allow, pending = pending, o[i], True, code
        if event != 0:
            _act(event, price, allow, st, p)
            cash, pos, entry = st[_CASH], st[_POS], st[_ENTRY]
        value = cash + (c[i] * pos - pos * entry)
        if (value <= 0.0) | (i == last):
            value = _settle(i, value, o, c, st, p)
        r = value / prev - 1.0
        rets[n_ret] = r
        n_ret += 1
        total += r
        wealth *= 1.0 + r
        if r < 0.0:
            down_sq += r * r
        prev = value
        if value > peak:
            worst = min(worst, trough / peak)
            peak, trough = value, value
        elif value < trough:
            trough = value
        if value == 0.0:  # out of money: the run ends (later returns are undefined)
            break
    out[O_FIRST] = p[k.P_CASH]
    out[O_FINAL] = prev
    out[O_N] = n_ret
    out[O_DOWN] = math.sqrt(down_sq / n_ret) if n_ret else np.nan
    out[O_WEALTH] = wealth
    out[O_WORST] = min(worst, trough / peak)
    out[O_TRADES] = st[_TRADES]
    out[O_WINS] = st[_WINS]
    _deviation(rets, n_ret, total, out)


@jit
def sweep_kernel(o: np.ndarray, c: np.ndarray, ma: np.ndarray, fast: np.ndarray,
                 slow: np.ndarray, down: np.ndarray, p: np.ndarray, out: np.ndarray) -> None:
    """Simulate every combination ``j``: row ``fast[j]`` of ``ma`` crossing row ``slow[j]``.

    Parameters
    ----------
    o, c : numpy.ndarray
        Opens and closes, float64.
    ma : numpy.ndarray
        ``(windows, bars)`` moving averages, one row per distinct window.
    fast, slow : numpy.ndarray
        int64 row indices into ``ma`` per combination.
    down : numpy.ndarray
        int64 code of a cross down per combination: ``SHORT`` (-1), or ``EXIT`` (2) long-only.
    p : numpy.ndarray
        The engine's parameter vector (``BacktestConfig.kernel_params()``).
    out : numpy.ndarray
        ``(combinations, N_OUT)`` float64, filled with the ``O_*`` accumulators.
    """
    rets = np.empty(c.shape[0])
    st = np.empty(N_ST)
    for j in range(fast.shape[0]):
        _simulate_pair(o, c, ma[fast[j]], ma[slow[j]], int(down[j]), p, st, rets, out[j])


# --------------------------------------------------------------------------- statistics


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN where the denominator is zero or not finite (``_safe_div``)."""
    ok = (den != 0.0) & np.isfinite(den)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, num / np.where(ok, den, 1.0), np.nan)


def _stats_table(acc: np.ndarray, periods: float) -> pd.DataFrame:
    """The :data:`SWEEP_STATS` columns from the kernel's accumulators, as ``compute_stats``."""
    root = math.sqrt(periods)
    n, wealth = acc[:, O_N], acc[:, O_WEALTH]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        growth = np.abs(wealth) ** (1.0 / (n / periods)) - 1.0
        cagr_pct = np.where((n == 0) | (wealth < 0), np.nan, growth) * 100
        max_dd_pct = (acc[:, O_WORST] - 1.0) * 100
        trades = acc[:, O_TRADES]
        table = {
            "return_pct": _ratio(acc[:, O_FINAL] - acc[:, O_FIRST], acc[:, O_FIRST]) * 100,
            "cagr_pct": cagr_pct,
            "volatility_pct": acc[:, O_STD] * root * 100,
            "sharpe": _ratio(acc[:, O_MEAN], acc[:, O_STD]) * root,
            "sortino": _ratio(acc[:, O_MEAN], acc[:, O_DOWN]) * root,
            "calmar": _ratio(cagr_pct, np.abs(max_dd_pct)),
            "max_drawdown_pct": max_dd_pct,
            "trades": trades.astype(np.int64),
            "win_rate_pct": np.where(trades > 0, acc[:, O_WINS] / np.maximum(trades, 1), np.nan)
            * 100,
            "final_equity": acc[:, O_FINAL],
        }
    for key, column in table.items():
        if column.dtype == np.float64:
            column[~np.isfinite(column)] = np.nan  # undefined ratios are NaN, never infinite
        table[key] = column
    return pd.DataFrame(table, columns=list(SWEEP_STATS))


# --------------------------------------------------------------------------- dispatch


def unsupported_reason(strategy: str | type[Strategy], config: BacktestConfig) -> str | None:
    """Why the vectorised sweep cannot run ``strategy`` under ``config`` (None when it can).

    Parameters
    ----------
    strategy : str or Strategy subclass
        The strategy.
    config : BacktestConfig
        The broker settings.

    Returns
    -------
    str or None
        A short reason, e.g. ``"stop-loss, take-profit or trailing stop"``.
    """
    cls = get_strategy(strategy)
    if STRATEGIES.get(getattr(cls, "name", "")) is not cls or cls.name not in VECTORISED:
        return f"no vectorised sweep for {cls.name} (built in: {', '.join(VECTORISED)})"
    checks = (
        (config.stop_loss, config.take_profit, config.trailing_stop),
        (config.slippage,), (config.liquidity_cap,),
        (config.max_leverage, config.max_position, config.max_drawdown_halt))
    labels = ("stop-loss, take-profit or trailing stop", "slippage", "a liquidity cap",
              "risk limits")
    for values, label in zip(checks, labels, strict=True):
        if any(v is not None for v in values):
            return label
    if config.sizing.mode == k.SIZING_ATR:
        return "ATR sizing"
    return None


def _frame(strategy: type[Strategy], combos: pd.DataFrame | Sequence[Mapping[str, Any]],
           check: bool) -> pd.DataFrame:
    """Combinations as a frame of every parameter (defaults filled), validated if asked."""
    frame = combos.reset_index(drop=True) if isinstance(combos, pd.DataFrame) \
        else pd.DataFrame(list(combos))
    for spec in strategy.params:
        if spec.name not in frame.columns:
            frame[spec.name] = spec.default
    if check:
        names = [spec.name for spec in strategy.params]
        extra = sorted(set(map(str, frame.columns)) - set(names))
        if extra:
            strategy.validate(dict.fromkeys(extra, 0))  # raises naming the unknown parameter
        for row in frame[names].itertuples(index=False, name=None):
            strategy.validate(dict(zip(names, row, strict=True)))
    return frame


def sweep(data: pd.DataFrame | Bars, strategy: str | type[Strategy],
          combos: pd.DataFrame | Sequence[Mapping[str, Any]], *, executor: Executor | None = None,
          progress: Progress | None = None, cancel: CancelToken | None = None,
          check: bool = True, **settings: Any) -> pd.DataFrame:
    """Statistics of every parameter combination, vectorised where possible.

    Parameters
    ----------
    data : pandas.DataFrame or Bars
        OHLCV bars, as for :func:`core.backtest.run_backtest`.
    strategy : str or Strategy subclass
        A registered strategy.
    combos : pandas.DataFrame or sequence of mappings
        One combination per row (parameters left out take their defaults).
    executor : Executor, optional
        Runs the fallback (per-combination backtests); :func:`core.compute.get_executor` by
        default, or this process for fewer than :data:`SERIAL_BELOW` combinations. The
        vectorised path always runs in this process (it is faster than shipping the work).
    progress : callable, optional
        ``progress(done, total)`` in combinations.
    cancel : CancelToken, optional
        Stops the sweep (raises :class:`core.compute.Cancelled`).
    check : bool, default True
        Validate every combination against the strategy's spec and rules first (callers that
        already did, such as the optimisers, pass False).
    **settings
        Broker settings, see :func:`core.backtest.make_config`.

    Returns
    -------
    pandas.DataFrame
        One row per combination, in order, with the :data:`SWEEP_STATS` columns.

    Raises
    ------
    ValidationError
        On an unknown strategy, parameter or setting, or an invalid combination.
    DataError
        If the data is malformed.
    Cancelled
        When ``cancel`` is set.
    """
    cls = get_strategy(strategy)
    config = make_config(**settings)
    bars = prepare_bars(data)
    frame = _frame(cls, combos, check)
    if len(frame) == 0:
        return pd.DataFrame(columns=list(SWEEP_STATS))
    if unsupported_reason(cls, config) is None:
        return _vectorised(bars, cls, frame, config, progress, cancel)
    return _fallback(data, cls, frame, settings, executor, progress, cancel)


def _vectorised(bars: Bars, cls: type[Strategy], frame: pd.DataFrame, config: BacktestConfig,
                progress: Progress | None, cancel: CancelToken | None) -> pd.DataFrame:
    average = VECTORISED[cls.name]
    total = len(frame)
    pairs = np.concatenate([frame["fast"].to_numpy(dtype=np.int64),
                            frame["slow"].to_numpy(dtype=np.int64)])
    windows, rows = np.unique(pairs, return_inverse=True)
    ma = np.empty((len(windows), len(bars)))
    for row, window in enumerate(windows):
        ma[row] = average(bars.close, int(window))
    down = np.where(frame["long_only"].to_numpy(dtype=bool), k.SIG_EXIT, k.SIG_SHORT)
    acc = np.empty((total, N_OUT))
    p = config.kernel_params()

    def block(start: int) -> int:
        stop = min(start + BLOCK, total)
        sweep_kernel(bars.open, bars.close, ma, rows[start:stop], rows[total + start:total + stop],
                     down[start:stop], p, acc[start:stop])
        return stop - start

    _run_blocks(block, total, progress, cancel)
    return _stats_table(acc, infer_periods_per_year(bars.index))


def _run_blocks(block: Callable[[int], int], total: int, progress: Progress | None,
                cancel: CancelToken | None) -> None:
    """Run ``block(start)`` for every :data:`BLOCK` of ``total`` combinations, in order.

    Progress is reported and cancellation checked between blocks. (Threads would not help on
    the project machine: its second vCPU gives no extra throughput, measured.)
    """
    done = 0
    for start in range(0, total, BLOCK):
        _check(cancel)
        done += block(start)
        if progress is not None:
            progress(done, total)


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled("The job was cancelled.")


def run_chunk(job: tuple[Any, Any, list[dict[str, Any]], dict[str, Any]]
              ) -> list[dict[str, Any]]:
    """Backtest each combination of one chunk (module level, so process pools can pickle it).

    Parameters
    ----------
    job : tuple
        ``(data, strategy, combinations, settings)``.

    Returns
    -------
    list of dict
        The :data:`SWEEP_STATS` of each combination, in order.
    """
    data, strategy, combinations, settings = job
    out = []
    for params in combinations:
        stats = run_backtest(data, strategy, params, **settings).stats
        out.append({key: stats[key] for key in SWEEP_STATS})
    return out


def _fallback(data: pd.DataFrame | Bars, cls: type[Strategy], frame: pd.DataFrame,
              settings: Mapping[str, Any], executor: Executor | None,
              progress: Progress | None, cancel: CancelToken | None) -> pd.DataFrame:
    names = [spec.name for spec in cls.params]
    rows = [dict(zip(names, row, strict=True))
            for row in frame[names].itertuples(index=False, name=None)]
    total = len(rows)
    if executor is None:
        executor = SerialExecutor() if total < SERIAL_BELOW else get_executor()
    size = max(1, min(64, math.ceil(total / 16)))
    strategy: Any = cls.name if STRATEGIES.get(cls.name) is cls else cls
    jobs = [(data, strategy, rows[i:i + size], dict(settings)) for i in range(0, total, size)]
    report = None if progress is None else (
        lambda done, _chunks: progress(min(done * size, total), total))
    results = executor.map(run_chunk, jobs, progress=report, cancel=cancel)
    table = pd.DataFrame([stats for chunk in results for stats in chunk],
                         columns=list(SWEEP_STATS))
    table["trades"] = table["trades"].astype(np.int64)
    return table
