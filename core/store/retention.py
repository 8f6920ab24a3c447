"""Tick retention: fold old ticks into 1-minute bars and delete them, atomically.

A tick older than the cutoff is never simply dropped: its price and size survive in the ``1m`` bar
of its minute. The bars table has no source in its key, so ticks of every source for a symbol go
into one bar per minute (its ``source`` lists the contributing sources).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, delete, func, select

from core.errors import StoreError, ValidationError
from core.store import repositories
from core.store.engine import write_transaction
from core.store.repositories import store_errors
from core.store.schema import datetime_to_us, ticks_table

MINUTE_US = 60_000_000
TIMEFRAME = "1m"


@dataclass(frozen=True, slots=True)
class CompactionResult:
    """What one compaction did."""

    ticks_removed: int
    bars_written: int


def ticks_to_minute_bars(symbol: str, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Aggregate ticks of one symbol into 1-minute bar rows.

    Parameters
    ----------
    symbol
        The symbol of every row.
    rows
        ``(ts_us, price, size, source)`` tuples sorted by time, ties in insertion order.

    Returns
    -------
    list of dict
        Rows for ``bars`` (timeframe ``"1m"``), oldest first: open is the first price of the
        minute, close the last, high/low the max/min, volume the summed size.
    """
    if not rows:
        return []
    df = pd.DataFrame.from_records(rows, columns=["ts_us", "price", "size", "source"])
    df["start_us"] = df["ts_us"] // MINUTE_US * MINUTE_US
    grouped = df.groupby("start_us", sort=True)
    agg = grouped.agg(
        open=("price", "first"), high=("price", "max"), low=("price", "min"),
        close=("price", "last"), volume=("size", "sum"),
    )
    sources = df["source"].unique()
    if len(sources) == 1:
        labels = [str(sources[0])] * len(agg)
    else:
        distinct = df.drop_duplicates(["start_us", "source"]).groupby("start_us", sort=True)
        labels = distinct["source"].agg(lambda s: ",".join(sorted(s))).tolist()
    columns = {name: agg[name].tolist() for name in ("open", "high", "low", "close", "volume")}
    return [
        {"symbol": symbol, "timeframe": TIMEFRAME, "start_us": int(start), "source": label,
         **{name: values[i] for name, values in columns.items()}}
        for i, (start, label) in enumerate(zip(agg.index.tolist(), labels, strict=True))
    ]


def _compact_symbol(
    conn: Connection, symbol: str, cutoff_us: int, window_us: int
) -> tuple[int, int]:
    t = ticks_table.c
    removed = written = 0
    while True:
        first = conn.execute(
            select(func.min(t.ts_us)).where(t.symbol == symbol, t.ts_us < cutoff_us)
        ).scalar()
        if first is None:
            return removed, written
        lo = first // MINUTE_US * MINUTE_US
        hi = min(lo + window_us, cutoff_us)
        in_window = (t.symbol == symbol, t.ts_us >= lo, t.ts_us < hi)
        rows = conn.execute(
            select(t.ts_us, t.price, t.size, t.source).where(*in_window).order_by(t.ts_us, t.id)
        ).all()
        written += repositories.merge_bar_rows(conn, ticks_to_minute_bars(symbol, rows))
        deleted = conn.execute(delete(ticks_table).where(*in_window)).rowcount
        if deleted != len(rows):
            raise StoreError(
                f"Ticks of {symbol} changed while they were being compacted ({len(rows)} read, "
                f"{deleted} deleted); nothing was removed. The next compaction will retry."
            )
        removed += deleted


def compact_ticks(
    engine: Engine, older_than: datetime, *, window: timedelta = timedelta(hours=1)
) -> CompactionResult:
    """Merge every tick before ``older_than`` (floored to the minute) into 1m bars, then delete it.

    Everything happens in one transaction: if any step fails, no tick is deleted and no bar
    changes. Ticks are read one symbol and one ``window`` at a time to bound memory. Bars merge
    into stored ones with the rule of :func:`core.store.repositories.merge_bar_rows`, so a late
    tick that lands in an already-compacted minute updates that bar.

    Parameters
    ----------
    engine
        Engine of a migrated store.
    older_than
        Tz-aware cutoff; it is rounded down to a whole UTC minute so no minute is split.
    window
        Span of ticks aggregated at once; a whole number of minutes.

    Returns
    -------
    CompactionResult
        Ticks deleted and bars inserted or updated.

    Raises
    ------
    ValidationError
        If ``older_than`` has no time zone or ``window`` is not a positive number of minutes.
    StoreError
        If the database fails; nothing was changed.
    """
    cutoff_us = datetime_to_us(older_than, "older_than") // MINUTE_US * MINUTE_US
    window_us = window // timedelta(microseconds=1)
    if window_us <= 0 or window_us % MINUTE_US:
        raise ValidationError(f"Compaction window {window} must be a positive number of minutes.")
    removed = written = 0
    with store_errors(engine, "compact ticks in"), write_transaction(engine) as conn:
        symbols = conn.execute(
            select(ticks_table.c.symbol).where(ticks_table.c.ts_us < cutoff_us).distinct()
        ).scalars().all()
        for symbol in sorted(symbols):
            r, w = _compact_symbol(conn, symbol, cutoff_us, window_us)
            removed += r
            written += w
    return CompactionResult(ticks_removed=removed, bars_written=written)
