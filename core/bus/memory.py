"""In-process bus: synchronous delivery in the publisher's thread, capped history per topic."""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Sequence
from fnmatch import fnmatchcase
from typing import Any

from core.bus.base import BusStats, Handler

log = logging.getLogger(__name__)


class _MemorySubscription:
    def __init__(self, bus: InMemoryBus, patterns: tuple[str, ...], handler: Handler) -> None:
        self.bus = bus
        self.patterns = patterns
        self.handler = handler
        self.closed = False

    def matches(self, topic: str) -> bool:
        return any(fnmatchcase(topic, p) for p in self.patterns)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bus._remove(self)


class InMemoryBus:
    """The default bus: one process, no serialisation, handlers run in the publisher's thread.

    Parameters
    ----------
    maxlen
        Messages kept per topic for :meth:`history` and ``subscribe(replay=True)``.
    """

    def __init__(self, maxlen: int = 10_000) -> None:
        self._maxlen = maxlen
        self._lock = threading.RLock()
        self._subs: list[_MemorySubscription] = []
        self._route: dict[str, tuple[_MemorySubscription, ...]] = {}
        self._history: dict[str, deque[tuple[int, Any]]] = {}
        self._ids = itertools.count(1)
        self._published = 0
        self._delivered = 0
        self._handler_errors = 0

    def _remove(self, sub: _MemorySubscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
            self._route.clear()

    def _targets(self, topic: str) -> tuple[_MemorySubscription, ...]:
        targets = self._route.get(topic)
        if targets is None:
            with self._lock:
                targets = tuple(s for s in self._subs if s.matches(topic))
                self._route[topic] = targets
        return targets

    def _deliver(self, sub: _MemorySubscription, topic: str, message: Any) -> None:
        try:
            sub.handler(topic, message)
            self._delivered += 1
        except Exception:  # a subscriber's bug must not reach the publisher
            self._handler_errors += 1
            log.exception("bus handler failed on topic %s", topic)

    def publish(self, topic: str, message: Any) -> None:
        with self._lock:
            hist = self._history.get(topic)
            if hist is None:
                hist = self._history[topic] = deque(maxlen=self._maxlen)
            hist.append((next(self._ids), message))
            self._published += 1
        for sub in self._targets(topic):
            if not sub.closed:
                self._deliver(sub, topic, message)

    def publish_many(self, items: Sequence[tuple[str, Any]]) -> None:
        for topic, message in items:
            self.publish(topic, message)

    def subscribe(self, patterns: Sequence[str], handler: Handler, *, replay: bool = False
                  ) -> _MemorySubscription:
        sub = _MemorySubscription(self, tuple(patterns), handler)
        with self._lock:
            backlog = []
            if replay:
                for topic, hist in self._history.items():
                    if sub.matches(topic):
                        backlog.extend((i, topic, m) for i, m in hist)
                backlog.sort(key=lambda item: item[0])
            self._subs.append(sub)
            self._route.clear()
            for _, topic, message in backlog:
                self._deliver(sub, topic, message)
        return sub

    def history(self, topic: str, after: str | None = None, count: int | None = None
                ) -> list[tuple[str, Any]]:
        with self._lock:
            items = list(self._history.get(topic, ()))
        if after is not None:
            items = [(i, m) for i, m in items if i > int(after)]
        if count is not None:
            items = items[:count]
        return [(str(i), m) for i, m in items]

    def stats(self) -> BusStats:
        return BusStats(self._published, self._delivered, self._handler_errors, 0, True)

    def close(self) -> None:
        with self._lock:
            for sub in list(self._subs):
                sub.closed = True
            self._subs.clear()
            self._route.clear()
