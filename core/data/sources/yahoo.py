"""Yahoo Finance history through the existing Yahoo client (:mod:`core.feeds.yahoo.client`).

The client's ``history_frame`` does the yfinance calls, the logging capture and the error
summaries; this adapter only fits it to :class:`~core.data.sources.base.HistorySource`:

- 1m bars are asked for in pieces of at most 7 days (Yahoo refuses more in one request), and
  intraday windows are cut to what Yahoo keeps (1m: 30 days, 5m/15m: 60 days, 1h: 730 days); a
  window entirely older than that makes the source unavailable, so the caller moves on.
- Errors: offline, yfinance returns an empty frame and the client raises
  ``YahooUnavailable(reason)``. A reason that names a network cause, a rate limit (HTTP 429), an
  HTTP status or anything unrecognised becomes :class:`SourceUnavailable`. A symbol Yahoo has
  answered for as unknown (``no timezone found``: every listed ticker has one; ``symbol may be
  delisted``; ``Not Found``) or a malformed symbol becomes :class:`SymbolNotFound`. ``no price
  data found`` for a known ticker (a weekend, a holiday) is an empty window: an empty frame.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

import pandas as pd

from core.data.frames import INTERVALS, empty_ohlcv
from core.data.sources.base import SourceUnavailable, SymbolNotFound, clip, window
from core.errors import DataError, FeedError, InvalidSymbol, UnknownSymbol
from core.feeds.yahoo.parsing import INTRADAY_RETENTION, MAX_SPAN, to_yahoo
from core.symbols import asset_class

_NETWORK = ("cannot resolve", "no answer from", "connection refused", "cannot connect",
            "must not reach the network", "timed out", "timeout", "connection", "ssl", "proxy",
            "status_code", "rate limit", "too many requests")
_BAD_SYMBOL = ("no timezone found", "symbol may be delisted", "not found")
_EMPTY_WINDOW = "no price data found"
_MARGIN = pd.Timedelta(hours=1)


class YahooClient(Protocol):
    """What the adapter needs of :class:`core.feeds.yahoo.client.YahooSource`."""

    def history_frame(self, symbol: str, interval: str = "1d", period: str | None = None,
                      start: Any = None, end: Any = None, adjust: bool = False) -> pd.DataFrame:
        """Bars as a clean OHLCV frame, never empty; raises FeedError or DataError."""


def classify(symbol: str, exc: Exception) -> Exception | None:
    """The protocol's error for a Yahoo client failure; None for an empty window."""
    reason = str(getattr(exc, "reason", None) or exc)
    lowered = reason.lower()
    if isinstance(exc, InvalidSymbol | UnknownSymbol):
        return SymbolNotFound(f"Yahoo cannot be asked for '{symbol}': {exc}")
    if any(hint in lowered for hint in _NETWORK) or type(exc).__name__ == "YahooRateLimited":
        return SourceUnavailable("yahoo", reason)
    if any(hint in lowered for hint in _BAD_SYMBOL):
        return SymbolNotFound(f"Yahoo does not know the symbol '{symbol}' ({reason}).")
    if _EMPTY_WINDOW in lowered:
        return None
    return SourceUnavailable("yahoo", reason)


class YahooHistory:
    """Yahoo bars of equities, ETFs, indices and dollar crypto pairs.

    Parameters
    ----------
    client
        A :class:`~core.feeds.yahoo.client.YahooSource` (or any object with its
        ``history_frame``); its own rate limiting applies, none is added here.
    clock
        Epoch-seconds wall clock, to cut intraday windows to what Yahoo keeps.
    """

    name = "yahoo"

    def __init__(self, client: YahooClient, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self._clock = clock

    def supports(self, symbol: str, interval: str) -> bool:
        """Every interval; any symbol but OCC options (their history is not in the chart API)."""
        return interval in INTERVALS and asset_class(symbol) != "option"

    def fetch(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp,
              interval: str) -> pd.DataFrame:
        """Bars of ``symbol`` starting in ``[start, end)``; see :class:`HistorySource`."""
        start, end = window(start, end, interval)
        if not self.supports(symbol, interval):
            raise DataError(f"Yahoo serves no {interval} history for {symbol!r}.")
        try:
            to_yahoo(symbol)
        except InvalidSymbol as exc:
            raise SymbolNotFound(f"Yahoo cannot be asked for '{symbol}': {exc}") from None
        start = self._kept_from(start, end, interval)
        if start >= end:
            return empty_ohlcv()
        frames = [self._piece(symbol, interval, lo, hi)
                  for lo, hi in _pieces(start, end, interval)]
        frames = [f for f in frames if not f.empty]
        if not frames:
            return empty_ohlcv()
        return clip(pd.concat(frames), start, end)

    def _kept_from(self, start: pd.Timestamp, end: pd.Timestamp,
                   interval: str) -> pd.Timestamp:
        """``start`` moved up to the oldest intraday bar Yahoo still keeps."""
        keep = INTRADAY_RETENTION.get(interval)
        if keep is None:
            return start
        oldest = pd.Timestamp(self._clock(), unit="s", tz="UTC") - pd.Timedelta(keep) + _MARGIN
        if end <= oldest:
            raise SourceUnavailable("yahoo", f"Yahoo keeps {interval} bars for {keep.days} days "
                                             f"only; this window ends {end:%Y-%m-%d %H:%M} UTC")
        return max(start, oldest)

    def _piece(self, symbol: str, interval: str, start: pd.Timestamp,
               end: pd.Timestamp) -> pd.DataFrame:
        try:
            return self.client.history_frame(symbol, interval, start=start.to_pydatetime(),
                                             end=end.to_pydatetime(), adjust=False)
        except (FeedError, DataError, InvalidSymbol, UnknownSymbol) as exc:
            if isinstance(exc, DataError):
                raise
            error = classify(symbol, exc)
            if error is None:
                return empty_ohlcv()
            raise error from None


def _pieces(start: pd.Timestamp, end: pd.Timestamp,
            interval: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    span = MAX_SPAN.get(interval)
    if span is None:
        return [(start, end)]
    step = pd.Timedelta(span)
    out = []
    lo = start
    while lo < end:
        hi = min(end, lo + step)
        out.append((lo, hi))
        lo = hi
    return out
