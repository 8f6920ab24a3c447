"""Source status in the sidebar and the simulated-data banner shown on every page."""

from __future__ import annotations

import streamlit as st

from core.feeds.multi import MultiSource
from core.runtime import Runtime

_STATE_COLOR = {"live": "green", "connecting": "orange", "stale": "orange", "down": "red",
                "stopped": "gray", "finished": "blue"}


@st.fragment(run_every=2.0)
def render_simulated_banner(runtime: Runtime) -> None:
    """A warning banner whenever data on screen is not a live market (refreshes every 2 s).

    With several sources it names the symbols a simulated source is serving right now.
    """
    source = runtime.hub.source
    if isinstance(source, MultiSource):
        fake = source.simulated_names()
        symbols = sorted(s for s, row in runtime.hub.snapshot().items() if row.source in fake)
        if symbols:
            st.warning(
                f"**Simulated market data** for {', '.join(symbols)} (served by "
                f"{', '.join(sorted(fake))}). Those prices are generated, not quoted by an "
                "exchange: do not trade on them.", icon=":material/science:")
        return
    health = runtime.hub.health()
    if health.simulated:
        st.warning(
            f"**Simulated market data** ({health.name}). The prices on this page are generated, "
            "not quoted by an exchange: do not trade on them.",
            icon=":material/science:",
        )


@st.fragment(run_every=2.0)
def render_source_status(runtime: Runtime) -> None:
    """Market data source, its state, event counts and problems (refreshes every 2 s)."""
    health = runtime.hub.health()
    stats = runtime.hub.stats()
    st.markdown("**Market data**")
    label = f"{health.name} (simulated)" if health.simulated else health.name
    color = _STATE_COLOR.get(health.state, "gray")
    st.markdown(f"{label} :{color}-badge[{health.state}]")
    age = "—" if health.last_event_age_s is None else f"{health.last_event_age_s:.1f} s ago"
    st.caption(f"{stats.accepted:,} events · last {age}")
    if runtime.replica:
        st.caption("Replica: quotes come from a `gsig feed` process over Redis.")
    if health.message:
        st.caption(health.message)
    if stats.rejected:
        st.caption(f"{stats.rejected:,} invalid events dropped (last: {stats.last_rejection})")
    if stats.bus_errors:
        st.caption(f"Bus errors: {stats.bus_errors:,} (last: {stats.last_bus_error})")
    for problem in runtime.problems:
        st.caption(f"⚠️ {problem}")
    if report := runtime.store_report():
        st.caption(f"⚠️ {report}")
    with st.expander("Settings"):
        st.caption("From GS_* variables and .streamlit/secrets.toml; passwords hidden.")
        st.table({k: [v] for k, v in runtime.settings.describe().items()}, border="horizontal")
