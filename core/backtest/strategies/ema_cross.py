"""Exponential moving average crossover, the EMA twin of ``sma_cross``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.backtest.data import Bars
from core.backtest.signals import EXIT, LONG, SHORT, SIGNAL_DTYPE, crossed_above
from core.backtest.strategies._indicators import ema
from core.backtest.strategies.base import Param, Strategy
from core.errors import ValidationError


class EmaCross(Strategy):
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

    @classmethod
    def check(cls, values: Mapping[str, Any]) -> None:
        """Require ``slow > fast``."""
        if values["slow"] <= values["fast"]:
            raise ValidationError(
                f"{cls.name}: slow must be greater than fast (got fast={values['fast']}, "
                f"slow={values['slow']}).")

    def signals(self, bars: Bars) -> np.ndarray:
        """``LONG`` on a cross up, ``SHORT`` (or ``EXIT`` when long-only) on a cross down."""
        fast = ema(bars.close, self.values["fast"])
        slow = ema(bars.close, self.values["slow"])
        out = np.zeros(len(bars), dtype=SIGNAL_DTYPE)
        out[crossed_above(fast, slow)] = LONG
        out[crossed_above(slow, fast)] = EXIT if self.values["long_only"] else SHORT
        return out
