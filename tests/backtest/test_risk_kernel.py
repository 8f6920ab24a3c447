"""The extended loop (slippage, cap, carry, limits, halt, ATR sizing): compiled = plain Python."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from core.backtest import BacktestConfig, prepare_bars
from core.backtest import kernel as compiled
from core.backtest._jit import HAVE_NUMBA
from core.backtest.sizing import AtrRisk
from core.backtest.slippage import VolumeVolatility


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed: nothing to compare")
def test_extended_loop_compiled_and_pure_python_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.backtest._jit as jit_module

    monkeypatch.setattr(jit_module, "_njit", None)
    spec = importlib.util.spec_from_file_location("_kernel_pure_risk", compiled.__file__)
    pure = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "_kernel_pure_risk", pure)
    spec.loader.exec_module(pure)

    rng = np.random.default_rng(5)
    n = 2_000
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    frame = pd.DataFrame({
        "Open": open_, "High": np.maximum(open_, close) * 1.003,
        "Low": np.minimum(open_, close) * 0.997, "Close": close,
        "Volume": rng.uniform(200, 2_000, n)}, index=pd.date_range("2020-01-01", periods=n))
    bars = prepare_bars(frame)
    sig = rng.choice(np.array([0, 1, -1, 2], dtype=np.int8), size=n, p=[0.9, 0.04, 0.04, 0.02])
    config = BacktestConfig(cash=100_000, sizing=AtrRisk(0.02, 2.0, 10),
                            slippage=VolumeVolatility(1.0, 10), liquidity_cap=0.05,
                            unfilled="carry", max_leverage=1.5, max_position="80%",
                            max_drawdown_halt=0.3, stop_loss=0.03, fractional=True)
    x = config.bar_inputs(bars)
    outputs = []
    for kernel in (compiled, pure):
        equity = np.empty(n)
        book = np.empty((n, kernel.N_TRADE_FIELDS))
        count = kernel.simulate_bars(bars.open, bars.high, bars.low, bars.close, sig,
                                     config.kernel_params(), x, equity, book)
        outputs.append((equity, book[:count]))
    assert len(outputs[0][1]) > 20
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
