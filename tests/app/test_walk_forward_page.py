"""The Walk-Forward page under AppTest: the form starts a job, the page shows its results."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.backtest.io import simulated_ohlcv
from core.backtest.strategies import STRATEGIES
from core.data.frames import canonical
from core.research.splitters import RollingSplit
from core.research.walkforward import walk_forward


def _page() -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.switch_page("pages/walk_forward.py")
    return at.run()


def _set(at: AppTest, key: str, value: object) -> None:
    at.number_input(key=key).set_value(value)


def _small_grid(at: AppTest) -> None:
    for name, (lo, hi, step) in {"fast": (5, 15, 5), "slow": (20, 40, 10)}.items():
        _set(at, f"wf.sma_cross.{name}.lo", lo)
        _set(at, f"wf.sma_cross.{name}.hi", hi)
        _set(at, f"wf.sma_cross.{name}.step", step)


def _run(at: AppTest) -> AppTest:
    at = next(b for b in at.button if b.label == "Run walk-forward").click().run()
    deadline = time.monotonic() + 90
    while "wf.job" in at.session_state and not at.session_state["wf.job"].finished:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return at.run()


def test_a_run_shows_the_folds_of_the_same_walk_forward_computed_directly() -> None:
    at = _page()
    assert not at.exception and at.title[0].value == "Walk-Forward"
    _small_grid(at)
    _set(at, "wf.train", 504)
    _set(at, "wf.test", 252)
    at = _run(at)
    assert not at.exception and not at.error
    today = pd.Timestamp(datetime.now(UTC).date(), tz="UTC")
    bars = canonical(simulated_ohlcv("AAPL", seed=42, years=10, end=today.to_pydatetime()))
    bars = bars[bars.index >= today - pd.DateOffset(years=10)]
    expected = walk_forward(bars, "sma_cross", {"fast": [5, 10, 15], "slow": [20, 30, 40]},
                            splitter=RollingSplit(504, 252), constraint="fast < slow",
                            objective="sharpe", min_trades=3, cash=10_000.0,
                            commission=0.001)
    folds = next(d.value for d in at.dataframe if "Fold" in d.value.columns)
    assert len(folds) == len(expected.folds)
    assert folds["Parameters"].tolist() == [
        ", ".join(f"{k}={v}" for k, v in f.params.items()) for f in expected.folds]
    metrics = {m.label: m.value for m in at.metric}
    oos = expected.stitched_equity
    assert metrics["OOS return"] == f"{(oos.iloc[-1] / oos.iloc[0] - 1) * 100:.2f}%"
    assert len(at.get("plotly_chart")) >= 3  # IS vs OOS, stitched equity, stability heatmap


def test_an_empty_grid_is_refused_in_the_form() -> None:
    at = _page()
    _set(at, "wf.sma_cross.fast.lo", 50)
    _set(at, "wf.sma_cross.fast.hi", 10)
    at = next(b for b in at.button if b.label == "Run walk-forward").click().run()
    assert not at.exception
    assert "at least one value" in at.error[0].value
    assert "wf.job" not in at.session_state


@pytest.mark.parametrize("strategy", [n for n in STRATEGIES if n != "pairs"])
def test_every_strategy_gets_a_valid_default_grid(strategy: str) -> None:
    at = _page()
    at.selectbox(key="wf.strategy").set_value(strategy)
    at = at.run()
    assert not at.exception
