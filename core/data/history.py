"""The history service: one way for every page and the CLI to get bars.

:class:`HistoryService` answers ``load(symbol, start, end, interval)`` from the first tier that
holds the whole range (memory LRU -> Redis, when configured -> the SQL store), and otherwise asks
the symbol's sources, in order, for the missing ranges only (the incremental update), writes what
came back to the store (newest wins over stored bars, every change logged) and refreshes the
faster tiers. A source that fails (down, rate-limited, breaker open, symbol unknown there) hands
over to the next one in the list. Once fetched, a symbol's history is served from the store with
no network at all.

Rules worth knowing:

- Only finished bars are remembered as fetched: the range covered stops at the start of the bar
  in progress, so the next load asks again for that bar and nothing earlier.
- Simulated bars are drawn, not downloaded: they come only when no real source has any bar of
  the range (or the caller asks for them), are never mixed with real bars, and are kept in memory
  under their own key, never in Redis or the store, so they are never served as real history.
- When some ranges cannot be fetched and the store holds part of the request, the stored part is
  returned with a note in ``frame.attrs["history"]["notes"]``; with nothing at all a
  :class:`~core.errors.DataError` names every source's reason.

:func:`load_history` is the entry point: a path loads a CSV/Parquet file, anything else is a
symbol for the default service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from core.data.cache.memory import MemoryTier
from core.data.cache.ranges import Range, Ranges, covers, merge, missing
from core.data.cache.redis_tier import RedisTier
from core.data.cache.sql_tier import SqlTier
from core.data.frames import OHLCV, canonical, check_interval
from core.errors import DataError, GSError, StoreError

log = logging.getLogger(__name__)

SIMULATOR = "simulator"
TIERS = ("memory", "redis", "sql")
When = pd.Timestamp | datetime | date | str | None


class Source(Protocol):
    """What the service needs of a history source (see :mod:`core.data.sources`)."""

    name: str

    def fetch(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp,
              interval: str) -> pd.DataFrame:
        """Canonical bars with a start in ``[start, end)``."""
        ...


@dataclass(frozen=True, slots=True)
class Request:
    """One load, with its bounds as UTC timestamps and epoch microseconds."""

    symbol: str
    interval: str
    start: pd.Timestamp
    end: pd.Timestamp
    sources: tuple[str, ...]
    refresh: bool = False

    @property
    def span(self) -> Range:
        return _us(self.start), _us(self.end)


def _us(stamp: pd.Timestamp) -> int:
    """Epoch microseconds (``Timestamp.value`` is nanoseconds whatever the unit)."""
    return int(stamp.value) // 1000


def _stamp(value: When, default: pd.Timestamp) -> pd.Timestamp:
    if value is None or value == "":
        return default
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise DataError(f"'{value}' is not a date; use e.g. 2024-01-31.") from None
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


def _slice(frame: pd.DataFrame, span: Range) -> pd.DataFrame:
    stamps = frame.index.as_unit("us").asi8
    return frame[(stamps >= span[0]) & (stamps < span[1])]


def _combine(*frames: pd.DataFrame) -> pd.DataFrame:
    """Union of canonical frames; where two hold the same bar, the later argument wins."""
    parts = [f for f in frames if len(f)]
    if not parts:
        return frames[0] if frames else pd.DataFrame()
    joined = pd.concat(parts)
    joined = joined[~joined.index.duplicated(keep="last")]
    return joined.sort_index()


class HistoryService:
    """Bars for a symbol over a range, through the cache tiers and the symbol's sources.

    Parameters
    ----------
    sources : mapping
        Source name -> source (``fetch(symbol, start, end, interval)``).
    order : callable
        Symbol -> the source names to try, in order.
    memory, redis, sql : optional
        The tiers; None leaves a tier out (memory is always on unless given explicitly as None).
    clock : callable
        Epoch seconds (tests pass a fixed clock).
    """

    def __init__(self, sources: Mapping[str, Source], order: Callable[[str], Sequence[str]],
                 *, memory: MemoryTier | None = None, redis: RedisTier | None = None,
                 sql: SqlTier | None = None, clock: Callable[[], float] = time.time) -> None:
        self.sources = dict(sources)
        self._order = order
        self.memory = memory if memory is not None else MemoryTier()
        self.redis = redis
        self.sql = sql
        self._clock = clock
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.changes = 0

    # ------------------------------------------------------------------ public

    def load(self, symbol: str, start: When = None, end: When = None,
             interval: str = "1d", *, only: Sequence[str] | None = None,
             refresh: bool = False) -> pd.DataFrame:
        """Canonical bars of ``symbol`` starting in ``[start, end)``.

        Parameters
        ----------
        symbol : str
            A symbol (normalised: ``btc-usdt`` is ``BTCUSDT``).
        start, end : date-like, optional
            Bounds (naive values are UTC); by default ten years back to now.
        interval : str
            One of :data:`core.data.frames.INTERVALS`.
        only : sequence of str, optional
            Ask only these sources (e.g. ``["simulator"]`` for simulated history), in the
            symbol's order; the cache tiers are still used for downloaded sources.
        refresh : bool
            Fetch the whole range from the sources again, whatever the tiers hold; stored bars
            that the new data contradicts are replaced (newest wins) and each change is logged.

        Returns
        -------
        pandas.DataFrame
            The bars; ``attrs["history"]`` tells which tier or sources served them, with notes
            about anything that could not be fetched.

        Raises
        ------
        DataError
            Bad bounds, or no bar available from any tier or source (the message lists why).
        ValidationError
            An unknown interval or a malformed symbol.
        """
        request = self._request(symbol, start, end, interval, only, refresh)
        with self._lock_for(request.symbol, request.interval):
            frame, info = self._load(request)
        frame = frame.copy()  # never the object a cache tier holds
        frame.attrs = {"history": info}
        return frame

    def stats(self) -> dict[str, Any]:
        """Lookups and hits per tier, fetches from sources and replaced bars, for monitoring."""
        lookups = self.counts["lookups"]
        out: dict[str, Any] = {"lookups": lookups, "fetches": self.counts["fetches"],
                               "fetch_failures": self.counts["fetch_failures"],
                               "changed_bars": self.changes}
        for tier in TIERS:
            hits = self.counts[f"{tier}_hits"]
            out[f"{tier}_hits"] = hits
            out[f"{tier}_hit_rate"] = hits / lookups if lookups else float("nan")
        out["redis_errors"] = self.redis.errors if self.redis is not None else 0
        return out

    # ------------------------------------------------------------------ steps

    def _request(self, symbol: str, start: When, end: When, interval: str,
                 only: Sequence[str] | None, refresh: bool = False) -> Request:
        from core.symbols import normalize_symbol

        check_interval(interval)
        now = pd.Timestamp(self._clock(), unit="s", tz="UTC")
        end_ts = _stamp(end, now)
        start_ts = _stamp(start, end_ts - pd.DateOffset(years=10))
        if not start_ts < end_ts:
            raise DataError(f"The start ({start_ts:%Y-%m-%d %H:%M}) must be before the end "
                            f"({end_ts:%Y-%m-%d %H:%M}).")
        clean = normalize_symbol(symbol)
        names = [n for n in self._order(clean) if only is None or n in only]
        if only is not None:
            names += [n for n in only if n not in names and n in self.sources]
        return Request(clean, interval, start_ts, end_ts, tuple(names), refresh)

    def _lock_for(self, symbol: str, interval: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault((symbol, interval), threading.Lock())

    def _finished_until(self, interval: str) -> int:
        """End (µs) of what may be remembered as fetched: bars starting before it are finished.

        A bar is final once ``start + length <= now``. Sources do not all align bars on the clock
        (Yahoo's US hourly bars start at :30), so this does not round to the interval grid.
        """
        length = _us(pd.Timestamp(0, tz="UTC") + check_interval(interval))
        return int(self._clock() * 1_000_000) - length + 1

    def _load(self, req: Request) -> tuple[pd.DataFrame, dict[str, Any]]:
        self.counts["lookups"] += 1
        info: dict[str, Any] = {"symbol": req.symbol, "interval": req.interval,
                                "served_by": "", "sources": [], "notes": []}
        real = tuple(name for name in req.sources if name != SIMULATOR)
        frame = self._load_real(req, real, info) if real else None
        if frame is not None and len(frame):
            return frame, info
        if SIMULATOR in req.sources and SIMULATOR in self.sources:
            if real:
                info["notes"].append("no real history, so simulated bars are shown")
            return self._simulated(req, info), info
        reasons = "; ".join(info["notes"]) or "no bars in this range"
        raise DataError(f"No history for {req.symbol} ({req.interval}) from "
                        f"{req.start:%Y-%m-%d} to {req.end:%Y-%m-%d}: {reasons}.")

    def _load_real(self, req: Request, real: tuple[str, ...],
                   info: dict[str, Any]) -> pd.DataFrame | None:
        """Downloaded history through the tiers; None or empty when nothing real is available."""
        span = req.span
        for tier in () if req.refresh else (self.memory, self.redis):
            cached = self._from_tier(tier, req)
            if cached is not None and covers(cached[1], *span):
                self.counts[f"{tier.name}_hits"] += 1
                if tier is self.redis:
                    self.memory.put(req.symbol, req.interval, *cached)
                info["served_by"] = tier.name
                info["sources"] = list(cached[0].attrs.get("sources", []))
                return _slice(cached[0], span)
        stored, covered = self._from_sql(req, info)
        if self.sql is not None and covers(covered, *span) and not req.refresh:
            self.counts["sql_hits"] += 1
            info["served_by"] = "sql"
            info["sources"] = list(stored.attrs.get("sources", []))
            self._remember(req, stored, (span,), info["sources"])
            return stored
        fetched, fetched_spans = self._fetch_missing(req, real, () if req.refresh else covered,
                                                     info)
        frame = _slice(_combine(stored, fetched), span)
        if not len(frame):
            return None
        info["served_by"] = "source" if not len(stored) else "sql+source"
        info["sources"] = sorted({*stored.attrs.get("sources", []), *info["sources"]})
        known = merge([r for r in covered if r[0] < span[1] and r[1] > span[0]]
                      + list(fetched_spans))
        self._remember(req, frame, tuple((max(a, span[0]), min(b, span[1])) for a, b in known
                                         if min(b, span[1]) > max(a, span[0])), info["sources"])
        return frame

    def _simulated(self, req: Request, info: dict[str, Any]) -> pd.DataFrame:
        """The whole range from the simulator, cached in memory under its own key only."""
        key = f"{req.interval}@{SIMULATOR}"
        info["sources"] = [SIMULATOR]
        cached = self.memory.get(req.symbol, key)
        if cached is not None and covers(cached[1], *req.span):
            self.counts["memory_hits"] += 1
            info["served_by"] = "memory"
            return _slice(cached[0], req.span)
        got = self._fetch_gap(req, (SIMULATOR,), req.span, info)
        if got is None or not len(got[0]):
            reasons = "; ".join(info["notes"]) or "no bars in this range"
            raise DataError(f"No history for {req.symbol} ({req.interval}) from "
                            f"{req.start:%Y-%m-%d} to {req.end:%Y-%m-%d}: {reasons}.")
        info["served_by"] = "source"
        old = self.memory.get(req.symbol, key)
        done = (req.span[0], min(req.span[1], self._finished_until(req.interval)))
        frame, spans = got[0], [done]
        if old is not None:
            frame, spans = _combine(old[0], frame), [*old[1], done]
        self.memory.put(req.symbol, key, frame, merge(spans))
        return got[0]

    def _from_tier(self, tier: MemoryTier | RedisTier | None,
                   req: Request) -> tuple[pd.DataFrame, Ranges] | None:
        if tier is None:
            return None
        return tier.get(req.symbol, req.interval)

    def _from_sql(self, req: Request, info: dict[str, Any]) -> tuple[pd.DataFrame, Ranges]:
        from core.data.frames import empty_ohlcv

        if self.sql is None:
            return empty_ohlcv(), ()
        try:
            return self.sql.get(req.symbol, req.interval, *req.span)
        except StoreError as err:
            info["notes"].append(f"the store could not be read ({err})")
            log.warning("History store unreadable, fetching instead: %s", err)
            return empty_ohlcv(), ()

    def _fetch_missing(self, req: Request, names: tuple[str, ...], covered: Ranges,
                       info: dict[str, Any]) -> tuple[pd.DataFrame, list[Range]]:
        from core.data.frames import empty_ohlcv

        parts: list[pd.DataFrame] = []
        spans: list[Range] = []
        finished = self._finished_until(req.interval)
        for gap in missing(covered, *req.span):
            got = self._fetch_gap(req, names, gap, info)
            if got is None:
                continue
            frame, source = got
            parts.append(frame)
            done = (gap[0], min(gap[1], finished))
            if done[1] > done[0]:
                spans.append(done)
            self._store(req, frame, done, source, info)
        return (_combine(*parts) if parts else empty_ohlcv()), spans

    def _fetch_gap(self, req: Request, names: tuple[str, ...], gap: Range,
                   info: dict[str, Any]) -> tuple[pd.DataFrame, str] | None:
        start = pd.Timestamp(gap[0], unit="us", tz="UTC")
        end = pd.Timestamp(gap[1], unit="us", tz="UTC")
        reasons = []
        for name in names:
            source = self.sources.get(name)
            if source is None:
                continue
            self.counts["fetches"] += 1
            try:
                frame = canonical(source.fetch(req.symbol, start, end, req.interval))
            except GSError as err:  # unavailable, rate-limited, unknown symbol there
                self.counts["fetch_failures"] += 1
                reasons.append(f"{name}: {err}")
                log.info("History source %s failed for %s: %s", name, req.symbol, err)
                continue
            frame = _slice(frame[list(OHLCV)], gap)
            if name not in info["sources"]:
                info["sources"].append(name)
            return frame, name
        info["notes"].append(f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} could not be "
                             f"fetched ({'; '.join(reasons) or 'no source for this symbol'})")
        return None

    def _store(self, req: Request, frame: pd.DataFrame, done: Range, source: str,
               info: dict[str, Any]) -> None:
        if self.sql is None:
            return
        keep = _slice(frame, (done[0], done[1])) if done[1] > done[0] else frame.iloc[:0]
        try:
            changes = self.sql.put(req.symbol, req.interval, keep,
                                   done if done[1] > done[0] else (done[0], done[0]), source,
                                   int(self._clock() * 1_000_000))
        except StoreError as err:
            info["notes"].append(f"fetched bars could not be stored ({err})")
            log.warning("History not stored: %s", err)
            return
        self.changes += len(changes)
        if changes:
            info["notes"].append(f"{len(changes)} stored value(s) replaced by newer data "
                                 f"from {source}")

    def _remember(self, req: Request, frame: pd.DataFrame, spans: Ranges,
                  sources: list[str]) -> None:
        """Put downloaded bars into the memory and Redis tiers, merged with what they hold.

        The entry's ``attrs["sources"]`` keeps which sources its bars came from.
        """
        for tier in (self.memory, self.redis):
            if tier is None:
                continue
            old = tier.get(req.symbol, req.interval)
            entry = _combine(old[0], frame) if old is not None else frame.copy()
            known = old[0].attrs.get("sources", []) if old is not None else []
            entry.attrs = {"sources": sorted({*known, *sources})}
            tier.put(req.symbol, req.interval, entry,
                     merge([*(old[1] if old is not None else ()), *spans]))

    def close(self) -> None:
        """Release the Redis connection (the store engine belongs to its owner)."""
        if self.redis is not None:
            self.redis.close()


# ---------------------------------------------------------------------- entry point


def load_history(symbol_or_path: str | Path, start: When = None, end: When = None,
                 interval: str = "1d", *, service: HistoryService | None = None
                 ) -> pd.DataFrame:
    """Validated canonical bars of a symbol (through the service) or of a CSV/Parquet file.

    Parameters
    ----------
    symbol_or_path : str or Path
        A file path (see :func:`core.backtest.io.looks_like_path`) or a symbol.
    start, end : date-like, optional
        Bounds, ``[start, end)``; naive values are UTC.
    interval : str
        Bar interval for a symbol (a file's bars are taken as they are).
    service : HistoryService, optional
        The service to use; :func:`default_service` by default.

    Returns
    -------
    pandas.DataFrame
        Canonical bars; ``attrs["history"]`` tells where they came from and ``attrs["quality"]``
        holds the validation report (:func:`core.data.validate.validate`) as a dict.

    Raises
    ------
    DataError
        A malformed file (the message names the first bad rows), bad bounds, or no bars.
    """
    from core.backtest.io import load_ohlcv, looks_like_path
    from core.data.validate import validate

    text = str(symbol_or_path)
    if isinstance(symbol_or_path, Path) or looks_like_path(text):
        frame = canonical(load_ohlcv(text))
        lo = _stamp(start, frame.index[0]) if len(frame) else None
        hi = _stamp(end, frame.index[-1] + pd.Timedelta(1, "ns")) if len(frame) else None
        if lo is not None and hi is not None:
            frame = frame[(frame.index >= lo) & (frame.index < hi)]
        if not len(frame):
            raise DataError(f"{text} has no bars between the chosen dates.")
        frame.attrs["history"] = {"symbol": Path(text).stem, "interval": "", "served_by": "file",
                                  "sources": ["file"], "notes": []}
    else:
        frame = (service or default_service()).load(text, start, end, interval)
    frame.attrs["quality"] = validate(frame).to_dict()
    return frame


_DEFAULT: HistoryService | None = None
_DEFAULT_LOCK = threading.Lock()


def build_service(settings: Any, engine: Any | None = None) -> HistoryService:
    """A service for ``settings``: its sources, Redis when ``redis_url`` is set, and the store.

    Parameters
    ----------
    settings : core.config.Settings
        Sources, API keys, ``redis_url`` and ``database_url``.
    engine : sqlalchemy.Engine, optional
        A migrated store engine to share (the app's); otherwise one is opened on
        ``settings.database_url``. When the store cannot be opened, history is still served from
        memory and the sources.
    """
    from core.data.sources.registry import build_sources, sources_for

    sources = build_sources(settings)
    sql = None
    try:
        if engine is None:
            from core.store import Store

            engine = Store.open(settings.effective_database_url).engine
        sql = SqlTier(engine)
    except (StoreError, ValueError) as err:
        log.warning("History cache store unavailable: %s", err)
    redis_tier = RedisTier.from_url(settings.redis_url) if settings.redis_url else None
    return HistoryService(sources, lambda symbol: sources_for(symbol, settings),
                          redis=redis_tier, sql=sql)


def default_service() -> HistoryService:
    """The process-wide service built from the environment's settings (created once)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            from core.config import load_settings

            _DEFAULT = build_service(load_settings())
        return _DEFAULT
