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

ACTIVE, STANDBY, OUTLIER, OFF_ROUTE = "active", "standby", "outlier", "off-route"


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
        A source that sent nothing for a symbol this long, while another source of the symbol
        has newer data, is not healthy for it (a quiet market, where every source is silent, is
        not a failure). :meth:`set_stale_after` sets a longer window per source (a poller).
    failback_after_s
        After a failover, the preferred source must have been connected this long, and be as
        current as the active one, before it is used again.
    max_deviation
        A price further than this fraction from the median of three or more sources is an outlier.
    """

    def __init__(self, stale_after_s: float = 5.0, failback_after_s: float = 30.0,
                 max_deviation: float = 0.02, clock: Callable[[], float] = time.time,
                 log_size: int = 500, quality_every_s: float = 1.0) -> None:
        self.stale_after_s, self.failback_after_s = stale_after_s, failback_after_s
        self.max_deviation = max_deviation
        self._clock = clock
        self._lock = threading.Lock()
        self._routes: dict[str, tuple[str, ...]] = {}
        self._active: dict[str, str] = {}
        self._failed_over: set[str] = set()
        self._seen: dict[tuple[str, str], _Seen] = {}
        self._health: dict[str, SourceHealth] = {}
        self._live_since: dict[str, float] = {}
        self._stale: dict[str, float] = {}
        self._simulated: frozenset[str] = frozenset()
        self._quality: dict[str, SourceQuality] = {}
        self._quality_at = float("-inf")
        self._quality_every = quality_every_s
        self._log: deque[FailoverEvent] = deque(maxlen=log_size)
        self._pending: list[FailoverEvent] = []
        self.outliers = 0
        self.standby = 0
        self.off_route = 0

    # --- set-up ----------------------------------------------------------------------------
    def set_route(self, symbol: str, order: Sequence[str]) -> None:
        """The sources serving ``symbol``, most preferred first."""
        with self._lock:
            self._routes[symbol] = tuple(order)

    def set_simulated(self, names: Sequence[str]) -> None:
        """Sources whose prices are simulated: never fused with a fresh real price."""
        with self._lock:
            self._simulated = frozenset(names)

    def set_stale_after(self, name: str, seconds: float) -> None:
        """A longer silence window for one source (e.g. a poller's interval, with margin)."""
        with self._lock:
            self._stale[name] = max(seconds, self.stale_after_s)

    def route(self, symbol: str) -> tuple[str, ...]:
        with self._lock:
            return self._routes.get(symbol, ())

    def active(self, symbol: str) -> str | None:
        with self._lock:
            return self._active.get(symbol)

    # --- the hub thread --------------------------------------------------------------------
    def observe(self, event: Event, received: float) -> str:
        """Record an event; say if it is from the active source, a standby, an outlier, or
        from a source that does not serve the symbol (off-route: kept out of the snapshot)."""
        symbol, source = event.symbol, event.source
        price, when = price_and_time(event)
        with self._lock:
            order = self._routes.get(symbol)
            if order is None or source not in order:
                self.off_route += 1
                return OFF_ROUTE
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
            for name, h in self._health.items():
                if h.state == "live":
                    self._live_since.setdefault(name, now)
                else:
                    self._live_since.pop(name, None)
            for symbol, order in self._routes.items():
                self._check_symbol(symbol, order, now)
            if now - self._quality_at >= self._quality_every:
                names = {s for order in self._routes.values() for s in order}
                self._quality = {n: self._quality_row(n, now) for n in names}
                self._quality_at = now

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
        """The quality-weighted median of the fresh prices of ``symbol``.

        Simulated sources take part only when no real source has a fresh price.
        """
        now = self._clock() if now is None else now
        with self._lock:
            order = self._routes.get(symbol, ())
            latest = [SourcePrice(s, seen.price, seen.event_time, seen.received)
                      for s in order if (seen := self._seen.get((symbol, s))) is not None
                      and now - seen.received <= self._stale_for(s)]
            scores = {s: q.score for s, q in self._quality.items()}
            real = [p for p in latest if p.source not in self._simulated]
        return fuse(real or latest, scores, now, float("inf"), self.max_deviation)

    def quality(self, now: float | None = None) -> list[SourceQuality]:
        """One row per source (recomputed about once a second by :meth:`check`)."""
        with self._lock:
            if not self._quality:
                now = self._clock() if now is None else now
                names = {s for order in self._routes.values() for s in order}
                return [self._quality_row(n, now) for n in sorted(names)]
            return [self._quality[n] for n in sorted(self._quality)]

    # --- internals (lock held) -------------------------------------------------------------
    def _stale_for(self, name: str) -> float:
        return self._stale.get(name, self.stale_after_s)

    def _fresh_prices(self, symbol: str, order: Sequence[str], now: float) -> dict[str, float]:
        out = {}
        for name in order:
            seen = self._seen.get((symbol, name))
            if seen is not None and now - seen.received <= self._stale_for(name):
                out[name] = seen.price
        return out

    def _switch(self, symbol: str, old: str | None, new: str, now: float, reason: str) -> None:
        self._active[symbol] = new
        event = FailoverEvent(now, symbol, old, new, reason)
        self._log.append(event)
        self._pending.append(event)

    def _why_unhealthy(self, symbol: str, name: str, order: Sequence[str], now: float) -> str:
        """"" when ``name`` can serve ``symbol`` now, else why not."""
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
        if age > self._stale_for(name):
            newer = [o for o in order if o != name and (s := self._seen.get((symbol, o)))
                     is not None and s.received > seen.received and not s.outlier]
            if newer:
                return f"{name} sent nothing for {age:.1f} s while {newer[0]} did"
        return ""

    def _check_symbol(self, symbol: str, order: tuple[str, ...], now: float) -> None:
        active = self._active.get(symbol)
        if active is None:
            return
        if self._why_unhealthy(symbol, active, order, now):
            reason = self._why_unhealthy(symbol, active, order, now)
            for name in order:
                if name != active and not self._why_unhealthy(symbol, name, order, now):
                    self._switch(symbol, active, name, now, reason)
                    self._failed_over.add(symbol)
                    return
            return
        if symbol in self._failed_over:
            self._fail_back(symbol, order, active, now)

    def _fail_back(self, symbol: str, order: tuple[str, ...], active: str, now: float) -> None:
        """Back to a better-ranked source once it has been connected long enough and is current."""
        current = self._seen.get((symbol, active))
        for name in order[:order.index(active)]:
            seen = self._seen.get((symbol, name))
            since = self._live_since.get(name)
            steady = since is not None and now - since >= self.failback_after_s
            current_enough = seen is not None and current is not None and \
                seen.received >= current.received - self._stale_for(name)
            if steady and current_enough and not self._why_unhealthy(symbol, name, order, now):
                self._switch(symbol, active, name, now,
                             f"{name} healthy again for {self.failback_after_s:.0f} s")
                if name == order[0]:
                    self._failed_over.discard(symbol)
                return

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
        score = quality_score(latency, age, error_rate, deviation, self._stale_for(name))
        if state != "live":
            score *= 0.1
        active = sum(1 for src in self._active.values() if src == name)
        return SourceQuality(name, state, score, latency * 1000, age, error_rate,
                             100 * deviation if deviations else None, active)
