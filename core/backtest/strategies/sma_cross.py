"""Simple moving average crossover, as backtesting.py's ``SmaCross``."""

from __future__ import annotations

import numpy as np

from core.backtest.data import Bars
from core.backtest.strategies._crossover import CrossoverStrategy, cross_signals
from core.backtest.strategies._indicators import rolling_mean
from core.backtest.strategies.base import Param


def sma(values: np.ndarray, n: int) -> np.ndarray:
    """``n``-bar simple moving average, NaN for the first ``n - 1`` bars.

    Bit for bit pandas' rolling mean (:func:`rolling_mean`, compiled), the arithmetic of
    backtesting.py's ``SMA`` helper, so crossovers land on the same bars even where the two
    averages nearly touch.
    """
    return rolling_mean(np.asarray(values, dtype=np.float64), int(n))


class SmaCross(CrossoverStrategy):
    """Go long when the fast average crosses above the slow one, short when it crosses below.

    On a cross up, close any short and go long; on a cross down, close any long and go short
    (or only go flat with ``long_only``). Crossings are strict on both bars, as backtesting.py's
    ``crossover`` decides them.
    """

    name = "sma_cross"
    title = "SMA crossover"
    params = (
        Param("fast", int, 10, min=1, max=10_000, help="Bars in the fast moving average."),
        Param("slow", int, 30, min=2, max=10_000, help="Bars in the slow moving average."),
        Param("long_only", bool, False, help="Go flat instead of short on a cross down."),
    )

    def signals(self, bars: Bars) -> np.ndarray:
        """``LONG`` on a cross up, ``SHORT`` (or ``EXIT`` when long-only) on a cross down."""
        return cross_signals(sma(bars.close, self.values["fast"]),
                             sma(bars.close, self.values["slow"]), self.values["long_only"])
