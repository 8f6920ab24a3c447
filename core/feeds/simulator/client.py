"""The simulator as a live source: a thread that advances the seeded market with the wall clock."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from core.feeds.base import Emit, SourceHealth
from core.feeds.simulator.config import NOMINAL_RATE, SimulatorConfig
from core.feeds.simulator.engine import MarketSimulator, to_ticks
from core.feeds.simulator.market_hours import is_open
from core.models import Bar
from core.timeframes import utc_from_epoch


class SimulatorSource:
    """Built-in simulated market (the default source, always labelled simulated).

    Parameters
    ----------
    config
        Seed, tick rate (0 = as fast as possible) and market parameters.
    clock
        Epoch-seconds clock; injected for tests.
    interval
        Seconds between emissions in paced mode.
    batch
        Trades per emission when running as fast as possible.
    """

    name = "simulator"
    simulated = True

    def __init__(self, config: SimulatorConfig | None = None,
                 clock: Callable[[], float] = time.time, interval: float = 0.01,
                 batch: int = 2000) -> None:
        self.config = config or SimulatorConfig()
        self._clock = clock
        self._interval = interval
        self._batch = batch
        self._engine = MarketSimulator(self.config, clock())
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._events = 0
        self._errors = 0
        self._last_event: float | None = None
        self._message = ""

    def subscribe(self, symbols: Iterable[str]) -> None:
        """Start simulating symbols; raises UnknownSymbol for one outside the catalog."""
        wanted = list(symbols)
        with self._lock:
            for symbol in wanted:
                self._engine.spec(symbol)
            for symbol in wanted:
                self._engine.add(symbol)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        with self._lock:
            for symbol in symbols:
                self._engine.remove(symbol)

    def symbols(self) -> tuple[str, ...]:
        with self._lock:
            return self._engine.symbols()

    def reference_price(self, symbol: str) -> float | None:
        """The previous close of the simulated market: the symbol's starting price."""
        spec = self._engine.catalog.get(symbol)
        return None if spec is None else spec.price

    def history(self, symbol: str, timeframe: str, end: datetime, count: int,
                end_price: float | None = None) -> list[Bar]:
        """Simulated bars consistent with the live market (see MarketSimulator.history)."""
        return self._engine.history(symbol, timeframe, end, count, end_price)

    def start(self, emit: Emit) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        with self._lock:
            self._engine.now = max(self._engine.now, self._clock())
        self._thread = threading.Thread(target=self._run, args=(emit,), name="gs-simulator",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10)

    def _next_batch(self) -> list:
        with self._lock:
            if self.config.tick_rate > 0:
                raw = self._engine.advance_raw(self._clock())
            else:
                n = max(1, len(self._engine.symbols()))
                raw = self._engine.advance_raw(self._engine.now + self._batch / (n * NOMINAL_RATE))
        if not len(raw):
            return []
        return to_ticks(raw, utc_from_epoch(self._clock()))

    def _run(self, emit: Emit) -> None:
        while not self._stop.is_set():
            try:
                ticks = self._next_batch()
                if ticks:
                    emit(ticks)
                    self._events += len(ticks)
                    self._last_event = self._clock()
                self._message = ""
            except Exception as exc:  # keep the market running; report it in health()
                self._errors += 1
                self._message = f"simulator error: {exc}"
            if self.config.tick_rate > 0:
                self._stop.wait(self._interval)

    def health(self) -> SourceHealth:
        running = self._thread is not None and self._thread.is_alive()
        age = None if self._last_event is None else max(0.0, self._clock() - self._last_event)
        message = self._message
        if running and self.config.market_hours and not is_open(self._clock()):
            message = message or "US market closed: only crypto is trading."
        return SourceHealth(self.name, "live" if running else "stopped", True, self._events,
                            self._errors, age, message)
