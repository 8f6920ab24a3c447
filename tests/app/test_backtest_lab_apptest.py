"""The Backtest Lab under AppTest: the form, its errors, results, storage and comparison."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _lab() -> AppTest:
    at = AppTest.from_file("../../app.py", default_timeout=60)
    at.switch_page("pages/backtest_lab.py")
    return at.run()


def _number(at: AppTest, label: str):  # noqa: ANN202
    return next(n for n in at.number_input if n.label == label)


def _run(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Run backtest").click().run()


def test_the_form_runs_a_backtest_and_shows_kpis_charts_and_the_stored_run() -> None:
    at = _lab()
    assert not at.exception and at.title[0].value == "Backtest Lab"
    _number(at, "fast").set_value(10)
    _number(at, "slow").set_value(30)
    at = _run(at)
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) >= {"Return", "CAGR", "Sharpe", "Max drawdown", "Win rate", "Trades"}
    assert metrics["Trades"] != "0"
    assert len(at.get("plotly_chart")) >= 4
    assert any("Simulated history" in c.value for c in at.caption)
    runs = at.dataframe[-1].value
    assert len(runs) == 1 and "sma_cross(fast=10, slow=30" in runs["Run"].iloc[0]


def test_slow_not_above_fast_is_refused_next_to_the_form() -> None:
    at = _lab()
    _number(at, "fast").set_value(30)
    _number(at, "slow").set_value(20)
    at = _run(at)
    assert not at.exception
    assert "slow" in at.error[0].value and "fast" in at.error[0].value
    assert not at.metric  # nothing ran


def test_two_runs_can_be_compared_side_by_side() -> None:
    at = _lab()
    at = _run(at)
    _number(at, "slow").set_value(50)
    at = _run(at)
    compare = next(m for m in at.multiselect if "Compare" in m.label)
    options = compare.options
    assert len(options) == 2
    at = compare.select(options[0]).select(options[1]).run()
    side = at.dataframe[-1].value
    assert side.shape[1] == 2 and "sharpe" in side.index


def test_an_empty_date_range_is_explained_next_to_the_dates() -> None:
    from datetime import date, timedelta

    at = _lab()
    later = date.today() + timedelta(days=400)  # after the data ends
    at.date_input[0].set_value(later)
    at.date_input[1].set_value(later + timedelta(days=30))
    at = _run(at)
    assert not at.exception and "holds 0 bars" in at.error[0].value and not at.metric


def test_a_chosen_benchmark_is_used() -> None:
    at = _lab()
    bench = next(s for s in at.selectbox if s.label == "Benchmark")
    at = bench.set_value("SPY").run()
    at = _run(at)
    assert not at.exception and at.metric
    delta = next(m for m in at.metric if m.label == "Return").proto.delta
    assert "vs benchmark" in delta
    stored = at.dataframe[-1].value
    assert len(stored) == 1


def test_pairs_trades_both_legs_from_the_form() -> None:
    at = _lab()
    strategy = next(s for s in at.selectbox if s.label == "Strategy")
    at = strategy.set_value("pairs").run()
    leg_b = next(s for s in at.selectbox if s.label == "Second leg (B)")
    at = leg_b.set_value("QQQ").run()
    at = _run(at)
    assert not at.exception and not at.error
    assert {m.label for m in at.metric} >= {"Return", "Sharpe"}
    assert "AAPL/QQQ · pairs" in at.subheader[0].value
    orders = next(d.value for d in at.dataframe if "symbol" in d.value.columns)
    assert set(orders["symbol"]) == {"AAPL", "QQQ"}


def test_the_data_quality_score_of_the_run_is_shown_and_stored() -> None:
    from datetime import UTC, datetime

    import pandas as pd

    from core.backtest.io import simulated_ohlcv
    from core.data.frames import canonical
    from core.data.prepare import prepare_history

    at = _run(_lab())
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Data quality"))
    today = pd.Timestamp(datetime.now(UTC).date(), tz="UTC")
    bars = canonical(simulated_ohlcv("AAPL", seed=42, years=10, end=today.to_pydatetime()))
    bars = bars[bars.index >= today - pd.DateOffset(years=10)]
    expected = prepare_history(bars, "AAPL")
    assert f"Data quality {expected.report.score:.1f}/100" in caption
    assert "24/7 calendar" in caption and "0 bar(s) filled" in caption
    assert "simulator" in caption


def test_filling_from_a_next_source_without_one_is_explained() -> None:
    at = _lab()
    next(s for s in at.selectbox if s.label == "Gaps in the data").set_value("next_source")
    at = _run(at)
    assert not at.exception and not at.metric
    assert "no next source" in at.error[0].value
