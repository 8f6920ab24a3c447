"""The compiled statistics loops against plain pandas definitions on random inputs.

Each case draws a seeded equity curve (some end under water, some hit new highs on the last
bar, some have flat stretches) and random trades, and recomputes the figures the slow, obvious
way with pandas; compute_stats must agree to 1e-12 relative.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest.metrics import compute_stats

REL = 1e-12
DAY = pd.Timedelta(days=1)


def _equity(seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 400))
    steps = rng.normal(0.0005, 0.02, n)
    steps[rng.random(n) < 0.1] = 0.0  # flat stretches: repeated peaks
    values = 1000 * np.exp(np.cumsum(steps))
    values[0] = 1000.0
    index = pd.date_range("2020-01-01", periods=n, freq="D", unit="us")
    return pd.Series(values, index=index)


def _trades(equity: pd.Series, seed: int, unit: str) -> pd.DataFrame:
    rng = np.random.default_rng(seed + 1000)
    k = int(rng.integers(1, 30))
    idx = equity.index.as_unit(unit)
    first = rng.integers(0, len(idx), k)
    last = np.minimum(first + rng.integers(0, 20, k), len(idx) - 1)
    exit_time = pd.Series(idx[last])
    exit_time[rng.random(k) < 0.15] = pd.NaT  # still open
    pnl = rng.normal(5, 40, k)
    ret = rng.normal(0.5, 4, k)
    pnl[rng.random(k) < 0.1] = np.nan
    return pd.DataFrame({"entry_time": idx[first], "exit_time": exit_time,
                         "pnl": pnl, "return_pct": ret})


def _drawdown_reference(equity: pd.Series) -> dict[str, float]:
    peak = equity.cummax()
    under = 1 - equity / peak
    bounds = sorted(set(np.flatnonzero(under.to_numpy() == 0)) | {len(equity) - 1})
    periods = []
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        if stop > start + 1 or (stop == len(equity) - 1 and under.iloc[-1] > 0):
            periods.append(((equity.index[stop] - equity.index[start]) / DAY,
                            under.iloc[start:stop + 1].max()))
    if not periods:
        return {"max_drawdown_duration_days": 0.0}
    durations, depths = zip(*periods, strict=True)
    return {"max_drawdown_duration_days": max(durations),
            "avg_drawdown_duration_days": float(np.mean(durations)),
            "avg_drawdown_pct": -float(np.mean(depths)) * 100,
            "max_drawdown_pct": ((equity / peak).min() - 1) * 100}


def _trade_reference(equity: pd.Series, trades: pd.DataFrame) -> dict[str, float]:
    pnl, ret = trades["pnl"], trades["return_pct"] / 100
    exit_time = trades["exit_time"].fillna(equity.index[-1].as_unit("ns"))
    durations = (exit_time - trades["entry_time"]) / DAY
    held = pd.Series(False, index=equity.index)
    for entry, exit_ in zip(trades["entry_time"], trades["exit_time"], strict=True):
        held |= (equity.index >= entry) & (pd.isna(exit_) | (equity.index <= exit_))
    return {
        "win_rate_pct": (pnl > 0).mean() * 100,
        "expectancy": pnl.mean(),
        "expectancy_pct": ret.mean() * 100,
        "best_trade_pct": ret.max() * 100,
        "worst_trade_pct": ret.min() * 100,
        "profit_factor": ret[ret > 0].sum() / abs(ret[ret < 0].sum()),
        "sqn": np.sqrt(len(trades)) * pnl.mean() / pnl.std(),
        "avg_trade_duration_days": durations.mean(),
        "max_trade_duration_days": durations.max(),
        "exposure_pct": held.mean() * 100,
    }


def _tail_reference(equity: pd.Series) -> dict[str, float]:
    returns = equity.pct_change().iloc[1:]
    out = {}
    for label, alpha in (("95", 0.05), ("99", 0.01)):
        threshold = returns.quantile(alpha)
        out[f"var_{label}_pct"] = threshold * 100
        out[f"es_{label}_pct"] = returns[returns <= threshold].mean() * 100
    out["volatility_pct"] = returns.std() * np.sqrt(365) * 100
    return out


@pytest.mark.parametrize("seed", range(40))
def test_compiled_statistics_match_pandas_definitions(seed: int) -> None:
    equity = _equity(seed)
    # trade times in nanoseconds against a microsecond index: the conversion path
    trades = _trades(equity, seed, "ns" if seed % 2 else "us")
    stats = compute_stats(equity, trades, periods_per_year=365)
    expected = {**_drawdown_reference(equity), **_trade_reference(equity, trades)}
    if len(equity) > 2:
        expected.update(_tail_reference(equity))
    for key, value in expected.items():
        if np.isnan(value):
            assert np.isnan(stats[key]), key
        else:
            assert stats[key] == pytest.approx(value, rel=REL, abs=1e-12), key


def test_every_number_is_a_plain_python_number() -> None:
    equity = _equity(3)
    stats = compute_stats(equity, _trades(equity, 3, "us"), benchmark=equity.shift(1).bfill())
    for key, value in stats.items():
        if key in ("start", "end"):
            continue
        assert type(value) in (float, int), (key, type(value))
