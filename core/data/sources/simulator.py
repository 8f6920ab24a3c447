"""History from the offline market simulator: always available, deterministic for a seed.

Daily bars are :func:`core.backtest.io.simulated_ohlcv`'s, so they are the very bars the Backtest
Lab and ``gsig backtest`` draw for a symbol with the same seed on the same day. Intraday bars come
from :meth:`core.feeds.simulator.engine.MarketSimulator.history`.

The simulator draws a whole series backwards from an anchor, ending at the symbol's catalog
price, and the series depends on the anchor and its length. So that every request of one UTC day
sees the same series (windows agree where they overlap, and a cache can join them), the anchor
is fixed per UTC day and the length per interval:

- 1d: :attr:`SimulatorHistory.years` years of bars ending before today (00:00 UTC);
- intraday: the bars of the last 30 days (1m), 60 days (5m, 15m) or 730 days (1h) up to the
  coming UTC midnight, the spans Yahoo keeps.

Only completed bars are served (a bar whose end is still in the future is left out), and windows
older than the series are empty.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import pandas as pd

from core.data.frames import INTERVALS, empty_ohlcv
from core.data.sources.base import SymbolNotFound, bars_frame, clip, window
from core.errors import InvalidSymbol, UnknownSymbol

INTRADAY_DAYS = {"1m": 30, "5m": 60, "15m": 60, "1h": 730}
"""Days of intraday bars the simulator draws per interval."""
_CACHE_SIZE = 16


class SimulatorHistory:
    """Simulated bars for the simulator's catalog symbols (``AAPL``, ``BTCUSDT``...).

    Parameters
    ----------
    seed
        ``GS_SIM_SEED``; the same seed, symbol, interval and day give the same bars.
    market_hours
        ``GS_SIM_MARKET_HOURS``: equities skip weekends (and, intraday, closed hours).
    years
        Length of the daily series (10, as the backtest's simulated data).
    clock
        Epoch-seconds wall clock: picks the day's anchor and what is completed.
    """

    name = "simulator"

    def __init__(self, seed: int = 42, market_hours: bool = False, years: int = 10,
                 clock: Callable[[], float] = time.time) -> None:
        self.seed, self.market_hours, self.years = seed, market_hours, years
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str, pd.Timestamp], pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def supports(self, symbol: str, interval: str) -> bool:
        """Catalog symbols at every interval."""
        from core.feeds.simulator.catalog import CATALOG

        return interval in INTERVALS and symbol in CATALOG

    def fetch(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp,
              interval: str) -> pd.DataFrame:
        """Simulated bars of ``symbol`` starting in ``[start, end)``; see :class:`HistorySource`."""
        start, end = window(start, end, interval)
        symbol = self._known(symbol)
        now = pd.Timestamp(self._clock(), unit="s", tz="UTC")
        end = min(end, now - INTERVALS[interval] + pd.Timedelta(1, "ns"))  # completed bars only
        if start >= end:
            return empty_ohlcv()
        return clip(self._series(symbol, interval, now.floor("D")), start, end)

    def _known(self, symbol: str) -> str:
        from core.feeds.simulator.catalog import CATALOG
        from core.feeds.simulator.config import SimulatorConfig
        from core.feeds.simulator.engine import MarketSimulator
        from core.symbols import normalize_symbol

        try:
            symbol = normalize_symbol(symbol)
            if symbol not in CATALOG:
                MarketSimulator(SimulatorConfig(seed=self.seed), 0.0).spec(symbol)
        except (InvalidSymbol, UnknownSymbol) as exc:
            raise SymbolNotFound(f"The offline simulator cannot draw '{symbol}': {exc}") from None
        return symbol

    def _series(self, symbol: str, interval: str, today: pd.Timestamp) -> pd.DataFrame:
        key = (symbol, interval, today)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        frame = self._draw(symbol, interval, today)
        with self._lock:
            self._cache[key] = frame
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return frame

    def _draw(self, symbol: str, interval: str, today: pd.Timestamp) -> pd.DataFrame:
        if interval == "1d":
            from core.backtest.io import simulated_ohlcv

            return clip(simulated_ohlcv(symbol, seed=self.seed, market_hours=self.market_hours,
                                        years=self.years, end=today.to_pydatetime()),
                        pd.Timestamp.min.tz_localize("UTC"), today)
        from core.feeds.simulator.config import SimulatorConfig
        from core.feeds.simulator.engine import MarketSimulator

        market = MarketSimulator(SimulatorConfig(seed=self.seed, market_hours=self.market_hours),
                                 0.0)
        count = int(pd.Timedelta(days=INTRADAY_DAYS[interval]) / INTERVALS[interval])
        bars = market.history(symbol, interval, (today + pd.Timedelta(days=1)).to_pydatetime(),
                              count)
        stamps = pd.DatetimeIndex([b.start for b in bars]).tz_convert("UTC")
        return bars_frame(stamps, {"Open": [b.open for b in bars], "High": [b.high for b in bars],
                                   "Low": [b.low for b in bars], "Close": [b.close for b in bars],
                                   "Volume": [b.volume for b in bars]})
