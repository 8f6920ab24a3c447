"""``gsig optimize``: search a strategy's parameters on one data set.

``gsig optimize --data PATH_OR_SYMBOL --strategy sma_cross --grid fast=5:50:5 --grid
slow=10:200:10 [--constraint "fast < slow"] [--objective sharpe] [--method grid|random|genetic]
[--min-trades N] [--top 10] [--json]``

``--grid NAME=VALUES`` takes an inclusive range ``START:STOP[:STEP]``, a list ``a,b,c``, or for a
true/false parameter ``true``, ``false`` or ``both``. The search runs
:func:`core.research.grid_search`, :func:`~core.research.random_search` (``--n``, ``--seed``) or
:func:`~core.research.genetic_search` (``--population``, ``--generations``, ``--seed``) with the
broker settings given (``--cash``, ``--commission``...). It prints the best parameters and the
``--top`` rows of the ranked table, or with ``--json`` one object ``{"best", "objective",
"method", "strategy", "n_trials", "table"}`` (``table``: the top rows, all of them with
``--top 0``). Bad input raises a :class:`~core.errors.GSError`, which :func:`core.cli.main`
prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from core.cli import _format_stat, _json_value, _load_data, _settings, _slice
from core.errors import ValidationError

__all__ = ["METHODS", "add_optimize_parser", "parse_grid", "run_optimize"]

METHODS: tuple[str, ...] = ("grid", "random", "genetic")
"""Values of ``--method``."""
TABLE_STATS: tuple[str, ...] = ("return_pct", "sharpe", "sortino", "calmar", "max_drawdown_pct",
                                "trades", "win_rate_pct")
"""Statistics shown in the human table (the JSON rows hold all of them)."""
_ONLY = {"n": "random", "population": "genetic", "generations": "genetic"}


def add_optimize_parser(sub: Any) -> None:
    """Add the ``optimize`` subcommand to ``sub`` (the subparsers of ``gsig``)."""
    opt = sub.add_parser(
        "optimize", help="search a strategy's parameters (grid, random or genetic)",
        description="Optimise a registered strategy's parameters on a CSV/Parquet file or a "
                    "symbol's daily history (the offline simulator's when no real source is "
                    "configured). The built-in SMA/EMA crossovers are evaluated together in one "
                    "compiled sweep; other strategies run one backtest per combination through "
                    "the process pool (or Dask with GS_DASK_SCHEDULER). Exit code 2 on bad "
                    "input.")
    opt.add_argument("--data", required=True, metavar="PATH|SYMBOL",
                     help="CSV/Parquet path, or a symbol such as AAPL")
    opt.add_argument("--strategy", required=True, help="registered strategy name, e.g. sma_cross")
    opt.add_argument("--grid", action="append", default=[], metavar="NAME=VALUES",
                     help="values to try, repeatable: START:STOP[:STEP] (inclusive), a,b,c, or "
                          "true/false/both (e.g. --grid fast=5:50:5 --grid slow=10:200:10)")
    opt.add_argument("--constraint", help="rule over parameter names, e.g. 'fast < slow' or "
                                          "'fast * 2 <= slow and slow < 150'")
    opt.add_argument("--objective", default="sharpe",
                     help="sharpe (default), sortino, calmar, return or return_over_max_dd")
    opt.add_argument("--method", choices=METHODS, default="grid", help="search method")
    opt.add_argument("--min-trades", type=int, default=1,
                     help="combinations with fewer trades rank last (default 1)")
    opt.add_argument("--top", type=int, default=10,
                     help="rows of the ranked table to show (default 10; 0 = all)")
    opt.add_argument("--n", type=int, help="--method random: combinations to draw (default 100)")
    opt.add_argument("--population", type=int,
                     help="--method genetic: individuals per generation (default 30)")
    opt.add_argument("--generations", type=int,
                     help="--method genetic: generations after the first (default 15)")
    opt.add_argument("--seed", type=int, default=0, help="seed of random and genetic searches")
    opt.add_argument("--cash", type=float, help="starting cash")
    opt.add_argument("--commission", help="fraction of traded value (0.001) or a preset name")
    opt.add_argument("--spread", type=float, help="bid-ask spread as a fraction of price")
    opt.add_argument("--slippage", help="slippage model: fixed_bps:5, half_spread:4 or "
                     "volume_volatility:k:window")
    opt.add_argument("--sizing", help="'all_in', a fraction of equity in (0, 1) or units >= 1")
    opt.add_argument("--fill", choices=("next_open", "close"), help="fill at next open or close")
    opt.add_argument("--start", help="first date to use (inclusive), e.g. 2010-01-01")
    opt.add_argument("--end", help="last date to use (inclusive), e.g. 2012-12-31")
    opt.add_argument("--json", action="store_true",
                     help="print one JSON object {best, objective, method, strategy, n_trials, "
                          "table} instead of a table")


def parse_grid(strategy: Any, items: Sequence[str]) -> dict[str, list[Any]]:
    """``{"fast": [5, 10, ...], ...}`` from repeated ``--grid NAME=VALUES``.

    Raises
    ------
    ValidationError
        On no item, a malformed item, an unknown or repeated name, or values the parameter's
        spec rejects.
    """
    from core.research.space import parse_values

    specs = {p.name: p for p in strategy.params}
    names = ", ".join(specs) or "none"
    if not items:
        raise ValidationError(f"give at least one --grid NAME=VALUES, e.g. --grid fast=5:50:5; "
                              f"{strategy.name} takes {names}.")
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name or not text.strip():
            raise ValidationError(f"--grid {item!r} must look like NAME=VALUES (e.g. "
                                  f"fast=5:50:5 or slow=20,30,50); {strategy.name} takes {names}.")
        if name not in specs:
            raise ValidationError(f"{strategy.name}: unknown parameter {name!r} in --grid; valid "
                                  f"parameters: {names}.")
        if name in grid:
            raise ValidationError(f"--grid {name} is given twice; give it once.")
        grid[name] = parse_values(text, specs[name])
    return grid


def _method_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments of the chosen search; ValidationError for another method's options."""
    for option, method in _ONLY.items():
        if getattr(args, option) is not None and args.method != method:
            raise ValidationError(f"--{option} is only used with --method {method}.")
    if args.method == "random":
        return {"n": 100 if args.n is None else args.n, "seed": args.seed}
    if args.method == "genetic":
        return {"population": 30 if args.population is None else args.population,
                "generations": 15 if args.generations is None else args.generations,
                "seed": args.seed}
    return {}


