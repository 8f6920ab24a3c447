"""Buy on the first bar and hold to the end."""

from __future__ import annotations

import numpy as np

from core.backtest.data import Bars
from core.backtest.signals import LONG, SIGNAL_DTYPE
from core.backtest.strategies.base import Strategy


class BuyAndHold(Strategy):
    """One long entry on the first bar (filled at the second bar's open by default), held to the
    end; the benchmark every other strategy should beat."""

    name = "buy_and_hold"
    title = "Buy and hold"
    params = ()

    def signals(self, bars: Bars) -> np.ndarray:
        """``LONG`` on bar 0, ``HOLD`` after."""
        out = np.zeros(len(bars), dtype=SIGNAL_DTYPE)
        out[0] = LONG
        return out
