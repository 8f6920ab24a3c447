"""Bars for a chart: live candles from the hub, extended back with the source's history."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.errors import GSError
from core.feeds.aggregator import FeedHub
from core.feeds.base import HistorySource
from core.models import Bar
from core.timeframes import utc_from_epoch


@dataclass(frozen=True, slots=True)
class ChartData:
    """Bars to draw, and why there are fewer than asked for (empty when all is well)."""

    bars: list[Bar]
    note: str = ""


def chart_bars(hub: FeedHub, symbol: str, timeframe: str, count: int = 200,
               clock: Callable[[], float] = time.time) -> ChartData:
    """The last ``count`` bars of ``symbol``: history (when the source has it) then live candles.

    History ends where the live candles begin and its last close is the first live open, so the
    chart is continuous and never empty on a simulated market. When the history source fails
    (Yahoo offline), the live candles are returned with the reason in ``note``.
    """
    live = hub.candles(symbol, timeframe)
    if not isinstance(hub.source, HistorySource) or len(live) >= count:
        return ChartData(live[-count:])
    if live:
        end, price = live[0].start, live[0].open
    else:
        row = hub.snapshot().get(symbol)
        end, price = utc_from_epoch(clock()), (row.last if row else None)
    try:
        drawn = hub.source.history(symbol, timeframe, end, count - len(live), price)
    except GSError as exc:
        return ChartData(live[-count:], f"No history for {symbol}: {exc}")
    past = [b for b in drawn if b.start < end]
    return ChartData((past + live)[-count:])
