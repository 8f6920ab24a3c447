"""An app replica's source: the quotes a separate ``gsig feed`` process publishes on the bus."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from core.bus.base import Bus, Subscription
from core.errors import BusError, FeedError, InvalidSymbol, UnknownSymbol
from core.feeds.base import Emit, SourceHealth
from core.feeds.control import STATUS_TOPIC, SUBSCRIBE_TOPIC
from core.feeds.failover import SourcesReport
from core.feeds.simulator import MarketSimulator, SimulatorConfig
from core.models import Bar

STALE_AFTER_S = 5.0


class BusSource:
    """Subscribes to ``quotes.*`` and ``status``; asks the feed process for new symbols.

    Parameters
    ----------
    bus
        The shared bus (a RedisBus in scale-out mode).
    reply_timeout
        Seconds to wait for the feed process to answer a subscribe request.
    """

    name = "feed process"

    def __init__(self, bus: Bus, clock: Callable[[], float] = time.time,
                 reply_timeout: float = 3.0) -> None:
        self.bus = bus
        self._clock = clock
        self._reply_timeout = reply_timeout
        self._sub: Subscription | None = None
        self._status: dict[str, Any] = {}
        self._status_at: float | None = None
        self._last_event: float | None = None
        self._events = 0
        self._symbols: set[str] = set()

    @property
    def simulated(self) -> bool:
        """What the feed process says; assumed simulated until it has said otherwise."""
        return bool(self._status.get("simulated", True))

    @property
    def upstream(self) -> str:
        """The feed process's own source name (e.g. ``simulator``)."""
        return str(self._status.get("source", "unknown"))

    def start(self, emit: Emit) -> None:
        if self._sub is not None:
            return

        def on_message(topic: str, message: Any) -> None:
            if topic == STATUS_TOPIC:
                self._status = dict(message)
                self._status_at = self._clock()
                self._symbols.update(self._status.get("symbols", ()))
                return
            events = message if isinstance(message, tuple) else (message,)
            self._events += len(events)
            self._last_event = self._clock()
            emit(events)

        self._sub = self.bus.subscribe(["quotes.*", STATUS_TOPIC], on_message, replay=True)

    def stop(self) -> None:
        sub, self._sub = self._sub, None
        if sub is not None:
            sub.close()

    def subscribe(self, symbols: Iterable[str]) -> None:
        """Ask the feed process to stream ``symbols``; raises what it answers."""
        wanted = [s for s in symbols if s not in self._symbols]
        if not wanted:
            return
        reply_topic = f"control.reply.{uuid.uuid4().hex}"
        answer: dict[str, Any] = {}
        got = threading.Event()

        def on_reply(_topic: str, message: Any) -> None:
            answer.update(message)
            got.set()

        sub = self.bus.subscribe([reply_topic], on_reply)
        try:
            self.bus.publish(SUBSCRIBE_TOPIC, {"symbols": wanted, "reply_to": reply_topic})
            if not got.wait(self._reply_timeout):
                raise FeedError(
                    f"The feed process did not answer within {self._reply_timeout:.0f} s. "
                    "Is `gsig feed` running against the same Redis?"
                )
        except BusError as exc:
            raise FeedError(f"Cannot reach the feed process: {exc}") from None
        finally:
            sub.close()
        self._symbols.update(answer.get("ok", ()))
        errors = answer.get("errors", {})
        for symbol, message in errors.items():
            invalid = answer.get("kinds", {}).get(symbol) == "invalid"
            raise (InvalidSymbol if invalid else UnknownSymbol)(message)

    def history(self, symbol: str, timeframe: str, end: datetime, count: int,
                end_price: float | None = None) -> list[Bar]:
        """Simulated history when the feed process runs the simulator: its whole configuration
        comes in the status message, so the bars are the ones the feed process would draw."""
        config = self._status.get("simulator")
        if self.upstream != "simulator" or not config:
            return []
        market = MarketSimulator(SimulatorConfig(**config), 0.0)
        return market.history(symbol, timeframe, end, count, end_price)

    def sources_report(self) -> SourcesReport | None:
        """The feed process's source quality and failover log, when it runs several sources."""
        data = self._status.get("sources")
        return SourcesReport.from_dict(data) if data else None

    def reference_price(self, symbol: str) -> float | None:
        """The feed process's reference (previous close) for ``symbol``, so replicas agree."""
        value = self._status.get("references", {}).get(symbol)
        return float(value) if value else None

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        """Replicas never stop the shared feed for a symbol; other replicas may watch it."""

    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self._symbols))

    def health(self) -> SourceHealth:
        now = self._clock()
        age = None if self._last_event is None else max(0.0, now - self._last_event)
        if self._sub is None:
            state, message = "stopped", ""
        elif self._status_at is None:
            state, message = "connecting", "Waiting for the feed process (`gsig feed`)."
        elif now - self._status_at > STALE_AFTER_S:
            state = "down"
            message = (f"No word from the feed process for {now - self._status_at:.0f} s. "
                       "Is `gsig feed` still running?")
        else:
            state = str(self._status.get("state", "live"))
            message = str(self._status.get("message", ""))
        stats = self.bus.stats()
        if not stats.connected:
            state, message = "down", stats.last_error or "The bus is disconnected."
        return SourceHealth(f"{self.upstream} via feed process", state, self.simulated,
                            self._events, 0, age, message)
