"""Parameter sweep benchmark against vectorbt, run by hand; ``--write`` updates BENCHMARKS.md.

    .venv/bin/python bench/bench_sweep.py [--runs 20] [--vbt-runs 3] [--skip-cold] [--write]

Every SMA pair with windows 2..100 and fast < slow (4,851 combinations) on 2,520 daily bars
(10 years) of a seeded geometric Brownian motion (``gbm_daily``: 20 % a year, seed 42; the
opens gap from the previous close by a little noise).

- GoldenSignals: :func:`core.research.grid_search` end to end (space and constraint, the
  vectorised sweep, objective, ranking) and :func:`core.research.sweep.sweep` alone (moving
  averages, the compiled loop over all pairs, per-pair statistics).
- vectorbt: ``vbt.MA.run_combs(close, window=np.arange(2, 101), r=2, short_names=["fast",
  "slow"])``, entries ``fast.ma_crossed_above(slow)``, exits ``fast.ma_crossed_below(slow)``,
  ``vbt.Portfolio.from_signals(close, entries, exits, init_cash=10_000, freq="1D")``, then
  ``total_return()`` and ``sharpe_ratio()`` per column (annualised over 252 days, as ours).

vectorbt's ``from_signals`` fills at the signal bar's close, long only, with fractional units and
no fees; the headline rows run ours with the same conventions (``fill="close"``,
``long_only=True``, ``fractional=True``) so both compute the same trades, and the script checks
that the best pair by total return is the same pair with the same total return. A row also
times ours with its default conventions (next-open fills, long/short, whole units, 0.1 %
commission). Each side runs in its own fresh process: the warm runs (median, compilation
excluded), the first call in a process with numba's cache warm, the first call with an empty
numba cache (compilation; ``--skip-cold`` skips it), and the process's peak resident memory
(``getrusage`` max RSS: imports, data and runs) next to its RSS before the first run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_block  # noqa: E402

SECTION = "## Parameter sweep (`bench/bench_sweep.py`)"
WINDOWS = (2, 101)
N_BARS = 2520
GOAL_SPEEDUP = 20.0
GOAL_MB = 500.0
TOLERANCE = 1e-9
MATCHED = {"fill": "close", "fractional": True, "cash": 10_000.0}
NOTES = """How to read it:
- Data: 2,520 daily bars (10 years) of a seeded GBM (20 % a year, seed 42), not GOOG: the sweep
  is about throughput, and a synthetic series of exactly ten years keeps both sides honest.
- Same trades on both sides: the headline rows run ours with vectorbt's conventions (fill at the
  signal bar's close, long only, fractional units, no fees); the last row checks that the best
  pair by total return is the same and its total return agrees (and counts the pairs that do
  not). Sharpe ratios differ slightly by convention: vectorbt's returns start with the first
  bar's against the initial cash (a 0 here, one return more than quantstats' `pct_change`);
  adding that 0 to ours gives vectorbt's Sharpe to 1e-14.
- Ours evaluates each distinct moving average once (the compiled rolling mean, bit-identical to
  pandas), then one compiled loop runs all pairs: the engine's bar loop (same float operations as
  `core.backtest.kernel`, whose `entry_size` and `commission` it calls) with the statistics
  accumulated on the way, so no equity matrix is ever held. The tests hold every pair to
  `run_backtest` at a relative 1e-9 (trades exactly).
- Warm runs exclude compilation on both sides. "First call" is the first run in a fresh process;
  "compilation" is that first run with an empty numba cache (`NUMBA_CACHE_DIR` set to a new
  folder), which is what a fresh install pays once.
- Peak memory is the process's max RSS, so it includes Python, numpy, pandas, numba (and for
  vectorbt its own imports) and the data; "before the first run" is the RSS at that point.
