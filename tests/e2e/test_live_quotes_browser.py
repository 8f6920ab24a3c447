"""Live Quotes in real Chromium against a real Streamlit server on the simulator."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.e2e.servers import streamlit_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("e2e-data")
    with streamlit_server({"GS_DATA_DIR": str(data), "GS_SIM_TICK_RATE": "5"},
                          data / "streamlit.log") as url:
        yield url


def grid(page) -> dict[str, list[str]]:  # noqa: ANN001
    """The watchlist's cells by symbol (Streamlit's data grid exposes role=gridcell)."""
    cells = page.locator('[data-testid="stDataFrame"] [role="gridcell"]').all_inner_texts()
    return {cells[i]: cells[i:i + 9] for i in range(0, len(cells) - 8, 9)}


def wait_for_symbol(page, symbol: str) -> None:  # noqa: ANN001
    page.locator('[data-testid="stDataFrame"] [role="gridcell"]', has_text=symbol).first.wait_for(
        state="attached")


def test_page_loads_with_banner_and_prices_change(page, app_url: str) -> None:  # noqa: ANN001
    page.goto(app_url)
    page.get_by_text("Simulated market data").wait_for()
    wait_for_symbol(page, "BTCUSDT")
    first = {s: row[1] for s, row in grid(page).items()}
    assert {"AAPL", "MSFT", "NVDA", "SPY", "QQQ", "BTCUSDT", "ETHUSDT"} <= set(first)
    deadline = time.monotonic() + 8
    changed = False
    while time.monotonic() < deadline and not changed:
        time.sleep(0.5)
        now = {s: row[1] for s, row in grid(page).items()}
        changed = any(now.get(s) != v for s, v in first.items())
    assert changed, "no price changed within 8 s"
    assert page.locator(".js-plotly-plot").count() >= 1
    assert "Traceback" not in page.content()


def test_adding_tsla_adds_a_row_that_survives_a_reload(page, app_url: str) -> None:  # noqa: ANN001
    page.goto(app_url)
    wait_for_symbol(page, "AAPL")
    page.get_by_role("textbox", name="Add a symbol").fill("TSLA")
    page.get_by_role("button", name="Add", exact=True).click()
    wait_for_symbol(page, "TSLA")
    page.wait_for_function("() => location.search.includes('TSLA')")
    page.reload()
    wait_for_symbol(page, "TSLA")
    assert "TSLA" in grid(page)


def test_adding_garbage_shows_an_error_not_a_traceback(page, app_url: str) -> None:  # noqa: ANN001
    page.goto(app_url)
    wait_for_symbol(page, "AAPL")
    page.get_by_role("textbox", name="Add a symbol").fill("NOT A SYMBOL!")
    page.get_by_role("button", name="Add", exact=True).click()
    alert = page.locator('[data-testid="stAlert"]', has_text="is not a valid symbol")
    alert.wait_for()
    assert "NOT A SYMBOL!" in alert.inner_text()
    assert "Traceback" not in page.content()
