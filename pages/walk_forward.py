"""Walk-Forward: optimise in sample, trade out of sample, fold after fold; is it overfit?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.jobs import job_result, render_job, start_job
from components.research_inputs import (
    broker_inputs,
    data_inputs,
    history_notes,
    is_simulated,
    load_bars,
    render_run_header,
    strategy_inputs,
)
from components.runtime import get_runtime
from components.walkforward_view import grid_inputs, render_result
from core.errors import GSError
from core.research.objectives import OBJECTIVES
from core.research.splitters import AnchoredSplit, RollingSplit
from core.research.walkforward import assess_significance, walk_forward

JOB = "wf.job"

runtime = get_runtime()
st.title("Walk-Forward")
st.caption("Each fold optimises the strategy on a training window and trades the chosen "
           "parameters on the following test window; the test windows stitched together are "
           "what the strategy would have earned without hindsight.")

left, right = st.columns([1, 2])
with left:
    choice = data_inputs("wf", runtime.settings)
    data_slot = st.empty()
    name, strategy = strategy_inputs("wf")
with right.form("wf.form"):
    st.markdown(f"**{strategy.title or name}**: parameter grid")
    grid = grid_inputs(strategy, "wf")
    numeric = [p.name for p in strategy.params if p.type in (int, float)]
    default_rule = "fast < slow" if {"fast", "slow"} <= set(numeric) else ""
    constraint = st.text_input("Constraint", value=default_rule, key="wf.constraint",
                               help="An expression over parameter names, e.g. fast < slow.")
    c1, c2, c3 = st.columns(3)
    objective = c1.selectbox("Objective", list(OBJECTIVES), key="wf.objective")
    min_trades = c2.number_input("Minimum trades in sample", min_value=0, value=3,
                                 key="wf.mintrades")
    anchored = c3.radio("Windows", ["Rolling", "Anchored"], horizontal=True,
                        key="wf.kind") == "Anchored"
    s1, s2, s3 = st.columns(3)
    train = s1.number_input("Train bars", min_value=20, value=504, step=21, key="wf.train")
    test = s2.number_input("Test bars", min_value=5, value=126, step=21, key="wf.test")
    gap = s3.number_input("Gap bars", min_value=0, value=0, key="wf.gap")
    broker = broker_inputs("wf")
    form_slot = st.empty()
    submitted = st.form_submit_button("Run walk-forward", type="primary")


def _job(bars: pd.DataFrame):  # noqa: ANN202 - the job function of components.jobs
    split = (AnchoredSplit if anchored else RollingSplit)(int(train), int(test), gap=int(gap))

    def run(progress, cancel):  # noqa: ANN001, ANN202
        result = walk_forward(bars, name, grid, splitter=split, constraint=constraint or None,
                              objective=objective, min_trades=int(min_trades),
                              progress=progress, cancel=cancel, **broker)
        return {"result": result, "sig": assess_significance(result, bars, seed=0),
                "close": bars["Close"], "simulated": is_simulated(bars),
                "notes": history_notes(bars),
                "title": f"{choice.label} · {name} · {len(result.folds)} folds "
                         f"({'anchored' if anchored else 'rolling'} {train}/{test} bars)"}
    return run


if submitted:
    try:
        bars = load_bars(choice)
    except GSError as exc:
        data_slot.error(str(exc), icon=":material/error:")
    else:
        if not grid or any(not values for values in grid.values()):
            form_slot.error("Every parameter needs at least one value: check from, to, step.")
        else:
            start_job(JOB, "Walk-forward", _job(bars))

render_job(JOB)
if (shown := job_result(JOB)) is not None:
    render_run_header(shown)
    render_result(shown["result"], shown["sig"], shown["close"])
