"""Calendar-aware gaps in a canonical OHLCV frame, and the policies that fill them.

A *gap* is a run of consecutive bars the trading calendar expects (see
:func:`core.data.calendars.expected_index`) that the frame lacks: a weekend or a holiday is
not a gap, a missing session is. Bars the calendar does not expect (a bar on a holiday) are
*unexpected* and reported separately by :func:`find_unexpected`.

Fill policies (:data:`POLICIES`):

- ``leave``: nothing is filled; the gaps are only reported;
- ``ffill``: each missing bar becomes Open=High=Low=Close=the previous close, Volume 0 (a gap
  before the first observed bar stays missing);
- ``next_source``: missing bars are taken from a second canonical frame (the next source in
  the symbol's list); bars that source lacks stay missing.

Every frame returned by :func:`fill_gaps` has the boolean ``Filled`` column: True for filled
bars, False for observed ones (a ``Filled`` column already present is kept).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import exchange_calendars as xc
import numpy as np
import pandas as pd

from core.data.calendars import Anchor, TimeLike, expected_index
from core.data.frames import FILLED, OHLCV, canonical
from core.errors import ValidationError

POLICIES: tuple[str, ...] = ("leave", "ffill", "next_source")
"""Names of the fill policies."""


@dataclass(frozen=True)
class Gap:
    """A run of consecutive expected bars missing from a frame.

    Attributes
    ----------
    start, end
        Start times of the first and the last missing bar (``end`` is included).
    missing
        Number of missing bars.
    bars
        Start times of the missing bars (``missing`` of them); not part of equality.
    """

    start: pd.Timestamp
    end: pd.Timestamp
    missing: int
    bars: pd.DatetimeIndex = field(compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.missing != len(self.bars) or self.missing < 1:
            raise ValidationError(
                f"A gap needs at least one bar and one start time per missing bar, not "
                f"{self.missing} bar(s) and {len(self.bars)} start time(s).")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ISO start and end, number of missing bars."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(),
                "missing": self.missing}


class FillResult(NamedTuple):
    """What :func:`fill_gaps` returns: the frame and the gaps still open."""

    frame: pd.DataFrame
    """The frame with a ``Filled`` column, filled bars included, sorted by time."""
    gaps: list[Gap]
    """Gaps that the policy left open (all of them for ``leave``)."""


def find_gaps(frame: pd.DataFrame, symbol_or_calendar: str | xc.ExchangeCalendar, interval: str,
              *, start: TimeLike | None = None, end: TimeLike | None = None,
              anchor: Anchor = "open") -> list[Gap]:
    """Runs of expected bars missing from ``frame``, in time order.

    Parameters
    ----------
    frame
        A canonical OHLCV frame (daily bars keyed at 00:00 UTC of the session date).
    symbol_or_calendar
        A symbol, a calendar name or a calendar (see :mod:`core.data.calendars`).
    interval
        The frame's interval, one of :data:`core.data.frames.INTERVALS`.
    start, end
        The range to check; by default the frame's first and last bar, so that a gap is always
        between two observed bars. Give the requested range to also find missing leading or
        trailing bars.
    anchor
        Intraday bar alignment, as in :func:`core.data.calendars.expected_index`.

    Returns
    -------
    list of Gap
        Empty when nothing is missing (or the frame is empty and no range is given).
    """
    expected = _expected_for(frame, symbol_or_calendar, interval, start, end, anchor)
    return runs_of(expected, ~expected.isin(frame.index))


def find_unexpected(frame: pd.DataFrame, symbol_or_calendar: str | xc.ExchangeCalendar,
                    interval: str, *, anchor: Anchor = "open") -> pd.DatetimeIndex:
    """Bars of ``frame`` that the calendar does not expect (a bar on a holiday or off-hours).

    Returns
    -------
    pandas.DatetimeIndex
        The unexpected bars' start times, in frame order.
    """
    expected = _expected_for(frame, symbol_or_calendar, interval, None, None, anchor)
    return frame.index[~frame.index.isin(expected)]


def runs_of(expected: pd.DatetimeIndex, missing: np.ndarray | pd.Series) -> list[Gap]:
    """Group the ``missing`` positions of ``expected`` into runs of consecutive bars."""
    mask = np.asarray(missing, dtype=bool)
    if not mask.any():
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    firsts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    gaps = []
    for first, stop in zip(firsts, stops, strict=True):
        bars = expected[first:stop]
        gaps.append(Gap(bars[0], bars[-1], len(bars), bars))
    return gaps


def fill_gaps(frame: pd.DataFrame, gaps_or_expected: Sequence[Gap] | pd.DatetimeIndex,
              policy: str = "leave", next_source: pd.DataFrame | None = None) -> FillResult:
    """Fill the missing bars of ``frame`` with ``policy``.

    Parameters
    ----------
    frame
        A canonical OHLCV frame.
    gaps_or_expected
        The gaps from :func:`find_gaps`, or the expected bar start times (from
        :func:`core.data.calendars.expected_index`), whose absent members are the missing bars.
    policy
        ``leave``, ``ffill`` or ``next_source`` (see the module docstring).
    next_source
        The canonical frame to take missing bars from; required by ``next_source``.

    Returns
    -------
    FillResult
        The frame with its ``Filled`` column, and the gaps still open.

    Raises
    ------
    ValidationError
        For an unknown policy, or ``next_source`` without a frame.
    """
    if policy not in POLICIES:
        raise ValidationError(f"Unknown fill policy '{policy}'. Choose one of "
                              f"{', '.join(POLICIES)}.")
    if policy == "next_source" and next_source is None:
        raise ValidationError("The 'next_source' policy needs the next source's frame.")
    out = frame.copy()
    out[FILLED] = frame[FILLED].astype(bool) if FILLED in frame.columns else False
    missing = _missing_bars(frame, gaps_or_expected)
    if policy == "ffill":
        added = _forward_filled(frame, missing)
    elif policy == "next_source":
        added = _from_source(canonical(next_source), missing)
    else:
        added = out.iloc[:0]
    if len(added):
        out = pd.concat([out, added]).sort_index(kind="stable")
    return FillResult(out, _still_open(out.index, gaps_or_expected))


def _expected_for(frame: pd.DataFrame, calendar: str | xc.ExchangeCalendar, interval: str,
                  start: TimeLike | None, end: TimeLike | None,
                  anchor: Anchor) -> pd.DatetimeIndex:
    if len(frame.index) == 0 and (start is None or end is None):
        return pd.DatetimeIndex([], tz="UTC", name="Date")
    lo = frame.index.min() if start is None else start
    hi = frame.index.max() if end is None else end
    return expected_index(calendar, lo, hi, interval, anchor=anchor)


def _missing_bars(frame: pd.DataFrame,
                  gaps_or_expected: Sequence[Gap] | pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Sorted start times of the wanted bars that ``frame`` lacks."""
    if isinstance(gaps_or_expected, pd.DatetimeIndex):
        wanted = gaps_or_expected
    else:
        parts = [gap.bars for gap in gaps_or_expected]
        wanted = parts[0].append(parts[1:]) if parts else pd.DatetimeIndex([], tz="UTC")
    wanted = wanted[~wanted.isin(frame.index)]
    return wanted.unique().sort_values().rename("Date")


