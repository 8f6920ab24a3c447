"""Monte Carlo: how bad can it get? Paths of a strategy's returns, risk figures, stress tests."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.jobs import job_result, render_job, start_job
from components.montecarlo_view import render_result
from components.research_inputs import (
    broker_inputs,
    data_inputs,
    history_notes,
    is_simulated,
    load_bars,
    param_inputs,
    render_run_header,
    strategy_inputs,
)
from components.runtime import get_runtime
from core.backtest import run_backtest
from core.errors import GSError
from core.research.montecarlo import METHODS, TRADE_METHODS, monte_carlo
from core.research.stress import Gap, VolatilityShock, stress_test

METHOD_LABELS = {
    "block_bootstrap": "Stationary block bootstrap of daily returns",
    "gbm": "Parametric: geometric Brownian motion",
    "student_t": "Parametric: Student-t (fat tails)",
    "trades_with_replacement": "Resample trades (with replacement)",
    "trades_without_replacement": "Reshuffle trades (without replacement)",
}
JOB = "mc.job"

runtime = get_runtime()
st.title("Monte Carlo")
st.caption("Resample or model a strategy's returns many times to see the spread of outcomes: "
           "an equity fan, distributions with confidence intervals, the probability of ruin and "
           "stress scenarios.")

left, right = st.columns([1, 2])
with left:
    choice = data_inputs("mc", runtime.settings)
    data_slot = st.empty()
    name, strategy = strategy_inputs("mc")
with right.form("mc.form"):
    st.markdown(f"**{strategy.title or name}** parameters")
    params = param_inputs(strategy, "mc")
    broker = broker_inputs("mc")
    m1, m2, m3 = st.columns(3)
    method = m1.selectbox("Method", list(METHODS), format_func=METHOD_LABELS.get,
                          index=list(METHODS).index("block_bootstrap"), key="mc.method")
    paths = m2.number_input("Paths", min_value=100, max_value=200_000, value=10_000,
                            step=1_000, key="mc.paths")
    horizon = m3.number_input("Horizon (bars or trades; 0 = default)", min_value=0,
                              max_value=10_000, value=252, key="mc.horizon",
                              help="Daily methods: bars ahead (252 = a year). Trade methods: "
                                   "trades ahead; 0 uses the backtest's number of trades.")
    r1, r2, r3 = st.columns(3)
    seed = r1.number_input("Seed", min_value=0, value=0, step=1, key="mc.seed")
    ruin = r2.number_input("Ruin level (fraction of start)", min_value=0.01, max_value=0.99,
                           value=0.5, key="mc.ruin")
    limit = r3.number_input("Drawdown limit", min_value=0.01, max_value=0.99, value=0.2,
                            key="mc.dd")
    s1, s2, s3 = st.columns(3)
    gap = s1.number_input("Stress: price gap (%)", min_value=-95.0, max_value=100.0,
                          value=-10.0, key="mc.gap")
    vol = s2.number_input("Stress: volatility multiple", min_value=0.1, max_value=10.0,
                          value=2.0, key="mc.vol")
    vol_days = s3.number_input("Stress: days", min_value=2, max_value=252, value=20,
                               key="mc.voldays")
    submitted = st.form_submit_button("Run Monte Carlo", type="primary")


def _job(bars: pd.DataFrame):  # noqa: ANN202 - the job function of components.jobs
    def run(progress, cancel):  # noqa: ANN001, ANN202
        run_ = run_backtest(bars, name, params, **broker)
        equity = run_.equity
        trades = run_.trades if method in TRADE_METHODS else None
        result = monte_carlo(equity.pct_change().dropna(), n_paths=int(paths),
                             horizon=int(horizon) or None, method=method, seed=int(seed),
                             trades=trades, start_equity=float(equity.iloc[-1]),
                             ruin_level=float(ruin), drawdown_limit=float(limit),
                             progress=progress, cancel=cancel)
        stress = stress_test(float(equity.iloc[-1]), bars["Close"], shocks=(
            Gap(float(gap) / 100), VolatilityShock(float(vol), int(vol_days))))
        return {"result": result, "stress": stress.table, "title":
                f"{choice.label} · {name}({', '.join(f'{k}={v}' for k, v in params.items())})"
                f" · {METHOD_LABELS[method]}", "simulated": is_simulated(bars),
                "notes": history_notes(bars)}
    return run


if submitted:
    try:
        bars = load_bars(choice)
    except GSError as exc:
        data_slot.error(str(exc), icon=":material/error:")
    else:
        start_job(JOB, "Monte Carlo", _job(bars))

render_job(JOB)
if (shown := job_result(JOB)) is not None:
    render_run_header(shown)
    render_result(shown["result"], shown["stress"])
