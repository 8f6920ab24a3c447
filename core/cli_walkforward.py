"""``gsig walkforward``: walk-forward analysis of a strategy over a parameter grid.

``gsig walkforward --data PATH_OR_SYMBOL --strategy sma_cross --grid fast=5:30:5
--grid slow=20:100:10 --constraint "fast < slow" --train 504 --test 126 [--step N] [--anchored]
[--gap 0] [--objective sharpe] [--min-trades 1] [--cash ...] [--commission ...] [--json]``

``--train``, ``--test``, ``--step`` and ``--gap`` take a number of bars (``504``) or a calendar
period (``2Y``, ``6M``, ``365D``; see :mod:`core.research.splitters`). ``--grid NAME=VALUES``
takes a range ``START:STOP[:STEP]`` (inclusive), a list ``a,b,c`` or ``true``/``false``/``both``,
parsed by :func:`core.cli_research.parse_grid` as for ``gsig optimize``.
Data is loaded with :func:`core.data.history.load_history` (a CSV/Parquet file, or a symbol through
the history service).

The command prints one line per fold (window, chosen parameters, in-sample objective,
out-of-sample return and Sharpe, efficiency) and the stitched out-of-sample summary with its
significance; with ``--json`` one JSON object
``{"folds": [...], "efficiency": ..., "stitched_equity": [{"time", "equity"}, ...],
"significance": {...}}``. Bad input raises a :class:`~core.errors.GSError`, which
:func:`core.cli.main` prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core.errors import ValidationError

__all__ = ["add_walkforward_parser", "payload", "run_walkforward"]

FOLD_STATS: tuple[str, ...] = ("return_pct", "cagr_pct", "sharpe", "sortino", "max_drawdown_pct",
                               "trades", "win_rate_pct")
"""In-sample and out-of-sample statistics of each fold in ``--json``."""


def add_walkforward_parser(sub: Any) -> argparse.ArgumentParser:
    """Add the ``walkforward`` subcommand to ``sub`` (the subparsers of ``gsig``).

    Parameters
    ----------
    sub : argparse._SubParsersAction
        The subparsers of the ``gsig`` parser.

    Returns
    -------
    argparse.ArgumentParser
        The new subparser.
    """
    wf = sub.add_parser(
        "walkforward", help="walk-forward analysis: optimise in-sample, test out-of-sample",
        description="Walk-forward analysis of a registered strategy: in each fold, search the "
                    "grid on the training bars only, trade the best combination on the next "
                    "test bars, and chain the out-of-sample results. --data is a CSV/Parquet "
                    "file or a symbol (loaded through the history service). Exit code 2 on bad "
                    "input.")
    wf.add_argument("--data", required=True, metavar="PATH|SYMBOL",
                    help="CSV/Parquet path, or a symbol such as AAPL")
    wf.add_argument("--strategy", required=True, help="registered strategy name, e.g. sma_cross")
    wf.add_argument("--grid", action="append", default=[], metavar="NAME=VALUES",
                    help="values to try, repeatable: a range START:STOP[:STEP] (inclusive) or "
                         "a list a,b,c (e.g. --grid fast=5:30:5 --grid slow=20,50,100)")
    wf.add_argument("--constraint", help="rule on combinations, e.g. 'fast < slow'")
    wf.add_argument("--train", required=True,
                    help="training window: bars (504) or a period (2Y, 18M, 365D)")
    wf.add_argument("--test", required=True,
                    help="test window: bars (126) or a period (6M), of the same kind as --train")
    wf.add_argument("--step", help="distance between test windows (default: --test)")
    wf.add_argument("--gap", default="0", help="bars or a period between train and test "
                                               "(default 0)")
    wf.add_argument("--anchored", action="store_true",
                    help="expanding training windows from the first bar (default: rolling)")
    wf.add_argument("--objective", default="sharpe",
                    help="sharpe (default), sortino, calmar, return or return_over_max_dd")
    wf.add_argument("--min-trades", type=int, default=1,
                    help="combinations with fewer in-sample trades are not chosen (default 1)")
    wf.add_argument("--cash", type=float, help="starting cash")
    wf.add_argument("--commission", help="fraction of traded value (0.001) or a preset name")
    wf.add_argument("--spread", type=float, help="bid-ask spread as a fraction of price")
    wf.add_argument("--slippage", help="slippage model: fixed_bps:5, half_spread:4 or "
                    "volume_volatility:k:window")
    wf.add_argument("--sizing", help="'all_in', a fraction of equity in (0, 1) or units >= 1")
    wf.add_argument("--fill", choices=("next_open", "close"), help="fill at next open or close")
    wf.add_argument("--start", help="first date to use (inclusive), e.g. 2010-01-01")
    wf.add_argument("--end", help="last date to use (inclusive), e.g. 2020-12-31")
    wf.add_argument("--bootstrap", type=int, default=2000,
                    help="bootstrap samples of the significance tests (default 2000)")
    wf.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    wf.add_argument("--workers", type=int,
                    help="1 runs the folds in this process; default: the configured executor "
                         "(a local process pool, or Dask with GS_DASK_SCHEDULER)")
    wf.add_argument("--json", action="store_true",
                    help="print one JSON object {folds, efficiency, stitched_equity, "
                         "significance}")
    return wf


def _splitter(args: argparse.Namespace) -> Any:
    from core.research.splitters import AnchoredSplit, RollingSplit

    kind = AnchoredSplit if args.anchored else RollingSplit
    return kind(train=args.train.strip(), test=args.test.strip(),
                step=None if args.step is None else args.step.strip(), gap=args.gap.strip())


def _executor(workers: int | None) -> Any:
    from core.compute import LocalExecutor, SerialExecutor, get_executor

    if workers is None:
        return get_executor()
    if workers < 1:
        raise ValidationError(f"--workers must be 1 or more (got {workers}).")
    return SerialExecutor() if workers == 1 else LocalExecutor(max_workers=workers)


def run_walkforward(args: argparse.Namespace) -> int:
    """Run the walk-forward analysis ``args`` describe and print it; returns the exit code.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed by the parser of :func:`add_walkforward_parser`.

    Returns
    -------
    int
        0 on success (bad input raises a :class:`~core.errors.GSError`).
    """
    from core.backtest import get_strategy
    from core.cli import _load_data, _settings, _slice
    from core.cli_research import parse_grid  # the same --grid syntax as gsig optimize
    from core.compute import LocalExecutor
    from core.research.walkforward import assess_significance, walk_forward

    strategy = get_strategy(args.strategy)
    grid = parse_grid(strategy, args.grid)
    splitter = _splitter(args)
    settings = _settings(args, walk_forward)
    frame, note = _load_data(args.data)
    frame = _slice(frame, args.start, args.end)
    executor = _executor(args.workers)
    try:
        result = walk_forward(frame, strategy, grid, splitter=splitter,
                              constraint=args.constraint, objective=args.objective,
                              min_trades=args.min_trades, executor=executor, **settings)
    finally:
        if isinstance(executor, LocalExecutor) and args.workers is not None:
            executor.close()
    significance = assess_significance(result, frame, n_boot=args.bootstrap, seed=args.seed)
    if args.json:
        if note:
            print(f"gsig: {note}", file=sys.stderr)
        print(json.dumps(payload(result, significance), allow_nan=False))
    else:
        print(_report(result, significance, frame, args, note))
    return 0


def payload(result: Any, significance: Any) -> dict[str, Any]:
    """``{"folds", "efficiency", "stitched_equity", "significance"}``, ready for ``json.dumps``.

    Parameters
    ----------
    result : WalkForwardResult
        The walk-forward result.
    significance : WalkForwardSignificance
        Its significance tests.

    Returns
    -------
    dict
        JSON-safe values (NaN as null, times as ISO text).
    """
    from core.cli import _json_value

    folds = [{
        "fold": fold.fold,
        "train_start": _json_value(fold.train_start), "train_end": _json_value(fold.train_end),
        "test_start": _json_value(fold.test_start), "test_end": _json_value(fold.test_end),
        "train_bars": fold.train.stop - fold.train.start,
        "test_bars": fold.test.stop - fold.test.start,
        "params": {k: _json_value(v) for k, v in fold.params.items()},
        "is_objective": _json_value(fold.is_objective),
        "is_stats": {k: _json_value(fold.is_stats[k]) for k in FOLD_STATS},
        "oos_stats": {k: _json_value(fold.oos_stats[k]) for k in FOLD_STATS},
        "efficiency": _json_value(fold.efficiency),
        "n_trials": fold.n_trials,
    } for fold in result.folds]
    equity = [{"time": _json_value(t), "equity": _json_value(v)}
              for t, v in result.stitched_equity.items()]
    return {"folds": folds, "efficiency": _json_value(result.efficiency),
            "stitched_equity": equity, "significance": _json_tree(significance.to_dict())}


def _json_tree(value: Any) -> Any:
    from core.cli import _json_value

    if isinstance(value, dict):
        return {k: _json_tree(v) for k, v in value.items()}
    return _json_value(value)


def _report(result: Any, significance: Any, frame: Any, args: argparse.Namespace,
            note: str | None) -> str:
    """The human summary: the folds as a table, then the stitched out-of-sample figures."""
    from core.cli import _format_stat, _when

    kind = "anchored" if args.anchored else "rolling"
    lines = [f"gsig walkforward: {result.strategy} on {args.data}, {kind} train={args.train} "
             f"test={args.test} gap={args.gap}, objective {result.objective}",
             f"data: {len(frame):,} bars, {_when(frame.index[0])} to {_when(frame.index[-1])}"]
    if note:
        lines.append(f"NOTE: {note}")
    header = (f"  {'fold':>4}  {'test window':<25}  {'params':<24}  {'IS obj':>8}  "
              f"{'OOS ret %':>9}  {'OOS Sharpe':>10}  {'WFE':>6}")
    lines.append(header)
    for fold in result.folds:
        params = ", ".join(f"{k}={v}" for k, v in fold.params.items())
        window = f"{_when(fold.test_start)} to {_when(fold.test_end)}"
        lines.append(
            f"  {fold.fold:>4}  {window:<25}  {params:<24}  "
            f"{_format_stat('is', fold.is_objective):>8}  "
            f"{_format_stat('return_pct', fold.oos_stats['return_pct']):>9}  "
            f"{_format_stat('sharpe', fold.oos_stats['sharpe']):>10}  "
            f"{_format_stat('wfe', fold.efficiency):>6}")
    stats = result.oos_stats
    boot, paired = significance.bootstrap, significance.vs_buy_hold
    lines += [
        f"stitched out-of-sample: return {_format_stat('return_pct', stats['return_pct'])}%, "
        f"Sharpe {_format_stat('sharpe', stats['sharpe'])}, max drawdown "
        f"{_format_stat('max_drawdown_pct', stats['max_drawdown_pct'])}%, "
        f"walk-forward efficiency {_format_stat('wfe', result.efficiency)}",
        f"deflated Sharpe {_format_stat('dsr', significance.deflated_sharpe)} "
        f"({significance.n_trials} combinations per fold); bootstrap p-value of the Sharpe "
        f"{_format_stat('p', boot.p_value)}",
        f"vs buy and hold: mean difference "
        f"{_format_stat('x_pct', paired.mean_diff_annualised * 100)}% a year, t "
        f"{_format_stat('t', paired.t_stat)}, p {_format_stat('p', paired.p_value)}"]
    return "\n".join(lines)
