"""Trading calendars: which bars a symbol should have between two instants.

Calendars come from :mod:`exchange_calendars`. A symbol maps to a calendar by its asset class
(:func:`core.symbols.asset_class`): crypto pairs trade around the clock (``24/7``), everything
else defaults to the New York Stock Exchange (``XNYS``: US holidays, and half days that close at
13:00 ET). A canonical calendar name (``XNYS``, ``XLON``, ``24/7``...) or an
:class:`exchange_calendars.ExchangeCalendar` may be given instead of a symbol.

Bars are keyed the way canonical frames are (:mod:`core.data.frames`):

- daily bars by their session date at 00:00 UTC;
- intraday bars by their UTC start; bars start at the session open (``anchor="open"``, the
  layout of Yahoo's hourly bars: 09:30, 10:30... ET) or on UTC multiples of the interval
  (``anchor="clock"``: 09:00, 10:00... ET for hourly bars of vendors that bucket by the clock),
  and run while they start before the close (the last bar of a session may be short, e.g.
  12:30-13:00 ET on a half day).
"""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Literal

import exchange_calendars as xc
import numpy as np
import pandas as pd

from core.data.frames import check_interval
from core.errors import ValidationError
from core.symbols import asset_class

CRYPTO_CALENDAR = "24/7"
"""Calendar of crypto pairs."""
EQUITY_CALENDAR = "XNYS"
"""Calendar of every non-crypto symbol unless a calendar is named."""
Anchor = Literal["open", "clock"]
TimeLike = str | date | datetime | pd.Timestamp


def calendar_name(symbol_or_calendar: str) -> str:
    """The exchange_calendars name for a symbol or calendar name.

    A canonical calendar name (not an alias such as ``NYSE``, which could be a ticker) is
    returned as is; a crypto symbol gives :data:`CRYPTO_CALENDAR`; any other symbol
    :data:`EQUITY_CALENDAR`.
    """
    if symbol_or_calendar in _calendar_names():
        return symbol_or_calendar
    if asset_class(symbol_or_calendar.strip().upper()) == "crypto":
        return CRYPTO_CALENDAR
    return EQUITY_CALENDAR


def get_calendar(symbol_or_calendar: str | xc.ExchangeCalendar, start: TimeLike,
                 end: TimeLike) -> xc.ExchangeCalendar:
    """The calendar of ``symbol_or_calendar`` covering the years from ``start`` to ``end``.

    Calendars are built once per (name, first year, last year) and cached. A calendar instance
    is returned unchanged when it covers the range.

    Raises
    ------
    ValidationError
        If ``end`` precedes ``start``, or a given calendar instance does not cover the range.
    """
    lo, hi = _utc(start), _utc(end)
    if hi < lo:
        raise ValidationError(f"The range ends ({hi}) before it starts ({lo}).")
    if isinstance(symbol_or_calendar, xc.ExchangeCalendar):
        cal = symbol_or_calendar
        first, last = cal.first_session.tz_localize("UTC"), cal.last_session.tz_localize("UTC")
        if lo.normalize() < first or hi.normalize() > last:
            raise ValidationError(
                f"Calendar {cal.name} covers {first.date()} to {last.date()}, not {lo.date()} to "
                f"{hi.date()}; build it with a wider start and end.")
        return cal
    return _cached_calendar(calendar_name(symbol_or_calendar), lo.year - 1, hi.year + 1)


