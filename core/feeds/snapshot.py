"""The latest-quote snapshot: one row per symbol, updated by the hub, copied out for pages."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.models import Bar, Quote, Tick
from core.timeframes import TIMEFRAMES


@dataclass(frozen=True, slots=True)
class WatchRow:
    """What the watchlist shows for one symbol.

    ``change`` is against ``reference``: the previous close when the source knows it (the
    simulator's is its starting price), else the first price the hub saw.
    """

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
    fused: float | None = None


class _Row:
    __slots__ = ("symbol", "last", "bid", "ask", "volume", "source", "updated", "reference",
                 "ref_known")

    def __init__(self, symbol: str, price: float, updated: datetime, source: str) -> None:
        self.symbol, self.last, self.reference = symbol, price, price
        self.ref_known = False
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

    Not thread-safe by itself: the hub guards it with its lock. ``reference`` gives a symbol's
    previous close when the source knows one.
    """

    def __init__(self, reference: Callable[[str], float | None] | None = None) -> None:
        self._rows: dict[str, _Row] = {}
        self._reference = reference or (lambda _symbol: None)

    def _row(self, symbol: str, price: float, updated: datetime, source: str) -> _Row:
        """The row of ``symbol`` (made on first sight), with the source's reference once known."""
        row = self._rows.get(symbol)
        if row is None:
            row = self._rows[symbol] = _Row(symbol, price, updated, source)
        if not row.ref_known:
            ref = self._reference(symbol)
            if ref is not None and ref > 0:
                row.reference, row.ref_known = ref, True
        return row

    def apply_tick(self, t: Tick) -> bool:
        """Update from a trade; returns False for a trade older than the row (kept out)."""
        row = self._row(t.symbol, t.price, t.ts, t.source)
        if t.source != row.source:
            row.bid = row.ask = None  # the previous source's book is not this one's
        elif t.ts < row.updated:
            return False  # older than what this source already said (a new source may lag)
        row.last, row.updated, row.source = t.price, t.ts, t.source
        row.volume += t.size
        if t.bid is not None:
            row.bid = t.bid
        if t.ask is not None:
            row.ask = t.ask
        return True

    def apply_quote(self, q: Quote) -> bool:
        row = self._row(q.symbol, q.mid, q.ts, q.source)
        if q.ts < row.updated and q.source == row.source:
            return False
        row.bid, row.ask, row.updated, row.source = q.bid, q.ask, q.ts, q.source
        return True

    def apply_bar(self, b: Bar) -> bool:
        """Update from a finished bar; its time is its end, when its close was the last price."""
        end = b.start + timedelta(seconds=TIMEFRAMES[b.timeframe])
        row = self._row(b.symbol, b.open, end, b.source)
        if b.source != row.source:
            row.bid = row.ask = None
        elif end < row.updated:
            return False
        row.last, row.updated, row.source = b.close, end, b.source
        row.volume += b.volume
        return True

    def rows(self) -> dict[str, WatchRow]:
        return {s: r.freeze() for s, r in self._rows.items()}

