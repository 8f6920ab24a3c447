"""The last cache tier: history bars in the SQL store, the copy that makes history work offline.

Bars live in ``history_bars`` and the ranges fetched so far in ``history_ranges`` (see
:mod:`core.store.schema`). A write is one transaction: bars are upserted and the ranges merged.
When a re-fetch disagrees with a stored bar the newest values win; each change is logged and
returned so the caller can count and show it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from core.data.cache.ranges import Range, Ranges, merge
from core.data.frames import OHLCV, empty_ohlcv
from core.store.engine import write_transaction
from core.store.repositories import store_errors
from core.store.schema import history_bars_table as bars_t
from core.store.schema import history_ranges_table as ranges_t

log = logging.getLogger(__name__)

_COLUMNS = ("open", "high", "low", "close", "volume")
_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


@dataclass(frozen=True, slots=True)
class BarChange:
    """A stored bar that a newer fetch replaced."""

    symbol: str
    interval: str
    start: pd.Timestamp
    field: str
    old: float
    new: float
    source: str


def to_us(stamps: pd.DatetimeIndex) -> np.ndarray:
    """UTC epoch microseconds of a tz-aware index."""
    return stamps.as_unit("us").asi8


def _frame(rows: list) -> pd.DataFrame:
    if not rows:
        return empty_ohlcv()
    data = np.array([r[1:] for r in rows], dtype=float)
    index = pd.to_datetime(np.array([r[0] for r in rows], dtype=np.int64), unit="us",
                           utc=True).as_unit("ns")
    frame = pd.DataFrame(data, index=index.rename("Date"), columns=list(OHLCV))
    return frame


class SqlTier:
    """History bars in the store.

    Parameters
    ----------
    engine : sqlalchemy.Engine
        A migrated store engine (``Store.open`` or :func:`core.store.upgrade`).
    """

    name = "sql"

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        backend = engine.dialect.name
        if backend not in _INSERTS:
            raise ValueError(f"history cache supports SQLite and PostgreSQL, not {backend}")
        self._insert = _INSERTS[backend]

    def ranges(self, symbol: str, interval: str) -> Ranges:
        """The merged ranges of ``symbol`` at ``interval`` fetched so far."""
        query = select(ranges_t.c.start_us, ranges_t.c.end_us).where(
            ranges_t.c.symbol == symbol, ranges_t.c.interval == interval)
        with store_errors(self._engine, "read history ranges from"), self._engine.connect() as c:
            return merge([(int(a), int(b)) for a, b in c.execute(query)])

    def get(self, symbol: str, interval: str, start_us: int, end_us: int
            ) -> tuple[pd.DataFrame, Ranges]:
        """Bars with a start in ``[start_us, end_us)`` and every covered range of the symbol.

        The frame's ``attrs["sources"]`` lists the sources those bars came from.
        """
        query = (select(bars_t.c.start_us, *(bars_t.c[c] for c in _COLUMNS))
                 .where(bars_t.c.symbol == symbol, bars_t.c.interval == interval,
                        bars_t.c.start_us >= start_us, bars_t.c.start_us < end_us)
                 .order_by(bars_t.c.start_us))
        covered = self.ranges(symbol, interval)
        names = (select(bars_t.c.source).distinct()
                 .where(bars_t.c.symbol == symbol, bars_t.c.interval == interval,
                        bars_t.c.start_us >= start_us, bars_t.c.start_us < end_us))
        with store_errors(self._engine, "read history bars from"), self._engine.connect() as c:
            frame = _frame(c.execute(query).all())
            frame.attrs["sources"] = sorted(c.execute(names).scalars())
        return frame, covered

    def put(self, symbol: str, interval: str, frame: pd.DataFrame, fetched: Range, source: str,
            now_us: int) -> list[BarChange]:
        """Upsert ``frame``'s bars and record ``fetched`` as covered, in one transaction.

        Returns
        -------
        list of BarChange
            Stored values the new bars replaced (newest wins), also logged.
        """
        stamps = to_us(frame.index) if len(frame) else np.empty(0, np.int64)
        with store_errors(self._engine, "write history to"), write_transaction(self._engine) as c:
            changes = self._changes(c, symbol, interval, frame, stamps, source)
            if len(frame):
                self._upsert(c, symbol, interval, frame, stamps, source, now_us)
            self._merge_range(c, symbol, interval, fetched, now_us)
        for ch in changes:
            log.info("History of %s %s at %s: %s %s -> %s (newer data from %s)", ch.symbol,
                     ch.interval, ch.start.isoformat(), ch.field, ch.old, ch.new, ch.source)
        return changes

    def _changes(self, conn, symbol: str, interval: str, frame: pd.DataFrame,
                 stamps: np.ndarray, source: str) -> list[BarChange]:
        if not len(frame):
            return []
        query = select(bars_t.c.start_us, *(bars_t.c[c] for c in _COLUMNS)).where(
            bars_t.c.symbol == symbol, bars_t.c.interval == interval,
            bars_t.c.start_us >= int(stamps[0]), bars_t.c.start_us <= int(stamps[-1]))
        stored = {int(r[0]): r[1:] for r in conn.execute(query)}
        changes: list[BarChange] = []
        values = frame[list(OHLCV)].to_numpy()
        for i, stamp in enumerate(stamps.tolist()):
            old = stored.get(stamp)
            if old is None:
                continue
            for name, before, after in zip(OHLCV, old, values[i], strict=True):
                if not math.isclose(before, after, rel_tol=1e-12, abs_tol=0.0):
                    changes.append(BarChange(symbol, interval, frame.index[i], name,
                                             float(before), float(after), source))
        return changes

    def _upsert(self, conn, symbol: str, interval: str, frame: pd.DataFrame, stamps: np.ndarray,
                source: str, now_us: int) -> None:
        values = frame[list(OHLCV)].to_numpy()
        rows = [{"symbol": symbol, "interval": interval, "start_us": int(s),
                 **dict(zip(_COLUMNS, map(float, v), strict=True)),
                 "source": source, "fetched_us": now_us}
                for s, v in zip(stamps.tolist(), values, strict=True)]
        statement = self._insert(bars_t)
        statement = statement.on_conflict_do_update(
            index_elements=["symbol", "interval", "start_us"],
            set_={name: statement.excluded[name] for name in (*_COLUMNS, "source", "fetched_us")})
        for i in range(0, len(rows), 5000):
            conn.execute(statement, rows[i:i + 5000])

    def _merge_range(self, conn, symbol: str, interval: str, fetched: Range, now_us: int) -> None:
        where = (ranges_t.c.symbol == symbol, ranges_t.c.interval == interval)
        current = [(int(a), int(b)) for a, b in conn.execute(
            select(ranges_t.c.start_us, ranges_t.c.end_us).where(*where))]
        merged = merge([*current, fetched])
        conn.execute(delete(ranges_t).where(*where))
        conn.execute(ranges_t.insert(), [
            {"symbol": symbol, "interval": interval, "start_us": a, "end_us": b,
             "fetched_us": now_us} for a, b in merged])
