"""Engine behaviour on small hand-made bars: fills, signal semantics, stops, sizing, ruin.

Every expected number is worked out by hand in the test from the bars it builds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import (
    BacktestConfig,
    FixedUnits,
    PercentCommission,
    PercentOfEquity,
    run,
)
from core.backtest.signals import EXIT, LONG, SHORT
from core.errors import ValidationError

FLAT = (100.0, 100.0, 100.0, 100.0)


def frame(*rows: tuple[float, float, float, float]) -> pd.DataFrame:
    """Daily OHLC bars from (open, high, low, close) tuples."""
    index = pd.date_range("2024-01-01", periods=len(rows), freq="D", tz="UTC")
    return pd.DataFrame(rows, columns=["Open", "High", "Low", "Close"], index=index)


def signals(n: int, **at: int) -> np.ndarray:
    """``n`` HOLD codes with ``at={"b3": LONG}``-style overrides (bar number after the ``b``)."""
    out = np.zeros(n, dtype=np.int8)
    for key, code in at.items():
        out[int(key[1:])] = code
    return out


def simulate(rows: list[tuple[float, float, float, float]], sig: np.ndarray,
             **config: object) -> tuple[pd.Series, pd.DataFrame]:
    config.setdefault("cash", 1_050.0)
    result = run(frame(*rows), sig, BacktestConfig(**config))
    return result.equity, result.trades


# ------------------------------------------------------------------------------ fills


def test_next_open_fill_and_mark_to_market() -> None:
    rows = [FLAT, (100, 104, 99, 102), (103, 106, 101, 105), (104, 105, 103, 104)]
    equity, trades = simulate(rows, signals(4, b0=LONG, b2=EXIT))
    # 1050 * (1 - eps) // 100 = 10 units bought at bar 1's open, sold at bar 3's open.
    assert trades[["entry_bar", "exit_bar", "entry_price", "exit_price", "size"]].values.tolist() \
        == [[1, 3, 100.0, 104.0, 10.0]]
    assert trades["exit_reason"].tolist() == ["signal"]
    assert trades["pnl"].tolist() == [40.0]
    assert trades["return_pct"].tolist() == pytest.approx([4.0])
    assert equity.tolist() == [1050.0, 1070.0, 1100.0, 1090.0]
    assert trades["entry_time"].iloc[0] == equity.index[1]


def test_fill_at_close() -> None:
    rows = [(99, 101, 98, 100), (100, 104, 99, 102), (103, 106, 101, 105), (104, 105, 103, 104)]
    equity, trades = simulate(rows, signals(4, b0=LONG, b2=EXIT), fill="close")
    assert trades[["entry_bar", "exit_bar", "entry_price", "exit_price", "size"]].values.tolist() \
        == [[0, 2, 100.0, 105.0, 10.0]]
    assert equity.tolist() == [1050.0, 1070.0, 1100.0, 1100.0]


def test_fill_at_close_opens_nothing_on_the_last_bar_when_finalising() -> None:
    _, trades = simulate([FLAT, FLAT, FLAT], signals(3, b2=LONG), fill="close")
    assert trades.empty


def test_a_signal_on_the_last_bar_is_ignored_with_next_open_fills() -> None:
    equity, trades = simulate([FLAT, FLAT, FLAT], signals(3, b2=LONG))
    assert trades.empty
    assert equity.tolist() == [1050.0] * 3


def test_signal_codes_are_events_long_while_long_holds() -> None:
    rows = [FLAT, FLAT, (101, 101, 101, 101), (102, 102, 102, 102), (103, 103, 103, 103)]
    _, trades = simulate(rows, signals(5, b0=LONG, b1=LONG, b2=LONG))
    assert len(trades) == 1
    assert trades[["entry_bar", "exit_bar", "exit_reason"]].values.tolist() == [[1, 4, "end"]]


def test_short_then_reverse_long() -> None:
    rows = [FLAT, (100, 100, 100, 100), (90, 90, 90, 90), (80, 80, 80, 80), (85, 85, 85, 85)]
    equity, trades = simulate(rows, signals(5, b0=SHORT, b2=LONG), finalize=False)
    # Short 10 at 100, covered at 80 (+200); cash 1250 buys 15 at 80 (1250 * (1 - eps) // 80).
    assert trades[["entry_bar", "exit_bar", "size", "pnl"]].values.tolist() == \
        [[1, 3, -10.0, 200.0]]
    assert equity.iloc[-1] == 1250.0 + 15 * (85 - 80)


def test_finalize_options() -> None:
    rows = [FLAT, FLAT, (100, 112, 99, 110)]
    sig = signals(3, b0=LONG)
    equity, trades = simulate(rows, sig)
    assert trades["exit_price"].tolist() == [110.0] and equity.iloc[-1] == 1150.0
    equity, trades = simulate(rows, sig, finalize_at="open")
    assert trades["exit_price"].tolist() == [100.0] and equity.iloc[-1] == 1050.0
    equity, trades = simulate(rows, sig, finalize=False)
    assert trades.empty and equity.iloc[-1] == 1150.0


def test_out_of_money_closes_at_the_close_and_zeroes_equity() -> None:
    rows = [FLAT, FLAT, (150, 150, 150, 150), (250, 250, 250, 250), (300, 300, 300, 300)]
    equity, trades = simulate(rows, signals(5, b0=SHORT))
    # Short 10 at 100: equity 1050 - 500 = 550 at 150, then 1050 - 1500 < 0 at 250.
    assert equity.tolist() == [1050.0, 1050.0, 550.0, 0.0, 0.0]
    assert trades[["exit_bar", "exit_price", "exit_reason"]].values.tolist() == \
        [[3, 250.0, "out_of_money"]]


def test_spread_is_paid_on_entry_both_ways() -> None:
    rows = [FLAT, FLAT, FLAT]
    _, long_trades = simulate(rows, signals(3, b0=LONG), spread=0.01, cash=10_000)
    _, short_trades = simulate(rows, signals(3, b0=SHORT), spread=0.01, cash=10_000)
    assert long_trades["entry_price"].tolist() == [101.0]
    assert long_trades["size"].tolist() == [99.0]  # 10_000 * (1 - eps) // 101
    assert long_trades["pnl"].tolist() == pytest.approx([-99.0])
    assert short_trades["entry_price"].tolist() == [99.0]
    assert short_trades["size"].tolist() == [-101.0]  # 10_000 * (1 - eps) // 99
    assert short_trades["pnl"].tolist() == pytest.approx([-101.0])


# ------------------------------------------------------------------------------ stops


def test_stop_loss_fills_at_the_stop() -> None:
    rows = [FLAT, (100, 101, 99, 100), (98, 99, 94, 96), FLAT]
    equity, trades = simulate(rows, signals(4, b0=LONG), stop_loss=0.05)
    assert trades[["exit_bar", "exit_price", "exit_reason", "pnl"]].values.tolist() == \
        [[2, 95.0, "stop_loss", -50.0]]
    assert equity.tolist() == [1050.0, 1050.0, 1000.0, 1000.0]


def test_stop_loss_gap_through_fills_at_the_open() -> None:
    rows = [FLAT, (100, 101, 99, 100), (90, 92, 89, 91), FLAT]
    _, trades = simulate(rows, signals(4, b0=LONG), stop_loss=0.05)
    assert trades[["exit_bar", "exit_price", "exit_reason"]].values.tolist() == \
        [[2, 90.0, "stop_loss"]]


def test_stop_loss_can_hit_in_the_entry_bar() -> None:
    rows = [FLAT, (100, 101, 94, 96), FLAT]
    _, trades = simulate(rows, signals(3, b0=LONG), stop_loss=0.05)
    assert trades[["entry_bar", "exit_bar", "exit_price"]].values.tolist() == [[1, 1, 95.0]]


def test_short_stop_loss_and_gap() -> None:
    rows = [FLAT, (100, 101, 99, 100), (101, 106, 100, 104), FLAT]
    _, trades = simulate(rows, signals(4, b0=SHORT), stop_loss=0.05)
    assert trades[["exit_price", "exit_reason", "pnl"]].values.tolist() == \
        [[105.0, "stop_loss", -50.0]]
    rows[2] = (108, 109, 107, 108)
    _, trades = simulate(rows, signals(4, b0=SHORT), stop_loss=0.05)
    assert trades["exit_price"].tolist() == [108.0]


def test_take_profit_at_level_and_gap() -> None:
    rows = [FLAT, (100, 101, 99, 100), (105, 112, 104, 108), FLAT]
    _, trades = simulate(rows, signals(4, b0=LONG), take_profit=0.1)
    assert trades[["exit_bar", "exit_price", "exit_reason"]].values.tolist() == \
        [[2, pytest.approx(110.0), "take_profit"]]
    rows[2] = (115, 116, 113, 114)
    _, trades = simulate(rows, signals(4, b0=LONG), take_profit=0.1)
    assert trades["exit_price"].tolist() == [115.0]


def test_short_take_profit() -> None:
    rows = [FLAT, (100, 101, 99, 100), (95, 96, 89, 92), FLAT]
    _, trades = simulate(rows, signals(4, b0=SHORT), take_profit=0.1)
    assert trades[["exit_price", "exit_reason"]].values.tolist() == [[90.0, "take_profit"]]


def test_stop_wins_when_stop_and_target_share_a_bar() -> None:
    rows = [FLAT, (100, 101, 99, 100), (100, 115, 90, 100), FLAT]
    _, trades = simulate(rows, signals(4, b0=LONG), stop_loss=0.05, take_profit=0.1)
    assert trades[["exit_price", "exit_reason"]].values.tolist() == [[95.0, "stop_loss"]]


def test_trailing_stop_follows_the_high_from_the_previous_bar() -> None:
    rows = [FLAT, (100, 101, 99, 100), (110, 120, 109, 118), (115, 116, 107, 110), FLAT]
    _, trades = simulate(rows, signals(5, b0=LONG), trailing_stop=0.1)
    # Bar 2: level 101 * 0.9 = 90.9 (bar 2's own high not yet known); bar 3: 120 * 0.9 = 108.
    assert trades[["exit_bar", "exit_price", "exit_reason"]].values.tolist() == \
        [[3, pytest.approx(108.0), "trailing_stop"]]
    rows[3] = (105, 106, 104, 105)
    _, trades = simulate(rows, signals(5, b0=LONG), trailing_stop=0.1)
    assert trades[["exit_price", "exit_reason"]].values.tolist() == [[105.0, "trailing_stop"]]


def test_short_trailing_stop_follows_the_low() -> None:
    rows = [FLAT, (100, 101, 99, 100), (90, 91, 80, 85), (85, 89, 84, 86), FLAT]
    _, trades = simulate(rows, signals(5, b0=SHORT), trailing_stop=0.1)
    assert trades[["exit_bar", "exit_price", "exit_reason"]].values.tolist() == \
        [[3, pytest.approx(88.0), "trailing_stop"]]


def test_tighter_of_stop_loss_and_trailing_stop_applies() -> None:
    rows = [FLAT, (100, 101, 99, 100), (110, 120, 109, 118), (115, 116, 100, 110), FLAT]
    _, trades = simulate(rows, signals(5, b0=LONG), trailing_stop=0.1, stop_loss=0.05)
    assert trades["exit_reason"].tolist() == ["trailing_stop"]
    rows[2:4] = [(100, 100.5, 99, 100), (99, 100, 94, 96)]  # peak 101: trail 90.9 < stop 95
    _, trades = simulate(rows, signals(5, b0=LONG), trailing_stop=0.1, stop_loss=0.05)
    assert trades[["exit_price", "exit_reason"]].values.tolist() == [[95.0, "stop_loss"]]


def test_stops_are_relative_to_the_spread_adjusted_entry() -> None:
    rows = [FLAT, (100, 101, 99, 100), (97, 97, 90, 95), FLAT]
    _, trades = simulate(rows, signals(4, b0=LONG), stop_loss=0.05, spread=0.01, cash=10_000)
    assert trades["entry_price"].tolist() == [101.0]
    assert trades["exit_price"].tolist() == [pytest.approx(95.95)]


def test_a_stopped_position_stays_flat_until_the_next_entry_signal() -> None:
    rows = [FLAT, (100, 101, 99, 100), (96, 97, 90, 92), (92, 93, 91, 92), (93, 94, 92, 93),
            FLAT]
    _, trades = simulate(rows, signals(6, b0=LONG, b3=LONG), stop_loss=0.05)
    assert trades[["entry_bar", "exit_bar", "exit_reason"]].values.tolist() == \
        [[1, 2, "stop_loss"], [4, 5, "end"]]


# ------------------------------------------------------------------------------ sizing


def test_fractional_sizing_uses_all_the_cash() -> None:
    rows = [FLAT, (300, 300, 300, 300), (330, 330, 330, 330)]
    _, whole = simulate(rows, signals(3, b0=LONG), cash=1_000)
    _, frac = simulate(rows, signals(3, b0=LONG), cash=1_000, fractional=True)
    assert whole["size"].tolist() == [3.0]
    assert frac["size"].iloc[0] == pytest.approx(1_000 / 300, rel=1e-12)
    assert frac["pnl"].iloc[0] == pytest.approx(100.0, rel=1e-12)


def test_fractional_sizing_with_commission_leaves_room_for_the_fee() -> None:
    rows = [FLAT, FLAT, FLAT]
    _, trades = simulate(rows, signals(3, b0=LONG), cash=1_000, fractional=True,
                         commission=PercentCommission(0.01))
    size = trades["size"].iloc[0]
    assert size * 100 + size * 100 * 0.01 == pytest.approx(1_000, rel=1e-12)


def test_percent_of_equity_sizing() -> None:
    rows = [FLAT, FLAT, FLAT]
    _, trades = simulate(rows, signals(3, b0=LONG), cash=10_000, sizing=PercentOfEquity(0.5))
    assert trades["size"].tolist() == [50.0]


def test_fixed_units_sizing_and_not_enough_cash() -> None:
    rows = [FLAT, FLAT, FLAT]
    _, trades = simulate(rows, signals(3, b0=SHORT), sizing=FixedUnits(7))
    assert trades["size"].tolist() == [-7.0]
    _, trades = simulate(rows, signals(3, b0=LONG), sizing=FixedUnits(11))
    assert trades.empty  # 11 * 100 > 1050: the entry is skipped, as backtesting.py cancels it


def test_not_enough_cash_for_one_unit_skips_the_entry() -> None:
    _, trades = simulate([FLAT, FLAT, FLAT], signals(3, b0=LONG), cash=99.0)
    assert trades.empty


def test_config_validation() -> None:
    with pytest.raises(ValidationError, match="cash"):
        BacktestConfig(cash=0)
    with pytest.raises(ValidationError, match="cash must be a number"):
        BacktestConfig(cash="10k")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="fill"):
        BacktestConfig(fill="open")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="stop_loss"):
        BacktestConfig(stop_loss=1.5)
    with pytest.raises(ValidationError, match="fractional=True"):
        BacktestConfig(sizing=FixedUnits(2.5))
    with pytest.raises(ValidationError, match="spread"):
        BacktestConfig(spread=-0.01)
    with pytest.raises(ValidationError, match="fraction"):
        PercentOfEquity(1.5)


def test_signals_must_be_valid_codes() -> None:
    with pytest.raises(ValueError, match="one value per bar"):
        run(frame(FLAT, FLAT), np.zeros(3))
    with pytest.raises(ValueError, match="among"):
        run(frame(FLAT, FLAT), np.array([0, 3]))
    with pytest.raises(ValueError, match="whole numbers"):
        run(frame(FLAT, FLAT), np.array([0.5, 0.0]))
    result = run(frame(FLAT, FLAT, FLAT), pd.Series([LONG, 0, 0]))
    assert len(result.trades) == 1


def test_run_is_pure_and_repeatable() -> None:
    rows = [FLAT, (100, 104, 99, 102), (103, 106, 101, 105), (104, 105, 103, 104)]
    data = frame(*rows)
    before = data.copy()
    sig = signals(4, b0=LONG, b2=SHORT)
    first = run(data, sig, BacktestConfig(cash=1_050, stop_loss=0.5))
    second = run(data, sig, BacktestConfig(cash=1_050, stop_loss=0.5))
    pd.testing.assert_frame_equal(data, before)
    assert first.equity.equals(second.equity) and first.trades.equals(second.trades)
    assert list(sig) == [LONG, 0, SHORT, 0]


def test_a_chosen_benchmark_drives_buy_and_hold_alpha_and_beta() -> None:
    from backtesting.test import GOOG

    from core.backtest import run_backtest

    own = run_backtest(GOOG, "sma_cross", {"fast": 10, "slow": 30})
    flat = pd.Series(100.0, index=GOOG.index) * (1 + 0.0001 * np.arange(len(GOOG)))
    other = run_backtest(GOOG, "sma_cross", {"fast": 10, "slow": 30}, benchmark=flat)
    assert other.stats["final_equity"] == own.stats["final_equity"]
    assert other.stats["buy_hold_return_pct"] == pytest.approx(
        (flat.iloc[-1] / flat.iloc[0] - 1) * 100)
    assert other.stats["beta"] != own.stats["beta"]
