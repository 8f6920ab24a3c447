"""Sizing rules: ATR risk sizing and capped Kelly, exact sizes on hand-made bars, settings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import AllIn, BacktestConfig, FixedUnits, PercentOfEquity, prepare_bars, run
from core.backtest.signals import LONG
from core.backtest.sizing import (
    AtrRisk,
    CappedKelly,
    average_true_range,
    kelly_fraction,
    resolve_sizing,
)
from core.errors import ValidationError

ROW = (100.0, 101.0, 99.0, 100.0)  # true range 2 on every bar


def bars(n: int = 8) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=n, freq="D")
    return pd.DataFrame([ROW] * n, columns=["Open", "High", "Low", "Close"], index=index)


def codes(n: int, **at: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int8)
    for key, code in at.items():
        out[int(key[1:])] = code
    return out


def test_average_true_range_is_known_before_the_bar() -> None:
    atr = average_true_range(prepare_bars(bars()), 3)
    assert np.isnan(atr[:3]).all()
    assert atr[3:].tolist() == [2.0] * 5


def test_atr_risk_gives_the_exact_size() -> None:
    config = BacktestConfig(cash=100_000, sizing=AtrRisk(0.01, atr_multiple=2.0, window=3))
    trade = run(bars(), codes(8, b3=LONG), config).trades.iloc[0]
    assert trade["size"] == 250.0  # 0.01 * 100_000 / (2 * 2)
    fractional = BacktestConfig(cash=1_000, fractional=True, sizing=AtrRisk(0.01, 3.0, 3))
    assert run(bars(), codes(8, b3=LONG), fractional).trades["size"].iloc[0] == \
        pytest.approx(10 / 6, rel=1e-12)


def test_atr_risk_makes_no_entry_while_the_atr_is_unknown() -> None:
    config = BacktestConfig(cash=100_000, sizing=AtrRisk(0.01, window=3))
    assert run(bars(), codes(8, b1=LONG), config).trades.empty  # fills at bar 2: ATR unknown


def test_atr_risk_is_cut_to_what_the_cash_buys() -> None:
    config = BacktestConfig(cash=100_000, sizing=AtrRisk(1.0, atr_multiple=1.0, window=3))
    trade = run(bars(), codes(8, b3=LONG), config).trades.iloc[0]
    assert trade["size"] == 1_000.0  # wants 50_000; cash buys 1_000 at 100
    levered = BacktestConfig(cash=100_000, sizing=AtrRisk(1.0, 1.0, 3), max_leverage=2.0)
    assert run(bars(), codes(8, b3=LONG), levered).trades["size"].iloc[0] == 2_000.0


def test_kelly_fraction_and_cap() -> None:
    assert kelly_fraction(0.6, 2.0) == pytest.approx(0.4)
    assert CappedKelly(0.6, 2.0, cap=0.25).value == 0.25  # capped
    assert CappedKelly(0.55, 1.5, cap=0.5).value == pytest.approx(0.25)  # below the cap
    trade = run(bars(), codes(8, b0=LONG),
                BacktestConfig(cash=10_000, sizing=CappedKelly(0.6, 2.0, 0.25))).trades.iloc[0]
    assert trade["size"] == 25.0  # 25 % of 10_000 at 100
    with pytest.raises(ValidationError, match="no edge"):
        CappedKelly(0.4, 1.0)
    with pytest.raises(ValidationError, match=r"Kelly cap must be in \(0, 1\]"):
        CappedKelly(0.6, 2.0, cap=1.5)


def test_resolve_sizing_strings() -> None:
    assert resolve_sizing("atr_risk:0.01") == AtrRisk(0.01)
    assert resolve_sizing("atr_risk:0.02:3:20") == AtrRisk(0.02, 3.0, 20)
    assert resolve_sizing("kelly:0.55:1.5:0.2") == CappedKelly(0.55, 1.5, 0.2)
    assert resolve_sizing("fixed_units:10") == FixedUnits(10)
    assert resolve_sizing("percent_of_equity:0.5") == PercentOfEquity(0.5)
    assert resolve_sizing("all_in") == AllIn() == resolve_sizing(None)


@pytest.mark.parametrize(("spec", "message"), [
    ("atr", "unknown sizing rule 'atr'"),
    ("atr_risk:x", "takes numbers"),
    ("atr_risk", "wrong number of arguments"),
    ("atr_risk:2", r"risk_fraction must be in \(0, 1\]"),
    ("atr_risk:0.01:0", "atr_multiple must be in"),
    ("atr_risk:0.01:2:0.5", "whole window >= 1"),
    ("kelly:0.5", "wrong number of arguments"),
    ("kelly:1.5:2", r"win_rate must be in \(0, 1\)"),
])
def test_bad_sizing_settings(spec: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        resolve_sizing(spec)
