"""Turn a recorded CSV or Parquet file into validated, time-ordered ticks or bars.

:func:`read_table` is the only function here that touches the disk; :func:`parse_frame` is pure.
A file is accepted or rejected as a whole: a malformed file raises one :class:`DataError` that
names the file and lists the first few problems with their data row and column, so the user can
fix them all in one go. Rows are never dropped silently.

Tick files have the columns ``ts, symbol, price, size`` and optionally ``bid, ask``. Bar files
have ``ts`` (bar start), ``symbol, open, high, low, close, volume`` and optionally ``timeframe``.
Column names are case-insensitive and ``timestamp`` or ``time`` may stand for ``ts``. Times are
ISO 8601 text (naive means UTC) or epoch numbers in seconds, milliseconds, microseconds or
nanoseconds, the unit inferred from the magnitude of each value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from core.data.tables import read_table as _read_table
from core.errors import DataError, InvalidSymbol, ValidationError
from core.models import Bar, Tick
from core.symbols import normalize_symbol
from core.timeframes import EPOCH, TIMEFRAMES

TIME_ALIASES = ("ts", "timestamp", "time")
TICK_COLUMNS = ("ts", "symbol", "price", "size")
TICK_OPTIONAL = ("bid", "ask")
BAR_COLUMNS = ("ts", "symbol", "open", "high", "low", "close", "volume")
BAR_OPTIONAL = ("timeframe",)
PRICE_COLUMNS = ("open", "high", "low", "close")
MAX_PROBLEMS = 5

# Epoch numbers below 1e11 are seconds (up to year 5138), below 1e14 milliseconds, below 1e17
# microseconds, anything larger nanoseconds. Factors convert each unit to microseconds.
_UNIT_LIMITS = ((1e11, 1e6), (1e14, 1e3), (1e17, 1.0), (np.inf, 1e-3))
_MIN_US = (datetime(1, 1, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
_MAX_US = (datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
_TIME_HINT = "use ISO 8601 such as 2024-01-02T14:30:00Z, or epoch seconds/ms/us/ns"
E = TypeVar("E", Tick, Bar)
_SYMBOL_HINT = "use a ticker such as AAPL, BRK.B, ^GSPC, BTCUSDT or an OCC option"


def load_events(path: str | Path, *, source: str = "replay") -> list[Tick] | list[Bar]:
    """Read a CSV or Parquet file of ticks or bars, oldest first.

    Parameters
    ----------
    path
        File ending in ``.csv`` or ``.parquet`` (any case).
    source
        Value of the events' ``source`` field.

    Returns
    -------
    list[Tick] | list[Bar]
        Every row as a validated event, stably sorted by time (bar start for bars).

    Raises
    ------
    DataError
        When the file is missing, unreadable, empty or malformed; the message names the file and,
        for row problems, the first few data rows (counted from 1 after the header) and columns.
    """
    file = Path(path)
    return parse_frame(read_table(file), str(file), source=source)


def read_table(path: Path) -> pd.DataFrame:
    """Read ``path`` as a DataFrame (see :func:`core.data.tables.read_table`)."""
    return _read_table(path, "replay")


def parse_frame(frame: pd.DataFrame, name: str, *, source: str = "replay"
                ) -> list[Tick] | list[Bar]:
    """Validate a table of ticks or bars and turn it into events sorted by time (stable).

    Parameters
    ----------
    frame
        The table as read; column names are matched case-insensitively.
    name
        File name used in error messages.
    source
        Value of the events' ``source`` field.

    Returns
    -------
    list[Tick] | list[Bar]

    Raises
    ------
    DataError
        Naming ``name`` and listing up to five problems, with a count of the rest.
    """
    columns = _columns(frame, name)
    if frame.empty:
        raise DataError(f"Cannot replay {name}: the file has a header but no data rows.")
    kind = "bar" if any(c in columns for c in PRICE_COLUMNS) else "tick"
    required = BAR_COLUMNS if kind == "bar" else TICK_COLUMNS
    missing = [c for c in required if c not in columns]
    if missing:
        found = ", ".join(str(c) for c in frame.columns)
        raise DataError(
            f"Cannot replay {name}: it looks like a {kind} file but has no column "
            f"{', '.join(repr(c) for c in missing)}. A {kind} file needs "
            f"{', '.join(required)}; found {found}."
        )
    table = _Table(frame, name, columns)
    if kind == "bar":
        return _bars(table, source)
    return _ticks(table, source)


# -- columns and problems ---------------------------------------------------------------------


def _columns(frame: pd.DataFrame, name: str) -> dict[str, str]:
    """Map canonical lower-case column names to the names used in the file."""
    columns: dict[str, str] = {}
    for raw in frame.columns:
        key = str(raw).strip().lower()
        if key in columns:
            raise DataError(
                f"Cannot replay {name}: columns {columns[key]!r} and {raw!r} have the same name "
                "(names are not case-sensitive); keep one."
            )
        columns[key] = str(raw)
    times = [c for c in TIME_ALIASES if c in columns]
    if len(times) > 1:
        both = " and ".join(repr(columns[c]) for c in times)
        raise DataError(f"Cannot replay {name}: it has both {both} as time columns; keep one.")
    if times:
        columns["ts"] = columns.pop(times[0])
    return columns


@dataclass
class _Table:
    """A frame being validated, with the problems found so far."""

    frame: pd.DataFrame
    name: str
    columns: dict[str, str]
    problems: list[tuple[int, int, str]] = field(default_factory=list)
    count: int = 0

    def raw(self, column: str) -> pd.Series:
        return self.frame[self.columns[column]]

    def flag(self, mask: np.ndarray, column: str, describe: Callable[[int], str]) -> None:
        """Record a problem in ``column`` for each row where ``mask`` is true."""
        rows = np.flatnonzero(mask)
        if not len(rows):
            return
        self.count += len(rows)
        label = self.columns[column]
        order = [str(c) for c in self.frame.columns].index(label)
        for row in rows[:MAX_PROBLEMS].tolist():
            self.problems.append(
                (row, order, f"data row {row + 1}, column {label!r}: {describe(row)}")
            )

    def cell(self, column: str, row: int) -> str:
        value = self.raw(column).iloc[row]
        return repr(value.item() if isinstance(value, np.generic) else value)

    def check(self) -> None:
        """Raise one DataError listing the first problems, if there are any."""
        if not self.count:
            return
        first = [text for _, _, text in sorted(self.problems)[:MAX_PROBLEMS]]
        lines = "\n".join(f"  - {text}" for text in first)
        more = self.count - len(first)
        tail = f"\n  ... and {more} more problem{'s' if more > 1 else ''}." if more else ""
        plural = "s" if self.count > 1 else ""
        raise DataError(
            f"Cannot replay {self.name}: {self.count} problem{plural} found and nothing was "
            f"loaded; fix the file and try again (data rows are counted from 1 after the "
            f"header):\n{lines}{tail}"
        )


def _text(series: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Cells as stripped text, and a mask of empty or null cells."""
    null = series.isna().to_numpy()
    text = series.astype(str).str.strip()
    empty = null | (text == "").to_numpy()
    return text, empty


