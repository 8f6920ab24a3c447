"""The latest-quote snapshot: one row per symbol, updated by the hub, copied out for pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.models import Bar, Quote, Tick


@dataclass(frozen=True, slots=True)
class WatchRow:
    """What the watchlist shows for one symbol. ``change`` is against the first price seen."""

    symbol: str
    last: float
    bid: float | None
    ask: float | None
    change: float
    change_pct: float
    volume: float
    source: str
    updated: datetime
    reference: float


class _Row:
    __slots__ = ("symbol", "last", "bid", "ask", "volume", "source", "updated", "reference")

    def __init__(self, symbol: str, price: float, updated: datetime, source: str) -> None:
        self.symbol, self.last, self.reference = symbol, price, price
        self.bid: float | None = None
        self.ask: float | None = None
        self.volume = 0.0
        self.source, self.updated = source, updated

    def freeze(self) -> WatchRow:
        change = self.last - self.reference
        return WatchRow(self.symbol, self.last, self.bid, self.ask, change,
                        100.0 * change / self.reference, self.volume, self.source, self.updated,
                        self.reference)


class QuoteBoard:
    """Mutable per-symbol state; the hub thread writes, readers take :meth:`rows` copies.

    Not thread-safe by itself: the hub guards it with its lock.
    """

    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}

    def apply_tick(self, t: Tick) -> bool:
        """Update from a trade; returns False for a trade older than the row (kept out)."""
        row = self._rows.get(t.symbol)
        if row is None:
            row = self._rows[t.symbol] = _Row(t.symbol, t.price, t.ts, t.source)
        elif t.ts < row.updated:
            return False
        row.last, row.updated, row.source = t.price, t.ts, t.source
        row.volume += t.size
        if t.bid is not None:
            row.bid = t.bid
        if t.ask is not None:
            row.ask = t.ask
        return True

    def apply_quote(self, q: Quote) -> bool:
        row = self._rows.get(q.symbol)
        if row is None:
            row = self._rows[q.symbol] = _Row(q.symbol, q.mid, q.ts, q.source)
        elif q.ts < row.updated:
            return False
        row.bid, row.ask, row.updated, row.source = q.bid, q.ask, q.ts, q.source
        return True

    def apply_bar(self, b: Bar) -> bool:
        row = self._rows.get(b.symbol)
        if row is None:
            row = self._rows[b.symbol] = _Row(b.symbol, b.open, b.start, b.source)
        elif b.start < row.updated:
            return False
        row.last, row.updated, row.source = b.close, b.start, b.source
        row.volume += b.volume
        return True

    def rows(self) -> dict[str, WatchRow]:
        return {s: r.freeze() for s, r in self._rows.items()}

    def get(self, symbol: str) -> WatchRow | None:
        row = self._rows.get(symbol)
        return None if row is None else row.freeze()
