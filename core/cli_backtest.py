"""``gsig backtest`` on several instruments: a two-leg pair and a target-weights portfolio.

``gsig backtest --data A --data2 B --strategy pairs [--param lookback=60 ...]`` runs
:func:`core.backtest.run_pairs` (both legs traded, hedged by the rolling ratio).
``gsig backtest --portfolio "AAPL=0.6,MSFT=0.4" [--rebalance ME] [--data AAPL=aapl.csv]`` runs
:func:`core.backtest.run_portfolio` on the closes of those symbols: a symbol named in a
``--data SYMBOL=PATH`` is read from that CSV/Parquet file, any other comes from the offline
simulator's daily history. The portfolio's statistics (buy & hold return, alpha, beta) are measured
against an equal-weight buy & hold of the same symbols.

Both print the key statistics, or with ``--json`` one JSON object ``{"stats", "orders",
"equity"}`` (the single-symbol output with ``orders`` in place of ``trades``). Bad input raises a
:class:`~core.errors.GSError`, which :func:`core.cli.main` prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from core.cli import (
    KEY_STATS,
    _format_stat,
    _json_value,
    _load_data,
    _parse_params,
    _settings,
    _slice,
    _when,
    one_data,
)
from core.errors import DataError, GSError, InvalidSymbol, UnknownSymbol, ValidationError

__all__ = ["PORTFOLIO_STATS", "is_multi", "parse_portfolio", "payload", "run_multi"]

PORTFOLIO_STATS: tuple[tuple[str, str], ...] = tuple(
    item for item in KEY_STATS if item[0] not in ("win_rate_pct", "profit_factor", "trades"))
"""Stats in the human table of a pair or a portfolio (round-trip trade stats do not apply)."""
NO_REBALANCE: tuple[str, ...] = ("none", "hold", "buy_and_hold")
"""``--rebalance`` values meaning: trade on the first bar only."""
DEFAULT_REBALANCE = "ME"
_EXAMPLE = "e.g. --portfolio 'AAPL=0.6,MSFT=0.4'"


def is_multi(args: argparse.Namespace) -> bool:
    """Whether ``args`` ask for a pair (``--data2`` or ``--strategy pairs``) or a portfolio."""
    return args.portfolio is not None or args.data2 is not None or args.strategy == "pairs"


def run_multi(args: argparse.Namespace) -> int:
    """Run the pair or portfolio ``args`` describe, print the result; returns the exit code."""
    if args.portfolio is not None:
        run, closes, title, notes = _portfolio(args)
    else:
        run, closes, title, notes = _pairs(args)
    if args.json:
        for note in notes:
            print(f"gsig: {note}", file=sys.stderr)
        print(json.dumps(payload(run), allow_nan=False))
    else:
        print(_report(run, closes, title, notes))
    return 0


# --------------------------------------------------------------------------- pairs


def _pairs(args: argparse.Namespace) -> tuple[Any, Any, str, list[str]]:
    from core.backtest import get_strategy, run_pairs

    if args.strategy != "pairs":
        used = "without --strategy" if args.strategy is None else f"by --strategy {args.strategy}"
        raise ValidationError(f"--data2 (a second leg) is only used by --strategy pairs, not "
                              f"{used}; add --strategy pairs or drop --data2.")
    if args.data2 is None:
        raise ValidationError(
            "--strategy pairs trades two legs: give the second leg with --data2 (a CSV/Parquet "
            "file or a symbol), e.g. --data AAPL --data2 MSFT --strategy pairs.")
    for option, value in (("--rebalance", args.rebalance), ("--max-gross", args.max_gross)):
        if value is not None:
            raise ValidationError(f"{option} is only used with --portfolio (a pair is brought "
                                  "back to its hedge targets on every bar).")
    leg_a = one_data(args)
    params = dict(_parse_params(get_strategy("pairs"), args.param))
    if params.pop("long_only", False):
        raise ValidationError("pairs: long_only applies to the single-leg strategy; with --data2 "
                              "both legs are traded (one long, the other short).")
    settings = _settings(args, run_pairs)
    closes, notes = [], []
    for option, text in (("--data", leg_a), ("--data2", args.data2)):
        frame, note = _load_data(text, option)
        closes.append(_slice(frame, args.start, args.end)["Close"].rename(_leg_name(text)))
        notes += [note] if note else []
    close_a, close_b = _same_clock(closes)
    run = run_pairs(close_a, close_b, **params, **settings)
    title = f"pairs {_leg_name(leg_a)} / {_leg_name(args.data2)} (both legs traded)"
    return run, run.equity, title, notes


def _leg_name(data: str) -> str:
    """A leg's name in the orders: the symbol, or the file name without its suffix."""
    from core.backtest.io import looks_like_path

    return Path(data).stem if looks_like_path(data) else data.strip().upper()


