"""The ``gsig`` command.

``gsig feed`` runs the market data hub as its own process and publishes to Redis, so any number
of app replicas started with the same ``GS_REDIS_URL`` show its quotes.

``gsig backtest`` runs a registered strategy on an OHLCV file or on the offline simulator's daily
history of a symbol and prints the key statistics, or with ``--json`` one JSON object of stats,
trades and equity. With ``--data2`` (``--strategy pairs``) it trades both legs of a pair, and with
``--portfolio`` it runs a target-weights portfolio; see :mod:`core.cli_backtest`.

``gsig data check PATH_OR_SYMBOL`` prints the data-quality report of a symbol's history or of an
OHLCV file; see :mod:`core.cli_data`.

``gsig optimize --data PATH_OR_SYMBOL --strategy sma_cross --grid fast=5:50:5 --grid
slow=10:200:10`` searches a strategy's parameters (grid, random or genetic); see
:mod:`core.cli_research`.
"""

from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from core.config import load_settings, redact_url
from core.errors import GSError, ValidationError
from core.runtime import build_runtime


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gsig", description="GoldenSignals command line.")
    sub = parser.add_subparsers(dest="command", required=True)
    feed = sub.add_parser("feed", help="run the market data hub and publish it to Redis")
    feed.add_argument("--redis-url", help="Redis URL (default: GS_REDIS_URL)")
    feed.add_argument("--symbols", help="comma-separated watchlist (default: GS_WATCHLIST)")
    feed.add_argument("--rate", type=float, help="simulator trades/s per symbol; 0 = max speed")
    feed.add_argument("--seed", type=int, help="simulator seed (default: GS_SIM_SEED)")
    feed.add_argument("--duration", type=float, default=0.0,
                      help="stop after this many seconds (default: run until Ctrl+C)")
    feed.add_argument("--report-every", type=float, default=10.0,
                      help="seconds between status lines (default: 10)")
    _backtest_parser(sub)
    from core.cli_data import add_data_parser

    add_data_parser(sub)
    from core.cli_montecarlo import add_montecarlo_parser
    from core.cli_research import add_optimize_parser
    from core.cli_walkforward import add_walkforward_parser

    add_optimize_parser(sub)
    add_walkforward_parser(sub)
    add_montecarlo_parser(sub)
    return parser


def _feed(args: argparse.Namespace) -> int:
    env = dict(os.environ)
    overrides = {"GS_REDIS_URL": args.redis_url, "GS_WATCHLIST": args.symbols,
                 "GS_SIM_TICK_RATE": None if args.rate is None else str(args.rate),
                 "GS_SIM_SEED": None if args.seed is None else str(args.seed)}
    env.update({k: v for k, v in overrides.items() if v is not None})
    settings = load_settings(env)
    runtime = build_runtime(settings, role="feed")
    for problem in runtime.problems:
        print(f"warning: {problem}", file=sys.stderr)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    runtime.start()  # on failure it releases what it opened, and main() prints the reason
    health = runtime.hub.health()
    print(f"gsig feed: {health.name}{' (simulated)' if health.simulated else ''} -> "
          f"{redact_url(settings.redis_url)}; symbols {','.join(runtime.hub.source.symbols())}",
          flush=True)
    started = time.monotonic()
    last = 0
    try:
        while not done.wait(min(args.report_every, args.duration or args.report_every)):
            stats = runtime.hub.stats()
            rate = (stats.accepted - last) / args.report_every
            last = stats.accepted
            print(f"{stats.accepted:,} events ({rate:,.0f}/s), {stats.bus_errors} bus errors"
                  + (f" (last: {stats.last_bus_error})" if stats.bus_errors else ""), flush=True)
            if args.duration and time.monotonic() - started >= args.duration:
                break
    finally:
        runtime.stop()
    stats = runtime.hub.stats()
    report = runtime.store_report()
    stored = "" if runtime.store is None else (" and stored" if not report else "")
    print(f"gsig feed stopped: {stats.accepted:,} events published{stored}.", flush=True)
    if report:
        print(f"gsig: {report}", file=sys.stderr)
        return 1
    return 0


