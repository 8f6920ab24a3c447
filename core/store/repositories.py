"""Repositories: the only code that reads and writes the store's tables.

They speak domain objects (:class:`~core.models.Tick`, :class:`~core.models.Bar`, JSON values) and
use SQLAlchemy Core, not ORM objects, so a batch of 5,000 ticks is one ``executemany``. Database
failures surface as :class:`~core.errors.StoreError` (the SQLAlchemy error is its ``__cause__``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, delete, exc, func, insert, select, update

from core.errors import StoreError, ValidationError
from core.models import Bar, Tick
from core.store.engine import safe_url, scrub, write_transaction
from core.store.schema import (
    SETTING_KEY_LEN,
    SOURCE_LEN,
    bars_table,
    datetime_to_us,
    settings_table,
    ticks_table,
)
from core.timeframes import EPOCH  # noqa: E402
from core.timeframes import ONE_MICROSECOND as _ONE_US  # noqa: E402

BarRow = dict[str, Any]
"""A bar as a plain dict with the column names of ``bars`` (``start_us``, not ``start``)."""


@contextmanager
def store_errors(engine: Engine, action: str) -> Iterator[None]:
    """Turn SQLAlchemy errors raised inside the block into a :class:`StoreError`.

    Parameters
    ----------
    engine
        Engine whose (password-free) URL goes into the message.
    action
        What was being done, e.g. ``"write 5000 ticks to"``; the URL follows it.
    """
    try:
        yield
    except exc.SQLAlchemyError as err:
        reason = scrub(str(getattr(err, "orig", None) or err), engine.url)
        raise StoreError(f"Could not {action} {safe_url(engine)}: {reason}.") from err


def _range(column: Any, start: datetime | None, end: datetime | None) -> list[Any]:
    where = []
    if start is not None:
        where.append(column >= datetime_to_us(start, "start"))
    if end is not None:
        where.append(column < datetime_to_us(end, "end"))
    return where


class TickRepository:
    """Insert, count and read ticks.

    Parameters
    ----------
    engine
        Engine of a migrated store.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = insert(ticks_table)

    def insert_many(self, ticks: Sequence[Tick]) -> int:
        """Insert ``ticks`` in one transaction with one ``executemany``.

        Parameters
        ----------
        ticks
            Validated ticks (tz-aware UTC times), in the order to keep for equal timestamps.

        Returns
        -------
        int
            Number of rows inserted.

        Raises
        ------
        StoreError
            If the database rejects the write (e.g. it is locked for longer than 5 s).
        """
        if not ticks:
            return 0
        epoch, one_us = EPOCH, _ONE_US
        rows = [
            {"symbol": t.symbol, "ts_us": (t.ts - epoch) // one_us, "price": t.price,
             "size": t.size, "bid": t.bid, "ask": t.ask, "source": t.source}
            for t in ticks
        ]
        with store_errors(self._engine, f"write {len(rows)} ticks to"):
            with self._engine.begin() as conn:
                conn.execute(self._insert, rows)
        return len(rows)

    def count(self, symbol: str | None = None) -> int:
        """Number of stored ticks, for one symbol or all.

        Parameters
        ----------
        symbol
            Only count this symbol; None counts every tick.

        Returns
        -------
        int
            The row count.
        """
        stmt = select(func.count()).select_from(ticks_table)
        if symbol is not None:
            stmt = stmt.where(ticks_table.c.symbol == symbol)
        with store_errors(self._engine, "count ticks in"), self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def fetch(
        self, symbol: str | None = None, start: datetime | None = None, end: datetime | None = None
    ) -> list[Tick]:
        """Stored ticks with ``start <= ts < end``, oldest first (ties in insertion order).

        Parameters
        ----------
        symbol
            Only this symbol; None for all.
        start, end
            Tz-aware bounds; None leaves that side open.

        Returns
        -------
        list of Tick
            Times are tz-aware UTC, equal to the inserted ones to the microsecond.
        """
        t = ticks_table.c
        stmt = select(t.symbol, t.ts_us, t.price, t.size, t.bid, t.ask, t.source)
        where = _range(t.ts_us, start, end)
        if symbol is not None:
            where.append(t.symbol == symbol)
        stmt = stmt.where(*where).order_by(t.ts_us, t.id)
        with store_errors(self._engine, "read ticks from"), self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        epoch = EPOCH
        return [
            Tick(sym, epoch + timedelta(microseconds=us), price, size, bid, ask, source)
            for sym, us, price, size, bid, ask, source in rows
        ]


