"""Per-symbol source selection: which source is active, when to fail over and back, fusion.

The hub thread calls :meth:`Router.observe` for every event and :meth:`Router.check` about every
100 ms with each source's health. Events from the active source drive the snapshot and candles;
the others stand by (stored, fused, scored). Readers (pages) take copies under the lock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

from core.feeds.base import SourceHealth
from core.feeds.fusion import Fused, SourcePrice, fuse, median, outliers, quality_score
from core.models import Bar, Event, Quote, Tick
from core.timeframes import TIMEFRAMES, utc_from_epoch

ACTIVE, STANDBY, OUTLIER = "active", "standby", "outlier"


@dataclass(frozen=True, slots=True)
class FailoverEvent:
    """One change of a symbol's active source, for the failover log."""

    at: float
    symbol: str
    from_source: str | None
    to_source: str
    reason: str

    def describe(self) -> str:
        when = utc_from_epoch(self.at).strftime("%H:%M:%S")
        origin = self.from_source or "nothing"
        return f"{when} {self.symbol}: {origin} -> {self.to_source} ({self.reason})"


@dataclass(frozen=True, slots=True)
class SourceQuality:
    """What the page shows per source."""

    source: str
    state: str
    score: float
    latency_ms: float | None
    age_s: float | None
    error_rate: float
    deviation_pct: float | None
    active_symbols: int


@dataclass(frozen=True, slots=True)
class SourcesReport:
    """Source quality rows and the failover log, oldest first: what the page shows."""

    quality: tuple[SourceQuality, ...]
    log: tuple[FailoverEvent, ...]

    def to_dict(self) -> dict:
        """Plain data for the bus (replicas show the feed process's report)."""
        return {"quality": [asdict(q) for q in self.quality], "log": [asdict(e) for e in self.log]}

    @classmethod
    def from_dict(cls, data: dict) -> SourcesReport:
        return cls(tuple(SourceQuality(**q) for q in data.get("quality", ())),
                   tuple(FailoverEvent(**e) for e in data.get("log", ())))


@dataclass
class _Seen:
    price: float
    event_time: float
    received: float
    latency: float
    healthy_since: float | None = None
    outlier: bool = False


def price_and_time(event: Event) -> tuple[float, float]:
    """The price an event says a symbol trades at, and when (epoch seconds)."""
    if isinstance(event, Tick):
        return event.price, event.ts.timestamp()
    if isinstance(event, Quote):
        return event.mid, event.ts.timestamp()
    assert isinstance(event, Bar)
    return event.close, event.start.timestamp() + TIMEFRAMES[event.timeframe]


