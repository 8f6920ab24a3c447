"""Monte Carlo benchmark, run by hand; writes its table into BENCHMARKS.md with ``--write``.

    .venv/bin/python bench/bench_montecarlo.py [--paths 100000] [--horizon 252] [--runs 5]
                                               [--write]

Measures ``core.research.montecarlo.monte_carlo`` on 100,000 paths of 252 steps for the
``gbm`` and ``block_bootstrap`` methods (fitted to / resampled from 10 years of seeded daily
returns), in this process (the default executor) and on the local process pool, next to a naive
numpy reference measured in the same run: the textbook vectorised code that draws every random
number at once and keeps every path in float64 (``paths x steps`` arrays for the draws, the
wealth, its running peak), then takes ``np.percentile`` over the paths at every step.

Each measure runs in a fresh subprocess: a small warm-up call first (imports, numba loads the
compiled kernels from its cache), then ``--runs`` timed calls. Wall time is the median of the
timed calls; peak memory is the process's peak resident set (``ru_maxrss``) after the first
timed call minus its resident set just before it. Goal: under 1 s and under 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import write_block  # noqa: E402

SECTION = "## Monte Carlo (`bench/bench_montecarlo.py`)"
GOAL_S, GOAL_MB = 1.0, 1024.0
PERCENTILES = (5.0, 25.0, 50.0, 75.0, 95.0)
NOTES = """How to read it:
- Both sides compute the same outputs: per-step 5/25/50/75/95 % equity percentiles (exact order
  statistics), and per path the final return, max drawdown, Sharpe and ruin flag; the script
  stops if their median final equity differs by more than 2 % (the random draws differ).
- GoldenSignals draws one seed block of 1,000 paths at a time (so memory does not grow with the
  draws), runs one compiled pass over each block that keeps the per-step log wealth in float32
  (100 MB for 100,000 x 252, needed for the exact percentiles), and finds the percentiles with a
  compiled histogram selection instead of sorting every step. Its peak is that float32 matrix
  plus the chunks' float32 rows it is assembled from.
- The process-pool row includes sending the float32 paths (100 MB) back from the workers; on
  this 2-core machine it gains little or nothing, so the default executor is this process.
- The first call in a fresh process loads the compiled kernels from numba's cache (a cold cache
  compiles them in several seconds, once)."""


def sample_returns(n: int = 2_520, seed: int = 7) -> np.ndarray:
    """Ten years of seeded daily returns with fat tails and a little drift."""
    rng = np.random.default_rng(seed)
    return np.expm1(0.0003 + 0.012 * rng.standard_t(5, n) * np.sqrt(3 / 5))


def naive(returns: np.ndarray, paths: int, horizon: int, method: str, seed: int) -> dict:
    """The reference: every path in memory in float64, numpy's percentile at every step."""
    rng = np.random.default_rng(seed)
    n = returns.size
    if method == "gbm":
        logs = np.log1p(returns)
        step = logs.mean() + logs.std(ddof=1) * rng.standard_normal((paths, horizon))
        simple = np.expm1(step)
    else:  # stationary bootstrap with mean block n ** (1/3)
        restart = rng.random((paths, horizon)) < 1 / n ** (1 / 3)
        restart[:, 0] = True
        starts = rng.integers(0, n, (paths, horizon))
        pos = np.arange(horizon)
        last = np.maximum.accumulate(np.where(restart, pos, 0), axis=1)
        idx = (np.take_along_axis(starts, last, axis=1) + pos - last) % n
        simple = returns[idx]
        step = np.log1p(simple)
    wealth = np.exp(np.cumsum(step, axis=1))
    peak = np.maximum(np.maximum.accumulate(wealth, axis=1), 1.0)
    max_dd = (wealth / peak).min(axis=1) - 1
    sharpe = simple.mean(axis=1) / simple.std(axis=1, ddof=1) * np.sqrt(252)
    return {"percentiles": np.percentile(wealth, PERCENTILES, axis=0),
            "final": wealth[:, -1], "max_dd": max_dd, "sharpe": sharpe,
            "ruin": float(np.mean(wealth.min(axis=1) < 0.5))}


