"""The one protocol every history downloader implements, its errors and shared frame helpers.

A history source turns ``(symbol, start, end, interval)`` into a canonical OHLCV frame
(:mod:`core.data.frames`): bars whose *start* lies in ``[start, end)``, sorted, float64, on a UTC
index named ``Date``. Each source is one small class in one file (``binance.py``, ``polygon.py``,
``alpaca.py``, ``yahoo.py``, ``simulator.py``); :mod:`core.data.sources.registry` builds the
configured ones and orders them per symbol.

Errors tell the caller what to do next:

- :class:`SourceUnavailable` (a :class:`~core.errors.FeedError`): the network failed, the venue
  rate-limited us, answered 5xx, or its circuit breaker is open. Try the next source.
- :class:`SymbolNotFound` (a :class:`~core.errors.DataError`): the source answered that it has no
  such symbol. The message names the symbol and the source.
- :class:`CredentialsRejected` (a :class:`~core.errors.DataError`): the venue refused the API key.
  The message names the setting to fix and never the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from core.data.frames import OHLCV, canonical, check_interval, empty_ohlcv
from core.errors import DataError, FeedError

NEW_YORK = "America/New_York"
LABELS = {"binance": "Binance", "polygon": "Polygon/Massive", "alpaca": "Alpaca",
          "yahoo": "Yahoo", "simulator": "Simulator"}
"""How messages name each source."""


class SourceUnavailable(FeedError):
    """A history source could not answer now (network, rate limit, 5xx, breaker open).

    Parameters
    ----------
    source
        The source's name (``binance``...).
    reason
        What went wrong, for a person; never holds a secret.
    """

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{LABELS.get(source, source)} unavailable: {reason}")
        self.source = source
        self.reason = reason


class SymbolNotFound(DataError):
    """The source answered that it does not know the symbol."""


class CredentialsRejected(DataError):
    """The source refused our API key (wrong, expired or missing); the key is never shown."""


@runtime_checkable
class HistorySource(Protocol):
    """A downloader of past bars from one venue.

    Attributes
    ----------
    name
        Registry name: ``simulator``, ``yahoo``, ``binance``, ``polygon`` or ``alpaca``.
    """

    name: str

    def supports(self, symbol: str, interval: str) -> bool:
        """Whether this source can serve ``symbol`` at ``interval`` (no network call)."""

    def fetch(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp,
              interval: str) -> pd.DataFrame:
        """The canonical frame of ``symbol``'s bars that start in ``[start, end)``.

        Parameters
        ----------
        symbol
            A symbol in our form (:func:`core.symbols.normalize_symbol`).
        start, end
            The window; naive times are taken as UTC.
        interval
            One of :data:`core.data.frames.INTERVALS`.

        Returns
        -------
        pandas.DataFrame
            Canonical OHLCV, possibly empty when the source truly has no bars in the window.

        Raises
        ------
        SymbolNotFound, CredentialsRejected
            (Both :class:`~core.errors.DataError`.) The source does not know the symbol, or
            refused the credentials.
        SourceUnavailable
            The source cannot answer now; the caller moves on to the next source.
        ValidationError
            For an unknown interval.
        """


def utc(ts: object) -> pd.Timestamp:
    """``ts`` as a tz-aware UTC Timestamp; a naive time is taken as UTC."""
    stamp = pd.Timestamp(ts)  # type: ignore[arg-type]
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def window(start: object, end: object, interval: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Validated ``(start, end)`` in UTC; raises ValidationError for an unknown interval."""
    check_interval(interval)
    return utc(start), utc(end)


def to_ms(ts: pd.Timestamp) -> int:
    """Epoch milliseconds of a tz-aware timestamp (rounded down)."""
    return int(ts.value // 1_000_000)


def session_dates(index: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Daily bar stamps moved to 00:00 UTC of their New York session date.

    US venues stamp a day bar at midnight New York time (04:00 or 05:00 UTC); Yahoo, Binance and
    the simulator stamp it at UTC midnight, so this makes every source line up. Stamps already at
    UTC midnight are kept as they are.
    """
    index = index.tz_convert("UTC")
    at_midnight = index == index.normalize()
    local = index.tz_convert(NEW_YORK).normalize().tz_localize(None).tz_localize("UTC")
    return pd.DatetimeIndex(np.where(at_midnight, index, local), tz="UTC")


def bars_frame(stamps: pd.DatetimeIndex, columns: dict[str, Sequence[object]]) -> pd.DataFrame:
    """A canonical frame from bar start stamps and ``Open..Volume`` value lists (text or numbers).

    Duplicate stamps keep the last bar. Raises DataError when a value is not a number.
    """
    if len(stamps) == 0:
        return empty_ohlcv()
    try:
        data = {name: np.asarray(columns[name], dtype="float64") for name in OHLCV}
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"malformed bar values: {exc}") from None
    frame = pd.DataFrame(data, index=pd.DatetimeIndex(stamps).as_unit("ns"))
    frame = frame[~frame.index.duplicated(keep="last")]
    return canonical(frame)


def clip(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Canonical ``frame`` restricted to bars that start in ``[start, end)``."""
    if frame.empty:
        return empty_ohlcv()
    out = canonical(frame)
    out.index = out.index.as_unit("ns")
    out = out[~out.index.duplicated(keep="last")]
    return out[(out.index >= start) & (out.index < end)]