def _numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells as float64, a mask of empty (or NaN) cells and a mask of cells that are not numbers."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        empty = np.isnan(values)
        return values, empty, np.zeros(len(values), dtype=bool)
    text, empty = _text(series)
    empty |= (text.str.lower() == "nan").to_numpy()
    values = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype=float,
                                                                         na_value=np.nan)
    return values, empty, ~empty & np.isnan(values)


def _number_column(table: _Table, column: str, *, positive: bool) -> np.ndarray:
    """Validate a required numeric column; invalid cells become NaN in the result."""
    values, empty, bad = _numbers(table.raw(column))
    table.flag(empty, column, lambda _row: "no value (empty or NaN)")
    table.flag(bad, column, lambda row: f"{table.cell(column, row)} is not a number")
    return _range_check(table, column, values, ~empty & ~bad, positive=positive)


def _optional_number_column(table: _Table, column: str) -> np.ndarray:
    """Validate an optional positive column; empty cells stay NaN and mean "not known"."""
    values, _, bad = _numbers(table.raw(column))
    table.flag(bad, column, lambda row: f"{table.cell(column, row)} is not a number")
    return _range_check(table, column, values, ~bad & ~np.isnan(values), positive=True)


def _range_check(table: _Table, column: str, values: np.ndarray, ok: np.ndarray, *,
                 positive: bool) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        infinite = ok & ~np.isfinite(values)
        low = ok & ~infinite & ((values <= 0) if positive else (values < 0))
    table.flag(infinite, column, lambda row: f"{values[row]} is not a finite number")
    need = "positive" if positive else "zero or more"
    table.flag(low, column, lambda row: f"{values[row]:g} is not allowed; it must be {need}")
    return np.where(ok & ~infinite & ~low, values, np.nan)


