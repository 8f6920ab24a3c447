"""SMA crossover filtered by the trend of a higher timeframe (weekly by default)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd

from core.backtest.data import Bars
from core.backtest.signals import EXIT, LONG, SHORT, SIGNAL_DTYPE, crossed_above
from core.backtest.strategies._crossover import CrossoverStrategy
from core.backtest.strategies.base import Param
from core.backtest.strategies.sma_cross import sma
from core.backtest.timeframes import higher_timeframe


class MtfTrend(CrossoverStrategy):
    """Trade ``sma_cross`` signals only in the direction of the higher-timeframe trend.

    The higher timeframe is ``rule`` (class attribute, ``"W-FRI"``: weeks closing on Friday),
    aligned with :func:`core.backtest.timeframes.higher_timeframe`, so at each bar only weeks
    already closed count. The trend is up when the last closed week's close is above the SMA of
    the last ``trend`` weekly closes, down when below. On a base cross up: ``LONG`` in an uptrend,
    else ``EXIT`` (closes a short, stays flat). On a cross down: ``SHORT`` in a downtrend (never
    with ``long_only``), else ``EXIT``.
    """

    name = "mtf_trend"
    title = "SMA crossover with weekly trend filter"
    rule: ClassVar[str] = "W-FRI"
    params = (
        Param("fast", int, 10, min=1, max=10_000, help="Bars in the fast moving average."),
        Param("slow", int, 30, min=2, max=10_000, help="Bars in the slow moving average."),
        Param("trend", int, 10, min=1, max=1_000,
              help="Higher-timeframe bars (weeks) in the trend's moving average."),
        Param("long_only", bool, False, help="Go flat instead of short on a cross down."),
    )

    def trend_direction(self, bars: Bars) -> np.ndarray:
        """``+1`` / ``-1`` / ``0`` per bar: the last closed higher-timeframe bar's trend."""
        frame = pd.DataFrame({"Close": bars.close}, index=bars.index)
        closed = higher_timeframe(frame, self.rule)
        htf = closed.dropna().drop_duplicates("period")
        average = pd.Series(sma(htf["Close"].to_numpy(), self.values["trend"]),
                            index=htf["period"].to_numpy())
        level = closed["period"].map(average).to_numpy(dtype=np.float64)
        return np.sign(np.nan_to_num(closed["Close"].to_numpy() - level))

    def signals(self, bars: Bars) -> np.ndarray:
        """Crossovers of the base timeframe, gated by the higher timeframe's trend."""
        fast = sma(bars.close, self.values["fast"])
        slow = sma(bars.close, self.values["slow"])
        trend = self.trend_direction(bars)
        up, down = crossed_above(fast, slow), crossed_above(slow, fast)
        out = np.zeros(len(bars), dtype=SIGNAL_DTYPE)
        out[up] = EXIT
        out[up & (trend > 0)] = LONG
        out[down] = EXIT
        if not self.values["long_only"]:
            out[down & (trend < 0)] = SHORT
        return out