def _same_clock(series: Sequence[Any]) -> list[Any]:
    """The series with comparable indexes: naive ones read as UTC when any is tz-aware."""
    if not any(s.index.tz is not None for s in series):
        return list(series)
    return [s.tz_localize("UTC") if s.index.tz is None else s.tz_convert("UTC") for s in series]


# --------------------------------------------------------------------------- portfolio


def parse_portfolio(spec: str) -> dict[str, float]:
    """``{"AAPL": 0.6, "MSFT": 0.4}`` from ``"AAPL=0.6,MSFT=0.4"`` (symbols normalised).

    Only the syntax is checked here; the weight limits (net <= 1, gross <= max) are
    :func:`core.backtest.run_portfolio`'s.

    Raises
    ------
    ValidationError
        On an empty spec, an item that is not ``SYMBOL=WEIGHT``, a malformed symbol, a weight
        that is not a finite number, or a symbol listed twice.
    """
    from core.symbols import normalize_symbol

    if not spec.strip():
        raise ValidationError(f"--portfolio is empty; give SYMBOL=WEIGHT items, {_EXAMPLE}.")
    weights: dict[str, float] = {}
    for item in spec.split(","):
        name, sep, text = item.partition("=")
        if not sep or not name.strip() or not text.strip():
            raise ValidationError(
                f"--portfolio item {item.strip()!r} must look like SYMBOL=WEIGHT, {_EXAMPLE}.")
        try:
            symbol = normalize_symbol(name)
        except InvalidSymbol as exc:
            raise ValidationError(f"--portfolio: {exc}") from None
        try:
            weight = float(text)
        except ValueError:
            weight = math.nan
        if not math.isfinite(weight):
            raise ValidationError(f"--portfolio: the weight of {symbol} must be a number such "
                                  f"as 0.25 (got {text.strip()!r}).")
        if symbol in weights:
            raise ValidationError(f"--portfolio lists {symbol} twice; give each symbol once.")
        weights[symbol] = weight
    return weights


def _portfolio_files(items: Sequence[str] | None, weights: Mapping[str, float]
                     ) -> dict[str, str]:
    """``--data SYMBOL=PATH`` items as ``{symbol: path}``, each symbol one of ``weights``."""
    from core.symbols import normalize_symbol

    files: dict[str, str] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ValidationError(
                f"with --portfolio, --data {item!r} must look like SYMBOL=PATH (e.g. --data "
                "AAPL=aapl.csv); symbols without one use simulated daily history.")
        try:
            symbol = normalize_symbol(name)
        except InvalidSymbol as exc:
            raise ValidationError(f"--data {item!r}: {exc}") from None
        if symbol not in weights:
            raise ValidationError(f"--data {item!r} names {symbol}, which is not in --portfolio "
                                  f"({', '.join(weights)}).")
        if symbol in files:
            raise ValidationError(f"--data gives a file for {symbol} twice; give one.")
        files[symbol] = path.strip()
    return files


def _simulated_closes(symbols: Sequence[str]) -> tuple[dict[str, Any], str | None]:
    """Simulated daily closes of ``symbols`` and the note saying they are simulated."""
    from core.backtest.io import simulated_ohlcv
    from core.config import load_settings

    if not symbols:
        return {}, None
    settings = load_settings(os.environ)
    closes = {}
    for symbol in symbols:
        try:
            closes[symbol] = simulated_ohlcv(symbol, seed=settings.sim_seed,
                                             market_hours=settings.sim_market_hours)["Close"]
        except (InvalidSymbol, UnknownSymbol) as exc:
            raise DataError(f"--portfolio: {symbol} has no --data {symbol}=PATH file and the "
                            f"offline simulator does not know it: {exc}") from None
    note = (f"SIMULATED data: daily closes of {', '.join(symbols)} drawn by the offline market "
            f"simulator (seed {settings.sim_seed}, 10 years); not real prices.")
    return closes, note