- Threads do not help here: the project machine's second vCPU gives no extra throughput to a
  second compiled thread (measured), so the loop runs on one core."""


def gbm_daily(n: int = N_BARS, seed: int = 42) -> pd.DataFrame:
    """``n`` business-day OHLC bars of a geometric Brownian motion (20 % a year), seeded."""
    rng = np.random.default_rng(seed)
    sigma = 0.2 / np.sqrt(252)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, sigma, n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(rng.normal(0.0, sigma / 4, n))
    wick = np.abs(rng.normal(0.0, sigma / 2, (2, n)))
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    index = pd.bdate_range("2015-01-02", periods=n, tz="UTC")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close}, index=index)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds one call takes (garbage collector paused, as ``timeit`` does) and its result."""
    gc.disable()
    try:
        t0 = time.perf_counter()
        out = fn()
        return time.perf_counter() - t0, out
    finally:
        gc.enable()


def rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mb() -> float:
    """Peak resident memory of this process in MB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ----------------------------------------------------------------------------- child sides


def side_ours(runs: int) -> dict[str, Any]:
    from core.research import grid_search
    from core.research.space import ParameterSpace
    from core.research.sweep import sweep

    data = gbm_daily()
    grid = {"fast": range(*WINDOWS), "slow": range(*WINDOWS)}
    matched = {**MATCHED}
    combos = ParameterSpace("sma_cross", {**grid, "long_only": [True]}, "fast < slow").grid()
    before = rss_mb()

    def search(**settings: Any) -> Any:
        return grid_search(data, "sma_cross", {**grid, "long_only": [True]},
                           constraint="fast < slow", objective="return", **settings)

    first, _ = timed(lambda: search(**matched))
    warm = [timed(lambda: search(**matched))[0] for _ in range(runs)]
    alone = [timed(lambda: sweep(data, "sma_cross", combos, check=False, **matched))[0]
             for _ in range(runs)]
    default = [timed(lambda: grid_search(data, "sma_cross", grid, constraint="fast < slow",
                                         commission=0.001))[0] for _ in range(runs)]
    result = search(**matched)
    best = result.table.iloc[0]
    returns = {f"{int(f)},{int(s)}": float(r) / 100 for f, s, r in zip(
        result.table["fast"], result.table["slow"], result.table["return_pct"], strict=True)}
    return {"first": first, "warm": statistics.median(warm), "alone": statistics.median(alone),
            "default": statistics.median(default), "before_mb": before, "peak_mb": peak_mb(),
            "n": result.n_trials, "best": [int(best["fast"]), int(best["slow"])],
            "best_return": float(best["return_pct"]) / 100, "returns": returns}


def side_vectorbt(runs: int) -> dict[str, Any]:
    import vectorbt as vbt

    vbt.settings.returns["year_freq"] = "252 days"
    close = gbm_daily()["Close"]
    before = rss_mb()

    def pipeline() -> tuple[pd.Series, pd.Series]:
        fast, slow = vbt.MA.run_combs(close, window=np.arange(*WINDOWS), r=2,
                                      short_names=["fast", "slow"])
        entries = fast.ma_crossed_above(slow)
        exits = fast.ma_crossed_below(slow)
        pf = vbt.Portfolio.from_signals(close, entries, exits, init_cash=10_000.0, freq="1D")
        return pf.total_return(), pf.sharpe_ratio()

    first, _ = timed(pipeline)
    warm = []
    for _ in range(runs):
        seconds, (total_return, sharpe) = timed(pipeline)
        warm.append(seconds)
    pair = total_return.idxmax()
    returns = {f"{int(f)},{int(s)}": float(r) for (f, s), r in total_return.items()}
    return {"first": first, "warm": statistics.median(warm), "before_mb": before,
            "peak_mb": peak_mb(), "n": int(total_return.size), "best": [int(p) for p in pair],
            "best_return": float(total_return.max()), "returns": returns,
            "version": vbt.__version__}


# ----------------------------------------------------------------------------- parent


def run_side(side: str, runs: int, cold: bool) -> dict[str, Any]:
    """Run one side in a fresh process (an empty numba cache when ``cold``); its JSON result."""
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        if cold:
            env["NUMBA_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, __file__, "--side", side, "--runs", str(runs)],
                             env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{side} side failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def agreement(ours: dict[str, Any], ref: dict[str, Any]) -> tuple[str, str, str, str]:
    """The table row on the best pair by total return and how far the two sides agree."""
    rel = abs(ours["best_return"] - ref["best_return"]) / abs(ref["best_return"])
    off = sum(abs(ours["returns"][key] - value) > TOLERANCE * max(abs(value), 1.0)
              for key, value in ref["returns"].items())
    same = "the same pair" if ours["best"] == ref["best"] else "DIFFERENT pairs"
    label = (f"Best pair by total return, (fast, slow) and return: {same}; pairs whose total "
             f"return differs by more than {TOLERANCE:g}: {off:,} of {len(ref['returns']):,}")
    return (label, f"({ours['best'][0]}, {ours['best'][1]}) {ours['best_return'] * 100:.4f} %",
            f"({ref['best'][0]}, {ref['best'][1]}) {ref['best_return'] * 100:.4f} %",
            f"{rel:.1e} apart")


def measure(runs: int, vbt_runs: int, cold: bool) -> tuple[list[tuple[str, str, str, str]], str]:
    ours = run_side("ours", runs, cold=False)
    ref = run_side("vectorbt", vbt_runs, cold=False)
    ours_cold = run_side("ours", 1, cold=True) if cold else None
    ref_cold = run_side("vectorbt", 1, cold=True) if cold else None
    n = f"{ours['n']:,}"
    rows = [
        (f"{n} SMA pairs x 2,520 daily bars, warm, `grid_search` end to end (goal: "
         f"{GOAL_SPEEDUP:.0f}x), ms", f"{ours['warm'] * 1e3:.0f}", f"{ref['warm'] * 1e3:,.0f}",
         f"{ref['warm'] / ours['warm']:.0f}x"),
        ("  of which the vectorised `sweep` (averages, compiled loop, statistics), ms",
         f"{ours['alone'] * 1e3:.0f}", f"{ref['warm'] * 1e3:,.0f}",
         f"{ref['warm'] / ours['alone']:.0f}x"),
        ("  ours with its own defaults (next-open fills, long/short, whole units, 0.1 % "
         "commission), ms", f"{ours['default'] * 1e3:.0f}", "n/a", "n/a"),
        ("First call in a fresh process, numba cache warm, s", f"{ours['first']:.2f}",
         f"{ref['first']:.2f}", f"{ref['first'] / ours['first']:.1f}x"),
    ]
    if ours_cold and ref_cold:
        rows.append(("First call with an empty numba cache (compilation), s",
                     f"{ours_cold['first']:.1f}", f"{ref_cold['first']:.1f}",
                     f"{ref_cold['first'] / ours_cold['first']:.1f}x"))
    rows += [
        (f"Peak memory of the process (max RSS; goal < {GOAL_MB:.0f} MB), MB",
         f"{ours['peak_mb']:,.0f}", f"{ref['peak_mb']:,.0f}",
         f"{ref['peak_mb'] / ours['peak_mb']:.1f}x less"),
        ("  RSS before the first run (imports and data), MB", f"{ours['before_mb']:,.0f}",
         f"{ref['before_mb']:,.0f}", "n/a"),
        agreement(ours, ref),
    ]
    return rows, ref["version"]


def render(rows: list[tuple[str, str, str, str]], runs: int, vbt_runs: int,
           version: str) -> str:
    import numba

    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, numba "
        f"{numba.__version__}, vectorbt {version}; median of {runs} warm runs (ours) and "
        f"{vbt_runs} (vectorbt); run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"| Measure | GoldenSignals | vectorbt {version} (same run) | Ratio |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {ours} | {ref} | {ratio} |" for name, ours, ref, ratio in rows]
    return "\n".join(lines + ["", NOTES])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="warm runs of ours")
    parser.add_argument("--vbt-runs", type=int, default=3, help="warm runs of vectorbt")
    parser.add_argument("--skip-cold", action="store_true",
                        help="skip the empty-cache (compilation) runs (vectorbt's takes ~1 min)")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--side", choices=("ours", "vectorbt"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        side = side_ours if args.side == "ours" else side_vectorbt
        print(json.dumps(side(args.runs)))
        return
    rows, version = measure(args.runs, args.vbt_runs, not args.skip_cold)
    table = render(rows, args.runs, args.vbt_runs, version)
    print(table)
    if args.write:
        write_block("bench_sweep", SECTION, table)


if __name__ == "__main__":
    main()
