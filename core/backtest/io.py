"""Load backtest input: an OHLCV file from disk, or the offline simulator's daily history.

:func:`load_ohlcv` reads a CSV or Parquet file laid out like backtesting.py's ``GOOG`` sample (a
``Date`` column, then ``Open, High, Low, Close`` and optionally ``Volume``; names are not
case-sensitive) into the DataFrame :func:`core.backtest.run_backtest` takes. As in
:mod:`core.feeds.replay.parsing`, a file is accepted or rejected as a whole: one
:class:`~core.errors.DataError` names the file and lists the first problems with their data row
(counted from 1 after the header) and column. :func:`simulated_ohlcv` draws daily bars for a
catalog symbol from :class:`~core.feeds.simulator.MarketSimulator` without any network access.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from core.data.tables import SUFFIXES, read_table
from core.errors import DataError

"""File types :func:`load_ohlcv` reads."""
TIME_ALIASES: tuple[str, ...] = ("date", "datetime", "time", "timestamp", "ts")
"""Accepted names of the bar time column (any case)."""
PRICES: tuple[str, ...] = ("Open", "High", "Low", "Close")
"""Required price columns, in output order."""
MAX_PROBLEMS = 5
_UNNAMED = ("", "unnamed: 0", "index")
_TIME_HINT = "use a date such as 2024-01-02 or an ISO 8601 time such as 2024-01-02T14:30:00Z"


def looks_like_path(data: str) -> bool:
    """Whether ``--data`` names a file rather than a symbol.

    Parameters
    ----------
    data : str
        The value given by the user.

    Returns
    -------
    bool
        True for an existing path, a ``.csv``/``.parquet`` name or anything with a path
        separator.
    """
    path = Path(data)
    return (path.exists() or path.suffix.lower() in SUFFIXES or "/" in data or "\\" in data)


def load_ohlcv(path: str | Path) -> pd.DataFrame:
    """Read an OHLCV file into a DataFrame indexed by bar time, oldest first.

    Parameters
    ----------
    path : str or Path
        A ``.csv`` or ``.parquet`` file (any case) with a date column (``Date``, ``Datetime``,
        ``Time``, ``Timestamp`` or an unnamed first column, or a Parquet datetime index) and
        columns ``Open, High, Low, Close`` and optionally ``Volume``, in any case.

    Returns
    -------
    pandas.DataFrame
        Float64 columns ``Open, High, Low, Close`` (and ``Volume`` when present) on a sorted
        DatetimeIndex named ``Date``.

    Raises
    ------
    DataError
        When the file is missing, unreadable, empty or malformed; the message names the file and,
        for cell problems, up to five data rows and columns.
    """
    file = Path(path)
    return parse_ohlcv(read_frame(file), str(file))


def read_frame(path: Path) -> pd.DataFrame:
    """Read ``path`` as a table (see :func:`core.data.tables.read_table`), index as a column."""
    frame = read_table(path, "load")
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    return frame


@dataclass
class _Problems:
    """Cell problems found so far in one file."""

    name: str
    found: list[tuple[int, int, str]] = field(default_factory=list)
    count: int = 0

    def flag(self, mask: np.ndarray, label: str, order: int,
             describe: Callable[[int], str]) -> None:
        rows = np.flatnonzero(mask)
        self.count += len(rows)
        for row in rows[:MAX_PROBLEMS].tolist():
            self.found.append((row, order, f"data row {row + 1}, column {label!r}: "
                                           f"{describe(row)}"))

    def check(self) -> None:
        if not self.count:
            return
        first = [text for _, _, text in sorted(self.found)[:MAX_PROBLEMS]]
        lines = "\n".join(f"  - {text}" for text in first)
        more = self.count - len(first)
        tail = f"\n  ... and {more} more problem{'s' if more > 1 else ''}." if more else ""
        plural = "s" if self.count > 1 else ""
        raise DataError(
            f"Cannot load {self.name}: {self.count} problem{plural} found; fix the file and try "
            f"again (data rows are counted from 1 after the header):\n{lines}{tail}")


def _columns(frame: pd.DataFrame, name: str) -> dict[str, str]:
    """Map ``date`` and lower-case price/volume names to the labels used in the file."""
    columns: dict[str, str] = {}
    for raw in frame.columns:
        key = str(raw).strip().lower()
        if key in columns:
            raise DataError(f"Cannot load {name}: columns {columns[key]!r} and {str(raw)!r} have "
                            "the same name (names are not case-sensitive); keep one.")
        columns[key] = str(raw)
    times = [key for key in TIME_ALIASES if key in columns]
    if len(times) > 1:
        both = " and ".join(repr(columns[key]) for key in times)
        raise DataError(f"Cannot load {name}: it has both {both} as date columns; keep one.")
    first = str(frame.columns[0]).strip().lower() if len(frame.columns) else ""
    if not times and first in _UNNAMED:
        times = [first]
    missing = [p for p in PRICES if p.lower() not in columns]
    if not times or missing:
        need = ["Date"] * (not times) + missing
        have = ", ".join(repr(str(c)) for c in frame.columns) or "none"
        raise DataError(
            f"Cannot load {name}: no column {', '.join(need)}. An OHLCV file needs Date, Open, "
            f"High, Low, Close and optionally Volume (any case); found {have}.")
    columns["date"] = columns.pop(times[0])
    return columns


def _cell(series: pd.Series, row: int) -> str:
    value = series.iloc[row]
    return repr(value.item() if isinstance(value, np.generic) else value)


def _numbers(series: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cells as float64, a mask of empty/NaN cells and a mask of cells that are not numbers."""
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.to_numpy(dtype=float, na_value=np.nan)
        return values, np.isnan(values), np.zeros(len(values), dtype=bool)
    text = series.astype(str).str.strip()
    empty = (series.isna() | (text == "") | (text.str.lower() == "nan")).to_numpy()
    values = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype=float,
                                                                         na_value=np.nan)
    return values, empty, ~empty & np.isnan(values)


