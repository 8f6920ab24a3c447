"""The one live data plane per Streamlit server process (a cached singleton)."""

from __future__ import annotations

import atexit

import streamlit as st

from core.config import load_settings
from core.runtime import Runtime, build_runtime


def _alive(runtime: Runtime) -> bool:
    return runtime.hub.running


@st.cache_resource(validate=_alive, show_spinner="Starting the market data feed ...")
def get_runtime() -> Runtime:
    """Build and start the runtime once; rebuilt if its hub thread has stopped.

    Raises the core's GSError (e.g. a bad GS_* setting) for the caller to show.
    """
    runtime = build_runtime(load_settings(), role="app").start()
    atexit.register(runtime.stop)
    return runtime
