"""MACD signal-line crossover."""

from __future__ import annotations

import numpy as np

from core.backtest.data import Bars
from core.backtest.strategies._crossover import CrossoverStrategy, cross_signals
from core.backtest.strategies._indicators import ema
from core.backtest.strategies.base import Param


def macd_lines(close: np.ndarray, fast: int, slow: int, signal: int) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    """MACD line ``EMA(fast) - EMA(slow)`` and its signal line ``EMA(signal)`` of the MACD.

    The signal line's EMA starts once the MACD line exists (after ``slow - 1`` bars), so it is
    NaN for the first ``slow + signal - 2`` bars.
    """
    line = ema(close, fast) - ema(close, slow)
    sig = np.full_like(line, np.nan)
    valid = np.flatnonzero(np.isfinite(line))
    if valid.size:
        sig[valid[0]:] = ema(line[valid[0]:], signal)
    return line, sig


class MacdCross(CrossoverStrategy):
    """Go long when the MACD line crosses above its signal line, short when it crosses below.

    MACD is ``EMA(close, fast) - EMA(close, slow)``; the signal line is ``EMA(MACD, signal)``.
    Crossings are strict on both bars (as ``sma_cross``); ``long_only`` goes flat instead of
    short on a cross down.
    """

    name = "macd_cross"
    title = "MACD signal-line crossover"
    params = (
        Param("fast", int, 12, min=1, max=10_000, help="Span of the fast EMA."),
        Param("slow", int, 26, min=2, max=10_000, help="Span of the slow EMA."),
        Param("signal", int, 9, min=1, max=10_000, help="Span of the signal line's EMA."),
        Param("long_only", bool, False, help="Go flat instead of short on a cross down."),
    )

    def signals(self, bars: Bars) -> np.ndarray:
        """``LONG`` on a cross up of MACD over signal, ``SHORT`` (or ``EXIT``) on a cross down."""
        line, sig = macd_lines(bars.close, self.values["fast"], self.values["slow"],
                               self.values["signal"])
        return cross_signals(line, sig, self.values["long_only"])
