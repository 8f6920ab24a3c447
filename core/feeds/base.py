"""The Source protocol: what the aggregator needs from any market data source."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from core.models import Bar, Event

Emit = Callable[[Sequence[Event]], None]
"""Callback a source calls (from its own thread) with a batch of events, oldest first."""


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What a source says about itself; shown in the sidebar and used for failover."""

    name: str
    state: str  # "stopped" | "connecting" | "live" | "stale" | "down" | "finished"
    simulated: bool
    events: int = 0
    errors: int = 0
    last_event_age_s: float | None = None
    message: str = ""


@runtime_checkable
class HistorySource(Protocol):
    """A source that can also draw past bars (the simulator, a replica of a simulated feed)."""

    def history(self, symbol: str, timeframe: str, end: datetime, count: int,
                end_price: float | None = None) -> list[Bar]:
        """``count`` bars ending before ``end``'s bucket, the last closing at ``end_price``."""


@runtime_checkable
class Source(Protocol):
    """A market data source. ``start``/``stop`` are idempotent; ``emit`` is called off-thread."""

    name: str
    simulated: bool

    def start(self, emit: Emit) -> None:
        """Begin producing events into ``emit``."""

    def stop(self) -> None:
        """Stop producing; returns after the last ``emit`` call has finished."""

    def subscribe(self, symbols: Iterable[str]) -> None:
        """Add symbols; raises UnknownSymbol for one the source cannot serve."""

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        """Remove symbols; unknown ones are ignored."""

    def symbols(self) -> tuple[str, ...]:
        """Symbols currently produced."""

    def health(self) -> SourceHealth:
        """Current state, counters and last-event age."""
