"""The watchlist: its table, and where the list of symbols lives (URL and stored settings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import pandas as pd
import streamlit as st

from core.errors import GSError
from core.feeds.snapshot import WatchRow
from core.runtime import Runtime
from core.symbols import is_valid_symbol

SETTINGS_KEY = "watchlist"
COLUMNS = ["Symbol", "Last", "Bid", "Ask", "Change", "Change %", "Volume", "Source", "Age (s)"]


def watchlist_frame(symbols: Sequence[str], rows: Mapping[str, WatchRow], now: datetime,
                    fused: bool = False) -> pd.DataFrame:
    """One row per watched symbol, in watchlist order; symbols without data yet show blanks.

    With ``fused`` a "Fused" column shows the quality-weighted median across sources.
    """
    records = []
    for symbol in symbols:
        r = rows.get(symbol)
        if r is None:
            records.append([symbol] + [None] * 6 + ["waiting for data", None, None])
            continue
        age = max(0.0, (now - r.updated).total_seconds())
        records.append([symbol, r.last, r.bid, r.ask, r.change, r.change_pct, r.volume, r.source,
                        round(age, 1), r.fused])
    frame = pd.DataFrame(records, columns=[*COLUMNS, "Fused"])
    numeric = ["Last", "Bid", "Ask", "Change", "Change %", "Volume", "Age (s)", "Fused"]
    frame[numeric] = frame[numeric].apply(pd.to_numeric, errors="coerce")  # None -> NaN -> "—"
    if fused:
        return frame[["Symbol", "Last", "Fused", *COLUMNS[2:]]]
    return frame[COLUMNS]


def _color_change(value: object) -> str:
    if not isinstance(value, (int, float)) or value != value or value == 0:
        return ""
    return "color: #26a69a" if value > 0 else "color: #ef5350"


def format_price(value: float, signed: bool = False) -> str:
    """Two decimals for ordinary prices, more for prices under 1 (XRP, DOGE)."""
    cutoff = 0.005 if signed else 1.0  # a one-cent change (0.00999...) keeps two decimals
    digits = 2 if abs(value) >= cutoff or value == 0 else 5
    return f"{value:+,.{digits}f}" if signed else f"{value:,.{digits}f}"


def format_volume(value: float) -> str:
    """Whole units for shares, decimals for small crypto sizes."""
    return f"{value:,.0f}" if value >= 100 or value == 0 else f"{value:,.4f}"


def render_watchlist_table(frame: pd.DataFrame) -> None:
    """The watchlist as a styled, read-only table."""
    formats = {"Last": format_price, "Fused": format_price, "Bid": format_price,
               "Ask": format_price, "Change": lambda v: format_price(v, signed=True),
               "Change %": "{:+.2f}%", "Volume": format_volume, "Age (s)": "{:.1f}"}
    styled = frame.style.map(_color_change, subset=["Change", "Change %"]).format(
        {k: f for k, f in formats.items() if k in frame.columns}, na_rep="—")
    st.dataframe(styled, hide_index=True, width="stretch", key="watchlist_table")


def load_watchlist(runtime: Runtime) -> list[str]:
    """The session's watchlist: from the URL, else the last one saved, else the configured one."""
    if "watchlist" not in st.session_state:
        raw = st.query_params.get("symbols")
        symbols: list[str] = []
        if raw:
            symbols = [s for s in raw.split(",") if is_valid_symbol(s)]
        elif runtime.store is not None:
            try:
                saved = runtime.store.settings.get(SETTINGS_KEY, []) or []
            except GSError as exc:
                st.toast(f"Could not read the saved watchlist: {exc}")
                saved = []
            saved = saved if isinstance(saved, list) else []
            symbols = [s for s in saved if is_valid_symbol(s)]
        st.session_state["watchlist"] = symbols or list(runtime.default_watchlist)
    return list(st.session_state["watchlist"])


def save_watchlist(runtime: Runtime, symbols: Sequence[str]) -> None:
    """Keep the watchlist in the session, the URL and the store (for the next new session)."""
    st.session_state["watchlist"] = list(symbols)
    st.query_params["symbols"] = ",".join(symbols)
    if runtime.store is not None:
        try:
            runtime.store.settings.set(SETTINGS_KEY, list(symbols))
        except GSError as exc:  # the session and URL still hold the list
            st.toast(f"Could not save the watchlist: {exc}")
