"""Bollinger band reversion: fade a close outside the bands, exit at the middle band."""

from __future__ import annotations

import numpy as np

from core.backtest.data import Bars
from core.backtest.signals import EXIT, LONG, SHORT, SIGNAL_DTYPE, crossed_above
from core.backtest.strategies._indicators import entered, rolling_mean_std
from core.backtest.strategies.base import Param, Strategy


class Bollinger(Strategy):
    """Buy a close below the lower band, sell a close above the upper band, exit at the middle.

    Bands are ``SMA(close, period) +/- width * std`` (population std over the same bars, the
    current bar included). ``LONG`` on the bar the close enters below the lower band; ``SHORT``
    (``EXIT`` with ``long_only``) on the bar it enters above the upper band; ``EXIT`` on a strict
    cross of the close over the middle band in either direction (a long entered below the band
    can only meet the middle from below, a short from above).
    """

    name = "bollinger"
    title = "Bollinger band reversion"
    params = (
        Param("period", int, 20, min=2, max=10_000, help="Bars in the middle band (SMA)."),
        Param("width", float, 2.0, min=0.0, max=100.0,
              help="Band half-width in standard deviations."),
        Param("long_only", bool, False, help="Never short; only exit above the upper band."),
    )

    def signals(self, bars: Bars) -> np.ndarray:
        """Band-entry and middle-cross events."""
        mid, std = rolling_mean_std(bars.close, self.values["period"])
        width = self.values["width"] * std
        close = bars.close
        out = np.zeros(len(bars), dtype=SIGNAL_DTYPE)
        out[crossed_above(close, mid) | crossed_above(mid, close)] = EXIT
        with np.errstate(invalid="ignore"):
            above, below = close > mid + width, close < mid - width
        out[entered(above)] = EXIT if self.values["long_only"] else SHORT
        out[entered(below)] = LONG
        return out
