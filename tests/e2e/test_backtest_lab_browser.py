"""The Backtest Lab in real Chromium: fill the form, run, read the KPIs."""

from __future__ import annotations

import pytest

from tests.e2e.servers import streamlit_server

pytestmark = pytest.mark.slow


def test_fill_the_form_run_a_backtest_and_see_the_kpis(page, tmp_path) -> None:  # noqa: ANN001
    with streamlit_server({"GS_DATA_DIR": str(tmp_path)}, tmp_path / "app.log") as url:
        page.goto(url)
        # until app.py has run once, Streamlit's menu lists the bare files in pages/: wait for
        # the default page before following the registered link
        page.get_by_role("heading", name="Live Quotes").wait_for()
        page.get_by_role("link", name="Backtest Lab", exact=True).click()  # the sidebar menu
        page.get_by_role("heading", name="Backtest Lab").wait_for()
        page.get_by_role("spinbutton", name="fast").fill("12")
        page.get_by_role("spinbutton", name="slow").fill("40")
        page.get_by_role("spinbutton", name="Commission (fraction)").fill("0.0010")
        page.get_by_role("button", name="Run backtest").click()
        page.locator('[data-testid="stMetric"]', has_text="Sharpe").wait_for(timeout=30_000)
        kpis = page.locator('[data-testid="stMetric"]').all_inner_texts()
        assert any(k.startswith("Return") and "%" in k for k in kpis)
        assert any(k.startswith("Trades") for k in kpis)
        page.get_by_text("sma_cross(fast=12, slow=40").first.wait_for()
        page.get_by_role("spinbutton", name="slow").fill("10")
        page.get_by_role("button", name="Run backtest").click()
        page.locator('[data-testid="stAlert"]', has_text="slow").wait_for()
        assert "Traceback" not in page.content()
