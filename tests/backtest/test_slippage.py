"""Slippage models: exact fill prices on hand-made bars, the square-root law, settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import BacktestConfig, FixedUnits, run, run_backtest
from core.backtest.signals import EXIT, LONG, SHORT
from core.backtest.slippage import (
    SLIPPAGE_MODELS,
    FixedBps,
    HalfSpread,
    SlippageModel,
    VolumeVolatility,
    resolve_slippage,
    rolling_volatility,
)
from core.errors import ValidationError

FLAT = (100.0, 100.0, 100.0, 100.0)


def frame(rows: list[tuple[float, ...]], volume: list[float] | None = None) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(rows), freq="D")
    df = pd.DataFrame(rows, columns=["Open", "High", "Low", "Close"], index=index)
    if volume is not None:
        df["Volume"] = volume
    return df


def codes(n: int, **at: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int8)
    for key, code in at.items():
        out[int(key[1:])] = code
    return out


def first_trade(rows: list[tuple[float, ...]], sig: np.ndarray, **config: object) -> pd.Series:
    config.setdefault("cash", 1_050.0)
    result = run(frame(rows, config.pop("volume", None)), sig, BacktestConfig(**config))
    assert len(result.trades) == 1
    return result.trades.iloc[0]


def test_registry_and_protocol() -> None:
    assert set(SLIPPAGE_MODELS) == {"fixed_bps", "half_spread", "volume_volatility"}
    for model in (FixedBps(5), HalfSpread(4), VolumeVolatility()):
        assert isinstance(model, SlippageModel)


def test_fixed_bps_long_entry_higher_exit_lower() -> None:
    trade = first_trade([FLAT] * 4, codes(4, b0=LONG, b2=EXIT), slippage=FixedBps(5))
    assert trade["size"] == 10  # 1050 // 100.05
    assert trade["entry_price"] == pytest.approx(100.05, rel=1e-12)
    assert trade["exit_price"] == pytest.approx(99.95, rel=1e-12)
    assert trade["pnl"] == pytest.approx(10 * (99.95 - 100.05), rel=1e-9)


def test_fixed_bps_short_entry_lower_exit_higher() -> None:
    trade = first_trade([FLAT] * 4, codes(4, b0=SHORT, b2=EXIT), slippage=FixedBps(10))
    assert trade["entry_price"] == pytest.approx(99.9, rel=1e-12)
    assert trade["exit_price"] == pytest.approx(100.1, rel=1e-12)


def test_slippage_adds_to_spread_on_entry() -> None:
    trade = first_trade([FLAT] * 4, codes(4, b0=LONG, b2=EXIT), slippage=FixedBps(5),
                        spread=0.001)
    assert trade["entry_price"] == pytest.approx(100 * (1 + 0.001 + 0.0005), rel=1e-12)
    assert trade["exit_price"] == pytest.approx(99.95, rel=1e-12)


def test_half_spread_pays_half_on_every_fill() -> None:
    trade = first_trade([FLAT] * 4, codes(4, b0=LONG, b2=EXIT), slippage=HalfSpread(4))
    assert trade["entry_price"] == pytest.approx(100.02, rel=1e-12)
    assert trade["exit_price"] == pytest.approx(99.98, rel=1e-12)


def test_stop_fill_slips_too() -> None:
    rows = [FLAT, FLAT, (99.0, 99.0, 90.0, 92.0), FLAT]
    trade = first_trade(rows, codes(4, b0=LONG), slippage=FixedBps(10), stop_loss=0.05)
    level = 100.1 * 0.95  # stop from the slipped entry price
    assert trade["exit_reason"] == "stop_loss"
    assert trade["exit_price"] == pytest.approx(level * 0.999, rel=1e-12)
    gap = first_trade([FLAT, FLAT, (90.0, 91.0, 89.0, 90.0), FLAT], codes(4, b0=LONG),
                      slippage=FixedBps(10), stop_loss=0.05)
    assert gap["exit_price"] == pytest.approx(90.0 * 0.999, rel=1e-12)  # gapped: the open


def _impact_rows() -> tuple[list[tuple[float, ...]], list[float]]:
    closes = [100.0, 101.0, 99.0, 102.0, 100.0, 100.0, 100.0]
    return [(c, c, c, c) for c in closes], [1_000.0] * len(closes)


@pytest.mark.parametrize("units", [10.0, 40.0])
def test_volume_volatility_exact_impact(units: float) -> None:
    rows, volume = _impact_rows()
    trade = first_trade(rows, codes(7, b3=LONG), cash=1e6, volume=volume,
                        slippage=VolumeVolatility(k=0.5, window=3), sizing=FixedUnits(units))
    # Fill at bar 4's open (100); volatility of the 3 returns up to bar 3's close.
    returns = np.diff([100.0, 101.0, 99.0, 102.0]) / [100.0, 101.0, 99.0]
    sigma = float(np.std(returns, ddof=1))
    impact = 0.5 * sigma * np.sqrt(units / 1_000.0)
    assert trade["entry_price"] == pytest.approx(100.0 * (1 + impact), rel=1e-12)
    # The finalising exit on bar 6 uses bar 6's volatility (returns up to bar 5).
    sigma_exit = rolling_volatility(np.array([r[3] for r in rows]), 3)[6]
    assert trade["exit_price"] == pytest.approx(
        100.0 * (1 - 0.5 * sigma_exit * np.sqrt(units / 1_000.0)), rel=1e-12)


def test_square_root_law_four_times_the_share_doubles_the_impact() -> None:
    rows, volume = _impact_rows()
    impacts = []
    for units in (25.0, 100.0):
        trade = first_trade(rows, codes(7, b3=LONG), cash=1e6, volume=volume,
                            slippage=VolumeVolatility(k=1.0, window=3), sizing=FixedUnits(units))
        impacts.append(trade["entry_price"] / 100.0 - 1.0)
    assert impacts[1] == pytest.approx(2 * impacts[0], rel=1e-12)


def test_rolling_volatility_has_no_look_ahead() -> None:
    close = np.array([100.0, 110.0, 99.0, 120.0, 80.0])
    vol = rolling_volatility(close, 2)
    assert vol[:2].tolist() == [0.0, 0.0]
    assert vol[3] == pytest.approx(np.std([0.1, -0.1], ddof=1))
    changed = rolling_volatility(np.r_[close[:4], 1_000.0], 2)
    assert changed[4] == vol[4]  # bar 4's value does not see bar 4's close


def test_volume_volatility_needs_volume() -> None:
    with pytest.raises(ValidationError, match="needs a Volume column"):
        run(frame([FLAT] * 3), codes(3, b0=LONG), BacktestConfig(slippage=VolumeVolatility()))


def test_zero_slippage_changes_nothing() -> None:
    goog = pytest.importorskip("backtesting.test").GOOG
    plain = run_backtest(goog, "sma_cross", commission=0.002)
    zero = run_backtest(goog, "sma_cross", commission=0.002, slippage="fixed_bps:0")
    assert plain.trades.equals(zero.trades) and plain.equity.equals(zero.equity)
    slipped = run_backtest(goog, "sma_cross", commission=0.002, slippage="fixed_bps:5")
    assert slipped.equity.iloc[-1] < plain.equity.iloc[-1]


def test_resolve_slippage() -> None:
    assert resolve_slippage("fixed_bps:5") == FixedBps(5.0)
    assert resolve_slippage("half_spread:4") == HalfSpread(4.0)
    assert resolve_slippage("volume_volatility:0.5:10") == VolumeVolatility(0.5, 10)
    assert resolve_slippage(None) is None and resolve_slippage("none") is None
    model = FixedBps(1)
    assert resolve_slippage(model) is model


@pytest.mark.parametrize(("spec", "message"), [
    ("bps:5", "unknown slippage model 'bps'"),
    ("fixed_bps:five", "takes numbers"),
    ("fixed_bps", "wrong number of arguments"),
    ("fixed_bps:-1", r"bps in \[0, 1000\)"),
    ("half_spread:5000", "spread in bps"),
    ("volume_volatility:1:1", "window >= 2"),
    ("volume_volatility:-1", r"k in \[0, 100\]"),
    (5, "slippage must be a string"),
])
def test_bad_slippage_settings(spec: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        resolve_slippage(spec)  # type: ignore[arg-type]


def test_config_rejects_a_non_model() -> None:
    with pytest.raises(ValidationError, match="slippage must be a slippage model"):
        BacktestConfig(slippage="fixed_bps:5")  # type: ignore[arg-type]
