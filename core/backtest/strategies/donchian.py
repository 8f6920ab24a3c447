"""Donchian channel breakout with an optional ATR filter and a shorter exit channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.backtest.data import Bars
from core.backtest.strategies._indicators import (
    position_events,
    prior_high,
    prior_low,
    true_range_atr,
)
from core.backtest.strategies.base import Param, Strategy
from core.errors import ValidationError


class Donchian(Strategy):
    """Turtle-style breakout: enter on a close beyond the prior ``entry``-bar channel.

    ``LONG`` when the close exceeds the highest high of the previous ``entry`` bars (the current
    bar excluded) by more than ``atr_filter * ATR(atr_period)``; ``SHORT`` on the mirror break
    of the lowest low (never with ``long_only``). A long exits (``EXIT``) when the close falls
    below the lowest low of the previous ``exit`` bars, a short when it rises above the highest
    high of the previous ``exit`` bars. ``atr_filter = 0`` takes every breakout. The strategy
    tracks its own intended position to tell a long's exit from a short's.
    """

    name = "donchian"
    title = "Donchian breakout"
    params = (
        Param("entry", int, 20, min=1, max=10_000, help="Bars in the breakout channel."),
        Param("exit", int, 10, min=1, max=10_000, help="Bars in the (shorter) exit channel."),
        Param("atr_period", int, 14, min=1, max=10_000, help="Bars in the ATR of the filter."),
        Param("atr_filter", float, 0.0, min=0.0, max=100.0,
              help="Require the break to clear the channel by this many ATRs (0 = off)."),
        Param("long_only", bool, False, help="Take upside breakouts only."),
    )

    @classmethod
    def check(cls, values: Mapping[str, Any]) -> None:
        """Require ``exit <= entry`` (the exit channel is the shorter one)."""
        if values["exit"] > values["entry"]:
            raise ValidationError(
                f"{cls.name}: exit must be at most entry (got entry={values['entry']}, "
                f"exit={values['exit']}).")

    def signals(self, bars: Bars) -> np.ndarray:
        """Breakout entries and opposite-channel exits as events."""
        v = self.values
        close = bars.close
        margin = (v["atr_filter"] * true_range_atr(bars.high, bars.low, close, v["atr_period"])
                  if v["atr_filter"] > 0 else np.zeros(len(bars)))
        with np.errstate(invalid="ignore"):
            long_in = close > prior_high(bars.high, v["entry"]) + margin
            short_in = close < prior_low(bars.low, v["entry"]) - margin
            long_out = close < prior_low(bars.low, v["exit"])
            short_out = close > prior_high(bars.high, v["exit"])
        if v["long_only"]:
            short_in[:] = False
        return position_events(long_in, short_in, long_out, short_out)
