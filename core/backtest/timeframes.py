"""Higher-timeframe bars aligned onto a base timeframe without look-ahead.

Convention: a bar's timestamp is its *open* time (pandas / backtesting.py convention; a daily bar
stamped 2024-01-05 00:00 covers that day) and it closes one *bar length* later, the bar length
being the smallest step between consecutive timestamps (or given). A higher-timeframe bar (a
:meth:`pandas.DataFrame.resample` bin) is *closed* at base bar ``t`` when no later base bar could
still fall into its bin, i.e. when ``t + bar_length`` is past the bin's right edge. At ``t`` the
aligned row is the last non-empty bin closed by then, so it aggregates base bars ``<= t`` only; a
partial, still-forming bin never shows.

Examples: minute bars to ``"h"`` see the 10:00 hour at the 10:59 bar. Daily bars to ``"W-FRI"``
see the week at Friday's bar; to ``"W"`` (weeks ending Sunday) only at the next Monday, since a
weekend bar could still have come.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import DataError, ValidationError

AGGREGATION: dict[str, str] = {
    "open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
"""How each OHLCV column aggregates into a higher-timeframe bar."""


def _ohlcv_columns(bars: pd.DataFrame) -> dict[object, str]:
    columns = {col: AGGREGATION[str(col).strip().lower()] for col in bars.columns
               if str(col).strip().lower() in AGGREGATION}
    if not columns:
        raise DataError("higher_timeframe needs Open, High, Low, Close or Volume columns.")
    return columns


def _bar_length(index: pd.DatetimeIndex, bar_length: str | pd.Timedelta | None) -> pd.Timedelta:
    if bar_length is not None:
        length = pd.Timedelta(bar_length)
    elif len(index) >= 2:
        length = pd.Timedelta(int(np.diff(index.asi8).min()), unit=index.unit)
    else:
        raise DataError("higher_timeframe needs 2 bars to infer the bar length; pass bar_length.")
    if length <= pd.Timedelta(0):
        raise DataError("bar times must be strictly increasing.")
    return length


def higher_timeframe(bars: pd.DataFrame, rule: str,
                     bar_length: str | pd.Timedelta | None = None) -> pd.DataFrame:
    """Resample OHLCV to ``rule`` and align it back onto ``bars.index`` with no look-ahead.

    Parameters
    ----------
    bars : pandas.DataFrame
        Base bars on a strictly increasing DatetimeIndex, stamped at bar open; columns Open,
        High, Low, Close and optionally Volume (any case; other columns are ignored).
    rule : str
        A pandas offset alias coarser than the base bars, e.g. ``"h"``, ``"4h"``, ``"D"``,
        ``"W-FRI"``, ``"ME"``. Bin edges, sides and origin are pandas' defaults for the rule.
    bar_length : str or pandas.Timedelta, optional
        Length of one base bar; default the smallest step between timestamps.

    Returns
    -------
    pandas.DataFrame
        Same index and OHLCV column names as ``bars``: at each base bar the last higher-timeframe
        bar closed at or before it (NaN before the first one closes), plus ``period``, the label
        pandas gives that bin.

    Raises
    ------
    DataError
        On a non-datetime or unsorted index, or no OHLCV column.
    ValidationError
        On a rule pandas cannot parse.
    """
    if not isinstance(bars.index, pd.DatetimeIndex):
        raise DataError("higher_timeframe needs a DatetimeIndex of bar times.")
    if not (bars.index.is_monotonic_increasing and bars.index.is_unique):
        raise DataError("bar times must be strictly increasing.")
    columns = _ohlcv_columns(bars)
    try:
        grouper = pd.Grouper(freq=rule)
        offset = pd.tseries.frequencies.to_offset(rule)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"rule {rule!r} is not a pandas frequency: {exc}") from None
    length = _bar_length(bars.index, bar_length)
    agg = bars[list(columns)].resample(rule).agg(columns)
    counts = bars.iloc[:, 0].resample(rule).count()
    agg = agg[counts.to_numpy() > 0].astype(np.float64)
    labels = agg.index
    right = labels + offset if grouper.label == "left" else labels
    side = "right" if grouper.closed == "left" else "left"
    closes_at = (bars.index + length).as_unit("ns").asi8
    visible = np.searchsorted(right.as_unit("ns").asi8, closes_at, side=side) - 1
    out = agg.iloc[np.clip(visible, 0, None)].set_axis(bars.index)
    out.loc[visible < 0, :] = np.nan
    out["period"] = pd.Series(labels[np.clip(visible, 0, None)], index=bars.index).where(
        visible >= 0)
    return out
