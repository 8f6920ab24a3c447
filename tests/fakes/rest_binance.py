"""Fake Binance spot REST: ``GET /api/v3/klines`` with Binance's paging and error bodies."""

from __future__ import annotations

import pandas as pd

from tests.fakes.rest_server import Answer, FakeRestServer

INTERVALS = {"1m": 60_000, "5m": 300_000, "15m": 900_000, "1h": 3_600_000, "1d": 86_400_000}


def kline(start_ms: int, interval_ms: int, o: float, h: float, lo: float, c: float,
          v: float) -> list:
    """One kline as Binance sends it (prices and volumes as strings)."""
    return [start_ms, f"{o:.8f}", f"{h:.8f}", f"{lo:.8f}", f"{c:.8f}", f"{v:.8f}",
            start_ms + interval_ms - 1, f"{v * c:.8f}", 42, f"{v / 2:.8f}", f"{v * c / 2:.8f}",
            "0"]


class FakeBinanceRest(FakeRestServer):
    """Klines per (symbol, interval); answers Binance's errors for bad symbols and parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.klines: dict[tuple[str, str], list[list]] = {}
        self.symbols: set[str] = set()

    def add(self, symbol: str, interval: str, frame: pd.DataFrame) -> None:
        """Serve ``frame`` (canonical OHLCV) as ``symbol``'s ``interval`` klines."""
        step = INTERVALS[interval]
        rows = [kline(int(ts.value // 1_000_000), step, r.Open, r.High, r.Low, r.Close, r.Volume)
                for ts, r in zip(frame.index, frame.itertuples(), strict=True)]
        self.klines[(symbol, interval)] = sorted(rows, key=lambda k: k[0])
        self.symbols.add(symbol)

    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        if path != "/api/v3/klines":
            return 404, {"code": -1000, "msg": "Unknown path."}, {}
        symbol, interval = query.get("symbol", ""), query.get("interval", "")
        if not symbol:
            return 400, {"code": -1102, "msg": "Mandatory parameter 'symbol' was not sent."}, {}
        if symbol not in self.symbols:
            return 400, {"code": -1121, "msg": "Invalid symbol."}, {}
        if interval not in INTERVALS:
            return 400, {"code": -1120, "msg": "Invalid interval."}, {}
        limit = int(query.get("limit", 500))
        if not 1 <= limit <= 1000:
            return 400, {"code": -1130,
                         "msg": "Data sent for parameter 'limit' is not valid."}, {}
        rows = self.klines.get((symbol, interval), [])
        if "startTime" in query:
            rows = [k for k in rows if k[0] >= int(query["startTime"])]
        if "endTime" in query:
            rows = [k for k in rows if k[0] <= int(query["endTime"])]
        rows = rows[:limit] if "startTime" in query else rows[-limit:]
        return 200, rows, {"X-MBX-USED-WEIGHT-1M": str(2 * len(self.requests))}
