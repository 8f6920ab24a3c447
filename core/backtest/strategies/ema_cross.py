"""Exponential moving average crossover, the EMA twin of ``sma_cross``."""

from __future__ import annotations

import numpy as np

from core.backtest.data import Bars
from core.backtest.strategies._crossover import CrossoverStrategy, cross_signals
from core.backtest.strategies._indicators import ema
from core.backtest.strategies.base import Param


class EmaCross(CrossoverStrategy):
    """Go long when the fast EMA crosses above the slow one, short when it crosses below.

    Same rules as ``sma_cross`` with exponential averages (``span = n``, seeded at the first
    close, NaN for the first ``n - 1`` bars): on a cross up close any short and go long; on a
    cross down close any long and go short (only flat with ``long_only``). Crossings are strict
    on both bars.
    """

    name = "ema_cross"
    title = "EMA crossover"
    params = (
        Param("fast", int, 12, min=1, max=10_000, help="Span of the fast exponential average."),
        Param("slow", int, 26, min=2, max=10_000, help="Span of the slow exponential average."),
        Param("long_only", bool, False, help="Go flat instead of short on a cross down."),
    )

    def signals(self, bars: Bars) -> np.ndarray:
        """``LONG`` on a cross up, ``SHORT`` (or ``EXIT`` when long-only) on a cross down."""
        return cross_signals(ema(bars.close, self.values["fast"]),
                             ema(bars.close, self.values["slow"]), self.values["long_only"])
