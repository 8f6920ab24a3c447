"""The Data Quality page's widgets and rendering: the check form, score, rules, gaps and chart.

The figure and the tables are pure functions of a :class:`core.cli_data.DataCheck`, so tests can
inspect them; ``render_*`` put them on the page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.backtest_data import uploaded_bars
from components.exports import render_downloads
from core.cli_data import (
    DEFAULT_DAYS,
    DataCheck,
    FillOutcome,
    served_label,
    verdict,
    when,
)
from core.data.frames import FILLED, INTERVALS, canonical
from core.data.gaps import Gap
from core.data.prepare import POLICY_LABELS
from core.data.rules import OPT_IN, RULES, rule_names
from core.data.validate import QualityReport

SYMBOL, UPLOAD = "Symbol", "Upload CSV/Parquet"
CALENDARS: dict[str, str] = {"auto": "From the symbol (or file name)", "XNYS": "XNYS (NYSE)",
                             "24/7": "24/7 (crypto)", "XLON": "XLON (London)",
                             "none": "None (skip the calendar rules)"}
MAX_SHADED_GAPS = 150
"""Gaps shaded on the chart at most (each is a shape; the gaps table lists them all)."""
_MARKERS = ("x", "diamond", "triangle-up", "square", "star", "cross", "triangle-down",
            "circle-open", "hexagon", "pentagon", "bowtie", "hourglass")


@dataclass(frozen=True)
class CheckForm:
    """What the form holds when it is submitted."""

    submitted: bool
    mode: str
    symbol: str
    upload_name: str | None
    upload_bytes: bytes | None
    interval: str
    start: date | None
    end: date | None
    calendar: str
    rules: tuple[str, ...]
    outlier_z: float
    max_jump: float
    policy: str


def check_form(default_symbol: str, today: date) -> CheckForm:
    """The data choice and interval (outside the form: they change its fields), then the form."""
    left, right = st.columns([1, 3])
    mode = left.radio("Data", (SYMBOL, UPLOAD), horizontal=True, key="dq_mode")
    interval = left.selectbox("Interval", list(INTERVALS)[::-1], key="dq_interval",
                              help="A file's own bar spacing is detected and used instead.")
    with right.form("dq_form"):
        c1, c2, c3 = st.columns([2, 1, 1])
        symbol, upload = "", None
        if mode == SYMBOL:
            symbol = c1.text_input("Symbol", value=default_symbol, key="dq_symbol",
                                   help="Loaded through the history service: the symbol's "
                                        "sources in order, the offline simulator last.")
            first = today - timedelta(days=DEFAULT_DAYS[interval])
        else:
            upload = c1.file_uploader("OHLCV file (Date, Open, High, Low, Close, Volume)",
                                      type=["csv", "parquet"], key="dq_upload")
            first = None
        start = c2.date_input("From", value=first, key=f"dq_from_{mode}_{interval}")
        end = c3.date_input("To (included)", value=today if mode == SYMBOL else None,
                            key=f"dq_to_{mode}_{interval}")
        d1, d2 = st.columns([3, 1])
        rules = d1.multiselect(
            "Rules to run", list(rule_names()), key="dq_rules",
            default=[name for name in rule_names() if name not in OPT_IN],
            help="; ".join(f"{name}: {RULES[name].description}" for name in RULES)
                 + ". isolation_forest ranks bars and always flags about 1% of them, so it is "
                   "off by default.")
        calendar = d2.selectbox("Calendar", list(CALENDARS), format_func=CALENDARS.get,
                                key="dq_calendar")
        e1, e2, e3 = st.columns([1, 1, 2])
        outlier_z = e1.number_input("Outlier z", min_value=0.5, max_value=100.0, value=6.0,
                                    step=0.5, key="dq_outlier_z",
                                    help="Robust z-score (median/MAD of log returns) above "
                                         "which a return is an outlier.")
        max_jump = e2.number_input("Max jump", min_value=0.01, max_value=10.0, value=0.5,
                                   step=0.05, key="dq_max_jump",
                                   help="Largest |ln(open / previous close)| not flagged as a "
                                        "split-like jump.")
        policy = e3.radio("Gaps", list(POLICY_LABELS), format_func=POLICY_LABELS.get,
                          horizontal=True, key="dq_policy")
        submitted = st.form_submit_button("Run check", type="primary")
    return CheckForm(submitted, mode, symbol, None if upload is None else upload.name,
                     None if upload is None else upload.getvalue(), interval, start, end,
                     calendar, tuple(rules), float(outlier_z), float(max_jump), policy)


def uploaded_frame(name: str, payload: bytes, start: date | None,
                   end: date | None) -> pd.DataFrame:
    """Canonical bars of an uploaded file between ``start`` and ``end`` (both included).

    Raises
    ------
    DataError
        A malformed file (nothing is kept), or no bar between the dates.
    """
    from core.errors import DataError

    frame = canonical(uploaded_bars(name, payload))
    if start is not None:
        frame = frame[frame.index >= pd.Timestamp(start, tz="UTC")]
    if end is not None:
        frame = frame[frame.index < pd.Timestamp(end, tz="UTC") + pd.Timedelta(days=1)]
    if not len(frame):
        raise DataError(f"{name} has no bars between the chosen dates.")
    frame.attrs["history"] = {"symbol": Path(name).stem, "interval": "", "served_by": "upload",
                              "sources": ["file"], "notes": []}
    return frame


# ----------------------------------------------------------------------------- pure pieces


def rules_table(report: QualityReport, interval: str = "1d") -> pd.DataFrame:
    """One row per rule: rule, severity, passed, violations, checked, first timestamps, note."""
    rows = []
    for result in report.results:
        if not result.enabled:
            passed = "off"
        elif result.note.startswith("skipped"):
            passed = "skipped"
        else:
            passed = "yes" if result.passed else "no"
        first = ", ".join(when(t, interval) for t in result.timestamps[:3])
        if result.violations > 3:
            first += f" (+{result.violations - 3:,})"
        rows.append({"Rule": result.name, "Severity": result.severity, "Passed": passed,
                     "Violations": result.violations, "Checked": result.checked,
                     "First timestamps": first, "Note": result.note})
    return pd.DataFrame(rows)


def gaps_table(gaps: tuple[Gap, ...] | list[Gap], interval: str = "1d") -> pd.DataFrame:
    """One row per calendar gap: first and last missing bar, and how many are missing."""
    return pd.DataFrame([{"From": when(g.start, interval), "To": when(g.end, interval),
                          "Missing bars": g.missing} for g in gaps],
                        columns=["From", "To", "Missing bars"])


def quality_figure(check: DataCheck, filled: pd.DataFrame | None = None) -> go.Figure:
    """Close with a marker trace per failing rule, the gaps shaded and filled bars marked."""
    frame = check.frame
    close = frame["Close"].ffill().bfill()
    fig = go.Figure(go.Scatter(x=frame.index, y=frame["Close"], mode="lines", name="Close",
                               line={"width": 1.2, "color": "#1f77b4"}))
    for number, result in enumerate(check.report.failed):
        stamps = pd.DatetimeIndex(result.timestamps)
        stamps = stamps[stamps.isin(frame.index)].unique()
        if not len(stamps):
            continue
        fig.add_trace(go.Scatter(
            x=stamps, y=close.loc[stamps], mode="markers",
            name=f"{result.name} ({result.violations:,})",
            marker={"symbol": _MARKERS[number % len(_MARKERS)], "size": 9,
                    "line": {"width": 1}}))
    if filled is not None and FILLED in filled.columns and filled[FILLED].any():
        added = filled[filled[FILLED]]
        fig.add_trace(go.Scatter(x=added.index, y=added["Close"], mode="markers",
                                 name=f"filled ({len(added):,})",
                                 marker={"symbol": "circle-open", "size": 8, "color": "#2ca02c"}))
    step = INTERVALS.get(check.interval, pd.Timedelta(days=1))
    for gap in check.report.gaps[:MAX_SHADED_GAPS]:
        fig.add_vrect(x0=gap.start, x1=gap.end + step, fillcolor="#d62728", opacity=0.15,
                      line_width=0)
    shaded = min(len(check.report.gaps), MAX_SHADED_GAPS)
    title = f"{check.history.get('symbol', '')} close · {len(check.report.failed)} failing " \
            f"rule(s) marked · {shaded} gap(s) shaded"
    if len(check.report.gaps) > shaded:
        title += f" (first {shaded} of {len(check.report.gaps):,})"
    fig.update_layout(title=title, height=440, margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.12}, yaxis_title="Close",
                      uirevision=title)
    return fig


# ----------------------------------------------------------------------------- rendering


def render_check(check: DataCheck, fill: FillOutcome) -> None:
    """Score, source, chart, rule results, gaps and the fill policy's result."""
    report, info = check.report, check.history
    st.subheader(f"{info.get('symbol', '')} · {check.interval} · {report.bars:,} bars")
    if check.simulated:
        st.warning("**Simulated history** drawn by the offline market simulator: generated "
                   "prices, not real ones.", icon=":material/science:")
    for note in info.get("notes", []):
        st.caption(f"Note: {note}")
    k = st.columns(4)
    k[0].metric("Quality score", f"{report.score:.2f}", verdict(report.score),
                delta_color="off", delta_arrow="off", help="0-100: each failing rule costs "
                "10 points (error) or 2 (warning), more the more bars break it.")
    k[1].metric("Failing rules", f"{len(report.failed)}")
    k[2].metric("Gaps", f"{len(report.gaps):,}" if check.calendar else "—",
                f"{sum(g.missing for g in report.gaps):,} missing bars" if report.gaps
                else None, delta_color="off", delta_arrow="off")
    k[3].metric("Served by", ", ".join(s for s in info.get("sources", []) if s != "file")
                or info.get("served_by", "—"), help=served_label(info))
    span = (f"{when(check.frame.index[0], check.interval)} to "
            f"{when(check.frame.index[-1], check.interval)}"
            if len(check.frame) else "no bars")
    align = f", intraday bars aligned on the {check.anchor}" if check.interval != "1d" else ""
    st.caption(f"{span} · served by {served_label(info)} · calendar "
               f"{check.calendar or 'none (calendar rules skipped)'}{align}.")
    if check.simulated and _fails(report, "unexpected_bars") and check.interval == "1d":
        st.caption("The simulator trades equities every day unless GS_SIM_MARKET_HOURS=1, so "
                   "weekend bars show up as unexpected.")
    st.plotly_chart(quality_figure(check, fill.frame if fill.filled else None),
                    width="stretch", key="dq_chart")
    left, right = st.columns([3, 1])
    left.markdown("**Rules**")
    table = rules_table(report, check.interval)
    left.dataframe(table, width="stretch", hide_index=True, key="dq_rules_table",
                   height=36 * (len(table) + 1) + 3)  # every rule, no inner scrolling
    right.markdown("**Calendar gaps**")
    if check.calendar is None:
        right.caption("Not checked: no calendar.")
    elif report.gaps:
        right.dataframe(gaps_table(report.gaps, check.interval), width="stretch", hide_index=True,
                        key="dq_gaps_table")
    else:
        right.caption("None: every bar the calendar expects is there.")
    render_fill(check, fill)


