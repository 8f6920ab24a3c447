"""The Backtest Lab's portfolio mode under AppTest: run, KPIs, storage, reopen, bad weights."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.portfolio_form import EDITOR_KEY
from core.backtest import run_portfolio
from core.backtest.io import simulated_ohlcv


def _portfolio_lab(edits: dict | None = None) -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.switch_page("pages/backtest_lab.py")
    at = at.run()
    at = at.radio(key="bt_mode").set_value("Portfolio").run()
    if edits is not None:  # a keyed data_editor is driven through its edit state
        at.session_state[EDITOR_KEY] = {"edited_rows": {}, "added_rows": [], "deleted_rows": [],
                                        **edits}
    return at


def _run(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Run portfolio backtest").click().run()


def _expected(weights: dict[str, float], rebalance: str | None, years: int = 10,
              cash: float = 10_000.0) -> pd.DataFrame:
    """The stats run_portfolio gives on the simulated closes the page draws (seed 42)."""
    end = pd.Timestamp(datetime.now(UTC).date().isoformat(), tz="UTC").to_pydatetime()
    closes = pd.concat({s: simulated_ohlcv(s, seed=42, years=years, end=end)["Close"]
                        for s in weights}, axis=1)
    return run_portfolio(closes, weights, rebalance=rebalance, cash=cash)


def test_portfolio_mode_runs_and_shows_run_portfolio_stats() -> None:
    at = _portfolio_lab()
    assert not at.exception
    editor = at.data_editor(key=EDITOR_KEY)
    assert editor.value["Symbol"].tolist() == ["AAPL", "MSFT", "SPY"]
    at.selectbox(key="pf.rebalance").set_value("Quarter-end")
    at.number_input(key="pf.cash").set_value(25_000.0)
    at = _run(at)
    assert not at.exception and not at.error
    expected = _expected({"AAPL": 0.4, "MSFT": 0.3, "SPY": 0.3}, "QE", cash=25_000.0)
    stats = expected.stats
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Return"] == f"{stats['return_pct']:.2f}%"
    assert metrics["CAGR"] == f"{stats['cagr_pct']:.2f}%"
    assert metrics["Sharpe"] == f"{stats['sharpe']:.2f}"
    assert metrics["Max drawdown"] == f"{stats['max_drawdown_pct']:.2f}%"
    assert metrics["Orders"] == f"{len(expected.orders):,}"
    assert "vs equal weight" in next(m for m in at.metric if m.label == "Return").proto.delta
    assert len(at.get("plotly_chart")) == 4  # equity, drawdown, weights, monthly returns
    orders = next(d.value for d in at.dataframe if "symbol" in d.value.columns)
    assert set(orders["symbol"]) == {"AAPL", "MSFT", "SPY"}
    assert any("Simulated history" in c.value for c in at.caption)
    runs = at.dataframe[-1].value
    assert len(runs) == 1 and runs["Run"].iloc[0].startswith("Portfolio AAPL 0.4, MSFT 0.3")


def test_edited_weights_are_used_and_a_stored_run_reopens_in_portfolio_mode() -> None:
    at = _portfolio_lab({"edited_rows": {0: {"Weight": 0.6}, 2: {"Weight": 0.0}},
                         "added_rows": [{"Symbol": "btcusdt", "Weight": 0.1}]})
    at.selectbox(key="pf.rebalance").set_value("None (buy and hold)")
    at = _run(at)
    assert not at.exception and not at.error
    expected = _expected({"AAPL": 0.6, "MSFT": 0.3, "SPY": 0.0, "BTCUSDT": 0.1}, None)
    assert next(m.value for m in at.metric if m.label == "Sharpe") == \
        f"{expected.stats['sharpe']:.2f}"
    at.radio(key="bt_mode").set_value("Single symbol")
    at = at.run()
    assert not any(m.label == "Orders" for m in at.metric)
    compare = next(m for m in at.multiselect if "Compare" in m.label)
    at = compare.select(compare.options[0]).run()
    at = next(b for b in at.button if b.label == "Reopen").click().run()
    assert not at.exception
    assert at.radio(key="bt_mode").value == "Portfolio"
    assert next(m.value for m in at.metric if m.label == "Orders") == f"{len(expected.orders):,}"


@pytest.mark.parametrize(("edits", "needle"), [
    ({"edited_rows": {0: {"Weight": 0.9}}}, "sum to 1.5"),
    ({"edited_rows": {1: {"Symbol": "AAPL"}}}, "AAPL is listed twice"),
    ({"edited_rows": {2: {"Symbol": "ZZZZQ"}}}, "ZZZZQ"),
    ({"edited_rows": {2: {"Symbol": "NOT A SYMBOL"}}}, "not a valid symbol"),
    ({"deleted_rows": [0, 1, 2]}, "at least one symbol"),
])
def test_invalid_weights_are_explained_and_nothing_is_stored(edits: dict, needle: str) -> None:
    at = _run(_portfolio_lab(edits))
    assert not at.exception
    assert len(at.error) == 1 and needle in at.error[0].value
    assert not at.metric  # nothing ran
    assert any("Runs you make are stored here" in c.value for c in at.caption)