def _portfolio_closes(args: argparse.Namespace, weights: Mapping[str, float]
                      ) -> tuple[Any, str | None]:
    """One column of closes per symbol of ``weights`` (outer-joined bar times), and a note."""
    import pandas as pd

    from core.backtest.io import load_ohlcv

    files = _portfolio_files(args.data, weights)
    closes, note = _simulated_closes([s for s in weights if s not in files])
    closes.update({s: load_ohlcv(path)["Close"] for s, path in files.items()})
    sliced = []
    for symbol in weights:
        try:
            frame = _slice(closes[symbol].to_frame(), args.start, args.end)
        except GSError as exc:
            raise DataError(f"{symbol}: {exc}") from None
        sliced.append(frame["Close"].rename(symbol))
    return pd.concat(_same_clock(sliced), axis=1, join="outer").sort_index(), note


def _rebalance(text: str | None) -> str | None:
    if text is None:
        return DEFAULT_REBALANCE
    return None if text.strip().lower() in NO_REBALANCE else text.strip()


def equal_weight_benchmark(closes: Any) -> Any:
    """Equity of an equal-weight buy & hold of every column of ``closes`` (no costs)."""
    from core.backtest import run_portfolio

    share = 1.0 / closes.shape[1]
    return run_portfolio(closes, dict.fromkeys(closes.columns, share), rebalance=None).equity


def _portfolio(args: argparse.Namespace) -> tuple[Any, Any, str, list[str]]:
    from core.backtest import run_portfolio

    for option, value in (("--strategy", args.strategy), ("--data2", args.data2),
                          ("--param", args.param or None)):
        if value is not None:
            raise ValidationError(f"--portfolio holds target weights and runs no strategy; drop "
                                  f"{option}.")
    weights = parse_portfolio(args.portfolio)
    settings = _settings(args, run_portfolio)
    rebalance = _rebalance(args.rebalance)
    closes, note = _portfolio_closes(args, weights)
    max_gross = 1.0 if args.max_gross is None else args.max_gross
    run = run_portfolio(closes, weights, rebalance=rebalance, max_gross=max_gross,
                        benchmark=equal_weight_benchmark(closes), **settings)
    spec = ", ".join(f"{s}={w:g}" for s, w in weights.items())
    title = f"portfolio {spec}, rebalance {rebalance or 'none (buy and hold)'}"
    return run, closes, title, [note] if note else []


# --------------------------------------------------------------------------- output


def payload(run: Any) -> dict[str, Any]:
    """``{"stats", "orders", "equity"}`` of a PortfolioRun, ready for ``json.dumps``."""
    stats = {key: _json_value(run.stats.get(key)) for key, _ in KEY_STATS}
    stats.update({key: _json_value(value) for key, value in run.stats.items()
                  if key not in stats})
    columns = list(run.orders.columns)
    orders = [{name: _json_value(value) for name, value in zip(columns, row, strict=True)}
              for row in run.orders.itertuples(index=False, name=None)]
    equity = [{"time": _json_value(time), "equity": _json_value(value)}
              for time, value in run.equity.items()]
    return {"stats": stats, "orders": orders, "equity": equity}


def _report(run: Any, closes: Any, title: str, notes: Sequence[str]) -> str:
    """The human summary: what ran on which bars, notes, then the key stats as a table."""
    index = closes.index
    lines = [f"gsig backtest: {title}",
             f"data: {len(index):,} bars, {_when(index[0])} to {_when(index[-1])}"]
    lines += [f"NOTE: {note}" for note in notes]
    width = max(len(label) for _, label in PORTFOLIO_STATS)
    lines += [f"  {label:<{width}}  {_format_stat(key, run.stats.get(key)):>16}"
              for key, label in PORTFOLIO_STATS]
    lines.append(f"{len(run.orders):,} orders.")
    return "\n".join(lines)
