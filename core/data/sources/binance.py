"""Binance spot klines over REST (``GET /api/v3/klines``); no API key needed.

One request returns at most ``limit`` (1,000) klines whose open time lies in
``[startTime, endTime]``; the source pages forward by open time until the window is covered. A
kline is ``[openTime, "open", "high", "low", "close", "volume", closeTime, "quoteVolume", trades,
"takerBuyBase", "takerBuyQuote", "0"]``; prices and volumes are strings. An unknown symbol is
answered with HTTP 400 ``{"code": -1121, "msg": "Invalid symbol."}``. HTTP 451 (a restricted
location, such as the US for api.binance.com) and 403 (Binance's firewall) make the source
unavailable, so the caller moves on to the next one.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.data.frames import INTERVALS, empty_ohlcv
from core.data.sources.base import (
    SourceUnavailable,
    SymbolNotFound,
    bars_frame,
    clip,
    to_ms,
    window,
)
from core.data.sources.http import HttpJson, HttpPolicy, JsonResponse
from core.errors import DataError
from core.symbols import asset_class

DEFAULT_URL = "https://api.binance.com"
PAGE_LIMIT = 1000
INVALID_SYMBOL = -1121
_COLUMNS = {"Open": 1, "High": 2, "Low": 3, "Close": 4, "Volume": 5}


def default_policy() -> HttpPolicy:
    """Binance allows 6,000 request weight a minute; klines weigh 2. Ten requests a second."""
    return HttpPolicy(rate=10, per=1.0)


class BinanceHistory:
    """Spot klines of Binance pairs such as ``BTCUSDT``.

    Parameters
    ----------
    rest_base
        ``https://api.binance.com`` (``GS_BINANCE_REST_URL``; a local fake in tests).
    http
        The HTTP helper; one with :func:`default_policy` by default.
    page_limit
        Klines asked for per request (Binance's maximum is 1,000).
    """

    name = "binance"

    def __init__(self, rest_base: str = DEFAULT_URL, http: HttpJson | None = None,
                 page_limit: int = PAGE_LIMIT) -> None:
        self.rest_base = rest_base.rstrip("/")
        self.http = http or HttpJson(self.name, default_policy())
        self.page_limit = max(1, min(PAGE_LIMIT, page_limit))

    def supports(self, symbol: str, interval: str) -> bool:
        """Crypto pairs without a dash (Binance spells ``BTCUSDT``, not ``BTC-USD``)."""
        return interval in INTERVALS and "-" not in symbol and asset_class(symbol) == "crypto"

    def fetch(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp,
              interval: str) -> pd.DataFrame:
        """Klines of ``symbol`` starting in ``[start, end)``; see :class:`HistorySource`."""
        start, end = window(start, end, interval)
        if not self.supports(symbol, interval):
            raise DataError(f"Binance serves crypto pairs such as BTCUSDT, not {symbol!r}.")
        if start >= end:
            return empty_ohlcv()
        step = int(INTERVALS[interval] / pd.Timedelta(milliseconds=1))
        cursor, stop = to_ms(start), to_ms(end)
        if pd.Timestamp(cursor, unit="ms", tz="UTC") < start:
            cursor += 1  # start has sub-millisecond digits: its millisecond began before it
        rows: list[list[Any]] = []
        while cursor < stop:
            page = self._page(symbol, interval, cursor, stop - 1)
            rows.extend(page)
            if len(page) < self.page_limit:
                break
            last = int(page[-1][0])
            if last + step >= stop or last < cursor:  # covered, or a page that does not advance
                break
            cursor = last + 1
        return clip(_frame(rows), start, end)

    def _page(self, symbol: str, interval: str, start_ms: int, end_ms: int) -> list[list[Any]]:
        params = {"symbol": symbol, "interval": interval, "startTime": start_ms,
                  "endTime": end_ms, "limit": self.page_limit}
        answer = self.http.get(f"{self.rest_base}/api/v3/klines", params=params)
        if answer.status != 200:
            raise self._refusal(symbol, answer)
        if not isinstance(answer.body, list):
            raise SourceUnavailable(self.name, "klines answer is not a list")
        return answer.body

    def _refusal(self, symbol: str, answer: JsonResponse) -> Exception:
        body = answer.body if isinstance(answer.body, dict) else {}
        code, msg = body.get("code"), str(body.get("msg") or "no message")
        if answer.status == 400 and code == INVALID_SYMBOL:
            return SymbolNotFound(f"Binance does not list the symbol '{symbol}' ({msg}).")
        if answer.status == 451:
            return SourceUnavailable(self.name, "Binance refuses requests from this location "
                                                "(HTTP 451); set GS_BINANCE_REST_URL to a host "
                                                "that serves it, or route crypto elsewhere")
        return SourceUnavailable(self.name, f"HTTP {answer.status} (code {code}: {msg})")


def _frame(rows: list[list[Any]]) -> pd.DataFrame:
    """Klines -> canonical frame (open time is the bar start)."""
    if not rows:
        return empty_ohlcv()
    try:
        stamps = pd.to_datetime([int(r[0]) for r in rows], unit="ms", utc=True)
        columns = {name: [r[i] for r in rows] for name, i in _COLUMNS.items()}
    except (IndexError, TypeError, ValueError) as exc:
        raise SourceUnavailable("binance", f"malformed kline ({type(exc).__name__})") from None
    try:
        return bars_frame(stamps, columns)
    except DataError as exc:
        raise SourceUnavailable("binance", f"malformed kline: {exc}") from None