def merge_sources(first: str, second: str) -> str:
    """Source label of a bar built from two parts: the distinct names, sorted, comma-joined."""
    if first == second or not second:
        return first
    if not first:
        return second
    names = sorted(set(first.split(",")) | set(second.split(",")))
    return ",".join(names)[:SOURCE_LEN]


def merge_bar(earlier: BarRow, later: BarRow) -> BarRow:
    """Combine two parts of the same bucket: ``earlier`` happened first.

    Parameters
    ----------
    earlier, later
        Rows with the same key.

    Returns
    -------
    dict
        The earlier open, the max high, the min low, the later close, the summed volume.
    """
    return {
        **earlier,
        "high": max(earlier["high"], later["high"]),
        "low": min(earlier["low"], later["low"]),
        "close": later["close"],
        "volume": earlier["volume"] + later["volume"],
        "source": merge_sources(earlier["source"], later["source"]),
    }


def _key(row: BarRow) -> tuple[str, str, int]:
    return row["symbol"], row["timeframe"], row["start_us"]


_UPDATE_BARS = (
    update(bars_table)
    .where(
        bars_table.c.symbol == bindparam("k_symbol"),
        bars_table.c.timeframe == bindparam("k_timeframe"),
        bars_table.c.start_us == bindparam("k_start_us"),
    )
    .values(
        high=bindparam("v_high"), low=bindparam("v_low"), close=bindparam("v_close"),
        volume=bindparam("v_volume"), source=bindparam("v_source"),
    )
)


def merge_bar_rows(conn: Connection, rows: Iterable[BarRow]) -> int:
    """Upsert bar rows on their key (symbol, timeframe, start_us) inside the caller's transaction.

    Rows are merged in order with :func:`merge_bar`: a row already stored counts as the earlier
    part, and so does an earlier row of ``rows`` with the same key. Portable to any database: the
    stored rows in the batch's time range are read, merged in Python and written back with one
    ``executemany`` for updates and one for inserts per (symbol, timeframe).

    Parameters
    ----------
    conn
        A connection in a transaction (see :func:`write_transaction`).
    rows
        Bars as dicts with the column names of ``bars``.

    Returns
    -------
    int
        Number of distinct keys written (inserted or updated).
    """
    merged: dict[tuple[str, str, int], BarRow] = {}
    for row in rows:
        key = _key(row)
        merged[key] = merge_bar(merged[key], row) if key in merged else dict(row)
    b = bars_table.c
    ordered = sorted(merged.items())
    for (symbol, timeframe), group in groupby(ordered, key=lambda kv: kv[0][:2]):
        batch = dict(group)
        starts = [key[2] for key in batch]
        stored = conn.execute(
            select(bars_table).where(
                b.symbol == symbol, b.timeframe == timeframe,
                b.start_us >= min(starts), b.start_us <= max(starts),
            )
        ).mappings().all()
        updates = []
        for old in stored:
            new = batch.pop(_key(old), None)
            if new is not None:
                both = merge_bar(dict(old), new)
                updates.append({f"k_{k}": both[k] for k in ("symbol", "timeframe", "start_us")}
                               | {f"v_{k}": both[k] for k in ("high", "low", "close", "volume",
                                                              "source")})
        if updates:
            conn.execute(_UPDATE_BARS, updates)
        if batch:
            conn.execute(insert(bars_table), list(batch.values()))
    return len(merged)


def _bar_row(bar: Bar) -> BarRow:
    return {
        "symbol": bar.symbol, "timeframe": bar.timeframe,
        "start_us": (bar.start - EPOCH) // _ONE_US, "open": bar.open, "high": bar.high,
        "low": bar.low, "close": bar.close, "volume": bar.volume, "source": bar.source,
    }


