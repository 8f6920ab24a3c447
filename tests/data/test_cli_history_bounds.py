"""`gsig backtest --start/--end` bound what the history service asks a symbol's sources for."""

from __future__ import annotations

import pandas as pd

import core.data.history as history
from core.cli import main
from core.data.history import HistoryService
from core.data.sources.binance import BinanceHistory
from tests.fakes.rest_server import make_bars


def test_start_and_end_reach_the_source(binance_rest, fast_http, capsys, monkeypatch) -> None:
    binance_rest.add("BTCUSDT", "1d", make_bars("2008-01-01", 6000, "D", seed=9))
    service = HistoryService({"binance": BinanceHistory(binance_rest.url,
                                                        http=fast_http("binance"))},
                             lambda s: ["binance"])
    monkeypatch.setattr(history, "_DEFAULT", service)
    code = main(["backtest", "--data", "BTCUSDT", "--strategy", "sma_cross", "--start",
                 "2010-01-01", "--end", "2011-12-31", "--json"])
    assert code == 0
    asked = [int(r.query["startTime"]) for r in binance_rest.requests]
    assert pd.Timestamp(min(asked), unit="ms", tz="UTC") == pd.Timestamp("2010-01-01", tz="UTC")
    err = capsys.readouterr().err
    assert "from binance" in err  # the note names the source
