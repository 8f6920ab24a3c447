"""The Data Quality page in real Chromium: open it from the sidebar, run a check, read the score."""

from __future__ import annotations

import re

import pytest

from tests.e2e.servers import streamlit_server

pytestmark = pytest.mark.slow


def test_check_a_simulator_symbol_and_see_the_score(page, tmp_path) -> None:  # noqa: ANN001
    env = {"GS_DATA_DIR": str(tmp_path), "GS_SOURCE": "simulator"}  # offline history
    with streamlit_server(env, tmp_path / "app.log") as url:
        page.goto(url)
        # until app.py has run, Streamlit lists pages/ by file name ("data quality"); those
        # links run the page without the app around it, so wait for the app's own menu
        page.get_by_role("heading", name="Live Quotes").wait_for()
        page.get_by_role("link", name="Data Quality", exact=True).click()  # the sidebar menu
        page.get_by_role("heading", name="Data Quality").wait_for()
        symbol = page.get_by_role("textbox", name="Symbol")
        symbol.fill("BTCUSDT")
        page.get_by_role("button", name="Run check").click()
        score = page.locator('[data-testid="stMetric"]', has_text="Quality score")
        score.wait_for(timeout=30_000)
        assert re.search(r"Quality score\s+\d{1,3}\.\d\d", score.inner_text())
        served = page.locator('[data-testid="stMetric"]', has_text="Served by").inner_text()
        assert "simulator" in served
        page.locator('[data-testid="stAlert"]', has_text="Simulated history").first.wait_for()
        page.get_by_text("Simulated market data").first.wait_for()  # the app's banner
        page.locator(".js-plotly-plot").first.wait_for()
        assert "Traceback" not in page.content()
        page.screenshot(path=str(tmp_path / "data_quality.png"), full_page=True)
