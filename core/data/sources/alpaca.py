"""Alpaca market data v2 stock bars over REST; needs an API key id and secret.

``GET /v2/stocks/{SYMBOL}/bars?timeframe=1Day&start=RFC3339&end=RFC3339&limit=10000
&adjustment=raw&feed=iex[&page_token=...]`` with the headers ``APCA-API-KEY-ID`` and
``APCA-API-SECRET-KEY`` answers ``{"bars": [{"t", "o", "h", "l", "c", "v", "n", "vw"}],
"symbol": "AAPL", "next_page_token": ...}``; ``bars`` may be null. Pages are followed through
``next_page_token``.

Alpaca stamps a day bar at 00:00 New York (04:00 or 05:00 UTC); the source moves it to 00:00 UTC
of the session date so it lines up with the other sources (and asks one day past ``end``, as
Alpaca's ``end`` compares with the New York stamp). ``end`` is inclusive at Alpaca; bars at
``end`` are dropped here. HTTP 401/403 raises CredentialsRejected and opens the circuit breaker
(a 403 about the subscription, such as recent SIP data, only makes the source unavailable);
404/422 with ``{"message": ...}`` raises SymbolNotFound. Prices are raw (``adjustment=raw``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pandas as pd

from core.data.frames import empty_ohlcv
from core.data.sources.base import (
    CredentialsRejected,
    SourceUnavailable,
    SymbolNotFound,
    bars_frame,
    clip,
    session_dates,
    window,
)
from core.data.sources.http import HttpJson, HttpPolicy, JsonResponse, mask
from core.errors import DataError
from core.symbols import asset_class

DEFAULT_URL = "https://data.alpaca.markets"
PAGE_LIMIT = 10_000
MAX_PAGES = 10_000
TIMEFRAMES = {"1m": "1Min", "5m": "5Min", "15m": "15Min", "1h": "1Hour", "1d": "1Day"}
"""Our intervals as Alpaca's ``timeframe``."""
_KEYS = {"Open": "o", "High": "h", "Low": "l", "Close": "c", "Volume": "v"}


def default_policy() -> HttpPolicy:
    """Alpaca's free plan allows 200 requests a minute: three a second."""
    return HttpPolicy(rate=3, per=1.0)


def rfc3339(ts: pd.Timestamp) -> str:
    """``2024-01-02T05:00:00Z`` (whole seconds, UTC)."""
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


class AlpacaHistory:
    """Stock bars of US tickers such as ``AAPL``.

    Parameters
    ----------
    key_id, secret
        ``GS_ALPACA_KEY`` and ``GS_ALPACA_SECRET``; kept out of ``repr`` and of every message.
    data_base
        ``https://data.alpaca.markets`` (``GS_ALPACA_DATA_URL``; a local fake in tests).
    feed
        ``iex`` (free) or ``sip`` (paid).
    http
        The HTTP helper; one with :func:`default_policy` by default.
    page_limit
        Bars per page (Alpaca's maximum is 10,000).
    """

    name = "alpaca"

    def __init__(self, key_id: str, secret: str, data_base: str = DEFAULT_URL, *,
                 feed: str = "iex", http: HttpJson | None = None,
                 page_limit: int = PAGE_LIMIT) -> None:
        self._key_id, self._secret = key_id, secret
        self.data_base = data_base.rstrip("/")
        self.feed = feed
        self.http = http or HttpJson(self.name, default_policy())
        self.page_limit = max(1, min(PAGE_LIMIT, page_limit))

    def __repr__(self) -> str:
        return f"AlpacaHistory(data_base={self.data_base!r}, feed={self.feed!r})"

    def supports(self, symbol: str, interval: str) -> bool:
        """US stocks and ETFs."""
        return interval in TIMEFRAMES and asset_class(symbol) == "equity"

    def fetch(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp,
              interval: str) -> pd.DataFrame:
        """Bars of ``symbol`` starting in ``[start, end)``; see :class:`HistorySource`."""
        start, end = window(start, end, interval)
        if not self.supports(symbol, interval):
            raise DataError(f"Alpaca serves US stocks such as AAPL, not {symbol!r}.")
        if not (self._key_id and self._secret):
            raise CredentialsRejected("Alpaca needs an API key id and secret: set GS_ALPACA_KEY "
                                      "and GS_ALPACA_SECRET.")
        if start >= end:
            return empty_ohlcv()
        last = end + pd.Timedelta(days=1) if interval == "1d" else end
        params: dict[str, object] = {
            "timeframe": TIMEFRAMES[interval], "start": rfc3339(start.floor("s")),
            "end": rfc3339(last.ceil("s")), "limit": self.page_limit, "adjustment": "raw",
            "feed": self.feed}
        url = f"{self.data_base}/v2/stocks/{quote(symbol, safe='')}/bars"
        bars: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            body = self._get(symbol, url, params)
            bars.extend(body.get("bars") or ())
            token = body.get("next_page_token")
            if not token:
                break
            params = {**params, "page_token": token}
        if not bars:
            return empty_ohlcv()
        frame = _frame(bars)
        if interval == "1d":
            frame.index = session_dates(frame.index).rename("Date")
        return clip(frame, start, end)

    def _get(self, symbol: str, url: str, params: dict[str, object]) -> dict[str, Any]:
        headers = {"APCA-API-KEY-ID": self._key_id, "APCA-API-SECRET-KEY": self._secret}
        answer = self.http.get(url, params=params, headers=headers,
                               secrets=(self._key_id, self._secret))
        if answer.status != 200:
            raise self._refusal(symbol, answer)
        if not isinstance(answer.body, dict):
            raise SourceUnavailable(self.name, "bars answer is not a JSON object")
        return answer.body

    def _refusal(self, symbol: str, answer: JsonResponse) -> Exception:
        body = answer.body if isinstance(answer.body, dict) else {}
        message = mask(str(body.get("message") or "no message"), (self._key_id, self._secret))
        if answer.status in (401, 403) and "subscription" not in message.lower():
            reason = f"Alpaca refused the API key (HTTP {answer.status}: {message})"
            self.http.refuse(reason)
            return CredentialsRejected(f"{reason}; check GS_ALPACA_KEY and GS_ALPACA_SECRET.")
        if answer.status in (404, 422):
            return SymbolNotFound(f"Alpaca has no bars for the symbol '{symbol}' "
                                  f"(HTTP {answer.status}: {message}).")
        return SourceUnavailable(self.name, f"HTTP {answer.status} for {symbol} ({message})")


def _frame(bars: list[dict[str, Any]]) -> pd.DataFrame:
    try:
        stamps = pd.to_datetime([str(b["t"]) for b in bars], utc=True, format="ISO8601")
        columns = {name: [b[key] for b in bars] for name, key in _KEYS.items()}
        return bars_frame(stamps, columns)
    except (KeyError, TypeError, ValueError, DataError) as exc:
        raise SourceUnavailable("alpaca", f"malformed bar ({type(exc).__name__})") from None
