"""Fake Alpaca market data v2 REST: ``GET /v2/stocks/{SYMBOL}/bars`` with page tokens.

Checks ``APCA-API-KEY-ID``/``APCA-API-SECRET-KEY`` (401 ``{"message": "unauthorized."}``),
``timeframe``, ``feed`` and RFC3339 ``start``/``end`` (both inclusive, 422 when malformed);
an unknown symbol gets 422 ``{"message": "invalid symbol: ..."}``. Pages hold at most
``min(limit, page_size)`` bars and end with ``next_page_token`` (null on the last page);
an empty answer has ``"bars": null``.
"""

from __future__ import annotations

import base64
import re

import pandas as pd

from tests.fakes.rest_server import Answer, FakeRestServer

TIMEFRAMES = ("1Min", "5Min", "15Min", "1Hour", "1Day")
_BARS = re.compile(r"^/v2/stocks/([^/]+)/bars$")


def rfc3339(ts: pd.Timestamp) -> str:
    return ts.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeAlpacaRest(FakeRestServer):
    """Bars per (symbol, timeframe)."""

    def __init__(self, key_id: str = "AKTESTKEYID", secret: str = "sk-alpaca-secret-xyz",
                 page_size: int = 10_000) -> None:
        super().__init__()
        self.key_id, self.secret = key_id, secret
        self.page_size = page_size
        self.bars: dict[tuple[str, str], list[dict]] = {}

    def add(self, symbol: str, timeframe: str, frame: pd.DataFrame,
            stamps: pd.DatetimeIndex | None = None) -> None:
        """Serve ``frame``; ``stamps`` overrides each bar's ``t`` (New York midnight for days)."""
        index = frame.index if stamps is None else stamps
        self.bars[(symbol, timeframe)] = [
            {"t": rfc3339(ts), "o": r.Open, "h": r.High, "l": r.Low, "c": r.Close,
             "v": int(r.Volume), "n": 11, "vw": round((r.High + r.Low) / 2, 4)}
            for ts, r in zip(index, frame.itertuples(), strict=True)]

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        if (headers.get("APCA-API-KEY-ID") != self.key_id
                or headers.get("APCA-API-SECRET-KEY") != self.secret):
            return 401, {"message": "unauthorized."}, {}
        m = _BARS.match(path)
        if not m:
            return 404, {"message": "endpoint not found."}, {}
        symbol = m[1]
        if query.get("timeframe") not in TIMEFRAMES:
            return 422, {"message": f"invalid timeframe: {query.get('timeframe')}"}, {}
        if query.get("feed", "sip") not in ("iex", "sip"):
            return 422, {"message": "invalid feed"}, {}
        if not any(key[0] == symbol for key in self.bars):
            return 422, {"message": f"invalid symbol: {symbol}"}, {}
        try:
            lo = pd.Timestamp(query["start"])
            hi = pd.Timestamp(query["end"])
        except (KeyError, ValueError):
            return 422, {"message": "invalid start or end"}, {}
        rows = [b for b in self.bars.get((symbol, query["timeframe"]), [])
                if lo <= pd.Timestamp(b["t"]) <= hi]
        offset = int(base64.b64decode(query["page_token"])) if "page_token" in query else 0
        size = min(int(query.get("limit", 1000)), self.page_size)
        page = rows[offset:offset + size]
        more = offset + size < len(rows)
        token = base64.b64encode(str(offset + size).encode()).decode() if more else None
        return 200, {"bars": page or None, "symbol": symbol, "next_page_token": token}, {}
