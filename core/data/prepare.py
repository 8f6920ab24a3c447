"""Before a backtest: pick the data's calendar, fill its gaps by a policy, and score it.

:func:`prepare_history` is what the Backtest Lab (and any page that runs on history) calls between
loading bars and using them: it finds the gaps against the trading calendar, applies the chosen
fill policy (every filled bar is marked), and validates the result, so the page can show the
quality score next to the run and store it with the run's config.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.data.calendars import CRYPTO_CALENDAR, calendar_name
from core.data.frames import FILLED
from core.data.gaps import Gap, fill_gaps, find_gaps
from core.data.validate import QualityReport, validate
from core.errors import DataError

POLICY_LABELS: dict[str, str] = {
    "leave": "Leave gaps and flag them",
    "ffill": "Forward fill (flat bars, no volume)",
    "next_source": "Fill from the next source",
}
"""Fill policies as a form offers them."""
_WEEKEND_SHARE = 2 / 7 * 0.6  # as core.backtest.conventions: data that trades 7 days a week


@dataclass(frozen=True)
class Prepared:
    """Bars ready for a run, and what was done to them.

    Attributes
    ----------
    frame : pandas.DataFrame
        Canonical bars with a ``Filled`` column (True for bars the policy added).
    calendar : str
        The trading calendar the gaps were measured against ("" when daily bars are not dated
        by session, so no calendar applies).
    policy : str
        The fill policy applied.
    filled : int
        Number of bars added.
    gaps_left : list of Gap
        Gaps still open after filling.
    report : QualityReport
        Validation of the prepared bars (filled bars included, so a filled gap no longer counts
        as a gap).
    """

    frame: pd.DataFrame
    calendar: str
    policy: str
    filled: int
    gaps_left: list[Gap]
    report: QualityReport


def data_calendar(frame: pd.DataFrame, symbol: str | None) -> str:
    """The calendar to measure ``frame`` against.

    Bars on weekends (more than 60 % of the share a 7-day market would have, the test of
    :mod:`core.backtest.conventions`) mean a market that trades every day (crypto, or the
    simulator without market hours); otherwise the symbol's exchange (New York for an unknown
    file).
    """
    if len(frame):
        weekend = float((frame.index.dayofweek >= 5).mean())
        if weekend > _WEEKEND_SHARE:
            return CRYPTO_CALENDAR
    return calendar_name(symbol) if symbol else calendar_name("SPY")


def prepare_history(frame: pd.DataFrame, symbol: str | None, interval: str = "1d",
                    policy: str = "leave", next_source: pd.DataFrame | None = None) -> Prepared:
    """Fill ``frame``'s calendar gaps by ``policy`` and validate the result.

    Parameters
    ----------
    frame : pandas.DataFrame
        Canonical bars (:mod:`core.data.frames`), at least one.
    symbol : str, optional
        The symbol (picks the exchange calendar); None for a file.
    interval : str
        The bars' interval.
    policy : str
        ``leave``, ``ffill`` or ``next_source`` (:data:`POLICY_LABELS`).
    next_source : pandas.DataFrame, optional
        The next source's bars for the same range, for ``next_source``.

    Returns
    -------
    Prepared
        The filled frame, its gaps and its quality report.

    Raises
    ------
    ValidationError
        An unknown policy, or ``next_source`` without a frame.
    DataError
        No bars, or a fill policy on daily bars that are not dated by session.
    """
    if not len(frame):
        raise DataError("There are no bars to prepare.")
    if interval == "1d" and not (frame.index == frame.index.normalize()).all():
        # daily bars stamped at another hour (e.g. New York midnight) cannot be matched with
        # session dates: score them without a calendar and refuse to invent bars
        if policy != "leave":
            raise DataError("Filling gaps needs daily bars dated by session (00:00 UTC); these "
                            "are stamped at other times of day. Choose 'Leave gaps and flag "
                            "them'.")
        report = validate(frame)
        out = frame.copy()
        out[FILLED] = False
        return Prepared(out, "", policy, 0, [], report)
    calendar = data_calendar(frame, symbol)
    gaps = find_gaps(frame, calendar, interval, start=frame.index[0], end=frame.index[-1])
    result = fill_gaps(frame, gaps, policy, next_source=next_source)
    filled = int(result.frame[FILLED].sum())
    report = validate(result.frame, calendar=calendar, interval=interval)
    return Prepared(result.frame, calendar, policy, filled, result.gaps, report)
