"""Strategy registry, parameter specs and validation, signals, and the run_backtest API."""

from __future__ import annotations

import importlib
import pickle
import pkgutil

import numpy as np
import pytest

pytest.importorskip("backtesting")  # reference data (GOOG) and crossover come from it
from backtesting.lib import crossover  # noqa: E402
from backtesting.test import GOOG, SMA  # noqa: E402

import core.backtest.strategies as strategies_pkg  # noqa: E402
from core.backtest import (  # noqa: E402
    BacktestRun,
    FixedCommission,
    PercentCommission,
    prepare_bars,
    run_backtest,
)
from core.backtest.signals import EXIT, LONG, SHORT  # noqa: E402
from core.backtest.strategies import STRATEGIES, Param, Strategy, get_strategy  # noqa: E402
from core.errors import DataError, ValidationError  # noqa: E402


def test_registry_holds_one_class_per_module() -> None:
    assert {"sma_cross", "buy_and_hold"} <= set(STRATEGIES)
    for module in pkgutil.iter_modules(strategies_pkg.__path__):
        if module.name.startswith("_") or module.name == "base":
            continue
        mod = importlib.import_module(f"core.backtest.strategies.{module.name}")
        names = [cls.name for cls in vars(mod).values()
                 if isinstance(cls, type) and issubclass(cls, Strategy)
                 and cls.__module__ == mod.__name__]
        assert names == [module.name], f"{module.name}.py should define exactly its strategy"


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_parameter_specs_are_complete_and_defaults_valid(name: str) -> None:
    cls = STRATEGIES[name]
    assert cls.title and cls.__doc__
    for spec in cls.params:
        assert isinstance(spec, Param) and spec.help
        assert spec.type in (int, float, bool)
        assert isinstance(spec.default, spec.type)
    assert dict(cls.validate()) == {spec.name: spec.default for spec in cls.params}


def test_sma_cross_validation_messages() -> None:
    cls = STRATEGIES["sma_cross"]
    with pytest.raises(ValidationError, match="slow must be greater than fast"):
        cls(fast=30, slow=10)
    with pytest.raises(ValidationError, match="fast must be at least 1"):
        cls(fast=0)
    with pytest.raises(ValidationError, match="slow must be a whole number"):
        cls(slow=20.5)
    with pytest.raises(ValidationError, match="long_only must be true or false"):
        cls(long_only="yes")
    with pytest.raises(ValidationError, match="unknown parameter period"):
        cls(period=3)
    strategy = cls(fast=5.0, slow=np.int64(40))
    assert dict(strategy.values) == {"fast": 5, "slow": 40, "long_only": False}
    assert repr(strategy) == "SmaCross(fast=5, slow=40, long_only=False)"
    with pytest.raises(TypeError):
        strategy.values["fast"] = 3  # type: ignore[index]


def test_sma_cross_signals_match_backtesting_py_crossover() -> None:
    bars = prepare_bars(GOOG)
    close = GOOG["Close"]
    fast, slow = SMA(close, 10).to_numpy(), SMA(close, 30).to_numpy()
    up = [i for i in range(2, len(close) + 1) if crossover(fast[:i], slow[:i])]
    down = [i for i in range(2, len(close) + 1) if crossover(slow[:i], fast[:i])]
    codes = STRATEGIES["sma_cross"](fast=10, slow=30).signals(bars)
    assert list(np.flatnonzero(codes == LONG) + 1) == up
    assert list(np.flatnonzero(codes == SHORT) + 1) == down
    long_only = STRATEGIES["sma_cross"](fast=10, slow=30, long_only=True).signals(bars)
    assert list(np.flatnonzero(long_only == EXIT) + 1) == down
    assert not (long_only == SHORT).any()


def test_long_only_never_holds_a_short() -> None:
    result = run_backtest(GOOG, "sma_cross", {"long_only": True})
    assert (result.trades["size"] > 0).all()
    assert len(result.trades) == 33


