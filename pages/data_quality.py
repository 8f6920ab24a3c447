"""Data Quality: validate a symbol's history or an uploaded file, see its gaps, try a fill.

Wiring only: the form and the rendering are in components/data_quality; loading goes through
the process's history service (components/history), the checks through core.cli_data, which
``gsig data check`` uses too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from components.data_quality import (
    UPLOAD,
    CheckForm,
    check_form,
    render_cache_stats,
    render_check,
    uploaded_frame,
)
from components.history import get_history_service
from components.runtime import get_runtime
from components.watchlist import load_watchlist
from core.cli_data import (
    DataCheck,
    FillOutcome,
    check_frame,
    default_start,
    detect_interval,
    fill_frame,
    resolve_calendar,
    validation_config,
)
from core.data.history import load_history
from core.data.sources.registry import sources_for
from core.errors import DataError, GSError

runtime = get_runtime()
service = get_history_service()
st.title("Data Quality")
st.caption("Validate OHLCV history against the quality rules and the trading calendar: a 0-100 "
           "score, each rule's violations, the missing sessions, and a way to fill them.")

watchlist = load_watchlist(runtime)
today = datetime.now(UTC).date()
form = check_form(watchlist[0] if watchlist else "AAPL", today)


def _run(form: CheckForm) -> tuple[DataCheck, FillOutcome]:
    """Load, validate and fill as the form says; GSError for anything the user can fix."""
    config = validation_config(form.rules, outlier_z=form.outlier_z, max_jump=form.max_jump)
    names: list[str] = []
    if form.mode == UPLOAD:
        if form.upload_name is None or form.upload_bytes is None:
            raise DataError("Choose a CSV or Parquet file to upload first.")
        frame = uploaded_frame(form.upload_name, form.upload_bytes, form.start, form.end)
        interval = detect_interval(frame) or form.interval
    else:
        start = (pd.Timestamp(form.start, tz="UTC") if form.start is not None
                 else default_start(form.interval))
        end = pd.Timestamp(form.end or today, tz="UTC") + timedelta(days=1)
        frame = load_history(form.symbol, start, end, form.interval, service=service)
        interval = form.interval
        names = sources_for(frame.attrs["history"]["symbol"], runtime.settings)
    calendar = resolve_calendar(form.calendar, frame.attrs["history"]["symbol"])
    check = check_frame(frame, config, interval=interval, calendar=calendar)
    return check, fill_frame(check, form.policy, sources=service.sources, names=names,
                             config=config)


if form.submitted:
    st.session_state.pop("dq_result", None)  # an error must not leave an older report shown
    try:
        st.session_state["dq_result"] = _run(form)
    except GSError as exc:
        st.error(str(exc), icon=":material/error:")

if shown := st.session_state.get("dq_result"):
    check, fill = shown
    if form.mode == UPLOAD and check.interval != form.interval and check.history.get(
            "served_by") == "upload":
        st.info(f"The file's bars are {check.interval} apart, so it was checked as "
                f"{check.interval}.")
    render_check(check, fill)

render_cache_stats(service.stats())
