"""OHLCV input for the backtest: validation and conversion to contiguous float64 arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import DataError

PRICE_COLUMNS: tuple[str, ...] = ("Open", "High", "Low", "Close")


@dataclass(frozen=True, eq=False)
class Bars:
    """Validated bars as arrays, the form strategies and the engine work on.

    Attributes
    ----------
    index : pandas.DatetimeIndex
        Bar times, strictly increasing.
    open, high, low, close : numpy.ndarray
        Float64 prices, finite and positive, ``low <= high``.
    volume : numpy.ndarray or None
        Float64 volume when the input had a Volume column.
    """

    index: pd.DatetimeIndex
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray | None = None

    def __len__(self) -> int:
        """Number of bars."""
        return self.close.shape[0]


def _column_map(data: pd.DataFrame) -> dict[str, object]:
    found: dict[str, object] = {}
    for col in data.columns:
        key = str(col).strip().lower()
        if key in found:
            raise DataError(f"the data has two columns named {key!r} (ignoring case); keep one.")
        found[key] = col
    missing = [name for name in PRICE_COLUMNS if name.lower() not in found]
    if missing:
        have = ", ".join(str(c) for c in data.columns) or "none"
        raise DataError(
            f"the data needs columns Open, High, Low and Close (any case); missing "
            f"{', '.join(missing)} (columns present: {have}).")
    return found


def _check_index(index: pd.Index) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            f"the data needs a DatetimeIndex of bar times (got {type(index).__name__}); "
            "parse the date column and set it as the index.")
    if index.hasnans:
        row = int(np.flatnonzero(index.isna())[0])
        raise DataError(f"row {row} has no timestamp (NaT); drop or fix it.")
    if not (index.is_monotonic_increasing and index.is_unique):
        stamps = index.asi8
        row = int(np.flatnonzero(stamps[1:] <= stamps[:-1])[0]) + 1
        what = "repeats" if stamps[row] == stamps[row - 1] else "comes before"
        raise DataError(
            f"bar times must be strictly increasing: row {row} ({index[row]}) {what} the row "
            "above it; sort the data and drop duplicate times.")
    return index


def _prices(data: pd.DataFrame, column: object, name: str) -> np.ndarray:
    try:
        return np.ascontiguousarray(data[column].to_numpy(dtype=np.float64))
    except (TypeError, ValueError):
        raise DataError(f"column {name} must hold numbers.") from None


def _first_bad_row(index: pd.DatetimeIndex, arrays: dict[str, np.ndarray]) -> None:
    for name, arr in arrays.items():
        bad = ~(np.isfinite(arr) & (arr > 0.0))
        if bad.any():
            row = int(np.argmax(bad))
            value = float(arr[row])
            problem = "is missing (NaN)" if np.isnan(value) else f"is {value!r}; prices must be " \
                "finite and positive"
            raise DataError(f"row {row} ({index[row]}): {name} {problem}.")
    bad = arrays["High"] < arrays["Low"]
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(
            f"row {row} ({index[row]}): High {float(arrays['High'][row])!r} is below "
            f"Low {float(arrays['Low'][row])!r}.")


def prepare_bars(data: pd.DataFrame | Bars) -> Bars:
    """Validate an OHLCV DataFrame and return its arrays.

    Parameters
    ----------
    data : pandas.DataFrame or Bars
        Columns Open, High, Low, Close (any case) and optionally Volume, indexed by a strictly
        increasing DatetimeIndex (tz-aware or naive; kept as given). ``Bars`` pass through.

    Returns
    -------
    Bars
        The validated arrays.

    Raises
    ------
    DataError
        On missing columns, a non-datetime, unsorted or duplicated index, or a price that is
        missing, not finite, not positive, or a High below its Low; the message names the first
        bad row.
    """
    if isinstance(data, Bars):
        return data
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"the data must be a pandas DataFrame (got {type(data).__name__}).")
    if len(data) < 2:
        raise DataError(f"the data needs at least 2 bars (got {len(data)}).")
    columns = _column_map(data)
    index = _check_index(data.index)
    arrays = {name: _prices(data, columns[name.lower()], name) for name in PRICE_COLUMNS}
    _first_bad_row(index, arrays)
    volume = _prices(data, columns["volume"], "Volume") if "volume" in columns else None
    return Bars(index=index, open=arrays["Open"], high=arrays["High"], low=arrays["Low"],
                close=arrays["Close"], volume=volume)
