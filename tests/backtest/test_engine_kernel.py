"""The compiled loop against the same loop run as plain Python (the no-numba fallback)."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import numpy as np
import pytest

from core.backtest import BacktestConfig, FixedCommission, PercentCommission, prepare_bars
from core.backtest import kernel as compiled
from core.backtest._jit import HAVE_NUMBA
from core.backtest.strategies import STRATEGIES


def _pure_python_kernel(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Load kernel.py afresh with compilation switched off."""
    import core.backtest._jit as jit_module

    monkeypatch.setattr(jit_module, "_njit", None)
    spec = importlib.util.spec_from_file_location("_kernel_pure", compiled.__file__)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "_kernel_pure", module)
    spec.loader.exec_module(module)
    return module


def _random_walk(n: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]] * np.exp(rng.normal(0, 0.003, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.005, n)))
    sig = rng.choice(np.array([0, 1, -1, 2], dtype=np.int8), size=n, p=[0.9, 0.04, 0.04, 0.02])
    return open_, high, low, close, sig


CONFIGS = [
    BacktestConfig(),
    BacktestConfig(commission=PercentCommission(0.002), spread=0.001, stop_loss=0.02,
                   take_profit=0.03, trailing_stop=0.015),
    BacktestConfig(fill="close", fractional=True, commission=FixedCommission(1.0),
                   finalize_at="open"),
]


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed: nothing to compare")
@pytest.mark.parametrize("config", CONFIGS, ids=["plain", "costs-stops", "close-fractional"])
def test_compiled_and_pure_python_loops_agree(monkeypatch: pytest.MonkeyPatch,
                                              config: BacktestConfig) -> None:
    pure = _pure_python_kernel(monkeypatch)
    assert not hasattr(pure.simulate, "py_func")
    o, h, lo, c, sig = _random_walk(3_000, seed=11)
    params = config.kernel_params()
    outputs = []
    for kernel in (compiled, pure):
        equity = np.empty(len(c))
        book = np.empty((int(np.count_nonzero(np.abs(sig) == 1)), kernel.N_TRADE_FIELDS))
        n = kernel.simulate(o, h, lo, c, sig, params, equity, book)
        outputs.append((equity, book[:n]))
    assert len(outputs[0][1]) > 50
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])


def test_whole_unit_sizing_matches_python_floor_division() -> None:
    """backtesting.py sizes with Python's float ``//``; the compiled loop must round the same."""
    rng = np.random.default_rng(3)
    params = BacktestConfig(commission=PercentCommission(0.002), spread=0.0003).kernel_params()
    frac = float(params[compiled.P_SIZE])
    for cash, raw in zip(rng.uniform(1e3, 1e6, 500), rng.uniform(0.5, 2_000, 500), strict=True):
        adj = raw * (1.0 + params[compiled.P_SPREAD])
        expected = (cash * frac) // (adj + (0.0 + frac * raw * params[compiled.P_RATE]) / frac)
        assert compiled.entry_size(cash, raw, adj, params) == expected


def test_goog_run_is_the_same_through_bars_or_dataframe() -> None:
    goog = pytest.importorskip("backtesting.test").GOOG
    from core.backtest import run

    strategy = STRATEGIES["sma_cross"]()
    a = run(goog, strategy)
    bars = prepare_bars(goog)
    b = run(bars, strategy.signals(bars))
    assert a.equity.equals(b.equity) and a.trades.equals(b.trades)