KEY_STATS: tuple[tuple[str, str], ...] = (
    ("return_pct", "Return [%]"), ("cagr_pct", "CAGR [%]"), ("volatility_pct", "Volatility [%]"),
    ("sharpe", "Sharpe"), ("sortino", "Sortino"), ("calmar", "Calmar"),
    ("max_drawdown_pct", "Max drawdown [%]"),
    ("max_drawdown_duration_days", "Max drawdown duration [days]"),
    ("var_95_pct", "VaR 95% (1 bar) [%]"), ("es_95_pct", "ES 95% (1 bar) [%]"),
    ("win_rate_pct", "Win rate [%]"), ("profit_factor", "Profit factor"), ("trades", "Trades"),
    ("final_equity", "Final equity"))
"""Stats shown by ``gsig backtest`` and listed first in its JSON, with their table labels."""
TRADE_FIELDS: tuple[str, ...] = (
    "entry_time", "exit_time", "entry_price", "exit_price", "size", "pnl", "return_pct",
    "commission", "exit_reason")
"""Trade columns in ``--json`` output (the first seven always; the rest when present)."""
_TRUE = ("true", "1", "yes", "y", "on")
_FALSE = ("false", "0", "no", "n", "off")


def _backtest_parser(sub: Any) -> None:
    """Add the ``backtest`` subcommand to ``sub`` (the subparsers of ``gsig``)."""
    bt = sub.add_parser(
        "backtest", help="backtest a strategy, a two-leg pair or a portfolio of symbols",
        description="Backtest a registered strategy. --data is a CSV/Parquet file with Date, "
                    "Open, High, Low, Close and optionally Volume columns (any case), or a "
                    "symbol such as AAPL for 10 years of SIMULATED daily bars from the offline "
                    "market simulator (seed GS_SIM_SEED). Pairs: --data A --data2 B --strategy "
                    "pairs trades both legs (run_pairs). Portfolio: --portfolio "
                    "'AAPL=0.6,MSFT=0.4' [--rebalance ME] holds target weights (run_portfolio) "
                    "on simulated closes, or on files given as --data SYMBOL=PATH; its stats "
                    "compare with an equal-weight buy & hold of the same symbols, and --json "
                    "prints {stats, orders, equity}. Exit code 2 on bad input.")
    bt.add_argument("--data", action="append", metavar="PATH|SYMBOL",
                    help="CSV/Parquet path, or a simulator symbol; with --portfolio, "
                         "SYMBOL=PATH (repeatable) to read that symbol from a file")
    bt.add_argument("--data2", metavar="PATH|SYMBOL",
                    help="second leg of --strategy pairs (CSV/Parquet path or symbol); both "
                         "legs are traded, hedged by the rolling ratio")
    bt.add_argument("--strategy", help="registered strategy name, e.g. sma_cross")
    bt.add_argument("--portfolio", metavar="SYM=W,...",
                    help="target weights, e.g. 'AAPL=0.6,MSFT=0.4' (net <= 1, the rest is "
                         "cash; negative = short; sum of |w| <= --max-gross)")
    bt.add_argument("--rebalance", metavar="OFFSET",
                    help="with --portfolio: D, W-FRI, ME (default), QE, YE or any pandas "
                         "offset; 'none' = buy and hold")
    bt.add_argument("--max-gross", type=float,
                    help="with --portfolio: upper bound on the sum of |weight| (default 1)")
    bt.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="strategy parameter, repeatable (e.g. --param fast=10 --param slow=30)")
    bt.add_argument("--cash", type=float, help="starting cash")
    bt.add_argument("--commission", help="fraction of traded value (0.001) or a preset name")
    bt.add_argument("--spread", type=float, help="bid-ask spread as a fraction of price")
    bt.add_argument("--slippage", help="slippage model: fixed_bps:5, half_spread:4 or "
                    "volume_volatility:k:window")
    bt.add_argument("--sizing", help="'all_in', a fraction of equity in (0, 1) or units >= 1")
    bt.add_argument("--fill", choices=("next_open", "close"), help="fill at next open or close")
    bt.add_argument("--start", help="first date to use (inclusive), e.g. 2010-01-01")
    bt.add_argument("--end", help="last date to use (inclusive), e.g. 2012-12-31")
    bt.add_argument("--json", action="store_true",
                    help="print one JSON object {stats, trades, equity} instead of a table")


