"""The Monte Carlo page under AppTest: the form starts a job, the page shows its figures."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.backtest import run_backtest
from core.backtest.io import simulated_ohlcv
from core.data.frames import canonical
from core.research.montecarlo import monte_carlo


def _page() -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.switch_page("pages/monte_carlo.py")
    return at.run()


def _finish(at: AppTest) -> AppTest:
    deadline = time.monotonic() + 60
    while not at.session_state["mc.job"].finished and time.monotonic() < deadline:
        time.sleep(0.1)
    return at.run()


def _bars(years: int = 10) -> pd.DataFrame:
    today = pd.Timestamp(datetime.now(UTC).date(), tz="UTC")
    bars = canonical(simulated_ohlcv("AAPL", seed=42, years=years, end=today.to_pydatetime()))
    return bars[bars.index >= today - pd.DateOffset(years=years)]


def test_a_run_shows_the_risk_of_the_same_job_computed_directly() -> None:
    at = _page()
    assert not at.exception and at.title[0].value == "Monte Carlo"
    at.number_input(key="mc.paths").set_value(2_000)
    at = next(b for b in at.button if b.label == "Run Monte Carlo").click().run()
    at = _finish(at)
    assert not at.exception and not at.error
    run = run_backtest(_bars(), "sma_cross", {"fast": 10, "slow": 30, "long_only": False},
                       cash=10_000.0, commission=0.001)
    expected = monte_carlo(run.equity.pct_change().dropna(), n_paths=2_000, horizon=252,
                           method="block_bootstrap", seed=0, start_equity=run.equity.iloc[-1],
                           ruin_level=0.5, drawdown_limit=0.2)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Probability of ruin"] == f"{expected.risk['prob_ruin'] * 100:.2f} %"
    assert metrics["VaR 95 %"] == f"{expected.risk['var_95'] * 100:.2f} %"
    assert metrics["Paths"] == "2,000"
    assert len(at.get("plotly_chart")) == 5  # fan + four distributions
    stress = next(d.value for d in at.dataframe if "scenario" in d.value.columns)
    assert {"gap -10%", "volatility x2 for 20 days"} <= set(stress["scenario"])
    assert any("Simulated history" in c.value for c in at.caption)


def test_an_upload_missing_is_explained_next_to_the_data() -> None:
    at = _page()
    at.radio(key="mc.data").set_value("Upload CSV/Parquet")
    at = at.run()
    at = next(b for b in at.button if b.label == "Run Monte Carlo").click().run()
    assert not at.exception
    assert "Upload a CSV or Parquet file first" in at.error[0].value
    assert "mc.job" not in at.session_state


def test_trade_resampling_uses_the_backtest_trades() -> None:
    at = _page()
    at.selectbox(key="mc.method").set_value("trades_without_replacement")
    at.number_input(key="mc.paths").set_value(500)
    at.number_input(key="mc.horizon").set_value(0)
    at = next(b for b in at.button if b.label == "Run Monte Carlo").click().run()
    at = _finish(at)
    assert not at.exception and not at.error
    result = at.session_state["mc.job"].result["result"]
    run = run_backtest(_bars(), "sma_cross", {"fast": 10, "slow": 30, "long_only": False},
                       cash=10_000.0, commission=0.001)
    assert result.params["n_trades"] == len(run.trades) == result.inputs["horizon"]
    # every path reshuffles the same trades: the same final equity on every path
    finals = result.distributions["final_return"]
    assert finals.max() - finals.min() < 1e-9


def test_cancel_stops_a_running_job_and_says_so() -> None:
    at = _page()
    at.number_input(key="mc.paths").set_value(200_000)
    at.number_input(key="mc.horizon").set_value(2_000)
    at = next(b for b in at.button if b.label == "Run Monte Carlo").click().run()
    job = at.session_state["mc.job"]
    assert not job.finished
    assert at.get("progress"), "a progress bar while the job runs"
    at = at.button(key="mc.job-cancel").click().run()
    at = _finish(at)
    assert job.token.cancelled
    assert any("Cancelled" in e.value for e in at.error)
    assert not at.metric  # nothing of the cancelled run is shown