def child(kind: str, method: str, paths: int, horizon: int, runs: int) -> None:
    """One measure in this (fresh) process; prints a JSON line."""
    import psutil

    t0 = time.perf_counter()
    from core.compute import LocalExecutor
    from core.research.montecarlo import monte_carlo

    returns = sample_returns()
    executor = LocalExecutor(max_workers=2) if kind == "pool" else None

    def call(n: int) -> float:
        if kind == "naive":
            return float(np.median(naive(returns, n, horizon, method, 0)["final"]))
        result = monte_carlo(returns, n, horizon, method, 0, executor=executor)
        return float(result.percentiles["p50"].iloc[-1])

    call(2_000)  # warm-up: imports, numba cache, worker start-up
    first = time.perf_counter() - t0
    times, median = [], 0.0
    baseline = psutil.Process().memory_info().rss
    for i in range(runs):
        start = time.perf_counter()
        median = call(paths)
        times.append(time.perf_counter() - start)
        if i == 0:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline
    if executor is not None:
        executor.close()
    print(json.dumps({"time": statistics.median(times), "peak_mb": peak / 2 ** 20,
                      "first": first, "median_final": median}))


def measure(kind: str, method: str, paths: int, horizon: int, runs: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, method, "--paths",
                          str(paths), "--horizon", str(horizon), "--runs", str(runs)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def render(rows: list[tuple[str, str, str, str]], paths: int, horizon: int, runs: int) -> str:
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, numpy {np.__version__}; {paths:,} paths x {horizon} "
        f"steps, median of {runs} runs, each measure in a fresh process; run "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        "| Measure | GoldenSignals | naive numpy, float64, all paths in memory (same run) "
        "| Ratio |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {ours} | {ref} | {ratio} |" for name, ours, ref, ratio in rows]
    return "\n".join(lines + ["", NOTES])


def rows_for(paths: int, horizon: int, runs: int) -> list[tuple[str, str, str, str]]:
    rows = []
    for method in ("gbm", "block_bootstrap"):
        ours = measure("ours", method, paths, horizon, runs)
        ref = measure("naive", method, paths, horizon, runs)
        if abs(ours["median_final"] / ref["median_final"] - 1) > 0.02:
            raise SystemExit(f"{method}: median final equity {ours['median_final']:.4f} vs "
                             f"{ref['median_final']:.4f}; fix the engine before benchmarking")
        ok_t = "met" if ours["time"] < GOAL_S else "MISSED"
        ok_m = "met" if ours["peak_mb"] < GOAL_MB else "MISSED"
        rows += [
            (f"`{method}`: wall time (goal < 1 s: {ok_t}), s", f"{ours['time']:.2f}",
             f"{ref['time']:.2f}", f"{ref['time'] / ours['time']:.1f}x faster"),
            (f"`{method}`: peak memory above the process before the call (goal < 1 GB: "
             f"{ok_m}), MB", f"{ours['peak_mb']:,.0f}", f"{ref['peak_mb']:,.0f}",
             f"{ref['peak_mb'] / ours['peak_mb']:.1f}x less"),
        ]
        if method == "gbm":
            pool = measure("pool", method, paths, horizon, runs)
            rows += [
                ("`gbm` on the local process pool (2 workers, warm), s", f"{pool['time']:.2f}",
                 "n/a", "n/a"),
                ("first call in a fresh process: imports, numba cache load, 2,000 paths, s",
                 f"{ours['first']:.2f}", f"{ref['first']:.2f}", "n/a"),
            ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--paths", type=int, default=100_000, help="paths per run")
    parser.add_argument("--horizon", type=int, default=252, help="steps per path")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measure")
    parser.add_argument("--write", action="store_true", help="update BENCHMARKS.md")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "METHOD"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.paths, args.horizon, args.runs)
        return
    table = render(rows_for(args.paths, args.horizon, args.runs), args.paths, args.horizon,
                   args.runs)
    print(table)
    if args.write:
        write_block("bench_montecarlo", SECTION, table)


if __name__ == "__main__":
    main()