def _forward_filled(frame: pd.DataFrame, missing: pd.DatetimeIndex) -> pd.DataFrame:
    """Flat bars at the previous known close, volume 0; bars with no earlier close are skipped."""
    ordered = frame.sort_index(kind="stable")
    closes = ordered["Close"].ffill().to_numpy()
    positions = ordered.index.searchsorted(missing, side="left") - 1
    known = positions >= 0
    price = np.full(len(missing), np.nan)
    price[known] = closes[positions[known]]
    keep = ~np.isnan(price)
    added = pd.DataFrame({name: price[keep] for name in OHLCV[:4]}, index=missing[keep])
    added["Volume"] = 0.0
    added[FILLED] = True
    return added


def _from_source(source: pd.DataFrame, missing: pd.DatetimeIndex) -> pd.DataFrame:
    """The rows of ``source`` at the missing times that have all four prices."""
    rows = source.loc[source.index.isin(missing), list(OHLCV)]
    rows = rows[rows[list(OHLCV[:4])].notna().all(axis=1)]
    rows = rows[~rows.index.duplicated(keep="first")].copy()
    rows[FILLED] = True
    return rows


def _still_open(present: pd.DatetimeIndex,
                gaps_or_expected: Sequence[Gap] | pd.DatetimeIndex) -> list[Gap]:
    """Runs of wanted bars still absent from ``present``."""
    if isinstance(gaps_or_expected, pd.DatetimeIndex):
        return runs_of(gaps_or_expected, ~gaps_or_expected.isin(present))
    return [rest for gap in gaps_or_expected for rest in runs_of(gap.bars,
                                                                 ~gap.bars.isin(present))]