def _describe_params(strategy: Any) -> str:
    """``fast (int, default 10), ...`` for messages."""
    return ", ".join(f"{p.name} ({p.type.__name__}, default {p.default!r})"
                     for p in strategy.params) or "none"


def _typed(spec: Any, text: str, strategy: str) -> Any:
    """Convert ``--param`` text to the type of ``spec`` and check it against the spec."""
    raw = text.strip()
    if spec.type is bool:
        if raw.lower() in _TRUE + _FALSE:
            return spec.coerce(raw.lower() in _TRUE, strategy)
        raise ValidationError(f"{strategy}: {spec.name} must be true or false (got {text!r}).")
    try:
        value: int | float = int(raw) if spec.type is int else float(raw)
    except ValueError:
        try:
            value = float(raw)  # "10.0" for an int; coerce() rejects non-whole values
        except ValueError:
            kind = "a whole number" if spec.type is int else "a number"
            raise ValidationError(f"{strategy}: {spec.name} must be {kind} (got {text!r}).") \
                from None
    return spec.coerce(value, strategy)


def _parse_params(strategy: Any, items: Sequence[str]) -> dict[str, Any]:
    """Typed strategy parameters from repeated ``--param name=value``.

    Raises
    ------
    ValidationError
        On a malformed item, an unknown or repeated name, or a value the spec rejects; the
        message lists the valid parameters.
    """
    specs = {p.name: p for p in strategy.params}
    params: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValidationError(f"--param {item!r} must look like NAME=VALUE (e.g. fast=10); "
                                  f"{strategy.name} takes {_describe_params(strategy)}.")
        if name not in specs:
            raise ValidationError(f"{strategy.name}: unknown parameter {name!r}; valid "
                                  f"parameters: {_describe_params(strategy)}.")
        if name in params:
            raise ValidationError(f"--param {name} is given twice; give it once.")
        params[name] = _typed(specs[name], text, strategy.name)
    strategy.validate(params)  # cross-parameter rules, e.g. slow > fast
    return params


