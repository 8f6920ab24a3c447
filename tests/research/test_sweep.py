"""The vectorised sweep equals run_backtest combination by combination; the fallback path."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtesting.test import GOOG

from core.backtest import FixedCommission, make_config, run_backtest
from core.compute import Cancelled, CancelToken, LocalExecutor, SerialExecutor
from core.errors import DataError, ValidationError
from core.research.sweep import SWEEP_STATS, sweep, unsupported_reason

REL = 1e-9


def gbm_daily(n: int = 1_000, seed: int = 5) -> pd.DataFrame:
    """Seeded daily OHLC bars of a geometric Brownian motion, with opening gaps."""
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, n)))
    open_ = np.r_[50.0, close[:-1]] * np.exp(rng.normal(0.0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.006, n)))
    index = pd.bdate_range("2016-01-04", periods=n, tz="UTC")
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close}, index=index)


def combos(seed: int, n: int = 30) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        fast, slow = sorted(int(v) for v in rng.choice(np.arange(1, 80), 2, replace=False))
        out.append({"fast": fast, "slow": slow, "long_only": bool(rng.integers(2))})
    return out


def assert_matches(table: pd.DataFrame, data: pd.DataFrame, strategy: str, rows: list[dict],
                   **settings: object) -> None:
    """Every row of the sweep equals run_backtest's stats (trades exactly, the rest to 1e-9)."""
    assert list(table.columns) == list(SWEEP_STATS) and len(table) == len(rows)
    for k, params in enumerate(rows):
        stats = run_backtest(data, strategy, params, **settings).stats
        assert table["trades"].iloc[k] == stats["trades"], params
        for key in SWEEP_STATS:
            got, want = table[key].iloc[k], stats[key]
            if np.isnan(want):
                assert np.isnan(got), (params, key)
            else:
                assert got == pytest.approx(want, rel=REL, abs=1e-12), (params, key, got, want)


SETTINGS = [
    {},
    {"commission": 0.002, "spread": 0.0005},
    {"fill": "close", "fractional": True, "cash": 2_500.0},
    {"commission": FixedCommission(1.5), "finalize_at": "open"},
    {"finalize": False, "sizing": 0.5},
    {"sizing": 7, "commission": "us_per_share"},
]


@pytest.mark.parametrize("strategy", ["sma_cross", "ema_cross"])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: ",".join(s) or "defaults")
def test_sweep_equals_run_backtest(strategy: str, settings: dict) -> None:
    data, rows = gbm_daily(), combos(seed=len(settings))
    assert unsupported_reason(strategy, make_config(**settings)) is None
    assert_matches(sweep(data, strategy, rows, **settings), data, strategy, rows, **settings)


def test_sweep_equals_run_backtest_on_goog() -> None:
    rows = combos(seed=11, n=20) + [{"fast": 10, "slow": 30, "long_only": False}]
    table = sweep(GOOG, "sma_cross", pd.DataFrame(rows), commission=0.002)
    assert_matches(table, GOOG, "sma_cross", rows, commission=0.002)
    assert table["trades"].dtype == np.int64


def test_running_out_of_money_ends_the_run_as_the_engine_does() -> None:
    close = np.r_[np.linspace(100, 90, 11), np.linspace(91, 100, 10), np.linspace(99, 90, 10),
                  [300.0, 310.0, 320.0, 330.0]]
    index = pd.bdate_range("2020-01-01", periods=len(close), tz="UTC")
    open_ = np.r_[close[0], close[:-1]]
    data = pd.DataFrame({"Open": open_, "High": np.maximum(open_, close) * 1.01,
                         "Low": np.minimum(open_, close) * 0.99, "Close": close}, index=index)
    rows = [{"fast": 2, "slow": 4}, {"fast": 2, "slow": 5}, {"fast": 3, "slow": 4}]
    table = sweep(data, "sma_cross", rows)
    assert table["final_equity"].iloc[0] == 0.0 and table["return_pct"].iloc[0] == -100.0
    assert_matches(table, data, "sma_cross", [{**r, "long_only": False} for r in rows])


def test_unsupported_settings_and_strategies_fall_back_to_run_backtest() -> None:
    data = gbm_daily(n=300)
    stops = {"stop_loss": 0.05, "commission": 0.001}
    assert unsupported_reason("sma_cross", make_config(**stops)) == \
        "stop-loss, take-profit or trailing stop"
    assert unsupported_reason("rsi", make_config()).startswith("no vectorised sweep for rsi")
    assert unsupported_reason("sma_cross", make_config(slippage="fixed_bps:5")) == "slippage"
    assert unsupported_reason("sma_cross", make_config(max_leverage=1.0)) == "risk limits"
    rows = combos(seed=2, n=4)
    assert_matches(sweep(data, "sma_cross", rows, executor=SerialExecutor(), **stops), data,
                   "sma_cross", rows, **stops)
    rsi = [{"period": p, "oversold": 30.0} for p in (7, 14, 21)]
    assert_matches(sweep(data, "rsi", rsi), data, "rsi", rsi)


def test_fallback_runs_through_a_process_pool() -> None:
    data = gbm_daily(n=300)
    rows = [{"period": p} for p in (5, 9, 14, 20, 30)]
    executor = LocalExecutor(max_workers=2)
    try:
        table = sweep(data, "rsi", rows, executor=executor)
    finally:
        executor.close()
    assert_matches(table, data, "rsi", rows)


@pytest.mark.parametrize("settings", [{}, {"stop_loss": 0.05}], ids=["vectorised", "fallback"])
def test_progress_and_cancel(settings: dict) -> None:
    data, rows = gbm_daily(n=200), combos(seed=4, n=40)
    seen: list[tuple[int, int]] = []
    sweep(data, "sma_cross", rows, progress=lambda d, t: seen.append((d, t)),
          executor=SerialExecutor(), **settings)
    assert seen[-1] == (40, 40) and all(t == 40 for _, t in seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        sweep(data, "sma_cross", rows, cancel=token, executor=SerialExecutor(), **settings)


def test_combinations_are_checked_unless_told_otherwise() -> None:
    data = gbm_daily(n=100)
    with pytest.raises(ValidationError, match="slow must be greater than fast"):
        sweep(data, "sma_cross", [{"fast": 20, "slow": 10}])
    with pytest.raises(ValidationError, match="unknown parameter window"):
        sweep(data, "sma_cross", [{"window": 20}])
    with pytest.raises(ValidationError, match="unknown backtest setting"):
        sweep(data, "sma_cross", [{"fast": 5}], leverage=2)
    with pytest.raises(DataError):
        sweep(data.iloc[:1], "sma_cross", [{"fast": 5}])
    empty = sweep(data, "sma_cross", [])
    assert empty.empty and list(empty.columns) == list(SWEEP_STATS)
