"""The liquidity cap: at most a share of a bar's volume fills; the rest is cancelled or carried."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import BacktestConfig, FixedUnits, run, run_backtest
from core.backtest.signals import EXIT, LONG
from core.errors import ValidationError


def frame(opens: list[float], volume: list[float] | None) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(opens), freq="D")
    df = pd.DataFrame({"Open": opens, "High": opens, "Low": opens, "Close": opens}, index=index)
    if volume is not None:
        df["Volume"] = volume
    return df


def codes(n: int, **at: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int8)
    for key, code in at.items():
        out[int(key[1:])] = code
    return out


def trades(opens: list[float], sig: np.ndarray, volume: list[float] | None = None,
           **config: object) -> pd.DataFrame:
    config = {"cash": 1e6, "sizing": FixedUnits(300), "liquidity_cap": 0.1, **config}
    return run(frame(opens, volume), sig, BacktestConfig(**config)).trades


OPENS = [100.0, 100.0, 101.0, 102.0, 103.0, 104.0]
VOLUME = [1_000.0] * 6


def test_cancel_fills_a_tenth_of_the_bar_and_drops_the_rest() -> None:
    book = trades(OPENS, codes(6, b0=LONG), VOLUME, unfilled="cancel")
    assert book[["entry_bar", "size", "entry_price"]].values.tolist() == [[1, 100.0, 100.0]]


def test_carry_fills_the_rest_over_the_next_bars_at_the_average_price() -> None:
    book = trades(OPENS, codes(6, b0=LONG), VOLUME, unfilled="carry")
    assert book[["entry_bar", "size"]].values.tolist() == [[1, 300.0]]
    assert book["entry_price"].iloc[0] == pytest.approx((100.0 + 101.0 + 102.0) / 3, rel=1e-12)
    equity = run(frame(OPENS, VOLUME), codes(6, b0=LONG),
                 BacktestConfig(cash=1e6, sizing=FixedUnits(300), liquidity_cap=0.1,
                                unfilled="carry")).equity
    # Bar 2 marks 200 units at 101 bought at an average of 100.5.
    assert equity.iloc[2] == pytest.approx(1e6 + 200 * (101 - 100.5))


def test_carry_respects_each_bars_volume() -> None:
    book = trades(OPENS, codes(6, b0=LONG), [1_000.0, 1_000.0, 500.0, 2_000.0, 1e3, 1e3],
                  unfilled="carry")
    # 100 at bar 1, 50 at bar 2, the last 150 at bar 3 (cap 200).
    assert book["size"].iloc[0] == 300.0
    assert book["entry_price"].iloc[0] == pytest.approx(
        (100 * 100.0 + 50 * 101.0 + 150 * 102.0) / 300, rel=1e-12)


def test_an_exit_signal_cancels_the_carried_rest() -> None:
    book = trades(OPENS, codes(6, b0=LONG, b1=EXIT), VOLUME, unfilled="carry")
    assert book[["entry_bar", "exit_bar", "size"]].values.tolist() == [[1, 2, 100.0]]


def test_the_cap_is_off_without_a_volume_column() -> None:
    book = trades(OPENS, codes(6, b0=LONG), None, unfilled="cancel")
    assert book["size"].tolist() == [300.0]


def test_exits_are_capped_too_and_the_end_close_is_not() -> None:
    # Exit fills 100 a bar at bars 4 and 5; the last 100 close at the end (not capped).
    book = trades(OPENS, codes(6, b0=LONG, b3=EXIT), VOLUME, unfilled="carry")
    assert book[["exit_bar", "size"]].values.tolist() == [[4, 100.0], [5, 100.0], [5, 100.0]]
    assert book["exit_reason"].tolist() == ["signal", "signal", "end"]


def test_settings_and_validation() -> None:
    goog = pytest.importorskip("backtesting.test").GOOG
    capped = run_backtest(goog, "sma_cross", liquidity_cap=0.0001, unfilled="cancel")
    assert capped.trades["size"].abs().max() <= (goog["Volume"] * 0.0001).max()
    with pytest.raises(ValidationError, match=r"liquidity_cap must be a fraction .* \(0, 1\]"):
        BacktestConfig(liquidity_cap=1.5)
    with pytest.raises(ValidationError, match="liquidity_cap must be a number"):
        BacktestConfig(liquidity_cap="10%")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="unfilled must be 'cancel' or 'carry'"):
        BacktestConfig(unfilled="queue")  # type: ignore[arg-type]
