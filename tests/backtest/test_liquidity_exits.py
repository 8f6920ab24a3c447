"""The liquidity cap on exits: signal exits, reversals, stops and halts fill at most a share of
each bar's volume, the rest is always carried; the end-of-data close is not capped."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pandas as pd
import pytest

from core.backtest import BacktestConfig, FixedUnits, PercentCommission, prepare_bars, run
from core.backtest import kernel as compiled
from core.backtest._jit import HAVE_NUMBA
from core.backtest.signals import EXIT, LONG, SHORT


def frame(opens: list[float], volume: list[float] | None, *, low: list[float] | None = None,
          high: list[float] | None = None) -> pd.DataFrame:
    """Bars whose close equals their open (so a fill at the open or the close is one price)."""
    index = pd.date_range("2024-01-01", periods=len(opens), freq="D")
    df = pd.DataFrame({"Open": opens, "High": high or opens, "Low": low or opens,
                       "Close": opens}, index=index)
    if volume is not None:
        df["Volume"] = volume
    return df


def codes(n: int, **at: int) -> np.ndarray:
    out = np.zeros(n, dtype=np.int8)
    for key, code in at.items():
        out[int(key[1:])] = code
    return out


def config(**overrides: object) -> BacktestConfig:
    settings = {"cash": 1e6, "sizing": FixedUnits(300), "liquidity_cap": 0.1, **overrides}
    return BacktestConfig(**settings)


def rows(book: pd.DataFrame, *columns: str) -> list[list[object]]:
    return book[list(columns)].values.tolist()


# Entry of 300 at bar 1 (cap 300), exit signalled at bar 3: caps 100, 150, 200 at bars 4-6.
OPENS = [100.0, 100.0, 105.0, 108.0, 110.0, 120.0, 90.0, 95.0]
VOLUME = [3_000.0, 3_000.0, 3_000.0, 3_000.0, 1_000.0, 1_500.0, 2_000.0, 3_000.0]
OPENS_INDEX = frame(OPENS, None).index


def test_a_signal_exit_splits_over_bars_with_exact_trades_and_equity() -> None:
    result = run(frame(OPENS, VOLUME), codes(8, b0=LONG, b3=EXIT),
                 config(commission=PercentCommission(0.001)))
    book = result.trades
    assert rows(book, "entry_bar", "exit_bar", "size", "exit_price") == [
        [1, 4, 100.0, 110.0], [1, 5, 150.0, 120.0], [1, 6, 50.0, 90.0]]
    assert book["entry_price"].tolist() == [100.0] * 3
    assert (book["entry_time"] == OPENS_INDEX[1]).all()
    assert book["exit_reason"].tolist() == ["signal"] * 3
    # Entry fee 300 * 100 * 0.001 = 30, shared 100/150/50 of 300 = 10, 15, 5.
    assert book["commission"].tolist() == pytest.approx([11.0 + 10.0, 18.0 + 15.0, 4.5 + 5.0])
    assert book["pnl"].tolist() == pytest.approx([979.0, 2_967.0, -509.5])
    assert book["return_pct"].tolist() == pytest.approx([9.79, 19.78, -10.19])
    equity = result.equity
    # Bar 4: 100 sold at 110 (pnl 979), 200 still held marked at 110 (entry fee already paid).
    assert equity.iloc[4] == pytest.approx(1e6 - 30 + 100 * 10 - 11 + 200 * 10)
    assert equity.iloc[5] == pytest.approx(1e6 + 979.0 + 2_967.0 - 5.0 + 50 * (120 - 100))
    assert equity.iloc[-1] == pytest.approx(1e6 + 979.0 + 2_967.0 - 509.5)
    assert equity.iloc[-1] == pytest.approx(1e6 + book["pnl"].sum())


def test_fill_at_close_splits_at_each_close() -> None:
    book = run(frame(OPENS, VOLUME), codes(8, b0=LONG, b3=EXIT), config(fill="close")).trades
    # Entry at close 0 (cap 300), exit signalled at bar 3 fills 300 there: volume 3,000.
    assert rows(book, "exit_bar", "size") == [[3, 300.0]]
    book = run(frame(OPENS, VOLUME), codes(8, b0=LONG, b4=EXIT), config(fill="close")).trades
    assert rows(book, "exit_bar", "size", "exit_price") == [
        [4, 100.0, 110.0], [5, 150.0, 120.0], [6, 50.0, 90.0]]


def test_a_stop_loss_exit_splits_over_bars_without_rechecking_the_stop() -> None:
    opens = [100.0, 100.0, 99.0, 98.0, 90.0, 99.0, 101.0]
    low = [100.0, 100.0, 99.0, 94.0, 90.0, 99.0, 101.0]
    volume = [3_000.0, 3_000.0, 3_000.0, 1_000.0, 1_000.0, 1_000.0, 1_000.0]
    result = run(frame(opens, volume, low=low), codes(7, b0=LONG), config(stop_loss=0.05))
    book = result.trades
    # Stop at 95 touched in bar 3: 100 at 95; the rest at the next opens (90, then 99, above the
    # stop: the exit goes on all the same).
    assert rows(book, "entry_bar", "exit_bar", "size", "exit_price") == [
        [1, 3, 100.0, 95.0], [1, 4, 100.0, 90.0], [1, 5, 100.0, 99.0]]
    assert book["exit_reason"].tolist() == ["stop_loss"] * 3
    assert book["pnl"].tolist() == pytest.approx([-500.0, -1_000.0, -100.0])
    assert result.equity.iloc[3] == pytest.approx(1e6 - 500.0 + 200 * (98 - 100))
    assert result.equity.iloc[-1] == pytest.approx(1e6 - 1_600.0)


def test_a_stop_fired_inside_a_bar_fills_its_rest_from_the_next_bar_with_fill_at_close() -> None:
    opens = [100.0, 100.0, 98.0, 97.0, 96.0]
    low = [100.0, 100.0, 94.0, 97.0, 96.0]
    volume = [3_000.0, 1_000.0, 1_000.0, 1_000.0, 1_000.0]
    book = run(frame(opens, volume, low=low), codes(5, b0=LONG),
               config(stop_loss=0.05, fill="close")).trades
    # Entry at close 0 (cap 300); stop at 95 in bar 2 fills 100; then 100 at closes 3 and 4.
    assert rows(book, "exit_bar", "size", "exit_price") == [
        [2, 100.0, 95.0], [3, 100.0, 97.0], [4, 100.0, 96.0]]
    assert book["exit_reason"].tolist() == ["stop_loss"] * 3


def test_a_take_profit_and_a_short_are_capped_alike() -> None:
    opens = [100.0, 100.0, 95.0, 80.0, 85.0, 86.0]
    high = [100.0, 100.0, 95.0, 80.0, 85.0, 86.0]
    low = [100.0, 100.0, 89.0, 80.0, 85.0, 86.0]
    volume = [3_000.0, 3_000.0, 1_000.0, 1_000.0, 2_000.0, 1_000.0]
    book = run(frame(opens, volume, low=low, high=high), codes(6, b0=SHORT),
               config(take_profit=0.1)).trades
    # Short 300 at 100; target 90 reached in bar 2: 100 bought back at 90, then 100 at 80 and
    # the last 100 at 85.
    assert rows(book, "exit_bar", "size", "exit_price") == [
        [2, -100.0, 90.0], [3, -100.0, 80.0], [4, -100.0, 85.0]]
    assert book["exit_reason"].tolist() == ["take_profit"] * 3
    assert book["pnl"].tolist() == pytest.approx([1_000.0, 2_000.0, 1_500.0])


def test_a_zero_volume_bar_fills_nothing() -> None:
    opens = [100.0, 100.0, 101.0, 102.0, 103.0, 104.0, 105.0]
    volume = [1_000.0, 1_000.0, 1_000.0, 1_000.0, 0.0, np.nan, 1_000.0]
    result = run(frame(opens, volume), codes(7, b0=LONG, b3=EXIT),
                 config(sizing=FixedUnits(100)))
    # Exit signalled at bar 3: bar 4 has no volume, bar 5 NaN (as 0): all 100 fill at bar 6.
    assert rows(result.trades, "exit_bar", "size", "exit_price") == [[6, 100.0, 105.0]]
    assert result.equity.iloc[4] == pytest.approx(1e6 + 100 * 3)
    assert result.equity.iloc[5] == pytest.approx(1e6 + 100 * 4)


def test_a_stop_touched_in_a_zero_volume_bar_waits_for_volume() -> None:
    opens = [100.0, 100.0, 96.0, 93.0]
    low = [100.0, 100.0, 94.0, 93.0]
    volume = [1_000.0, 1_000.0, 0.0, 1_000.0]
    book = run(frame(opens, volume, low=low), codes(4, b0=LONG),
               config(sizing=FixedUnits(100), stop_loss=0.05, finalize=False)).trades
    assert rows(book, "exit_bar", "size", "exit_price", "exit_reason") == [
        [3, 100.0, 93.0, "stop_loss"]]


REVERSAL_OPENS = [100.0, 100.0, 101.0, 102.0, 103.0, 104.0, 105.0, 106.0, 107.0]
REVERSAL_VOLUME = [3_000.0, 3_000.0, 3_000.0, 3_000.0, 1_000.0, 1_000.0, 1_000.0, 1_000.0,
                   1_000.0]


@pytest.mark.parametrize(("unfilled", "short_parts"), [
    ("cancel", [[6, 8, -100.0, 105.0]]),
    ("carry", [[6, 8, -300.0, (105.0 + 106.0 + 107.0) / 3]]),
])
def test_a_reversal_waits_for_the_exit_then_follows_unfilled(
        unfilled: str, short_parts: list[list[object]]) -> None:
    book = run(frame(REVERSAL_OPENS, REVERSAL_VOLUME), codes(9, b0=LONG, b3=SHORT),
               config(unfilled=unfilled)).trades
    longs = book[book["size"] > 0]
    assert rows(longs, "entry_bar", "exit_bar", "size", "exit_price") == [
        [1, 4, 100.0, 103.0], [1, 5, 100.0, 104.0], [1, 6, 100.0, 105.0]]
    shorts = book[book["size"] < 0]
    got = rows(shorts, "entry_bar", "exit_bar", "size", "entry_price")
    assert [row[:3] for row in got] == [row[:3] for row in short_parts]
    assert got[0][3] == pytest.approx(short_parts[0][3])
    assert shorts["exit_reason"].tolist() == ["end"]


def test_an_exit_signal_during_the_exit_drops_the_waiting_entry() -> None:
    book = run(frame(REVERSAL_OPENS, REVERSAL_VOLUME), codes(9, b0=LONG, b3=SHORT, b4=EXIT),
               config()).trades
    assert rows(book, "exit_bar", "size") == [[4, 100.0], [5, 100.0], [6, 100.0]]


def test_a_drawdown_halt_exit_is_capped_too() -> None:
    opens = [100.0, 100.0, 80.0, 79.0, 78.0, 77.0]
    volume = [3_000.0, 3_000.0, 1_000.0, 1_000.0, 1_000.0, 1_000.0]
    result = run(frame(opens, volume), codes(6, b0=LONG),
                 config(cash=30_000.0, max_drawdown_halt=0.1))
    # 300 at 100; bar 2 closes 6,000 down (20 %): 100 sold at that close, the rest at the opens.
    assert rows(result.trades, "exit_bar", "size", "exit_price", "exit_reason") == [
        [2, 100.0, 80.0, "drawdown_halt"], [3, 100.0, 79.0, "drawdown_halt"],
        [4, 100.0, 78.0, "drawdown_halt"]]
    assert result.equity.iloc[-1] == pytest.approx(30_000.0 - 2_000 - 2_100 - 2_200)


def test_the_end_of_data_close_is_not_capped() -> None:
    data = frame(OPENS, VOLUME[:-1] + [500.0])
    result = run(data, codes(8, b0=LONG, b5=EXIT), config())
    # Exit signalled at bar 5: 200 at bar 6's open, 50 at bar 7's; the last 50 closed at the end.
    assert rows(result.trades, "exit_bar", "size", "exit_price", "exit_reason") == [
        [6, 200.0, 90.0, "signal"], [7, 50.0, 95.0, "signal"], [7, 50.0, 95.0, "end"]]
    assert result.equity.iloc[-1] == pytest.approx(1e6 + 200 * -10 + 100 * -5)
    kept = run(data, codes(8, b0=LONG, b5=EXIT), config(finalize=False))
    assert rows(kept.trades, "exit_bar", "size") == [[6, 200.0], [7, 50.0]]
    assert kept.equity.iloc[-1] == pytest.approx(result.equity.iloc[-1])


def test_without_a_cap_exits_fill_in_full_as_before() -> None:
    low = [o * 0.97 for o in OPENS]
    data = frame(OPENS, VOLUME, low=low)
    sig = codes(8, b0=LONG, b3=SHORT, b6=EXIT)
    settings = {"stop_loss": 0.04, "commission": PercentCommission(0.002), "unfilled": "carry"}
    uncapped = run(data, sig, config(liquidity_cap=None, **settings))
    no_volume = run(data.drop(columns="Volume"), sig, config(**settings))
    pd.testing.assert_series_equal(uncapped.equity, no_volume.equity)
    pd.testing.assert_frame_equal(uncapped.trades, no_volume.trades)
    assert uncapped.trades["size"].abs().tolist() == [300.0, 300.0]
    # The same data under the cap splits the exit of the long (100 at bar 4 first).
    capped = run(data, sig, config(**settings))
    assert rows(capped.trades, "exit_bar", "size")[0] == [4, 100.0]


def test_random_runs_under_a_loose_cap_match_the_uncapped_run() -> None:
    rng = np.random.default_rng(11)
    n = 400
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    data = pd.DataFrame({
        "Open": open_, "High": np.maximum(open_, close) * 1.004,
        "Low": np.minimum(open_, close) * 0.996, "Close": close,
        "Volume": np.full(n, 1e12)}, index=pd.date_range("2020-01-01", periods=n))
    sig = rng.choice(np.array([0, 1, -1, 2], dtype=np.int8), size=n, p=[0.85, 0.06, 0.06, 0.03])
    settings = {"stop_loss": 0.02, "take_profit": 0.03, "trailing_stop": 0.02,
                "commission": PercentCommission(0.001), "sizing": FixedUnits(50)}
    loose = run(data, sig, config(liquidity_cap=1.0, **settings))
    uncapped = run(data, sig, config(liquidity_cap=None, **settings))
    pd.testing.assert_series_equal(loose.equity, uncapped.equity)
    pd.testing.assert_frame_equal(loose.trades, uncapped.trades)
    tight = run(data.assign(Volume=rng.uniform(0, 400, n)), sig, config(**settings))
    parts = tight.trades.groupby("entry_bar").size()
    assert (parts > 1).any()  # some exits split
    assert tight.equity.iloc[-1] == pytest.approx(1e6 + tight.trades["pnl"].sum())


@pytest.mark.skipif(not HAVE_NUMBA, reason="numba is not installed: nothing to compare")
def test_split_exits_compiled_and_pure_python_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    import core.backtest._jit as jit_module

    monkeypatch.setattr(jit_module, "_njit", None)
    spec = importlib.util.spec_from_file_location("_kernel_pure_exits", compiled.__file__)
    pure = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "_kernel_pure_exits", pure)
    spec.loader.exec_module(pure)

    rng = np.random.default_rng(3)
    n = 1_500
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = np.r_[close[0], close[:-1]]
    volume = rng.uniform(0, 3_000, n)
    volume[rng.random(n) < 0.1] = 0.0
    bars = prepare_bars(pd.DataFrame({
        "Open": open_, "High": np.maximum(open_, close) * 1.003,
        "Low": np.minimum(open_, close) * 0.997, "Close": close, "Volume": volume},
        index=pd.date_range("2020-01-01", periods=n)))
    sig = rng.choice(np.array([0, 1, -1, 2], dtype=np.int8), size=n, p=[0.9, 0.04, 0.04, 0.02])
    for fill in ("next_open", "close"):
        cfg = config(sizing=FixedUnits(500), liquidity_cap=0.05, unfilled="carry", fill=fill,
                     stop_loss=0.02, take_profit=0.04, max_drawdown_halt=0.5,
                     commission=PercentCommission(0.001))
        x = cfg.bar_inputs(bars)
        outputs = []
        for kernel in (compiled, pure):
            equity = np.empty(n)
            book = np.empty((2 * n, kernel.N_TRADE_FIELDS))
            count = kernel.simulate_bars(bars.open, bars.high, bars.low, bars.close, sig,
                                         cfg.kernel_params(), x, equity, book)
            outputs.append((equity, book[:count]))
        trades = outputs[0][1]
        assert len(np.unique(trades[:, compiled.T_EBAR])) < len(trades)  # split exits happened
        np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
        np.testing.assert_array_equal(outputs[0][1], outputs[1][1])
