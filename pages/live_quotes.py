"""Live Quotes: the watchlist refreshing every second and a live candlestick chart."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from components.charts import candlestick_figure
from components.runtime import get_runtime
from components.sources import render_sources
from components.watchlist import (
    load_watchlist,
    render_watchlist_table,
    save_watchlist,
    watchlist_frame,
)
from core.errors import GSError
from core.feeds.candles import bars_to_frame
from core.feeds.chart_data import chart_bars
from core.timeframes import TIMEFRAMES

runtime = get_runtime()
hub = runtime.hub
symbols = load_watchlist(runtime)

st.title("Live Quotes")

left, right = st.columns([3, 2])
with left.form("add_symbol", clear_on_submit=True, border=False):
    col_input, col_button = st.columns([4, 1], vertical_alignment="bottom")
    raw = col_input.text_input("Add a symbol",
                               help="A ticker such as TSLA, BRK.B, ^GSPC or SOLUSDT.")
    submitted = col_button.form_submit_button("Add", width="stretch")
if submitted and raw.strip():
    try:
        symbol = hub.add_symbol(raw)
    except GSError as exc:
        left.error(str(exc), icon=":material/error:")
    else:
        if symbol in symbols:
            left.info(f"{symbol} is already on the watchlist.")
        else:
            symbols.append(symbol)
            save_watchlist(runtime, symbols)
            st.session_state["chart_symbol"] = symbol

with right:
    to_remove = st.multiselect("Remove symbols", symbols)
    if st.button("Remove", disabled=not to_remove):
        symbols = [s for s in symbols if s not in to_remove]
        save_watchlist(runtime, symbols)
        st.rerun()

# Make sure every watched symbol streams (a new session may bring symbols from its URL): one
# request for all of them, skipped while the source is down so the page never waits on it.
if hub.health().state != "down":
    _, not_streaming = hub.add_symbols(symbols)
    if not_streaming:
        st.warning("Not streaming: " + "; ".join(f"{s}: {m}" for s, m in not_streaming.items()))


@st.fragment(run_every=1.0)
def live_watchlist(watched: list[str]) -> None:
    """The table refreshes every second on its own; the rest of the page does not rerun."""
    rows = hub.snapshot()
    frame = watchlist_frame(watched, rows, datetime.now(UTC), fused=hub.router is not None)
    render_watchlist_table(frame)
    waiting = [s for s in watched if s not in rows]
    health = hub.health()
    if waiting and (health.message or health.state != "live"):
        st.warning(f"No data yet for {', '.join(waiting)}. Market data is {health.state}"
                   + (f": {health.message}" if health.message else "."))
    st.caption("Change is against the previous close where the source knows it (the "
               "simulator's is its opening price), else the first price seen. Volume counts "
               "since the feed started streaming the symbol; age is the time since its last "
               "update.")


if symbols:
    live_watchlist(symbols)
else:
    st.info("The watchlist is empty: add a symbol above.")
    st.stop()

chosen_symbol = st.query_params.get("symbol")
default_symbol = st.session_state.get("chart_symbol") or chosen_symbol
options = list(symbols)
c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
selected = c1.selectbox("Chart", options,
                        index=options.index(default_symbol) if default_symbol in options else 0)
tf_default = st.query_params.get("tf", "1m")
timeframe = c2.segmented_control("Timeframe", list(TIMEFRAMES),
                                 default=tf_default if tf_default in TIMEFRAMES else "1m")
timeframe = timeframe or "1m"
st.session_state["chart_symbol"] = selected
st.query_params["symbol"] = selected
st.query_params["tf"] = timeframe
st.query_params["symbols"] = ",".join(symbols)


@st.fragment(run_every=2.0)
def live_chart(symbol: str, tf: str) -> None:
    """Candles from the live ticks, extended back with history; refreshes every 2 s."""
    data = chart_bars(hub, symbol, tf, count=180)
    if data.note:
        st.warning(data.note)
    if not data.bars:
        st.info(f"No trades for {symbol} yet; the chart appears with the first one.")
        return
    frame = bars_to_frame(data.bars)
    st.plotly_chart(candlestick_figure(frame, f"{symbol} · {tf}"), width="stretch",
                    key="live_chart", config={"displaylogo": False})


live_chart(selected, timeframe)

if hub.sources_report() is not None:  # several sources, here or in the feed process
    @st.fragment(run_every=2.0)
    def live_sources() -> None:
        """Which source serves each symbol, how good each is, and every change of source."""
        report = hub.sources_report()
        if report is not None:
            render_sources(report)

    with st.expander("Sources and failover", expanded=True):
        live_sources()
