"""Per-source quality and the failover log, for pages fed by several sources."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.feeds.failover import SourcesReport


def quality_frame(report: SourcesReport) -> pd.DataFrame:
    """One row per source: state, quality score and its parts, symbols it is active for."""
    rows = [{"Source": q.source, "State": q.state, "Quality": round(q.score, 3),
             "Latency (ms)": None if q.latency_ms is None else round(q.latency_ms, 1),
             "Last update (s ago)": None if q.age_s is None else round(q.age_s, 1),
             "Error rate": round(q.error_rate, 4),
             "Deviation (%)": None if q.deviation_pct is None else round(q.deviation_pct, 3),
             "Active for": q.active_symbols} for q in report.quality]
    return pd.DataFrame(rows, columns=["Source", "State", "Quality", "Latency (ms)",
                                       "Last update (s ago)", "Error rate", "Deviation (%)",
                                       "Active for"])


def failover_frame(report: SourcesReport) -> pd.DataFrame:
    """The changes of active source, newest first."""
    events = report.log[::-1]
    return pd.DataFrame([{"Time (UTC)": pd.Timestamp(e.at, unit="s", tz="UTC").strftime(
        "%H:%M:%S"), "Symbol": e.symbol, "From": e.from_source or "—", "To": e.to_source,
        "Why": e.reason} for e in events], columns=["Time (UTC)", "Symbol", "From", "To", "Why"])


def render_sources(report: SourcesReport) -> None:
    """Source quality table and failover log."""
    st.markdown("**Sources**")
    st.dataframe(quality_frame(report), hide_index=True, width="stretch", key="source_quality")
    log = failover_frame(report)
    st.markdown("**Failover log**")
    if log.empty:
        st.caption("No source changes yet.")
    else:
        st.dataframe(log, hide_index=True, width="stretch", key="failover_log")
