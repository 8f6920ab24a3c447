"""``run_backtest``: one call from a registered strategy name to statistics.

It composes the pure pieces (validate bars, compute signals, run the engine, compute stats);
callers (pages, the CLI, research jobs) render or store the result themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.backtest.costs import resolve_commission
from core.backtest.data import prepare_bars
from core.backtest.engine import BacktestConfig, run
from core.backtest.sizing import resolve_sizing
from core.backtest.slippage import resolve_slippage
from core.backtest.strategies import Strategy, get_strategy
from core.errors import ValidationError

SETTINGS: tuple[str, ...] = (
    "cash", "commission", "spread", "fill", "fractional", "sizing", "finalize", "finalize_at",
    "stop_loss", "take_profit", "trailing_stop", "slippage", "liquidity_cap", "unfilled",
    "max_leverage", "max_position", "max_drawdown_halt")
"""Keyword settings :func:`run_backtest` accepts (fields of :class:`BacktestConfig`)."""


@dataclass(frozen=True, eq=False)
class BacktestRun:
    """A finished backtest.

    Attributes
    ----------
    stats : Mapping
        ``core.backtest.metrics.compute_stats(equity, trades, benchmark=close)``: the traded
        asset's close is the benchmark (buy-and-hold return, alpha, beta).
    trades : pandas.DataFrame
        Closed trades (see :class:`core.backtest.engine.BacktestResult`).
    equity : pandas.Series
        Equity at each bar's close.
    config : BacktestConfig
        The broker settings used.
    strategy : Strategy
        The strategy instance, with its validated parameter values.
    """

    stats: Mapping[str, Any]
    trades: pd.DataFrame
    equity: pd.Series
    config: BacktestConfig
    strategy: Strategy


def make_config(**settings: Any) -> BacktestConfig:
    """Build a :class:`BacktestConfig` from user-level settings.

    Parameters
    ----------
    **settings
        Any of :data:`SETTINGS`. ``commission`` may be a fraction (``0.002``), a preset name
        (``"crypto_spot_0.1pct"``, ``"us_per_share"``) or a model; ``sizing`` may be
        ``"all_in"``, a fraction of equity in (0, 1), a number of units >= 1, a string
        (``"atr_risk:0.01"``, ``"kelly:0.55:1.5:0.2"``) or a rule; ``slippage`` may be
        ``"fixed_bps:5"``, ``"half_spread:4"``, ``"volume_volatility:1.0:20"`` or a model;
        ``liquidity_cap`` (``0.1``), ``unfilled`` (``"cancel"``/``"carry"``), ``max_leverage``,
        ``max_position`` (units or ``"25%"``) and ``max_drawdown_halt`` (``0.2``) as in
        :class:`core.backtest.engine.BacktestConfig`.

    Returns
    -------
    BacktestConfig
        The validated config.

    Raises
    ------
    ValidationError
        On an unknown setting or an invalid value.
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ValidationError(
            f"unknown backtest setting {', '.join(unknown)} (expected: {', '.join(SETTINGS)}).")
    if "commission" in settings:
        settings["commission"] = resolve_commission(settings["commission"])
    if "sizing" in settings:
        settings["sizing"] = resolve_sizing(settings["sizing"])
    if "slippage" in settings:
        settings["slippage"] = resolve_slippage(settings["slippage"])
    return BacktestConfig(**settings)


def run_backtest(data: pd.DataFrame, strategy: str | type[Strategy],
                 params: Mapping[str, Any] | None = None, *,
                 benchmark: pd.Series | None = None, **settings: Any) -> BacktestRun:
    """Backtest a registered strategy on OHLCV data and compute its statistics.

    Parameters
    ----------
    data : pandas.DataFrame
        Open, High, Low, Close (any case), optional Volume, on a sorted DatetimeIndex.
    strategy : str or Strategy subclass
        A name from :data:`core.backtest.strategies.STRATEGIES` (e.g. ``"sma_cross"``) or a class.
    params : mapping, optional
        Strategy parameters; defaults fill the rest.
    benchmark : pandas.Series, optional
        Prices to compare with (buy-and-hold return, alpha, beta); the traded close by default.
    **settings
        Broker settings, see :func:`make_config` (cash, commission, spread, fill, fractional,
        sizing, finalize, finalize_at, stop_loss, take_profit, trailing_stop, slippage,
        liquidity_cap, unfilled, max_leverage, max_position, max_drawdown_halt).

    Returns
    -------
    BacktestRun
        Stats, trades, equity and config.

    Raises
    ------
    DataError
        If the data is malformed (the message names the first bad row).
    ValidationError
        On an unknown strategy, parameter or setting, or an invalid value.
    """
    from core.backtest.metrics import compute_stats  # written separately; imported when used

    config = make_config(**settings)
    bars = prepare_bars(data)
    instance = get_strategy(strategy)(**dict(params or {}))
    result = run(bars, instance, config)
    if benchmark is None:
        benchmark = pd.Series(bars.close, index=bars.index, name="close")
    stats = compute_stats(result.equity, result.trades, benchmark=benchmark)
    return BacktestRun(stats=stats, trades=result.trades, equity=result.equity, config=config,
                       strategy=instance)