def expected_index(symbol_or_calendar: str | xc.ExchangeCalendar, start: TimeLike,
                   end: TimeLike, interval: str, *, anchor: Anchor = "open") -> pd.DatetimeIndex:
    """Start times of every bar the calendar expects between ``start`` and ``end``.

    Parameters
    ----------
    symbol_or_calendar
        A symbol (``AAPL``, ``BTCUSDT``), a calendar name (``XNYS``, ``24/7``) or a calendar.
    start, end
        The range; naive values are UTC. Daily bars: sessions whose date lies from ``start``'s
        date to ``end``'s date. Intraday bars: bars starting from ``start`` to ``end``, both
        included.
    interval
        One of :data:`core.data.frames.INTERVALS`.
    anchor
        ``"open"`` (bars start at the session open) or ``"clock"`` (on UTC multiples of the
        interval); intraday only.

    Returns
    -------
    pandas.DatetimeIndex
        Increasing, tz-aware UTC, named ``Date``.

    Raises
    ------
    ValidationError
        For an unknown interval or anchor, or ``end`` before ``start``.
    """
    period = check_interval(interval)
    if anchor not in ("open", "clock"):
        raise ValidationError(f"Unknown anchor '{anchor}'. Choose 'open' or 'clock'.")
    lo, hi = _utc(start), _utc(end)
    cal = get_calendar(symbol_or_calendar, lo, hi)
    if interval == "1d":
        days = cal.sessions_in_range(*_clip_days(cal, lo.normalize(), hi.normalize()))
        return _named(days.tz_localize("UTC"))
    schedule = cal.schedule.loc[slice(*_clip_days(cal, lo.normalize() - pd.Timedelta(days=1),
                                                  hi.normalize() + pd.Timedelta(days=1)))]
    starts, ends = _segments(schedule)
    if anchor == "clock":
        starts = starts.floor(period)
    stamps = _bar_starts(starts, ends, period)
    return _named(stamps[(stamps >= lo) & (stamps <= hi)])


def _bar_starts(starts: pd.DatetimeIndex, ends: pd.DatetimeIndex,
                period: pd.Timedelta) -> pd.DatetimeIndex:
    """Every ``period`` step from each start while it is before the matching end."""
    counts = np.ceil((ends - starts) / period).astype("int64")
    counts = np.clip(np.asarray(counts), 0, None)
    steps = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    origins = np.repeat(starts.as_unit("ns").asi8, counts)
    return pd.DatetimeIndex(origins + steps * period.value, tz="UTC").as_unit("ns")


def _segments(schedule: pd.DataFrame) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex]:
    """Trading stretches of the sessions (UTC): open-close, or open-break and break-close."""
    has_break = schedule["break_start"].notna()
    starts = pd.concat([schedule["open"], schedule.loc[has_break, "break_end"]])
    ends = pd.concat([schedule["close"].where(~has_break, schedule["break_start"]),
                      schedule.loc[has_break, "close"]])
    order = np.argsort(starts.to_numpy(), kind="stable")
    return pd.DatetimeIndex(starts.iloc[order]), pd.DatetimeIndex(ends.iloc[order])


def _clip_days(cal: xc.ExchangeCalendar, lo: pd.Timestamp,
               hi: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``lo`` and ``hi`` as naive session labels, clipped to the calendar's sessions."""
    lo_n, hi_n = lo.tz_localize(None), hi.tz_localize(None)
    return max(lo_n, cal.first_session), min(hi_n, cal.last_session)


def _named(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(index, freq=None).rename("Date")


def _utc(value: TimeLike) -> pd.Timestamp:
    """``value`` as a tz-aware UTC Timestamp (naive values are taken as UTC)."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ValidationError(f"'{value}' is not a date or time.") from None
    if stamp is pd.NaT:
        raise ValidationError("A range bound is missing (NaT).")
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


@functools.cache
def _calendar_names() -> frozenset[str]:
    return frozenset(xc.get_calendar_names(include_aliases=False))


@functools.lru_cache(maxsize=32)
def _cached_calendar(name: str, first_year: int, last_year: int) -> xc.ExchangeCalendar:
    """Calendar ``name`` from Jan 1 of ``first_year`` to Dec 31 of ``last_year`` (within bounds)."""
    factory = type(xc.get_calendar(name))
    start, end = pd.Timestamp(f"{first_year}-01-01"), pd.Timestamp(f"{last_year}-12-31")
    bound_min, bound_max = factory.bound_min(), factory.bound_max()
    if bound_min is not None:
        start = max(start, bound_min)
    if bound_max is not None:
        end = min(end, bound_max)
    return xc.get_calendar(name, start=start, end=end)
