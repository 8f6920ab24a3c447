"""Walk-Forward and Monte Carlo in real Chromium: fill the form, watch the job finish, read it."""

from __future__ import annotations

import re

import pytest

from tests.e2e.servers import streamlit_server

pytestmark = pytest.mark.slow


def _open(page, url: str, name: str) -> None:  # noqa: ANN001
    page.goto(url)
    page.get_by_role("heading", name="Live Quotes").wait_for()
    page.get_by_role("link", name=name, exact=True).click()  # the sidebar menu
    page.get_by_role("heading", name=name).wait_for()


def test_walk_forward_runs_and_shows_folds(page, tmp_path) -> None:  # noqa: ANN001
    with streamlit_server({"GS_DATA_DIR": str(tmp_path)}, tmp_path / "app.log") as url:
        _open(page, url, "Walk-Forward")
        for name, value in (("fast from", "5"), ("fast to", "15"), ("fast step", "5"),
                            ("slow from", "20"), ("slow to", "40"), ("slow step", "10"),
                            ("Test bars", "252")):
            page.get_by_role("spinbutton", name=name, exact=True).fill(value)
        page.get_by_role("button", name="Run walk-forward").click()
        folds = page.locator('[data-testid="stMetric"]', has_text="Folds")
        folds.wait_for(timeout=60_000)
        assert re.search(r"Folds\s+\d+", folds.inner_text())
        page.locator('[data-testid="stMetric"]', has_text="Walk-forward efficiency").wait_for()
        page.locator(".js-plotly-plot").first.wait_for()
        assert "Traceback" not in page.content()
        page.screenshot(path=str(tmp_path / "walk_forward.png"), full_page=True)


def test_monte_carlo_runs_and_shows_the_fan(page, tmp_path) -> None:  # noqa: ANN001
    with streamlit_server({"GS_DATA_DIR": str(tmp_path)}, tmp_path / "app.log") as url:
        _open(page, url, "Monte Carlo")
        page.get_by_role("spinbutton", name="Paths", exact=True).fill("2000")
        page.get_by_role("button", name="Run Monte Carlo").click()
        ruin = page.locator('[data-testid="stMetric"]', has_text="Probability of ruin")
        ruin.wait_for(timeout=60_000)
        assert re.search(r"\d+\.\d\d %", ruin.inner_text())
        page.get_by_text("Equity fan").first.wait_for()
        assert "Traceback" not in page.content()
        page.screenshot(path=str(tmp_path / "monte_carlo.png"), full_page=True)
