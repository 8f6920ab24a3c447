"""Several sources in a real browser: Binance (a local fake) preferred, the simulator as backup."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.servers import streamlit_server
from tests.fakes.binance import FakeBinance

pytestmark = pytest.mark.slow
CELL = '[data-testid="stDataFrame"] [role="gridcell"]'


@pytest.fixture()
def binance() -> Iterator[FakeBinance]:
    venue = FakeBinance().start()
    stop = threading.Event()

    def stream() -> None:  # a steady market, about 20 trades a second
        price = 67_250.0
        while not stop.wait(0.05):
            price += 0.5
            venue.trade("BTCUSDT", f"{price:.2f}", "0.01")

    pusher = threading.Thread(target=stream, daemon=True)
    pusher.start()
    yield venue
    stop.set()
    pusher.join()
    venue.stop()


def _row(page, symbol: str) -> list[str]:  # noqa: ANN001
    cells = page.locator(CELL).all_inner_texts()
    width = 10
    for i in range(0, len(cells) - width + 1, width):
        if cells[i] == symbol:
            return cells[i:i + width]
    return []


def test_binance_serves_btc_then_the_simulator_takes_over_when_it_drops(
        binance: FakeBinance, page, tmp_path) -> None:  # noqa: ANN001
    env = {"GS_DATA_DIR": str(tmp_path), "GS_SOURCE": "binance,simulator",
           "GS_ROUTE_CRYPTO": "binance,simulator", "GS_ROUTE_EQUITY": "simulator",
           "GS_WATCHLIST": "BTCUSDT,AAPL", "GS_BINANCE_URL": binance.url.rsplit("/", 1)[0],
           "GS_RECONNECT_INITIAL_S": "30"}
    with streamlit_server(env, tmp_path / "app.log") as url:
        page.goto(url)
        page.get_by_text("Sources and failover").wait_for()
        page.locator(CELL, has_text="BTCUSDT").first.wait_for(state="attached")
        deadline = time.monotonic() + 15
        while _row(page, "BTCUSDT")[8:9] != ["binance"] and time.monotonic() < deadline:
            time.sleep(0.3)
        row = _row(page, "BTCUSDT")
        assert row[8] == "binance", row  # Symbol, Last, Fused, Bid, Ask, Chg, Chg%, Vol, Source
        deadline = time.monotonic() + 10  # AAPL's first simulated trade may still be on its way
        while _row(page, "AAPL")[8:9] != ["simulator"] and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _row(page, "AAPL")[8] == "simulator"
        banner = page.get_by_text("Simulated market data").locator("..")
        assert "AAPL" in banner.inner_text() and "BTCUSDT" not in banner.inner_text()
        binance.stop()  # the venue goes away
        deadline = time.monotonic() + 10
        while _row(page, "BTCUSDT")[8:9] != ["simulator"] and time.monotonic() < deadline:
            time.sleep(0.3)
        assert _row(page, "BTCUSDT")[8] == "simulator"
        log = page.locator(CELL, has_text="binance is").first
        log.wait_for(state="attached", timeout=10_000)
        assert "Traceback" not in page.content()
