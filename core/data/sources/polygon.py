"""Polygon.io (now Massive) stock aggregates over REST; needs an API key.

``GET /v2/aggs/ticker/{TICKER}/range/{multiplier}/{timespan}/{from_ms}/{to_ms}?adjusted=false
&sort=asc&limit=50000`` answers ``{"ticker", "resultsCount", "results": [{"t", "o", "h", "l",
"c", "v", "vw", "n"}], "status": "OK", "next_url": ...}``; ``t`` is the bar start in epoch ms
(00:00 New York for day bars, moved here to 00:00 UTC of the session date like every other
source). Pages are followed through ``next_url`` until it is absent.

Choices
-------
- The key travels in an ``Authorization: Bearer`` header (Polygon accepts it as well as the
  ``apiKey`` query parameter), so it is in no URL: not in ``next_url`` requests, not in urllib3's
  debug log, not in proxies' access logs. ``next_url`` is only followed on the configured host;
  a next page on another host is asked of the configured one, so the key never leaves it.
- An empty answer is ambiguous: Polygon answers ``resultsCount: 0`` both for a ticker it does not
  know and for a window without trading (a weekend). Only then the source asks
  ``GET /v3/reference/tickers/{TICKER}`` once: HTTP 404 raises SymbolNotFound, anything else
  returns the empty frame.
- HTTP 401, or 403 with ``"status": "ERROR"`` (``"Unknown API Key"``), raises
  CredentialsRejected and opens the circuit breaker (no point asking again with the same key);
  403 ``"NOT_AUTHORIZED"`` (the plan does not cover this data, e.g. minute bars far back on a free
  key) makes the source unavailable so the caller tries the next one.
- Prices are not adjusted (``adjusted=false``), as traded.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pandas as pd

from core.data.frames import empty_ohlcv
from core.data.sources.base import (
    CredentialsRejected,
    SourceUnavailable,
    SymbolNotFound,
    bars_frame,
    clip,
    session_dates,
    to_ms,
    window,
)
from core.data.sources.http import HttpJson, HttpPolicy, JsonResponse, mask
from core.errors import DataError
from core.symbols import asset_class

DEFAULT_URL = "https://api.polygon.io"
PAGE_LIMIT = 50_000
MAX_PAGES = 10_000
SPANS: dict[str, tuple[int, str]] = {
    "1m": (1, "minute"), "5m": (5, "minute"), "15m": (15, "minute"), "1h": (1, "hour"),
    "1d": (1, "day"),
}
"""Our intervals as Polygon's (multiplier, timespan)."""
_KEYS = {"Open": "o", "High": "h", "Low": "l", "Close": "c", "Volume": "v"}
_LABEL = "Polygon/Massive"


def default_policy() -> HttpPolicy:
    """The free plan allows 5 requests a minute; paid plans may raise ``rate`` freely."""
    return HttpPolicy(rate=5, per=60.0)