def run_optimize(args: argparse.Namespace) -> int:
    """Run ``gsig optimize`` for parsed ``args``; returns the exit code (GSError propagates)."""
    from core.backtest import get_strategy, run_backtest
    from core.research import genetic_search, grid_search, random_search

    strategy = get_strategy(args.strategy)
    grid = parse_grid(strategy, args.grid)
    options = _method_options(args)
    if args.top < 0:
        raise ValidationError(f"--top must be 0 (all rows) or more (got {args.top}).")
    settings = _settings(args, run_backtest)
    frame, note = _load_data(args.data)
    frame = _slice(frame, args.start, args.end)
    search = {"grid": grid_search, "random": random_search, "genetic": genetic_search}
    result = search[args.method](frame, strategy, grid, constraint=args.constraint,
                                 objective=args.objective, min_trades=args.min_trades,
                                 **options, **settings)
    table = result.table if args.top == 0 else result.table.head(args.top)
    if args.json:
        if note:
            print(f"gsig: {note}", file=sys.stderr)
        print(json.dumps(payload(result, table), allow_nan=False))
    else:
        print(report(result, table, frame, args.data, note))
    return 0


def payload(result: Any, table: Any) -> dict[str, Any]:
    """The ``--json`` object of a :class:`~core.research.optimize.SearchResult`."""
    rows = [{key: _json_value(value) for key, value in row.items()}
            for row in table.to_dict("records")]
    best = None if result.best is None else {k: _json_value(v) for k, v in result.best.items()}
    return {"best": best, "objective": result.objective, "method": result.method,
            "strategy": result.strategy, "n_trials": result.n_trials,
            "min_trades": result.min_trades, "table": rows}


def report(result: Any, table: Any, frame: Any, data: str, note: str | None) -> str:
    """The human summary: the search, the data, the best parameters and the top rows."""
    from core.cli import _when

    lines = [f"gsig optimize: {result.strategy} on {data}, {result.method} search, objective "
             f"{result.objective} (min trades {result.min_trades})",
             f"data: {len(frame):,} bars, {_when(frame.index[0])} to {_when(frame.index[-1])}"]
    if note:
        lines.append(f"NOTE: {note}")
    lines.append(f"{result.n_trials:,} combinations evaluated.")
    if result.best is None:
        lines.append(f"No combination has a defined {result.objective} with at least "
                     f"{result.min_trades} trades; lower --min-trades or widen the grid.")
    else:
        chosen = ", ".join(f"{k}={v}" for k, v in result.best.items())
        lines.append(f"best: {chosen} ({result.objective} "
                     f"{_format_stat(result.objective, table['objective'].iloc[0])})")
    columns = [*result.params, "objective", *TABLE_STATS]
    cells = [[str(name) for name in columns]]
    for row in table[columns].itertuples(index=False, name=None):
        cells.append([_cell(name, value, result.params) for name, value in zip(columns, row,
                                                                                strict=True)])
    widths = [max(len(r[k]) for r in cells) for k in range(len(columns))]
    lines += ["  " + "  ".join(text.rjust(w) for text, w in zip(r, widths, strict=True))
              for r in cells]
    return "\n".join(lines)


def _cell(name: str, value: Any, params: Sequence[str]) -> str:
    if name in params:
        return str(value)
    return _format_stat(name, value)