def _number_or_text(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text.strip()


def _accepts(func: Callable[..., Any], name: str) -> bool:
    """Whether ``func`` takes keyword ``name`` (explicitly or through ``**kwargs``)."""
    params = inspect.signature(func).parameters.values()
    return any(p.name == name or p.kind is inspect.Parameter.VAR_KEYWORD for p in params)


def _settings(args: argparse.Namespace, run: Callable[..., Any]) -> dict[str, Any]:
    """Broker settings given on the command line, as ``run_backtest`` keywords."""
    given = {"cash": args.cash, "spread": args.spread, "fill": args.fill,
             "commission": None if args.commission is None else _number_or_text(args.commission),
             "sizing": None if args.sizing is None else _number_or_text(args.sizing),
             "slippage": args.slippage}
    settings = {key: value for key, value in given.items() if value is not None}
    for name in settings:
        if not _accepts(run, name):
            raise ValidationError(f"--{name} is not supported: {run.__name__} takes no "
                                  f"{name!r} setting.")
    return settings


def _load_data(data: str, option: str = "--data", start: str | None = None,
               end: str | None = None) -> tuple[Any, str | None]:
    """The OHLCV frame for ``--data`` and a note on where a symbol's bars came from.

    A path is read as a file; a symbol goes through the history service (the symbol's configured
    sources, then the offline simulator; cached in the store). ``option`` names the
    command-line option in messages (``--data2`` for a pair's second leg). ``start``/``end``
    (``--start``/``--end``, the end day included) bound what a symbol's sources are asked for;
    without them a symbol gets its last ten years.
    """
    from core.backtest.io import looks_like_path
    from core.data.history import load_history
    from core.errors import DataError, InvalidSymbol, UnknownSymbol

    upto = end_exclusive(end)
    if looks_like_path(data):  # a file is read whole; --start/--end slice it afterwards
        start = upto = None
    try:
        frame = load_history(data, start or None, upto, interval="1d")
    except (InvalidSymbol, UnknownSymbol) as exc:
        raise DataError(f"{option} {data!r} is neither a .csv/.parquet file nor a known "
                        f"symbol: {exc}") from None
    except DataError as exc:
        raise DataError(f"{option} {data!r}: {exc}") from None
    info = frame.attrs.get("history", {})
    if info.get("served_by") == "file":
        return frame, None
    name = info.get("symbol", data.strip().upper())
    if info.get("sources") == ["simulator"]:
        settings = load_settings(os.environ)
        return frame, (f"SIMULATED data: daily bars of {name} drawn by the offline market "
                       f"simulator (seed {settings.sim_seed}, {len(frame):,} bars); not real "
                       "prices.")
    via = ", ".join(info.get("sources") or []) or "the history cache"
    notes = "".join(f" Note: {n}." for n in info.get("notes") or [])
    return frame, (f"Daily bars of {name} from {via} ({len(frame):,} bars, served by "
                   f"{info.get('served_by', 'source')}).{notes}")


def parse_date(text: str, option: str) -> Any:
    """A ``--start``/``--end`` value as a Timestamp; a clear error when it is not a date."""
    import pandas as pd

    try:
        stamp = pd.Timestamp(text.strip())
    except (ValueError, TypeError):
        stamp = pd.NaT
    if stamp is pd.NaT:
        raise ValidationError(f"{option} {text!r} is not a date; use e.g. 2024-12-31.")
    return stamp


def end_exclusive(text: str | None, option: str = "--end") -> Any:
    """``--end`` as an exclusive bound: a date alone includes that whole day (None if absent)."""
    import pandas as pd

    if text is None or not text.strip():
        return None
    stamp = parse_date(text, option)
    if ":" not in text and stamp == stamp.normalize():
        stamp += pd.Timedelta(days=1)
    return stamp


def _bound(text: str | None, index: Any, option: str, *, end: bool) -> Any:
    """``--start``/``--end`` as a Timestamp comparable with ``index`` (None when not given)."""
    import pandas as pd

    if text is None:
        return None
    stamp = (end_exclusive(text, option) - pd.Timedelta(1, "ns") if end
             else parse_date(text, option))
    if index.tz is not None:
        return stamp.tz_localize(index.tz) if stamp.tz is None else stamp.tz_convert(index.tz)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tz is not None else stamp


def _slice(frame: Any, start: str | None, end: str | None) -> Any:
    """Bars between ``--start`` and ``--end`` (inclusive); DataError when none are left."""
    from core.errors import DataError

    first = _bound(start, frame.index, "--start", end=False)
    last = _bound(end, frame.index, "--end", end=True)
    if first is None and last is None:
        return frame
    keep = frame.index.notna()
    if first is not None:
        keep &= frame.index >= first
    if last is not None:
        keep &= frame.index <= last
    if not keep.any():
        covers = (f"the data covers {frame.index.min()} to {frame.index.max()}" if len(frame)
                  else "the data is empty")
        raise DataError(f"no bars between --start {start or '(first bar)'} and --end "
                        f"{end or '(last bar)'}; {covers}.")
    return frame[keep]


def _json_value(value: Any) -> Any:
    """A JSON-safe scalar: NaN/inf/NaT -> None, times -> ISO text, numpy -> Python."""
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NaT or isinstance(value, str | bool):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, int | bool | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _payload(result: Any) -> dict[str, Any]:
    """``{"stats", "trades", "equity"}`` of a BacktestRun, ready for ``json.dumps``."""
    stats = {key: _json_value(result.stats.get(key)) for key, _ in KEY_STATS}
    stats.update({key: _json_value(value) for key, value in result.stats.items()
                  if key not in stats})
    fields = [name for name in TRADE_FIELDS if name in result.trades.columns]
    trades = [{name: _json_value(value) for name, value in zip(fields, row, strict=True)}
              for row in result.trades[fields].itertuples(index=False, name=None)]
    equity = [{"time": _json_value(time), "equity": _json_value(value)}
              for time, value in result.equity.items()]
    return {"stats": stats, "trades": trades, "equity": equity}


def _format_stat(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if key == "trades" or key.endswith("_days"):
        return f"{value:,.0f}"
    if key == "final_equity" or key.endswith("_pct"):
        return f"{value:,.2f}"
    return f"{value:,.3f}"


def _when(stamp: Any) -> str:
    """A bar time for people: the date alone when it is midnight."""
    return str(stamp.date()) if stamp == stamp.normalize() else str(stamp)


def _report(result: Any, frame: Any, data: str, note: str | None) -> str:
    """The human summary: what ran on which data, then the key stats as a table."""
    stats: Mapping[str, Any] = result.stats
    lines = [f"gsig backtest: {result.strategy!r} on {data}",
             f"data: {len(frame):,} bars, {_when(frame.index[0])} to {_when(frame.index[-1])}"]
    if note:
        lines.append(f"NOTE: {note}")
    width = max(len(label) for _, label in KEY_STATS)
    lines += [f"  {label:<{width}}  {_format_stat(key, stats.get(key)):>16}"
              for key, label in KEY_STATS]
    lines.append(f"{len(result.trades):,} trades.")
    return "\n".join(lines)


def one_data(args: argparse.Namespace) -> str:
    """The single ``--data`` of a one-instrument (or leg A) run; ValidationError otherwise."""
    if not args.data:
        raise ValidationError("--data is required: a CSV/Parquet file or a symbol such as AAPL "
                              "(or --portfolio 'AAPL=0.6,MSFT=0.4' for several symbols).")
    if len(args.data) > 1:
        raise ValidationError(f"--data is given {len(args.data)} times; give one file or symbol "
                              "(several only with --portfolio, as SYMBOL=PATH).")
    return args.data[0]


def _backtest(args: argparse.Namespace) -> int:
    from core.backtest import get_strategy, run_backtest
    from core.cli_backtest import is_multi, run_multi

    if is_multi(args):
        return run_multi(args)
    if args.strategy is None:
        raise ValidationError("--strategy is required, e.g. --strategy sma_cross (or --portfolio "
                              "'AAPL=0.6,MSFT=0.4' for a weights portfolio).")
    for option, value in (("--rebalance", args.rebalance), ("--max-gross", args.max_gross)):
        if value is not None:
            raise ValidationError(f"{option} is only used with --portfolio.")
    data = one_data(args)
    strategy = get_strategy(args.strategy)
    params = _parse_params(strategy, args.param)
    settings = _settings(args, run_backtest)
    frame, note = _load_data(data, start=args.start, end=args.end)
    frame = _slice(frame, args.start, args.end)
    result = run_backtest(frame, strategy, params, **settings)
    if args.json:
        if note:
            print(f"gsig: {note}", file=sys.stderr)
        print(json.dumps(_payload(result), allow_nan=False))
    else:
        print(_report(result, frame, data, note))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gsig`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "feed":
            return _feed(args)
        if args.command == "backtest":
            return _backtest(args)
        if args.command == "data":
            from core.cli_data import run_data

            return run_data(args)
        if args.command == "optimize":
            from core.cli_research import run_optimize

            return run_optimize(args)
        if args.command == "walkforward":
            from core.cli_walkforward import run_walkforward

            return run_walkforward(args)
        if args.command == "montecarlo":
            from core.cli_montecarlo import run_montecarlo

            return run_montecarlo(args)
    except GSError as exc:
        print(f"gsig: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
