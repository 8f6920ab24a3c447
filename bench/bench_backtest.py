"""Backtest engine benchmark, run by hand; writes its table into BENCHMARKS.md with ``--write``.

    .venv/bin/python bench/bench_backtest.py [--runs 50] [--minute-runs 5] [--skip-reference-1m]
                                             [--write]

Measures, each next to backtesting.py 0.6.6 measured in the same run on the same data:

1. SmaCross(10, 30) on GOOG daily (2,148 bars), cash 10,000, commission 0.002: our engine
   (``core.backtest.run``: validation, vectorised signals, compiled loop, trades and equity
   frames) and our ``run_backtest`` (the same plus ``compute_stats``, written separately) against
   ``Backtest(GOOG, SmaCross, commission=.002, finalize_trades=True).run()`` (which includes its
   statistics). Median of ``--runs`` interleaved runs each; the trades are checked to agree first.
2. The first run in this process (numba loads the compiled loop from its cache).
3. 1,000,000 synthetic minute bars (seeded GBM) with the same strategy and no commission,
   without and with a stop-loss, take-profit and trailing stop; backtesting.py runs the plain case
   once as the reference (and its trades are checked to agree with ours).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backtesting import Backtest, Strategy  # noqa: E402
from backtesting.lib import crossover  # noqa: E402
from backtesting.test import GOOG, SMA  # noqa: E402

from bench.report import write_block  # noqa: E402

SECTION = "## Backtest engine (`bench/bench_backtest.py`)"
GOAL_MINUTE_S = 1.0
COMMISSION = 0.002
NOTES = """How to read it:
- Each call is timed with the garbage collector paused (as `timeit` does), on both sides.
- Both sides produce the same trades: the script stops if entry/exit bars or sizes differ
  (GOOG with commission 0.002, and the 1M-bar run). backtesting.py's `run()` includes its
  statistics, so the fair end-to-end comparison is the `run_backtest` row; the engine row is
  validation + vectorised signals + compiled loop + trades/equity frames.
- The statistics (`core/backtest/stats_kernel.py`) and the moving averages are compiled too.
- The loop is compiled by numba (`cache=True`): the first run in a process loads it from the cache
  (a cold cache compiles it in about 3 s); later runs pay only pandas work around it. Without
  numba the same loop runs as plain Python (about 5 ms on GOOG).
- The minute bars run without commission: at 0.2 % a crossing, the random walk leaves too little
  cash for one unit within days and the rest of the run would not trade."""


class SmaCross(Strategy):
    """backtesting.py's own SmaCross (backtesting/test/_test.py)."""

    fast = 10
    slow = 30

    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.fast)
        self.sma2 = self.I(SMA, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


def gbm_minutes(n: int, seed: int = 42) -> pd.DataFrame:
    """``n`` one-minute OHLCV bars of a geometric Brownian motion (20 % a year), seeded."""
    rng = np.random.default_rng(seed)
    sigma = 0.2 / np.sqrt(252 * 390)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, sigma, n)))
    open_ = np.r_[100.0, close[:-1]]
    wick = np.abs(rng.normal(0.0, sigma / 2, (2, n)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    index = pd.date_range("2020-01-01", periods=n, freq="min", tz="UTC")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close,
                         "Volume": rng.integers(100, 10_000, n).astype(float)}, index=index)


