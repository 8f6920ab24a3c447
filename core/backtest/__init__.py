"""Backtesting: a pure engine, cost and sizing models, registered strategies, one-call API.

Examples
--------
::

    from backtesting.test import GOOG
    from core.backtest import run_backtest

    result = run_backtest(GOOG, "sma_cross", {"fast": 10, "slow": 30}, commission=0.002)
    result.stats["return_pct"], result.trades.head()
"""

from __future__ import annotations

from core.backtest.api import SETTINGS, BacktestRun, make_config, run_backtest
from core.backtest.costs import (
    COMMISSION_PRESETS,
    CommissionModel,
    CommissionTerms,
    FixedCommission,
    PercentCommission,
    PerShareCommission,
)
from core.backtest.data import Bars, prepare_bars
from core.backtest.engine import BacktestConfig, BacktestResult, run
from core.backtest.pairs import run_pairs
from core.backtest.portfolio import PortfolioRun, run_portfolio
from core.backtest.sizing import AllIn, FixedUnits, PercentOfEquity
from core.backtest.strategies import STRATEGIES, Param, Strategy, get_strategy

__all__ = [
    "COMMISSION_PRESETS", "SETTINGS", "STRATEGIES", "AllIn", "BacktestConfig", "BacktestResult",
    "BacktestRun", "Bars", "CommissionModel", "CommissionTerms", "FixedCommission", "FixedUnits",
    "Param", "PerShareCommission", "PercentCommission", "PercentOfEquity", "Strategy",
    "PortfolioRun", "get_strategy", "make_config", "prepare_bars", "run", "run_backtest",
    "run_pairs", "run_portfolio",
]
