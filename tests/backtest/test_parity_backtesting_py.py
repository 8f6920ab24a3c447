"""Trade-for-trade parity with backtesting.py 0.6.6 on its own GOOG and EURUSD data.

The peer strategy is backtesting.py's SmaCross, defined here as its test suite defines it. Every
reference is computed by running backtesting.py in the test; nothing is copied. Matching settings:
``Backtest(..., cash=10_000, commission=c, spread=s, finalize_trades=True)`` against
``BacktestConfig(cash=10_000, commission=PercentCommission(c), spread=s, finalize_at="open")``
(backtesting.py's finalisation re-runs its broker on the last bar, which fills the closing orders
at that bar's open).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

backtesting = pytest.importorskip("backtesting")
from backtesting import Backtest, Strategy  # noqa: E402
from backtesting.lib import crossover  # noqa: E402
from backtesting.test import EURUSD, GOOG, SMA  # noqa: E402

from core.backtest import BacktestConfig, PercentCommission, prepare_bars, run  # noqa: E402
from core.backtest.strategies import STRATEGIES  # noqa: E402

REL = 1e-9
DATA = {"GOOG": GOOG, "EURUSD": EURUSD}


class SmaCross(Strategy):
    """backtesting.py's own SmaCross (backtesting/test/_test.py)."""

    fast = 10
    slow = 30

    def init(self):
        self.sma1 = self.I(SMA, self.data.Close, self.fast)
        self.sma2 = self.I(SMA, self.data.Close, self.slow)

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()
            self.sell()


class SmaCrossLongOnly(SmaCross):
    """SmaCross that goes flat instead of short on a cross down."""

    def next(self):
        if crossover(self.sma1, self.sma2):
            self.position.close()
            self.buy()
        elif crossover(self.sma2, self.sma1):
            self.position.close()


def _reference(data: str, fast: int, slow: int, commission: float, spread: float,
               long_only: bool, finalize: bool) -> pd.Series:
    peer = SmaCrossLongOnly if long_only else SmaCross
    with warnings.catch_warnings():  # 0.6.6 warns about pandas deprecations and open trades
        warnings.simplefilter("ignore")
        bt = Backtest(DATA[data], peer, cash=10_000, commission=commission, spread=spread,
                      finalize_trades=finalize)
        return bt.run(fast=fast, slow=slow)


CASES = [
    # data, fast, slow, commission, spread, long_only, finalize
    ("GOOG", 10, 30, 0.0, 0.0, False, True),
    ("GOOG", 10, 30, 0.002, 0.0, False, True),
    ("GOOG", 10, 20, 0.0, 0.0, False, True),
    ("GOOG", 10, 20, 0.002, 0.0, False, True),
    ("GOOG", 10, 20, 0.002, 0.001, False, True),
    ("GOOG", 10, 30, 0.0, 0.0, True, True),
    ("GOOG", 10, 20, 0.002, 0.0, False, False),
    ("EURUSD", 10, 30, 0.0, 0.0, False, True),
    ("EURUSD", 10, 30, 0.0002, 0.0001, False, True),
    ("EURUSD", 10, 20, 0.0002, 0.0, True, True),
]
IDS = [f"{d}-{f}/{s}-c{c}-s{sp}{'-long_only' if lo else ''}{'' if fin else '-open_end'}"
       for d, f, s, c, sp, lo, fin in CASES]


@pytest.mark.parametrize(("data", "fast", "slow", "commission", "spread", "long_only",
                          "finalize"), CASES, ids=IDS)
def test_sma_cross_matches_backtesting_py(data: str, fast: int, slow: int, commission: float,
                                          spread: float, long_only: bool,
                                          finalize: bool) -> None:
    ref = _reference(data, fast, slow, commission, spread, long_only, finalize)
    strategy = STRATEGIES["sma_cross"](fast=fast, slow=slow, long_only=long_only)
    bars = prepare_bars(DATA[data])
    # Premise of the comparison: backtesting.py would fill a signal on the very last bar at that
    # bar's open during finalisation and leave it open; our engine has no next bar to fill it.
    assert strategy.signals(bars)[-1] == 0
    config = BacktestConfig(cash=10_000, commission=PercentCommission(commission),
                            spread=spread, finalize=finalize, finalize_at="open")
    ours = run(bars, strategy, config)

    theirs = ref["_trades"]
    assert len(ours.trades) == len(theirs) == ref["# Trades"] > 0
    np.testing.assert_array_equal(ours.trades["entry_bar"], theirs["EntryBar"])
    np.testing.assert_array_equal(ours.trades["exit_bar"], theirs["ExitBar"])
    np.testing.assert_array_equal(ours.trades["size"], theirs["Size"])
    np.testing.assert_allclose(ours.trades["entry_price"], theirs["EntryPrice"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades["exit_price"], theirs["ExitPrice"], rtol=1e-12)
    np.testing.assert_allclose(ours.trades["pnl"], theirs["PnL"], rtol=REL, atol=1e-9)
    np.testing.assert_allclose(ours.trades["commission"], theirs["Commission"], rtol=REL)
    np.testing.assert_allclose(ours.trades["return_pct"], theirs["ReturnPct"] * 100, rtol=REL,
                               atol=1e-12)
    assert list(ours.trades["entry_time"]) == list(theirs["EntryTime"])
    assert list(ours.trades["exit_time"]) == list(theirs["ExitTime"])
    assert ours.equity.iloc[-1] == pytest.approx(ref["Equity Final [$]"], rel=REL)
    np.testing.assert_allclose(ours.equity.to_numpy(), ref["_equity_curve"]["Equity"], rtol=REL)


def test_finalize_at_close_marks_the_last_trade_to_the_last_close() -> None:
    """Our default ends at the last close; only the final trade and final equity move."""
    ref = _reference("GOOG", 10, 30, 0.0, 0.0, False, True)
    ours = run(GOOG, STRATEGIES["sma_cross"](fast=10, slow=30), BacktestConfig(cash=10_000))
    last = ours.trades.iloc[-1]
    assert last["exit_price"] == GOOG["Close"].iloc[-1]
    assert last["exit_reason"] == "end"
    theirs = ref["_trades"].iloc[-1]
    assert last["exit_price"] != theirs["ExitPrice"]  # backtesting.py exits at the last open
    expected = ref["Equity Final [$]"] + theirs["Size"] * (GOOG["Close"].iloc[-1]
                                                           - GOOG["Open"].iloc[-1])
    assert ours.equity.iloc[-1] == pytest.approx(expected, rel=REL)
    np.testing.assert_allclose(ours.equity.to_numpy()[:-1],
                               ref["_equity_curve"]["Equity"].to_numpy()[:-1], rtol=REL)
