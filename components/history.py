"""The one history service per Streamlit server process, sharing the runtime's store."""

from __future__ import annotations

import streamlit as st

from components.runtime import get_runtime
from core.data.history import HistoryService, build_service


@st.cache_resource(show_spinner=False)
def get_history_service() -> HistoryService:
    """Build the service once: the configured sources, Redis if set, the runtime's store.

    The simulator source is always last in every symbol's list, so pages work offline.
    """
    runtime = get_runtime()
    engine = runtime.store.engine if runtime.store is not None else None
    return build_service(runtime.settings, engine=engine)