def test_buy_and_hold() -> None:
    result = run_backtest(GOOG, "buy_and_hold", cash=100_000)
    (trade,) = result.trades.itertuples()
    assert (trade.entry_bar, trade.exit_bar) == (1, len(GOOG) - 1)
    assert trade.entry_price == GOOG["Open"].iloc[1]
    assert trade.size == 100_000 // GOOG["Open"].iloc[1]
    assert result.equity.iloc[-1] == pytest.approx(
        100_000 + trade.size * (GOOG["Close"].iloc[-1] - GOOG["Open"].iloc[1]))


def test_get_strategy() -> None:
    assert get_strategy("sma_cross") is STRATEGIES["sma_cross"]
    assert get_strategy(STRATEGIES["buy_and_hold"]) is STRATEGIES["buy_and_hold"]
    with pytest.raises(ValidationError, match="unknown strategy 'macd'; choose one of"):
        get_strategy("macd")


def test_run_backtest_end_to_end() -> None:
    result = run_backtest(GOOG, "sma_cross", {"fast": 10, "slow": 20}, commission=0.002)
    assert isinstance(result, BacktestRun)
    assert result.config.commission == PercentCommission(0.002)
    assert result.stats["trades"] == len(result.trades) == 94
    assert result.stats["final_equity"] == pytest.approx(result.equity.iloc[-1], rel=1e-12)
    assert result.stats["return_pct"] == pytest.approx(
        (result.equity.iloc[-1] / 10_000 - 1) * 100, rel=1e-12)
    assert dict(result.strategy.values) == {"fast": 10, "slow": 20, "long_only": False}


def test_run_backtest_settings() -> None:
    result = run_backtest(GOOG.rename(columns=str.lower), STRATEGIES["sma_cross"],
                          commission="us_per_share", sizing=0.5, fill="close", stop_loss=0.05,
                          cash=50_000)
    assert result.config.sizing.value == 0.5
    assert "stop_loss" in set(result.trades["exit_reason"])
    assert result.config.commission.terms.per_unit == 0.005
    fixed = run_backtest(GOOG, "buy_and_hold", commission=FixedCommission(4.95), sizing=10)
    assert fixed.trades["size"].tolist() == [10.0]
    assert fixed.trades["commission"].tolist() == [9.9]
    crypto = run_backtest(GOOG, "buy_and_hold", commission="crypto_spot_0.1pct",
                          fractional=True)
    assert crypto.trades["size"].iloc[0] % 1 != 0


def test_run_backtest_rejects_bad_input() -> None:
    with pytest.raises(ValidationError, match="unknown backtest setting leverage"):
        run_backtest(GOOG, "sma_cross", leverage=2)
    with pytest.raises(ValidationError, match="slow must be greater than fast"):
        run_backtest(GOOG, "sma_cross", {"fast": 50, "slow": 20})
    with pytest.raises(ValidationError, match="sizing must be"):
        run_backtest(GOOG, "sma_cross", sizing="half")
    bad = GOOG.copy()
    bad.iloc[100, bad.columns.get_loc("Close")] = np.nan
    with pytest.raises(DataError, match=r"row 100 \(2005-01-11 00:00:00\): Close is missing"):
        run_backtest(bad, "sma_cross")


def test_a_run_pickles_for_caching() -> None:
    """Pages keep runs in ``st.cache_data``, which pickles them."""
    result = run_backtest(GOOG, "sma_cross", commission="us_per_share", sizing=0.5)
    copy = pickle.loads(pickle.dumps(result))
    assert copy.config == result.config and hash(copy.config) == hash(result.config)
    assert copy.trades.equals(result.trades) and copy.equity.equals(result.equity)
    assert dict(copy.strategy.values) == dict(result.strategy.values)
    assert copy.stats["final_equity"] == result.stats["final_equity"]
