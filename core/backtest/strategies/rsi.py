"""RSI overbought / oversold reversal."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.backtest.data import Bars
from core.backtest.signals import EXIT, LONG, SHORT, SIGNAL_DTYPE
from core.backtest.strategies._indicators import entered, wilder_rsi
from core.backtest.strategies.base import Param, Strategy
from core.errors import ValidationError


class Rsi(Strategy):
    """Buy when Wilder's RSI falls below ``oversold``; sell when it rises above ``overbought``.

    On the bar the RSI enters ``rsi < oversold``: ``LONG`` (closing any short). On the bar it
    enters ``rsi > overbought``: ``SHORT`` (closing any long), or only ``EXIT`` with
    ``long_only``. Events fire once per visit to a zone; the RSI is NaN (silent) for the first
    ``period`` bars.
    """

    name = "rsi"
    title = "RSI reversal"
    params = (
        Param("period", int, 14, min=2, max=10_000, help="Bars in Wilder's RSI."),
        Param("oversold", float, 30.0, min=0.0, max=100.0, help="Buy below this RSI level."),
        Param("overbought", float, 70.0, min=0.0, max=100.0,
              help="Sell (exit or short) above this RSI level."),
        Param("long_only", bool, True, help="Only exit, never short, above overbought."),
    )

    @classmethod
    def check(cls, values: Mapping[str, Any]) -> None:
        """Require ``oversold < overbought``."""
        if values["oversold"] >= values["overbought"]:
            raise ValidationError(
                f"{cls.name}: oversold must be less than overbought (got "
                f"oversold={values['oversold']:g}, overbought={values['overbought']:g}).")

    def signals(self, bars: Bars) -> np.ndarray:
        """``LONG`` entering oversold, ``SHORT`` (``EXIT`` when long-only) entering overbought."""
        rsi = wilder_rsi(bars.close, self.values["period"])
        out = np.zeros(len(bars), dtype=SIGNAL_DTYPE)
        with np.errstate(invalid="ignore"):
            low, high = rsi < self.values["oversold"], rsi > self.values["overbought"]
        out[entered(high)] = EXIT if self.values["long_only"] else SHORT
        out[entered(low)] = LONG
        return out