def _number_column(frame: pd.DataFrame, label: str, problems: _Problems, *,
                   required: bool) -> np.ndarray:
    """Validate one price (positive) or volume (zero or more) column."""
    series = frame[label]
    order = [str(c) for c in frame.columns].index(label)
    values, empty, bad = _numbers(series)
    if required:
        problems.flag(empty, label, order, lambda _row: "no value (empty or NaN)")
    problems.flag(bad, label, order, lambda row: f"{_cell(series, row)} is not a number")
    ok = ~empty & ~bad
    with np.errstate(invalid="ignore"):
        infinite = ok & ~np.isfinite(values)
        low = ok & ~infinite & ((values <= 0) if required else (values < 0))
    need = "positive" if required else "zero or more"
    problems.flag(infinite, label, order, lambda row: f"{values[row]} is not a finite number")
    problems.flag(low, label, order, lambda row: f"{values[row]:g} is not allowed; it must be "
                                                 f"{need}")
    return np.where(ok & ~infinite & ~low, values, np.nan)


def _parse_times(series: pd.Series) -> pd.DatetimeIndex:
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        return pd.DatetimeIndex(series)
    text = series.astype(str).str.strip()
    try:
        return pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", errors="coerce"))
    except (ValueError, TypeError):  # mixed UTC offsets: put everything in UTC
        return pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True))


def _time_column(frame: pd.DataFrame, label: str, problems: _Problems) -> pd.DatetimeIndex:
    series = frame[label]
    order = [str(c) for c in frame.columns].index(label)
    stamps = _parse_times(series)
    bad = np.asarray(stamps.isna())
    empty = bad & (series.isna() | (series.astype(str).str.strip() == "")).to_numpy()
    problems.flag(empty, label, order, lambda _row: "the date is empty")
    problems.flag(bad & ~empty, label, order,
                  lambda row: f"{_cell(series, row)} is not a date; {_TIME_HINT}")
    return stamps


def _check_rows(stamps: pd.DatetimeIndex, prices: dict[str, np.ndarray], columns: dict[str, str],
                problems: _Problems) -> None:
    """High below Low, and bar times that repeat."""
    with np.errstate(invalid="ignore"):
        crossed = prices["High"] < prices["Low"]
    high = prices["High"]
    problems.flag(crossed, columns["high"], 0,
                  lambda row: f"High {high[row]:g} is below Low {prices['Low'][row]:g}")
    repeated = np.asarray(stamps.duplicated(keep="first")) & ~np.asarray(stamps.isna())
    first = {stamp: row for row, stamp in reversed(list(enumerate(stamps)))}
    problems.flag(repeated, columns["date"], 0,
                  lambda row: f"{stamps[row]} repeats the date of data row "
                              f"{first[stamps[row]] + 1}; keep one bar per time")


def parse_ohlcv(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Validate a table of bars and turn it into a sorted OHLCV DataFrame.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as read (CSV cells as text, or typed Parquet columns).
    name : str
        File name used in error messages.

    Returns
    -------
    pandas.DataFrame
        See :func:`load_ohlcv`.

    Raises
    ------
    DataError
        Naming ``name`` and listing up to five problems, with a count of the rest.
    """
    columns = _columns(frame, name)
    if frame.empty:
        raise DataError(f"Cannot load {name}: the file has a header but no data rows.")
    problems = _Problems(name)
    stamps = _time_column(frame, columns["date"], problems)
    prices = {p: _number_column(frame, columns[p.lower()], problems, required=True)
              for p in PRICES}
    if "volume" in columns:
        prices["Volume"] = _number_column(frame, columns["volume"], problems, required=False)
    _check_rows(stamps, prices, columns, problems)
    problems.check()
    out = pd.DataFrame(prices, index=stamps.rename("Date"))
    return out.sort_index(kind="stable")


def simulated_ohlcv(symbol: str, *, seed: int, market_hours: bool = False, years: int = 10,
                    end: datetime | None = None) -> pd.DataFrame:
    """Daily bars for a simulator catalog symbol, drawn offline.

    Parameters
    ----------
    symbol : str
        A symbol of :data:`core.feeds.simulator.CATALOG` (normalised first, e.g. ``aapl``).
    seed : int
        Simulator seed (``GS_SIM_SEED``); the same seed, symbol and end day give the same bars.
    market_hours : bool
        Equities skip weekends (252 bars a year) instead of trading every day (365).
    years : int
        Length of the history.
    end : datetime, optional
        The bars end before this day; now (UTC) by default.

    Returns
    -------
    pandas.DataFrame
        ``Open, High, Low, Close, Volume`` on a UTC DatetimeIndex named ``Date``.

    Raises
    ------
    InvalidSymbol, UnknownSymbol
        If the symbol is malformed or not in the simulator's catalog (the message lists some).
    """
    from core.feeds.simulator import MarketSimulator, SimulatorConfig
    from core.symbols import normalize_symbol

    market = MarketSimulator(SimulatorConfig(seed=seed, market_hours=market_hours), 0.0)
    symbol = normalize_symbol(symbol)
    spec = market.spec(symbol)
    per_year = 252 if market_hours and not spec.trades_24_7 else 365
    bars = market.history(symbol, "1d", end or datetime.now(UTC), years * per_year)
    index = pd.DatetimeIndex([bar.start for bar in bars], name="Date")
    return pd.DataFrame({"Open": [b.open for b in bars], "High": [b.high for b in bars],
                         "Low": [b.low for b in bars], "Close": [b.close for b in bars],
                         "Volume": [b.volume for b in bars]}, index=index)