class PolygonHistory:
    """Stock aggregates of US tickers such as ``AAPL`` or ``BRK.B``.

    Parameters
    ----------
    api_key
        ``GS_POLYGON_API_KEY``; kept out of ``repr`` and of every message.
    rest_base
        ``https://api.polygon.io`` (``GS_POLYGON_REST_URL``; a local fake in tests).
    http
        The HTTP helper; one with :func:`default_policy` by default.
    page_limit
        Base aggregates per page (Polygon's maximum is 50,000).
    """

    name = "polygon"

    def __init__(self, api_key: str, rest_base: str = DEFAULT_URL, http: HttpJson | None = None,
                 page_limit: int = PAGE_LIMIT) -> None:
        self._key = api_key
        self.rest_base = rest_base.rstrip("/")
        self.http = http or HttpJson(self.name, default_policy())
        self.page_limit = max(1, min(PAGE_LIMIT, page_limit))

    def __repr__(self) -> str:
        return f"PolygonHistory(rest_base={self.rest_base!r})"

    def supports(self, symbol: str, interval: str) -> bool:
        """US stocks and ETFs (Polygon's indices and crypto need other tickers and plans)."""
        return interval in SPANS and asset_class(symbol) == "equity"

    def fetch(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp,
              interval: str) -> pd.DataFrame:
        """Aggregates of ``symbol`` starting in ``[start, end)``; see :class:`HistorySource`."""
        start, end = window(start, end, interval)
        if not self.supports(symbol, interval):
            raise DataError(f"{_LABEL} serves US stocks such as AAPL, not {symbol!r}.")
        if not self._key:
            raise CredentialsRejected(f"{_LABEL} needs an API key: set GS_POLYGON_API_KEY.")
        if start >= end:
            return empty_ohlcv()
        multiplier, timespan = SPANS[interval]
        # A day bar is stamped at 00:00 New York, after 00:00 UTC: ask one day more, clip later.
        last = end + pd.Timedelta(days=1) if interval == "1d" else end
        url: str | None = (f"{self.rest_base}/v2/aggs/ticker/{quote(symbol, safe='')}/range/"
                           f"{multiplier}/{timespan}/{to_ms(start)}/{to_ms(last) - 1}")
        params: dict[str, object] | None = {"adjusted": "false", "sort": "asc",
                                            "limit": self.page_limit}
        results: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            if url is None:
                break
            body = self._get(symbol, url, params)
            results.extend(body.get("results") or ())
            url, params = self._follow(body.get("next_url")), None
        if not results:
            self._check_ticker(symbol)
            return empty_ohlcv()
        frame = _frame(results)
        if interval == "1d":
            frame.index = session_dates(frame.index).rename("Date")
        return clip(frame, start, end)

    # --- requests ------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"}

    def _get(self, symbol: str, url: str, params: dict[str, object] | None) -> dict[str, Any]:
        answer = self.http.get(url, params=params, headers=self._auth(), secrets=(self._key,))
        if answer.status != 200:
            raise self._refusal(symbol, answer)
        if not isinstance(answer.body, dict):
            raise SourceUnavailable(self.name, "aggregates answer is not a JSON object")
        if answer.body.get("status") not in ("OK", "DELAYED"):
            raise SourceUnavailable(self.name, f"status {self._message(answer)!r}")
        return answer.body

    def _check_ticker(self, symbol: str) -> None:
        """SymbolNotFound when Polygon's reference data has no such ticker (HTTP 404)."""
        url = f"{self.rest_base}/v3/reference/tickers/{quote(symbol, safe='')}"
        answer = self.http.get(url, headers=self._auth(), secrets=(self._key,))
        if answer.status == 404:
            raise SymbolNotFound(f"{_LABEL} does not know the ticker '{symbol}' "
                                 f"({self._message(answer)}).")
        if answer.status in (401, 403):
            raise self._refusal(symbol, answer)

    def _follow(self, next_url: object) -> str | None:
        """``next_url`` on the configured host (the key goes nowhere else)."""
        if not next_url or not isinstance(next_url, str):
            return None
        nxt, base = urlsplit(next_url), urlsplit(self.rest_base)
        if (nxt.scheme, nxt.netloc) == (base.scheme, base.netloc):
            return next_url
        prefix = base.path.rstrip("/")
        path = nxt.path if nxt.path.startswith(prefix + "/") else prefix + nxt.path
        return urlunsplit((base.scheme, base.netloc, path, nxt.query, ""))

    def _message(self, answer: JsonResponse) -> str:
        body = answer.body if isinstance(answer.body, dict) else {}
        text = str(body.get("error") or body.get("message") or body.get("status") or "no message")
        return mask(text, (self._key,))

    def _refusal(self, symbol: str, answer: JsonResponse) -> Exception:
        body = answer.body if isinstance(answer.body, dict) else {}
        message = self._message(answer)
        entitlement = answer.status == 403 and body.get("status") == "NOT_AUTHORIZED"
        if answer.status in (401, 403) and not entitlement:
            reason = f"{_LABEL} refused the API key (HTTP {answer.status}: {message})"
            self.http.refuse(reason)
            return CredentialsRejected(f"{reason}; check GS_POLYGON_API_KEY.")
        if entitlement:
            return SourceUnavailable(self.name, f"the plan of this API key does not cover "
                                                f"{symbol} here (HTTP 403: {message})")
        return SourceUnavailable(self.name, f"HTTP {answer.status} for {symbol} ({message})")


def _frame(results: list[dict[str, Any]]) -> pd.DataFrame:
    try:
        stamps = pd.to_datetime([int(r["t"]) for r in results], unit="ms", utc=True)
        columns = {name: [r[key] for r in results] for name, key in _KEYS.items()}
        return bars_frame(stamps, columns)
    except (KeyError, TypeError, ValueError, DataError) as exc:
        raise SourceUnavailable("polygon", f"malformed aggregate ({type(exc).__name__})") from None