class Router:
    """Active source per symbol with failover, hysteresis, outlier rejection and fusion.

    Parameters
    ----------
    stale_after_s
        A source that sent nothing for a symbol this long is not healthy for it.
    failback_after_s
        After a failover, the preferred source must be healthy this long before it is used again.
    max_deviation
        A price further than this fraction from the median of three or more sources is an outlier.
    """

    def __init__(self, stale_after_s: float = 5.0, failback_after_s: float = 30.0,
                 max_deviation: float = 0.02, clock: Callable[[], float] = time.time,
                 log_size: int = 500) -> None:
        self.stale_after_s, self.failback_after_s = stale_after_s, failback_after_s
        self.max_deviation = max_deviation
        self._clock = clock
        self._lock = threading.Lock()
        self._routes: dict[str, tuple[str, ...]] = {}
        self._active: dict[str, str] = {}
        self._failed_over: set[str] = set()
        self._seen: dict[tuple[str, str], _Seen] = {}
        self._health: dict[str, SourceHealth] = {}
        self._log: deque[FailoverEvent] = deque(maxlen=log_size)
        self._pending: list[FailoverEvent] = []
        self.outliers = 0
        self.standby = 0

    # --- routes ----------------------------------------------------------------------------
    def set_route(self, symbol: str, order: Sequence[str]) -> None:
        """The sources serving ``symbol``, most preferred first."""
        with self._lock:
            self._routes[symbol] = tuple(order)

    def route(self, symbol: str) -> tuple[str, ...]:
        with self._lock:
            return self._routes.get(symbol, ())

    def active(self, symbol: str) -> str | None:
        with self._lock:
            return self._active.get(symbol)

    # --- the hub thread --------------------------------------------------------------------
    def observe(self, event: Event, received: float) -> str:
        """Record an event; say whether it is from the active source, a standby, or an outlier."""
        symbol, source = event.symbol, event.source
        price, when = price_and_time(event)
        with self._lock:
            order = self._routes.get(symbol)
            if order is None or source not in order:
                return ACTIVE  # not routed: a single-source symbol passes straight through
            seen = self._seen.get((symbol, source))
            if seen is None:
                seen = self._seen[(symbol, source)] = _Seen(price, when, received, received - when)
            else:
                seen.price, seen.event_time, seen.received = price, when, received
                seen.latency = 0.8 * seen.latency + 0.2 * (received - when)
            fresh = self._fresh_prices(symbol, order, received)
            bad = outliers(fresh, self.max_deviation)
            for name in fresh:
                self._seen[(symbol, name)].outlier = name in bad
            if source in bad:
                self.outliers += 1
                return OUTLIER
            active = self._active.get(symbol)
            if active is None or (symbol not in self._failed_over
                                  and order.index(source) < order.index(active)):
                self._switch(symbol, active, source, received,
                             "first data" if active is None else "preferred source started")
                active = source
            if source == active:
                return ACTIVE
            self.standby += 1
            return STANDBY

    def check(self, health: Mapping[str, SourceHealth], now: float | None = None) -> None:
        """Fail over from unhealthy active sources, and back once the preferred one is steady."""
        now = self._clock() if now is None else now
        with self._lock:
            self._health = dict(health)
            for symbol, order in self._routes.items():
                self._check_symbol(symbol, order, now)

    def drain_events(self) -> list[FailoverEvent]:
        """Failover events since the last call (the hub publishes them as alerts)."""
        with self._lock:
            out, self._pending = self._pending, []
            return out

    # --- reading ---------------------------------------------------------------------------
    def log(self) -> list[FailoverEvent]:
        """The failover log, oldest first."""
        with self._lock:
            return list(self._log)

    def report(self, log_limit: int = 50) -> SourcesReport:
        """Quality per source and the latest failover events."""
        return SourcesReport(tuple(self.quality()), tuple(self.log()[-log_limit:]))

    def fused(self, symbol: str, now: float | None = None) -> Fused | None:
        """The quality-weighted median of the fresh prices of ``symbol``."""
        now = self._clock() if now is None else now
        with self._lock:
            order = self._routes.get(symbol, ())
            latest = [SourcePrice(s, seen.price, seen.event_time, seen.received)
                      for s in order if (seen := self._seen.get((symbol, s))) is not None]
            scores = {s: self._score(s, now) for s in order}
        return fuse(latest, scores, now, self.stale_after_s, self.max_deviation)

    def quality(self, now: float | None = None) -> list[SourceQuality]:
        """One row per source: state, quality score and what it is made of."""
        now = self._clock() if now is None else now
        with self._lock:
            names = sorted({s for order in self._routes.values() for s in order})
            return [self._quality_row(name, now) for name in names]

    # --- internals (lock held) -------------------------------------------------------------
    def _fresh_prices(self, symbol: str, order: Sequence[str], now: float) -> dict[str, float]:
        out = {}
        for name in order:
            seen = self._seen.get((symbol, name))
            if seen is not None and now - seen.received <= self.stale_after_s:
                out[name] = seen.price
        return out

    def _switch(self, symbol: str, old: str | None, new: str, now: float, reason: str) -> None:
        self._active[symbol] = new
        event = FailoverEvent(now, symbol, old, new, reason)
        self._log.append(event)
        self._pending.append(event)

    def _why_unhealthy(self, symbol: str, name: str, now: float) -> str:
        health = self._health.get(name)
        if health is None or health.state != "live":
            state = "unknown" if health is None else health.state
            detail = f": {health.message}" if health is not None and health.message else ""
            return f"{name} is {state}{detail}"
        seen = self._seen.get((symbol, name))
        if seen is None:
            return f"{name} has sent nothing for {symbol}"
        if seen.outlier:
            return f"{name} is off the other sources by more than {self.max_deviation:.1%}"
        age = now - seen.received
        if age > self.stale_after_s:
            return f"{name} sent nothing for {age:.1f} s"
        return ""

    def _health_of(self, symbol: str, order: tuple[str, ...], now: float) -> dict[str, bool]:
        """Which sources are healthy for ``symbol`` now; tracks since when."""
        healthy = {}
        for name in order:
            ok = not self._why_unhealthy(symbol, name, now)
            healthy[name] = ok
            seen = self._seen.get((symbol, name))
            if seen is not None:
                if not ok:
                    seen.healthy_since = None
                elif seen.healthy_since is None:
                    seen.healthy_since = now
        return healthy

    def _check_symbol(self, symbol: str, order: tuple[str, ...], now: float) -> None:
        healthy = self._health_of(symbol, order, now)
        active = self._active.get(symbol)
        if active is None:
            return
        if not healthy.get(active, False):
            reason = self._why_unhealthy(symbol, active, now)
            for name in order:
                if name != active and healthy[name]:
                    self._switch(symbol, active, name, now, reason)
                    self._failed_over.add(symbol)
                    return
            return
        if symbol not in self._failed_over:
            return
        for name in order[:order.index(active)]:
            seen = self._seen.get((symbol, name))
            steady = seen is not None and seen.healthy_since is not None and \
                now - seen.healthy_since >= self.failback_after_s
            if healthy[name] and steady:
                self._switch(symbol, active, name, now,
                             f"{name} healthy again for {self.failback_after_s:.0f} s")
                if name == order[0]:
                    self._failed_over.discard(symbol)
                return

    def _score(self, name: str, now: float) -> float:
        row = self._quality_row(name, now)
        return row.score

    def _quality_row(self, name: str, now: float) -> SourceQuality:
        seen = [(sym, s) for (sym, src), s in self._seen.items() if src == name]
        health = self._health.get(name)
        state = health.state if health is not None else "unknown"
        errors = health.errors if health is not None else 0
        events = health.events if health is not None else 0
        error_rate = errors / (errors + events) if errors + events else 0.0
        if not seen:
            return SourceQuality(name, state, 0.0, None, None, error_rate, None, 0)
        latency = sum(s.latency for _, s in seen) / len(seen)
        age = min(now - s.received for _, s in seen)
        deviations = []
        for symbol, s in seen:
            prices = self._fresh_prices(symbol, self._routes.get(symbol, ()), now)
            if len(prices) >= 2:
                mid = median(list(prices.values()))
                deviations.append(abs(s.price - mid) / mid)
        deviation = sum(deviations) / len(deviations) if deviations else 0.0
        score = quality_score(latency, age, error_rate, deviation, self.stale_after_s)
        if state != "live":
            score *= 0.1
        active = sum(1 for sym, src in self._active.items() if src == name)
        return SourceQuality(name, state, score, latency * 1000, age, error_rate,
                             100 * deviation if deviations else None, active)