def backtesting_py(data: pd.DataFrame, commission: float = COMMISSION) -> pd.Series:
    with warnings.catch_warnings():  # 0.6.6 warns about pandas deprecations
        warnings.simplefilter("ignore")
        return Backtest(data, SmaCross, cash=10_000, commission=commission,
                        finalize_trades=True).run()


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call takes, with the garbage collector paused during it (as ``timeit`` does)."""
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def medians(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds of each function over ``runs`` interleaved rounds."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            samples[name].append(timed(fn))
    return {name: statistics.median(values) for name, values in samples.items()}


def check_parity(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    """Abort if the benchmarked runs do not trade identically (speed of a wrong answer is moot)."""
    for a, b in (("entry_bar", "EntryBar"), ("exit_bar", "ExitBar"), ("size", "Size")):
        if not np.array_equal(ours[a].to_numpy(), theirs[b].to_numpy()):
            raise SystemExit(f"parity broken on {a}; fix the engine before benchmarking")


def measure(runs: int, minute_runs: int, reference_1m: bool) -> list[tuple[str, str, str, str]]:
    t_import = time.perf_counter()
    from core.backtest import BacktestConfig, PercentCommission, prepare_bars, run, run_backtest
    from core.backtest.strategies import STRATEGIES

    t_import = time.perf_counter() - t_import
    strategy = STRATEGIES["sma_cross"](fast=10, slow=30)
    config = BacktestConfig(cash=10_000, commission=PercentCommission(COMMISSION),
                            finalize_at="open")
    t_first = time.perf_counter()
    first = run(GOOG, strategy, config)
    t_first = time.perf_counter() - t_first
    ref_first = timed(lambda: backtesting_py(GOOG))
    check_parity(first.trades, backtesting_py(GOOG)["_trades"])

    daily = medians({
        "engine": lambda: run(GOOG, strategy, config),
        "api": lambda: run_backtest(GOOG, "sma_cross", commission=COMMISSION,
                                    finalize_at="open"),
        "ref": lambda: backtesting_py(GOOG),
    }, runs)
    rows = [
        ("GOOG daily SmaCross(10, 30), engine `run` (no statistics), ms",
         f"{daily['engine'] * 1e3:.2f}", f"{daily['ref'] * 1e3:.1f}",
         f"{daily['ref'] / daily['engine']:.0f}x"),
        ("GOOG daily SmaCross(10, 30), `run_backtest` incl. `compute_stats` (goal: 20x), ms",
         f"{daily['api'] * 1e3:.2f}", f"{daily['ref'] * 1e3:.1f}",
         f"{daily['ref'] / daily['api']:.1f}x"),
        ("GOOG first run in this process (numba loads the compiled loop from its cache), ms",
         f"{t_first * 1e3:.0f}", f"{ref_first * 1e3:.0f}", f"{ref_first / t_first:.2f}x"),
        ("`import core.backtest` (numba, pandas already loaded), ms", f"{t_import * 1e3:.0f}",
         "n/a", "n/a"),
    ]

    # No commission on the minute bars: at 0.2 % a crossing, a random walk leaves too little cash
    # for one unit within days and the rest of the run would not trade.
    minutes = gbm_minutes(1_000_000)
    bars = prepare_bars(minutes)
    plain = BacktestConfig(cash=10_000, finalize_at="open")
    stops = BacktestConfig(cash=10_000, stop_loss=0.002, take_profit=0.004, trailing_stop=0.002)
    minute = medians({
        "plain": lambda: run(minutes, strategy, plain),
        "stops": lambda: run(minutes, strategy, stops),
        "signals": lambda: strategy.signals(bars),
    }, minute_runs)
    ours_1m = run(minutes, strategy, plain)
    n_trades = len(ours_1m.trades)
    n_stopped = int((run(minutes, strategy, stops).trades["exit_reason"] != "signal").sum())
    ref_1m, ref_label = float("nan"), "not run"
    if reference_1m:
        ref_run = None

        def reference() -> None:
            nonlocal ref_run
            ref_run = backtesting_py(minutes, commission=0.0)

        ref_1m = timed(reference)
        check_parity(ours_1m.trades, ref_run["_trades"])
        ref_label = f"{ref_1m:.1f}"
    speedup = f"{ref_1m / minute['plain']:.0f}x" if reference_1m else "n/a"
    rows += [
        (f"1,000,000 GBM minute bars, SmaCross(10, 30), {n_trades:,} trades (goal < 1 s), s",
         f"{minute['plain']:.3f}", ref_label, speedup),
        (f"  same with stop-loss, take-profit and trailing stop ({n_stopped:,} exits by them), s",
         f"{minute['stops']:.3f}", "n/a", "n/a"),
        ("  of which signals (two compiled rolling means, bit-identical to pandas), s",
         f"{minute['signals']:.3f}", "n/a", "n/a"),
    ]
    return rows


def render(rows: list[tuple[str, str, str, str]], runs: int, minute_runs: int) -> str:
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy "
        f"{np.__version__}, pandas {pd.__version__}; median of {runs} interleaved runs (daily) "
        f"and {minute_runs} (minute bars); run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| Measure | GoldenSignals | backtesting.py 0.6.6 (same run) | Speed-up |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {ours} | {ref} | {ratio} |" for name, ours, ref, ratio in rows]
    return "\n".join(lines + ["", NOTES])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=50, help="runs per daily measure")
    parser.add_argument("--minute-runs", type=int, default=5, help="runs per 1M-bar measure")
    parser.add_argument("--skip-reference-1m", action="store_true",
                        help="do not run backtesting.py on the 1M bars (it takes ~20 s)")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    args = parser.parse_args()
    rows = measure(args.runs, args.minute_runs, not args.skip_reference_1m)
    table = render(rows, args.runs, args.minute_runs)
    print(table)
    if args.write:
        write_block("bench_backtest", SECTION, table)


if __name__ == "__main__":
    main()
