"""The one shape of historical bars inside core/data: the canonical OHLCV frame.

Every loader, cache tier, validator and gap filler takes and returns this shape, so pieces can be
chained without conversions:

- columns exactly :data:`OHLCV` (``Open, High, Low, Close, Volume``; backtesting.py's and
  yfinance's layout), float64;
- a tz-aware UTC :class:`pandas.DatetimeIndex` (nanosecond unit) named ``Date`` holding each
  bar's *start*, increasing;
- optionally a boolean ``Filled`` column added by gap filling (True for a bar that was not
  observed but filled in); loaders never add it.

Intervals are the names of :data:`INTERVALS` (a subset of :data:`core.timeframes.TIMEFRAMES`
that history sources serve).
"""

from __future__ import annotations

import pandas as pd

from core.errors import ValidationError

OHLCV: tuple[str, ...] = ("Open", "High", "Low", "Close", "Volume")
"""Column order of a canonical frame."""
FILLED = "Filled"
"""Name of the optional marker column of filled bars."""
INTERVALS: dict[str, pd.Timedelta] = {
    "1m": pd.Timedelta(minutes=1),
    "5m": pd.Timedelta(minutes=5),
    "15m": pd.Timedelta(minutes=15),
    "1h": pd.Timedelta(hours=1),
    "1d": pd.Timedelta(days=1),
}
"""History intervals and their bar lengths."""


def check_interval(interval: str) -> pd.Timedelta:
    """The bar length of ``interval``; ValidationError naming the choices when unknown."""
    try:
        return INTERVALS[interval]
    except KeyError:
        raise ValidationError(
            f"Unknown interval '{interval}'. Choose one of {', '.join(INTERVALS)}.") from None


def empty_ohlcv() -> pd.DataFrame:
    """A canonical frame with no rows."""
    index = pd.DatetimeIndex([], tz="UTC", name="Date").as_unit("ns")
    return pd.DataFrame({name: pd.Series(dtype="float64") for name in OHLCV}, index=index)


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` in canonical shape: OHLCV columns (any case) as float64, UTC index, sorted.

    A naive index is taken as UTC. Extra columns other than :data:`FILLED` are dropped. Does not
    validate the values (see :mod:`core.data.validate`).

    Raises
    ------
    ValidationError
        If a price column is missing or the index is not a DatetimeIndex.
    """
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValidationError("history needs a DatetimeIndex of bar start times")
    by_lower = {str(c).lower(): c for c in frame.columns}
    missing = [name for name in OHLCV[:4] if name.lower() not in by_lower]
    if missing:
        raise ValidationError(f"history lacks column(s) {', '.join(missing)}")
    out = pd.DataFrame(index=frame.index)
    for name in OHLCV:
        source = by_lower.get(name.lower())
        out[name] = frame[source].astype("float64") if source is not None else 0.0
    if FILLED in frame.columns:
        out[FILLED] = frame[FILLED].astype(bool)
    index = out.index.tz_localize("UTC") if out.index.tz is None else out.index.tz_convert("UTC")
    out.index = index.as_unit("ns").rename("Date")
    return out.sort_index()