class BarRepository:
    """Upsert and read OHLCV bars.

    Parameters
    ----------
    engine
        Engine of a migrated store.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def upsert_many(self, bars: Iterable[Bar]) -> int:
        """Insert bars, merging each into a stored bar with the same (symbol, timeframe, start).

        The stored bar counts as the earlier part: its open is kept, high is the max, low the
        min, close is the new bar's and volumes add up (see :func:`merge_bar_rows`).

        Parameters
        ----------
        bars
            Bars to write, in time order where several share a key.

        Returns
        -------
        int
            Number of distinct bars written.
        """
        rows = [_bar_row(bar) for bar in bars]
        if not rows:
            return 0
        with store_errors(self._engine, f"write {len(rows)} bars to"):
            with write_transaction(self._engine) as conn:
                return merge_bar_rows(conn, rows)

    def fetch(
        self, symbol: str, timeframe: str, start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[Bar]:
        """Stored bars of one symbol and timeframe with ``start <= bar.start < end``, in order.

        Parameters
        ----------
        symbol
            The symbol.
        timeframe
            A name from :data:`core.timeframes.TIMEFRAMES`, e.g. ``"1m"``.
        start, end
            Tz-aware bounds on the bar start; None leaves that side open.

        Returns
        -------
        list of Bar
            Oldest first.
        """
        b = bars_table.c
        where = [b.symbol == symbol, b.timeframe == timeframe, *_range(b.start_us, start, end)]
        stmt = (
            select(b.start_us, b.open, b.high, b.low, b.close, b.volume, b.source)
            .where(*where).order_by(b.start_us)
        )
        with store_errors(self._engine, "read bars from"), self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            Bar(symbol, timeframe, EPOCH + timedelta(microseconds=us), o, h, lo, c, v, src)
            for us, o, h, lo, c, v, src in rows
        ]


class SettingsRepository:
    """Key/value settings stored as JSON documents.

    Parameters
    ----------
    engine
        Engine of a migrated store.
    clock
        Returns epoch seconds; stamps ``updated_us``.
    """

    def __init__(self, engine: Engine, clock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._clock = clock

    @staticmethod
    def _check_key(key: str) -> None:
        if not isinstance(key, str) or not key or len(key) > SETTING_KEY_LEN:
            raise ValidationError(
                f"Setting key {key!r} must be a non-empty text of at most {SETTING_KEY_LEN} "
                "characters."
            )

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default`` when there is none.

        Parameters
        ----------
        key
            Setting name.
        default
            Returned when the key is not stored.

        Returns
        -------
        Any
            The decoded JSON value (dict, list, str, int, float, bool or None).
        """
        self._check_key(key)
        stmt = select(settings_table.c.value).where(settings_table.c.key == key)
        with store_errors(self._engine, "read settings from"), self._engine.connect() as conn:
            raw = conn.execute(stmt).scalar_one_or_none()
        if raw is None:
            return default
        try:
            return json.loads(raw)
        except ValueError:
            raise StoreError(
                f"Setting {key!r} in {safe_url(self._engine)} is not valid JSON; set it again."
            ) from None

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` as JSON under ``key``, replacing any previous value.

        Parameters
        ----------
        key
            Setting name (at most 200 characters).
        value
            Anything :func:`json.dumps` accepts. Tuples come back as lists.

        Raises
        ------
        StoreError
            If ``value`` cannot be written as JSON or the database rejects the write.
        """
        self._check_key(key)
        try:
            payload = json.dumps(value, ensure_ascii=False)
        except (TypeError, ValueError) as err:
            raise StoreError(f"Setting {key!r} cannot be saved: {err}.") from None
        now_us = int(self._clock() * 1_000_000)
        s = settings_table.c
        with store_errors(self._engine, f"save setting {key!r} in"):
            with write_transaction(self._engine) as conn:
                done = conn.execute(
                    update(settings_table).where(s.key == key)
                    .values(value=payload, updated_us=now_us)
                ).rowcount
                if not done:
                    conn.execute(insert(settings_table).values(
                        key=key, value=payload, updated_us=now_us))

    def delete(self, key: str) -> bool:
        """Remove ``key``; returns whether it was stored."""
        self._check_key(key)
        with store_errors(self._engine, f"delete setting {key!r} in"):
            with write_transaction(self._engine) as conn:
                return bool(conn.execute(
                    delete(settings_table).where(settings_table.c.key == key)).rowcount)
