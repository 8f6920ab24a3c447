"""GoldenSignals: the router. Pages live in pages/; this file only sets up and navigates."""

from __future__ import annotations

import streamlit as st

from components.runtime import get_runtime
from components.status import render_simulated_banner, render_source_status
from core.errors import GSError

st.set_page_config(page_title="GoldenSignals", page_icon="📈", layout="wide")

# Registered first, always: Streamlit would otherwise list every file in pages/ by itself.
navigation = st.navigation([
    st.Page("pages/live_quotes.py", title="Live Quotes", icon=":material/monitoring:",
            default=True, url_path="live-quotes"),
    st.Page("pages/backtest_lab.py", title="Backtest Lab", icon=":material/science:",
            url_path="backtest-lab"),
    st.Page("pages/data_quality.py", title="Data Quality", icon=":material/fact_check:",
            url_path="data-quality"),
    st.Page("pages/walk_forward.py", title="Walk-Forward", icon=":material/timeline:",
            url_path="walk-forward"),
    st.Page("pages/monte_carlo.py", title="Monte Carlo", icon=":material/casino:",
            url_path="monte-carlo"),
])

try:
    runtime = get_runtime()
except GSError as exc:
    st.error(f"GoldenSignals could not start its market data: {exc}")
    st.stop()

with st.sidebar:
    st.markdown("## GoldenSignals")
    render_source_status(runtime)

render_simulated_banner(runtime)
navigation.run()
