"""The feed hub: one background thread that validates, snapshots, builds candles, publishes, stores.

Sources call :meth:`FeedHub.ingest` from their own threads; the hub thread does everything else, so
sources never wait on the bus or the database. The thread never raises: a bad event is counted and
dropped, a failing bus or store is counted and retried, and :meth:`stop` drains every event already
received into the store before it returns.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from core.bus.base import Bus
from core.errors import BusError, FeedError, GSError
from core.feeds.base import Source, SourceHealth
from core.feeds.candles import CandleBook
from core.feeds.failover import ACTIVE, Router, SourcesReport
from core.feeds.snapshot import QuoteBoard, WatchRow
from core.models import Bar, Event, Quote, Tick
from core.symbols import normalize_symbol
from core.timeframes import TIMEFRAMES, utc_from_epoch

log = logging.getLogger(__name__)
_STOP = object()


class TickSink(Protocol):
    """Where the hub persists ticks (the store's TickWriter)."""

    def start(self) -> None: ...
    def stop(self, timeout: float | None = None) -> bool: ...
    def submit(self, ticks: Sequence[Tick]) -> None: ...


@dataclass(frozen=True, slots=True)
class HubConfig:
    """Hub behaviour.

    ``max_future_s`` rejects events stamped further ahead of the source's clock than this;
    ``sink_stop_timeout`` bounds how long :meth:`FeedHub.stop` waits for the store.
    """

    timeframes: tuple[str, ...] = tuple(TIMEFRAMES)
    keep_bars: int = 600
    max_future_s: float = 5.0
    max_batch: int = 20_000
    sink_stop_timeout: float = 15.0
    check_every_s: float = 0.1


@dataclass(frozen=True, slots=True)
class HubStats:
    """Counters since start; shown in the sidebar and used by the benchmarks.

    ``standby`` counts events from a symbol's non-active sources (stored and fused, not
    shown), ``outliers`` those rejected for deviating from the other sources, ``failovers``
    the changes of active source.
    """

    received: int
    accepted: int
    rejected: int
    late: int
    published: int
    bus_errors: int
    queue_depth: int
    last_rejection: str = ""
    last_bus_error: str = ""
    running: bool = False
    standby: int = 0
    outliers: int = 0
    failovers: int = 0


@dataclass
class _Counters:
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    late: int = 0
    published: int = 0
    bus_errors: int = 0
    last_rejection: str = ""
    last_bus_error: str = ""
    failovers: int = 0


class FeedHub:
    """One per process: owns the source, the snapshot and the candles.

    Parameters
    ----------
    source
        Where events come from.
    bus
        Where quotes (``quotes.<SYM>``, a tuple of events per batch) and closed candles
        (``bars.<tf>.<SYM>``) are published; None to publish nothing (an app replica).
    sink
        Where ticks are persisted in batches; None for no persistence.
    """

    def __init__(self, source: Source, bus: Bus | None = None, sink: TickSink | None = None,
                 config: HubConfig | None = None, clock: Callable[[], float] = time.time) -> None:
        self.source, self.bus, self.sink = source, bus, sink
        self.config = config or HubConfig()
        self._clock = clock
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._board = QuoteBoard(getattr(source, "reference_price", None))
        self._candles = CandleBook(self.config.timeframes, self.config.keep_bars)
        self._counters = _Counters()
        self._thread: threading.Thread | None = None
        self._state_lock = threading.Lock()
        self._topics: dict[str, str] = {}
        self.router: Router | None = getattr(source, "router", None)
        self._tick_sources: set[tuple[str, str]] = set()
        self._checked = 0.0

    # --- lifecycle -------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> FeedHub:
        """Start the hub thread, the sink and the source; calling it again does nothing."""
        with self._state_lock:
            if self.running:
                return self
            if self.sink is not None:
                self.sink.start()
            self._thread = threading.Thread(target=self._run, name="gs-feed-hub", daemon=True)
            self._thread.start()
            try:
                self.source.start(self.ingest)
            except BaseException:
                self._queue.put(_STOP)
                self._thread.join()
                self._thread = None
                if self.sink is not None:
                    self.sink.stop()
                raise
        return self

    def stop(self) -> None:
        """Stop the source, process everything received, flush the sink; idempotent."""
        with self._state_lock:
            self.source.stop()
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(_STOP)
                thread.join()
            if self.sink is not None:
                self.sink.stop(timeout=self.config.sink_stop_timeout)

    # --- input -----------------------------------------------------------------------------
    def ingest(self, events: Sequence[Event]) -> None:
        """Hand a batch of events to the hub thread (thread-safe, never blocks)."""
        self._queue.put(events)

    def add_symbol(self, raw: str) -> str:
        """Validate, normalise and subscribe a symbol; returns the normalised symbol.

        Raises InvalidSymbol for a malformed one and UnknownSymbol when the source lacks it.
        """
        symbol = normalize_symbol(raw)
        self.source.subscribe([symbol])
        return symbol

    def add_symbols(self, raws: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        """Subscribe many symbols in one request where possible.

        Returns the normalised symbols now streaming and, for the others, why not. A source that
        cannot be reached fails the whole batch at once (one wait, not one per symbol).
        """
        errors: dict[str, str] = {}
        symbols: list[str] = []
        for raw in raws:
            try:
                symbols.append(normalize_symbol(raw))
            except GSError as exc:
                errors[str(raw)] = str(exc)
        try:
            self.source.subscribe(symbols)
            return symbols, errors
        except FeedError as exc:
            errors.update({s: str(exc) for s in symbols})
            return [], errors
        except GSError:
            pass  # some symbol is unknown: find out which, one at a time
        ok = []
        for symbol in symbols:
            try:
                self.source.subscribe([symbol])
                ok.append(symbol)
            except GSError as exc:
                errors[symbol] = str(exc)
        return ok, errors

    # --- the thread ------------------------------------------------------------------------
    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                item = self._queue.get(timeout=self.config.check_every_s) if self.router \
                    else self._queue.get()
            except queue.Empty:
                self._check_sources()
                continue
            batch: list[Event] = []
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.extend(item)
                if stopping or len(batch) >= self.config.max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                try:
                    self._process(batch)
                except Exception as exc:  # never let the thread die
                    log.exception("feed hub failed on a batch")
                    self._counters.last_rejection = f"internal error: {exc}"
            self._check_sources()

    def _check_sources(self) -> None:
        """Let the router fail over (at most every ``check_every_s``); publish what changed."""
        router = self.router
        if router is None:
            return
        now = self._clock()
        if now - self._checked < self.config.check_every_s:
            return
        self._checked = now
        try:
            router.check(self.source.child_health(), now)  # type: ignore[attr-defined]
            changes = router.drain_events()
        except Exception:  # a health probe's bug must not stop the hub
            log.exception("source check failed")
            return
        if not changes:
            return
        self._counters.failovers += sum(1 for e in changes if e.from_source is not None)
        if self.bus is not None:
            try:
                self.bus.publish_many([("alerts.failover", {
                    "symbol": e.symbol, "from": e.from_source, "to": e.to_source,
                    "reason": e.reason, "at": e.at}) for e in changes])
            except GSError as exc:
                self._counters.bus_errors += 1
                self._counters.last_bus_error = str(exc)

    def _valid(self, event: object, horizon: float) -> str:
        """Return "" for an acceptable event, else why it is rejected."""
        if isinstance(event, Tick | Quote):
            ts = event.ts.timestamp()
        elif isinstance(event, Bar):
            ts = event.start.timestamp()
        else:
            return f"not a market data event: {type(event).__name__}"
        if not math.isfinite(ts) or ts > horizon:
            return f"{event.symbol}: time {utc_from_epoch(ts).isoformat()} is in the future"
        return ""

    def _process(self, batch: list[Event]) -> None:
        c = self._counters
        c.received += len(batch)
        source_now = getattr(self.source, "now", self._clock)  # a replay runs on its own clock
        horizon = source_now() + self.config.max_future_s
        per_symbol: dict[str, list[Event]] = {}
        ticks: list[Tick] = []
        closed: list[Bar] = []
        router, received = self.router, self._clock()
        with self._lock:
            for event in batch:
                reason = self._valid(event, horizon)
                if reason:
                    c.rejected += 1
                    c.last_rejection = reason
                    continue
                if isinstance(event, Tick):
                    ticks.append(event)  # stored whatever happens below, from every source
                if router is not None and router.observe(event, received) != ACTIVE:
                    c.accepted += 1
                    continue  # a standby or outlier source: stored and fused, not shown
                try:
                    closed += self._apply(event)
                except Exception as exc:  # one event's trouble must not cost the batch
                    log.exception("feed hub could not apply %r", event)
                    c.last_rejection = f"{event.symbol}: internal error: {exc}"
                group = per_symbol.get(event.symbol)
                if group is None:
                    per_symbol[event.symbol] = [event]
                else:
                    group.append(event)
                c.accepted += 1
        if self.sink is not None and ticks:
            self.sink.submit(ticks)
        if self.bus is not None:
            self._publish(per_symbol, closed)

    def _apply(self, event: Event) -> list[Bar]:
        """Update the snapshot and candles; returns the candles the event closed.

        A venue's bars are used only for a symbol it sends no trades for: the candles built
        from its trades already hold that volume.
        """
        if isinstance(event, Tick):
            self._tick_sources.add((event.symbol, event.source))
            if not self._board.apply_tick(event):
                self._counters.late += 1
                return []
            return self._candles.add_tick(event.symbol, event.ts.timestamp(), event.price,
                                          event.size, event.source)
        if isinstance(event, Quote):
            self._board.apply_quote(event)
            return []
        if (event.symbol, event.source) in self._tick_sources:
            return []
        return self._candles.add_bar(event) if self._board.apply_bar(event) else []

    def _topic(self, symbol: str) -> str:
        topic = self._topics.get(symbol)
        if topic is None:
            topic = self._topics[symbol] = f"quotes.{symbol}"
        return topic

    def _publish(self, per_symbol: dict[str, list[Event]], closed: list[Bar]) -> None:
        items: list[tuple[str, Any]] = [(self._topic(s), tuple(ev)) for s, ev in per_symbol.items()]
        items += [(f"bars.{b.timeframe}.{b.symbol}", b) for b in closed]
        try:
            self.bus.publish_many(items)  # type: ignore[union-attr]
            self._counters.published += len(items)
        except (BusError, GSError, OSError) as exc:
            self._counters.bus_errors += 1
            self._counters.last_bus_error = str(exc)

    # --- reading ---------------------------------------------------------------------------
    def snapshot(self) -> dict[str, WatchRow]:
        """Immutable copy of the latest row per symbol (with the fused price when routed)."""
        with self._lock:
            rows = self._board.rows()
        router = self.router
        if router is None:
            return rows
        now = self._clock()
        for symbol, row in rows.items():
            fused = router.fused(symbol, now)
            if fused is not None:
                rows[symbol] = replace(row, fused=fused.price)
        return rows

    def candles(self, symbol: str, timeframe: str) -> list[Bar]:
        """Candles built live for ``symbol`` (closed ones plus the one in progress)."""
        with self._lock:
            return self._candles.bars(symbol, timeframe)

    def sources_report(self) -> SourcesReport | None:
        """Source quality and failover log: this hub's router's, or a feed process's (replica)."""
        if self.router is not None:
            return self.router.report()
        report = getattr(self.source, "sources_report", None)
        return report() if report is not None else None

    def health(self) -> SourceHealth:
        """The source's own report."""
        return self.source.health()

    def stats(self) -> HubStats:
        c = self._counters
        router = self.router
        return HubStats(c.received, c.accepted, c.rejected, c.late + self._candles.late,
                        c.published, c.bus_errors, self._queue.qsize(), c.last_rejection,
                        c.last_bus_error, self.running,
                        router.standby if router else 0, router.outliers if router else 0,
                        c.failovers)
