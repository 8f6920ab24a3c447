"""Fake Polygon.io/Massive REST: stock aggregates with ``next_url`` paging and ticker reference.

- ``GET /v2/aggs/ticker/{T}/range/{multiplier}/{timespan}/{from}/{to}`` (``from``/``to`` in epoch
  ms or ``YYYY-MM-DD``, both inclusive) with ``adjusted``, ``sort``, ``limit``; pages of at most
  ``page_size`` results, the next one at ``next_url`` (``.../?cursor=...``, which carries the
  query; the key is not in it, as at Polygon).
- ``GET /v3/reference/tickers/{T}``: 200 for a known ticker, 404 ``NOT_FOUND`` otherwise.
- The key is accepted as ``apiKey`` in the query or ``Authorization: Bearer``; a missing or wrong
  one gets 401 ``{"status": "ERROR", "error": "Unknown API Key"}``.
- ``entitled_from_ms``: asking for bars older than this gets 403 ``NOT_AUTHORIZED`` (a plan
  limit).
"""

from __future__ import annotations

import base64
import json
import re

import pandas as pd

from tests.fakes.rest_server import Answer, FakeRestServer, request_id

_AGGS = re.compile(r"^/v2/aggs/ticker/([^/]+)/range/(\d+)/(minute|hour|day)/([^/]+)/([^/]+)$")
_TICKER = re.compile(r"^/v3/reference/tickers/([^/]+)$")


def _ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    return int(pd.Timestamp(text, tz="UTC").value // 1_000_000)


class FakePolygonRest(FakeRestServer):
    """Aggregates per (ticker, multiplier, timespan)."""

    def __init__(self, api_key: str = "pk-test-123", page_size: int = 50_000) -> None:
        super().__init__()
        self.api_key = api_key
        self.page_size = page_size
        self.aggs: dict[tuple[str, int, str], list[dict]] = {}
        self.known: set[str] = set()
        self.next_url_base: str | None = None
        self.entitled_from_ms = 0

    def add(self, ticker: str, multiplier: int, timespan: str, frame: pd.DataFrame,
            stamps: pd.DatetimeIndex | None = None) -> None:
        """Serve ``frame`` as aggregates; ``stamps`` overrides the ``t`` of each bar."""
        index = frame.index if stamps is None else stamps
        self.aggs[(ticker, multiplier, timespan)] = [
            {"v": r.Volume, "vw": round((r.High + r.Low + r.Close) / 3, 4), "o": r.Open,
             "c": r.Close, "h": r.High, "l": r.Low, "t": int(ts.value // 1_000_000), "n": 7}
            for ts, r in zip(index, frame.itertuples(), strict=True)]
        self.known.add(ticker)

    def _authorized(self, query: dict[str, str], headers: dict[str, str]) -> Answer | None:
        bearer = headers.get("Authorization", "")
        key = query.get("apiKey") or (bearer[7:] if bearer.startswith("Bearer ") else "")
        if key == self.api_key:
            return None
        error = "Unknown API Key" if key else "API Key was not provided"
        return 401, {"status": "ERROR", "request_id": request_id(len(self.requests)),
                     "error": error}, {}

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        refused = self._authorized(query, headers)
        if refused is not None:
            return refused
        if m := _TICKER.match(path):
            return self._ticker(m[1])
        if m := _AGGS.match(path):
            return self._aggs(m[1], int(m[2]), m[3], _ms(m[4]), _ms(m[5]), query)
        return 404, {"status": "NOT_FOUND", "request_id": request_id(0),
                     "message": "Not found"}, {}

    def _ticker(self, ticker: str) -> Answer:
        rid = request_id(len(self.requests))
        if ticker not in self.known:
            return 404, {"status": "NOT_FOUND", "request_id": rid,
                         "message": "Ticker not found."}, {}
        return 200, {"results": {"ticker": ticker, "name": f"{ticker} Inc.", "market": "stocks",
                                 "active": True}, "status": "OK", "request_id": rid}, {}

    def _aggs(self, ticker: str, multiplier: int, timespan: str, lo: int, hi: int,
              query: dict[str, str]) -> Answer:
        rid = request_id(len(self.requests))
        if lo < self.entitled_from_ms:
            return 403, {"status": "NOT_AUTHORIZED", "request_id": rid,
                         "message": "You are not entitled to this data. Please upgrade your "
                                    "plan at https://polygon.io/pricing"}, {}
        state = (json.loads(base64.urlsafe_b64decode(query["cursor"])) if "cursor" in query
                 else {"offset": 0, "adjusted": query.get("adjusted", "true"),
                       "sort": query.get("sort", "asc"), "limit": int(query.get("limit", 5000))})
        rows = [a for a in self.aggs.get((ticker, multiplier, timespan), [])
                if lo <= a["t"] <= hi]
        if state["sort"] == "desc":
            rows = rows[::-1]
        size = min(state["limit"], self.page_size)
        page = rows[state["offset"]:state["offset"] + size]
        body: dict = {"ticker": ticker, "queryCount": len(rows), "resultsCount": len(page),
                      "adjusted": state["adjusted"] == "true", "status": "OK",
                      "request_id": rid, "count": len(page)}
        if page:
            body["results"] = page
        if state["offset"] + size < len(rows):
            cursor = base64.urlsafe_b64encode(
                json.dumps({**state, "offset": state["offset"] + size}).encode()).decode()
            base = self.next_url_base or self.url
            body["next_url"] = (f"{base}/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/"
                                f"{lo}/{hi}?cursor={cursor}")
        return 200, body, {}