def _symbol_column(table: _Table) -> np.ndarray:
    """Normalise the symbols; invalid cells become None."""
    text, empty = _text(table.raw("symbol"))
    mapping: dict[str, str | None] = {}
    for raw in pd.unique(text[~empty]):
        try:
            mapping[raw] = normalize_symbol(raw)
        except InvalidSymbol:
            mapping[raw] = None
    symbols = np.array([None if e else mapping[t] for t, e in zip(text, empty, strict=True)],
                       dtype=object)
    table.flag(empty, "symbol", lambda _row: "the cell is empty")
    bad = ~empty & np.equal(symbols, None)
    table.flag(bad, "symbol", lambda row: f"{table.cell('symbol', row)} is not a valid symbol; "
                                          f"{_SYMBOL_HINT}")
    return symbols


# -- times ------------------------------------------------------------------------------------


def _epoch_to_us(values: np.ndarray) -> np.ndarray:
    """Epoch numbers of any unit to float microseconds (unit guessed per value by magnitude)."""
    out = np.full(len(values), np.nan)
    size = np.abs(values)
    lower = 0.0
    for limit, factor in _UNIT_LIMITS:
        unit = (size >= lower) & (size < limit)
        out[unit] = values[unit] * factor
        lower = limit
    return out


def _time_column(table: _Table) -> np.ndarray:
    """Times as int64 microseconds since the epoch (UTC); invalid cells become 0."""
    series = table.raw("ts")
    n = len(series)
    us = np.full(n, np.nan)
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        stamps = pd.DatetimeIndex(series)
        stamps = stamps.tz_localize(UTC) if stamps.tz is None else stamps.tz_convert(UTC)
        empty = np.asarray(stamps.isna())
        us[~empty] = stamps[~empty].as_unit("us").asi8
    else:
        values, empty, bad = _numbers(series)
        us = _epoch_to_us(values)
        if bad.any():
            text, _ = _text(series)
            parsed = pd.to_datetime(text[bad], utc=True, format="ISO8601", errors="coerce")
            ok = ~np.asarray(parsed.isna())
            rows = np.flatnonzero(bad)
            us[rows[ok]] = pd.DatetimeIndex(parsed[ok]).as_unit("us").asi8
    table.flag(empty, "ts", lambda _row: "the time is empty")
    invalid = ~empty & np.isnan(us)
    table.flag(invalid, "ts", lambda row: f"{table.cell('ts', row)} is not a time; {_TIME_HINT}")
    with np.errstate(invalid="ignore"):
        outside = ~empty & ~invalid & ((us < _MIN_US) | (us > _MAX_US))
    table.flag(outside, "ts", lambda row: f"{table.cell('ts', row)} is outside years 1-9999")
    return np.where(empty | invalid | outside, 0, np.round(us)).astype(np.int64)


def _datetimes(us: np.ndarray) -> list[datetime]:
    step = timedelta(microseconds=1)
    return [EPOCH + step * value for value in us.tolist()]


# -- ticks and bars ---------------------------------------------------------------------------


def _ticks(table: _Table, source: str) -> list[Tick]:
    us = _time_column(table)
    symbols = _symbol_column(table)
    price = _number_column(table, "price", positive=True)
    size = _number_column(table, "size", positive=False)
    nan = np.full(len(us), np.nan)
    bid = _optional_number_column(table, "bid") if "bid" in table.columns else nan
    ask = _optional_number_column(table, "ask") if "ask" in table.columns else nan
    with np.errstate(invalid="ignore"):
        crossed = bid > ask
    table.flag(crossed, "bid", lambda row: f"bid {bid[row]:g} is above ask {ask[row]:g}")
    table.check()
    order = np.argsort(us, kind="stable")
    times = _datetimes(us[order])
    bids = [None if math.isnan(v) else v for v in bid[order].tolist()]
    asks = [None if math.isnan(v) else v for v in ask[order].tolist()]
    rows = zip(order.tolist(), symbols[order].tolist(), times, price[order].tolist(),
               size[order].tolist(), bids, asks, strict=True)
    return _build(table, rows, lambda r: Tick(r[1], r[2], r[3], r[4], r[5], r[6], source))


