"""Live candles for every timeframe, built incrementally from ticks (and from finer bars)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import pandas as pd

from core.models import Bar
from core.timeframes import TIMEFRAMES
from core.timeframes import utc_from_epoch as utc

# A candle in progress: [start_epoch, open, high, low, close, volume]
_Candle = list


class CandleBook:
    """OHLCV candles per symbol and timeframe; buckets are aligned to the UTC epoch.

    Parameters
    ----------
    timeframes
        Names from :data:`core.timeframes.TIMEFRAMES`.
    keep
        Closed candles kept per symbol and timeframe.
    """

    def __init__(self, timeframes: Iterable[str] = tuple(TIMEFRAMES), keep: int = 600) -> None:
        self._names = tuple(timeframes)
        self._secs = tuple(TIMEFRAMES[n] for n in self._names)
        self._keep = keep
        self._open: dict[str, list[_Candle | None]] = {}
        self._closed: dict[tuple[str, str], deque[Bar]] = {}
        self._sources: dict[str, str] = {}
        self.late = 0

    def add_tick(self, symbol: str, epoch: float, price: float, size: float, source: str = ""
                 ) -> list[Bar]:
        """Fold one trade into every timeframe; return candles this tick closed."""
        cur = self._open.get(symbol)
        if cur is None:
            cur = self._open[symbol] = [None] * len(self._secs)
        self._sources[symbol] = source  # candles carry the source now serving the symbol
        sec = int(epoch)
        closed: list[Bar] = []
        for k, tf in enumerate(self._secs):
            start = sec - sec % tf
            c = cur[k]
            if c is None or start > c[0]:
                if c is not None:
                    closed.append(self._close(symbol, k, c))
                cur[k] = [start, price, price, price, price, size]
            elif start == c[0]:
                if price > c[2]:
                    c[2] = price
                elif price < c[3]:
                    c[3] = price
                c[4] = price
                c[5] += size
            else:
                self.late += 1
                return closed
        return closed

    def add_bar(self, bar: Bar) -> list[Bar]:
        """Fold a finished bar into every timeframe at least as long as its own.

        The bar's own timeframe closes at once (the bar is finished); longer ones stay open until
        a later bucket starts. A bar older than the open candle is counted in ``late``.
        """
        cur = self._open.setdefault(bar.symbol, [None] * len(self._secs))
        self._sources.setdefault(bar.symbol, bar.source)
        own = TIMEFRAMES[bar.timeframe]
        sec = int(bar.start.timestamp())
        closed: list[Bar] = []
        done = self._closed.get((bar.symbol, bar.timeframe))
        if done and bar.start <= done[-1].start:
            self.late += 1
            return closed
        for k, tf in enumerate(self._secs):
            if tf < own or tf % own:
                continue
            start = sec - sec % tf
            c = cur[k]
            if c is not None and start < c[0]:
                self.late += 1
                return closed
            if c is None or start > c[0]:
                if c is not None:
                    closed.append(self._close(bar.symbol, k, c))
                c = cur[k] = [start, bar.open, bar.high, bar.low, bar.close, bar.volume]
            else:
                c[2], c[3] = max(c[2], bar.high), min(c[3], bar.low)
                c[4] = bar.close
                c[5] += bar.volume
            if tf == own:
                closed.append(self._close(bar.symbol, k, c))
                cur[k] = None
        return closed

    def _close(self, symbol: str, k: int, c: _Candle) -> Bar:
        name = self._names[k]
        bar = Bar(symbol, name, utc(c[0]), c[1], c[2], c[3], c[4], c[5], self._sources[symbol])
        dq = self._closed.get((symbol, name))
        if dq is None:
            dq = self._closed[(symbol, name)] = deque(maxlen=self._keep)
        dq.append(bar)
        return bar

    def bars(self, symbol: str, timeframe: str, include_open: bool = True) -> list[Bar]:
        """Closed candles, oldest first, plus the one in progress when ``include_open``."""
        out = list(self._closed.get((symbol, timeframe), ()))
        if include_open and symbol in self._open:
            c = self._open[symbol][self._names.index(timeframe)]
            if c is not None:
                out.append(Bar(symbol, timeframe, utc(c[0]), c[1], c[2], c[3], c[4], c[5],
                               self._sources[symbol]))
        return out


def bars_to_frame(bars: Iterable[Bar]) -> pd.DataFrame:
    """Bars as a DataFrame indexed by UTC start with open/high/low/close/volume columns."""
    rows = [(b.start, b.open, b.high, b.low, b.close, b.volume) for b in bars]
    frame = pd.DataFrame(rows, columns=["start", "open", "high", "low", "close", "volume"])
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    return frame.set_index("start")
