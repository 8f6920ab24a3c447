"""``gsig montecarlo``: a strategy's backtest, then Monte Carlo paths of its returns.

``gsig montecarlo --data PATH_OR_SYMBOL --strategy NAME [--param k=v ...] [--paths 10000]
[--horizon N] [--method block_bootstrap] [--seed 0] [--block B] [--ruin-level 0.5]
[--drawdown-limit 0.2] [--start DATE] [--end DATE] [--cash C] [--commission X]
[--executor auto|serial|local|dask] [--json]``

The bars come from :func:`core.data.history.load_history` (a CSV/Parquet path, or a symbol through
the history service: its sources, then the offline simulator), the backtest from
:func:`core.backtest.run_backtest`; its per-bar returns (and, for the trade methods, its trades)
feed :func:`core.research.montecarlo.monte_carlo`, with the paths starting from the backtest's
final equity. The command prints the equity percentiles at the horizon, the distributions and the
risk figures, or with ``--json`` one JSON object: ``backtest`` (what was simulated) and
:meth:`~core.research.montecarlo.MonteCarloResult.to_dict` (``percentiles``, ``summary``,
``risk``, ``params``, ``inputs``, ``worst_path``, ``worst_drawdown_path``). Bad input raises a
:class:`~core.errors.GSError`, which :func:`core.cli.main` prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from core.errors import ValidationError

__all__ = ["EXECUTORS", "add_montecarlo_parser", "run_montecarlo"]

EXECUTORS: tuple[str, ...] = ("auto", "serial", "local", "dask")
"""``--executor`` values; ``auto`` is Dask when ``GS_DASK_SCHEDULER`` is set, else in-process."""
_ROWS: tuple[tuple[str, str, float], ...] = (
    ("final_return", "Final return [%]", 100.0), ("cagr", "CAGR [%]", 100.0),
    ("sharpe", "Sharpe", 1.0), ("max_drawdown", "Max drawdown [%]", 100.0))


def add_montecarlo_parser(sub: Any) -> None:
    """Add the ``montecarlo`` subcommand to ``sub`` (the subparsers of ``gsig``)."""
    from core.research.montecarlo import METHODS

    mc = sub.add_parser(
        "montecarlo", help="Monte Carlo paths of a strategy's backtest returns",
        description="Backtest a registered strategy, then simulate equity paths from its "
                    "returns: resampled trades (with or without replacement), a stationary "
                    "block bootstrap of the daily returns, or GBM / Student-t paths fitted to "
                    "them. Prints the equity percentiles at the horizon, the distributions of "
                    "final return, CAGR, Sharpe and max drawdown, and the probabilities of ruin "
                    "and of breaching the drawdown limit. Seeded: the same command gives the "
                    "same numbers. Exit code 2 on bad input.")
    mc.add_argument("--data", required=True, metavar="PATH|SYMBOL",
                    help="CSV/Parquet OHLCV file, or a symbol (history service, then the "
                         "offline simulator)")
    mc.add_argument("--strategy", required=True, help="registered strategy name, e.g. sma_cross")
    mc.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="strategy parameter, repeatable (e.g. --param fast=10)")
    mc.add_argument("--paths", type=int, default=10_000, help="paths to simulate (10,000)")
    mc.add_argument("--horizon", type=int,
                    help="steps per path: bars for the daily methods (default one year), trades "
                         "for the trade methods (default the backtest's number of trades)")
    mc.add_argument("--method", choices=METHODS, default="block_bootstrap",
                    help="simulation method (default block_bootstrap)")
    mc.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    mc.add_argument("--block", type=float,
                    help="mean block length of the bootstrap in bars (default n ** (1/3))")
    mc.add_argument("--ruin-level", type=float, default=0.5,
                    help="ruin = equity below this fraction of the start (default 0.5)")
    mc.add_argument("--drawdown-limit", type=float, default=0.2,
                    help="report the probability of a drawdown deeper than this (default 0.2)")
    mc.add_argument("--start", help="first date of the backtest (inclusive)")
    mc.add_argument("--end", help="last date of the backtest (inclusive)")
    mc.add_argument("--cash", type=float, help="starting cash of the backtest")
    mc.add_argument("--commission", help="fraction of traded value (0.001) or a preset name")
    mc.add_argument("--executor", choices=EXECUTORS, default="auto",
                    help="where the paths run: auto (Dask when GS_DASK_SCHEDULER is set, else "
                         "this process), serial, local (process pool) or dask")
    mc.add_argument("--json", action="store_true", help="print one JSON object")


def _executor(name: str) -> Any:
    from core.compute import LocalExecutor, SerialExecutor, get_executor

    if name == "auto":
        name = "dask" if os.environ.get("GS_DASK_SCHEDULER") else "serial"
    if name == "serial":
        return SerialExecutor()
    if name == "dask" and not os.environ.get("GS_DASK_SCHEDULER"):
        raise ValidationError("--executor dask needs GS_DASK_SCHEDULER (e.g. "
                              "tcp://scheduler:8786).")
    return get_executor() if name == "dask" else LocalExecutor()


def _backtest(args: argparse.Namespace) -> tuple[Any, Any, str | None]:
    """The backtest run, the bars it ran on and the note on where they came from."""
    from core.backtest import get_strategy, run_backtest
    from core.cli import _load_data, _number_or_text, _parse_params, _slice

    strategy = get_strategy(args.strategy)
    params = _parse_params(strategy, args.param)
    settings: dict[str, Any] = {}
    if args.cash is not None:
        settings["cash"] = args.cash
    if args.commission is not None:
        settings["commission"] = _number_or_text(args.commission)
    frame, note = _load_data(args.data)
    frame = _slice(frame, args.start, args.end)
    return run_backtest(frame, strategy, params, **settings), frame, note


def run_montecarlo(args: argparse.Namespace) -> int:
    """Run ``gsig montecarlo`` for parsed ``args``; returns the exit code (GSError propagates)."""
    from core.research.montecarlo import TRADE_METHODS, monte_carlo

    run, frame, note = _backtest(args)
    returns = run.equity.pct_change().iloc[1:]
    start_equity = float(run.equity.iloc[-1])
    if not start_equity > 0:
        raise ValidationError("the backtest ended with no equity; there is nothing to simulate.")
    if args.method in TRADE_METHODS and run.trades.empty:
        raise ValidationError(f"{args.method} resamples trades and the backtest made none; use "
                              "--method block_bootstrap, gbm or student_t.")
    executor = _executor(args.executor)
    try:
        result = monte_carlo(returns, args.paths, args.horizon, args.method, args.seed,
                             trades=run.trades, block=args.block, start_equity=start_equity,
                             ruin_level=args.ruin_level, drawdown_limit=args.drawdown_limit,
                             executor=executor)
    finally:
        if args.executor == "local":
            executor.close()
    backtest = {"data": args.data, "strategy": repr(run.strategy), "bars": len(frame),
                "first_bar": frame.index[0].isoformat(), "last_bar": frame.index[-1].isoformat(),
                "trades": len(run.trades), "final_equity": start_equity,
                "return_pct": float(run.stats["return_pct"])}
    if args.json:
        if note:
            print(f"gsig: {note}", file=sys.stderr)
        print(json.dumps({"backtest": backtest, **result.to_dict()}, allow_nan=False))
    else:
        print(_report(result, backtest, note))
    return 0


def _pct(value: float) -> str:
    return "n/a" if value != value else f"{value * 100:,.2f}%"


def _report(result: Any, backtest: dict[str, Any], note: str | None) -> str:
    """The human summary: what was simulated, the horizon's percentiles, distributions, risk."""
    inputs, risk = result.inputs, result.risk
    lines = [f"gsig montecarlo: {backtest['strategy']} on {backtest['data']} "
             f"({backtest['bars']:,} bars, {backtest['trades']:,} trades)",
             f"method {inputs['method']}, {inputs['n_paths']:,} paths x {inputs['horizon']:,} "
             f"steps, seed {inputs['seed']}; params "
             + ", ".join(f"{k}={v:.6g}" for k, v in result.params.items())]
    if note:
        lines.append(f"NOTE: {note}")
    last = result.percentiles.iloc[-1]
    lines.append(f"Equity at the horizon (start {inputs['start_equity']:,.2f}): "
                 + "  ".join(f"{c} {v:,.2f}" for c, v in last.items()))
    lines.append(f"  {'':<18}{'mean':>12}{'p2.5':>12}{'median':>12}{'p97.5':>12}")
    for key, label, scale in _ROWS:
        row = result.summary.loc[key]
        lines.append(f"  {label:<18}" + "".join(
            f"{row[c] * scale:>12,.2f}" for c in ("mean", "p2.5", "p50", "p97.5")))
    lines += [
        f"P(ruin: equity below {inputs['ruin_level']:.0%} of the start)  "
        f"{_pct(risk['prob_ruin'])} (95% CI {_pct(risk['prob_ruin_ci_low'])} to "
        f"{_pct(risk['prob_ruin_ci_high'])})",
        f"P(drawdown deeper than {inputs['drawdown_limit']:.0%})  "
        f"{_pct(risk['prob_drawdown_breach'])} (95% CI "
        f"{_pct(risk['prob_drawdown_breach_ci_low'])} to "
        f"{_pct(risk['prob_drawdown_breach_ci_high'])})",
        f"Final return VaR 95% {_pct(risk['var_95'])}, ES 95% {_pct(risk['es_95'])}; worst path "
        f"ends at {result.worst_path.iloc[-1]:,.2f}",
    ]
    return "\n".join(lines)