def render_fill(check: DataCheck, fill: FillOutcome) -> None:
    """The fill policy's result, and the filled bars to download."""
    st.markdown(f"**Gap policy: {POLICY_LABELS[fill.policy]}**")
    if fill.filled:
        st.success(f"{fill.message} Quality score after filling: {fill.score_after:.2f}.",
                   icon=":material/healing:")
    elif fill.policy == "next_source" and check.report.gaps:
        st.info(fill.message, icon=":material/info:")
    else:
        st.caption(fill.message)
    if fill.frame is not None and fill.filled:
        stem = f"{check.history.get('symbol', 'bars')}_{check.interval}_{fill.policy}"
        render_downloads(fill.frame, stem, "dq-filled")


def render_cache_stats(stats: dict[str, Any]) -> None:
    """The history service's lookups and hit rates per cache tier, in an expander."""
    with st.expander("History cache"):
        rows = [{"Tier": tier, "Hits": stats.get(f"{tier}_hits", 0),
                 "Hit rate": _percent(stats.get(f"{tier}_hit_rate"))}
                for tier in ("memory", "redis", "sql")]
        st.dataframe(pd.DataFrame(rows), hide_index=True, key="dq_cache_table")
        st.caption(f"{stats.get('lookups', 0):,} lookups · {stats.get('fetches', 0):,} fetches "
                   f"from sources ({stats.get('fetch_failures', 0):,} failed) · "
                   f"{stats.get('changed_bars', 0):,} stored bars replaced by newer data · "
                   f"{stats.get('redis_errors', 0):,} Redis errors.")


def _percent(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.1f}%"


def _fails(report: QualityReport, name: str) -> bool:
    return any(result.name == name for result in report.failed)
