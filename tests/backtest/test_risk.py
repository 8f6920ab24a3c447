"""Risk limits: position and leverage caps bind; the drawdown halt closes and stops new entries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import BacktestConfig, FixedUnits, run, run_backtest
from core.backtest.risk import RiskLimits, make_limits, parse_max_position
from core.backtest.signals import EXIT, LONG
from core.errors import ValidationError


def frame(closes: list[float]) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(closes), freq="D")
    return pd.DataFrame({"Open": closes, "High": closes, "Low": closes, "Close": closes},
                        index=index)


def codes(n: int, **at: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int8)
    for key, code in at.items():
        out[int(key[1:])] = code
    return out


FLAT = [100.0] * 4
HALT_10 = BacktestConfig(cash=1_000, sizing=FixedUnits(10), max_drawdown_halt=0.1)


def size_of(**config: object) -> float:
    config.setdefault("cash", 10_000.0)
    book = run(frame(FLAT), codes(4, b0=LONG), BacktestConfig(**config)).trades
    return float(book["size"].iloc[0]) if len(book) else 0.0


def test_max_position_in_units_and_percent() -> None:
    assert size_of() == 99.0  # all in: 10_000 * (1 - eps) // 100
    assert size_of(max_position=30) == 30.0
    assert size_of(max_position="20%") == 20.0  # 2_000 of notional at 100
    assert size_of(max_position=500) == 99.0  # not binding


def test_max_leverage_binds() -> None:
    assert size_of(max_leverage=0.5) == 50.0
    assert size_of(sizing=FixedUnits(150)) == 0.0  # cash does not cover 15_000: skipped
    assert size_of(sizing=FixedUnits(150), max_leverage=2.0) == 150.0  # margin allowed
    assert size_of(sizing=FixedUnits(300), max_leverage=2.0) == 200.0  # cut to 2x equity
    assert size_of(sizing=FixedUnits(150), max_leverage=0.5) == 50.0


def test_drawdown_halt_closes_and_stops_new_entries_after_the_threshold() -> None:
    closes = [100.0, 100.0, 91.0, 89.0, 95.0, 100.0, 100.0]
    sig = codes(7, b0=LONG, b4=LONG)
    result = run(frame(closes), sig, HALT_10)
    book = result.trades
    # 10 units at 100: equity 910 at bar 2 (-9 %, no halt), 890 at bar 3 (-11 %): halt.
    assert book[["entry_bar", "exit_bar", "exit_price", "exit_reason"]].values.tolist() == \
        [[1, 3, 89.0, "drawdown_halt"]]
    assert result.equity.tolist() == [1000.0, 1000.0, 910.0, 890.0, 890.0, 890.0, 890.0]


def test_drawdown_halt_does_not_fire_before_the_threshold() -> None:
    closes = [100.0, 100.0, 91.0, 95.0, 95.0, 90.0, 90.0]
    sig = codes(7, b0=LONG, b3=EXIT, b4=LONG)
    book = run(frame(closes), sig, HALT_10).trades
    assert book["exit_reason"].tolist() == ["signal", "end"]  # 9 % never halts; re-entry works
    assert book["entry_bar"].tolist() == [1, 5]


def test_drawdown_is_measured_from_the_running_peak() -> None:
    closes = [100.0, 100.0, 120.0, 109.0, 107.0, 100.0]
    book = run(frame(closes), codes(6, b0=LONG),
               HALT_10).trades
    # Peak 1_200 at bar 2; 1_090 is -9.2 %, 1_070 is -10.8 %: halt at bar 4.
    assert book[["exit_bar", "exit_reason"]].values.tolist() == [[4, "drawdown_halt"]]


def test_limits_parse_and_reject_bad_values() -> None:
    assert make_limits() == RiskLimits()
    assert parse_max_position("25%") == (0.0, 0.25)
    assert parse_max_position(100) == (100.0, 0.0)
    assert make_limits(max_leverage=2, max_drawdown_halt=0.2) == \
        RiskLimits(max_leverage=2.0, max_drawdown_halt=0.2)


@pytest.mark.parametrize(("setting", "message"), [
    ({"max_leverage": 0}, r"max_leverage must be in \(0, 100\]"),
    ({"max_leverage": "2x"}, "max_leverage must be a number"),
    ({"max_position": -5}, "max_position must be a positive number"),
    ({"max_position": "25"}, "percentage of equity"),
    ({"max_position": "0%"}, "percentage of equity"),
    ({"max_drawdown_halt": 1.0}, r"max_drawdown_halt must be a fraction in \(0, 1\)"),
    ({"max_drawdown_halt": float("nan")}, "must be finite"),
])
def test_bad_risk_settings(setting: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BacktestConfig(**setting)


def test_run_backtest_settings() -> None:
    goog = pytest.importorskip("backtesting.test").GOOG
    run_ = run_backtest(goog, "sma_cross", max_position="50%", max_leverage=1.0,
                        max_drawdown_halt=0.05, sizing="atr_risk:0.01",
                        slippage="volume_volatility:1:20", liquidity_cap=0.01, unfilled="carry")
    assert "drawdown_halt" in set(run_.trades["exit_reason"])
    notional = (run_.trades["size"].abs() * run_.trades["entry_price"]).max()
    assert notional <= 0.5 * run_.equity.max()