def _bars(table: _Table, source: str) -> list[Bar]:
    us = _time_column(table)
    symbols = _symbol_column(table)
    prices = {c: _number_column(table, c, positive=True) for c in PRICE_COLUMNS}
    volume = _number_column(table, "volume", positive=False)
    _check_high_low(table, prices)
    frames = _timeframe_column(table) if "timeframe" in table.columns else None
    table.check()
    if frames is None:
        frames = np.full(len(us), _infer_timeframe(table.name, symbols, us), dtype=object)
    order = np.argsort(us, kind="stable")
    o, h, lo, c = (prices[k][order].tolist() for k in PRICE_COLUMNS)
    rows = zip(order.tolist(), symbols[order].tolist(), frames[order].tolist(),
               _datetimes(us[order]), o, h, lo, c, volume[order].tolist(), strict=True)
    return _build(table, rows, lambda r: Bar(*r[1:], source=source))


def _check_high_low(table: _Table, prices: dict[str, np.ndarray]) -> None:
    o, h, lo, c = (prices[k] for k in PRICE_COLUMNS)
    with np.errstate(invalid="ignore"):
        top, bottom = np.maximum(o, c), np.minimum(o, c)
        high_bad, low_bad = h < top, lo > bottom
    table.flag(high_bad, "high", lambda row: f"high {h[row]:g} is below the open/close "
                                             f"{o[row]:g}/{c[row]:g}")
    table.flag(low_bad, "low", lambda row: f"low {lo[row]:g} is above the open/close "
                                           f"{o[row]:g}/{c[row]:g}")


def _timeframe_column(table: _Table) -> np.ndarray:
    text, empty = _text(table.raw("timeframe"))
    values = text.to_numpy(dtype=object)
    unknown = ~empty & ~text.isin(list(TIMEFRAMES)).to_numpy()
    table.flag(empty, "timeframe", lambda _row: "the cell is empty")
    table.flag(unknown, "timeframe", lambda row: f"{table.cell('timeframe', row)} is not a "
                                                 f"timeframe; use one of {', '.join(TIMEFRAMES)}")
    return values


def _infer_timeframe(name: str, symbols: np.ndarray, us: np.ndarray) -> str:
    """The timeframe equal to the smallest gap between two bars of one symbol."""
    frame = pd.DataFrame({"symbol": symbols, "us": us}).sort_values(["symbol", "us"])
    gaps = frame.groupby("symbol", sort=False)["us"].diff().to_numpy()
    gaps = gaps[gaps > 0]
    choices = ", ".join(TIMEFRAMES)
    if not len(gaps):
        raise DataError(
            f"Cannot replay {name}: the bar timeframe cannot be inferred because no symbol has two "
            f"bars at different times; add a 'timeframe' column ({choices})."
        )
    seconds = float(gaps.min()) / 1e6
    for timeframe, length in TIMEFRAMES.items():
        if seconds == length:
            return timeframe
    raise DataError(
        f"Cannot replay {name}: the smallest gap between two bars of one symbol is {seconds:g} s, "
        f"which is not a timeframe ({', '.join(f'{k} = {v} s' for k, v in TIMEFRAMES.items())}); "
        f"fix the times or add a 'timeframe' column ({choices})."
    )


def _build(table: _Table, rows: Iterable[tuple[Any, ...]], make: Callable[[tuple[Any, ...]], E]
           ) -> list[E]:
    """Construct the events; the model's own checks are a last line of defence."""
    events: list[E] = []
    for row in rows:
        try:
            events.append(make(row))
        except ValidationError as exc:
            table.count += 1
            index = row[0]
            table.problems.append((index, -1, f"data row {index + 1}: {exc}"))
    table.check()
    return events
