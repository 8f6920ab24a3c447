"""The inputs the research pages share: which bars, which strategy, which broker settings.

The bars come through the history service (components/history.py): simulated history for a
catalog symbol, a symbol from the configured market data sources, or an uploaded file. Nothing
here runs a job; pages read the :class:`DataChoice` and call :func:`load_bars` when they start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import streamlit as st

from components.backtest_data import uploaded_bars
from components.history import get_history_service
from components.strategy_form import param_inputs
from core.backtest.strategies import STRATEGIES, Strategy
from core.data.frames import canonical
from core.data.sources.registry import configured
from core.errors import DataError
from core.feeds.simulator import CATALOG

SIMULATED = "Simulated history"
UPLOAD = "Upload CSV/Parquet"


@dataclass(frozen=True)
class DataChoice:
    """What the user picked: a source kind, a symbol or a file, and how many years."""

    kind: str
    symbol: str | None
    years: int
    file_name: str | None = None
    file_bytes: bytes | None = None

    @property
    def label(self) -> str:
        return self.symbol or self.file_name or "data"

    @property
    def simulated(self) -> bool:
        return self.kind == SIMULATED


def data_inputs(key: str, settings: Any, default_years: int = 10) -> DataChoice:
    """Data source radio, symbol (or uploader) and years of daily bars."""
    real = configured(settings)
    choices = [SIMULATED, UPLOAD]
    if real:
        choices.insert(0, f"Market data ({', '.join(real)})")
    kind = st.radio("Data", choices, horizontal=True, key=f"{key}.data")
    catalog = sorted(CATALOG)
    if kind == UPLOAD:
        upload = st.file_uploader("OHLCV file (Date, Open, High, Low, Close, Volume)",
                                  type=["csv", "parquet"], key=f"{key}.upload")
        return DataChoice(kind, None, default_years, upload.name if upload else None,
                          upload.getvalue() if upload else None)
    if kind == SIMULATED:
        symbol = st.selectbox("Symbol", catalog, index=catalog.index("AAPL"), key=f"{key}.sym")
    else:
        symbol = st.text_input("Symbol", value="AAPL", key=f"{key}.symtext").strip().upper()
    years = st.slider("Years of daily bars", 2, 20, default_years, key=f"{key}.years")
    return DataChoice(kind, symbol, years)


def load_bars(choice: DataChoice) -> pd.DataFrame:
    """Daily bars for ``choice`` (raises DataError with a message for the user)."""
    if choice.kind == UPLOAD:
        if choice.file_bytes is None or choice.file_name is None:
            raise DataError("Upload a CSV or Parquet file first, or choose simulated history.")
        return canonical(uploaded_bars(choice.file_name, choice.file_bytes))
    if not choice.symbol:
        raise DataError("Enter a symbol.")
    start = pd.Timestamp(datetime.now(UTC).date(), tz="UTC") - pd.DateOffset(years=choice.years)
    only = ["simulator"] if choice.simulated else None
    return get_history_service().load(choice.symbol, start, None, "1d", only=only)


def is_simulated(bars: pd.DataFrame) -> bool:
    """Whether the simulator drew these bars (asked for, or the fallback of a market symbol)."""
    return "simulator" in bars.attrs.get("history", {}).get("sources", [])


def history_notes(bars: pd.DataFrame) -> list[str]:
    """What the history service could not fetch or had to replace, for an ``st.warning``."""
    return list(bars.attrs.get("history", {}).get("notes", []))


def render_run_header(shown: dict[str, Any]) -> None:
    """Title of a finished research run, the simulated label and the history notes."""
    st.subheader(shown["title"])
    if shown["simulated"]:
        st.caption("Simulated history from the built-in market simulator, not real prices.")
    for note in shown.get("notes", []):
        st.warning(f"History: {note}.")


def strategy_inputs(key: str, names: list[str] | None = None) -> tuple[str, type[Strategy]]:
    """A strategy select box (registered strategies, ``names`` only when given)."""
    options = names or [n for n in STRATEGIES if n != "pairs"]
    default = options.index("sma_cross") if "sma_cross" in options else 0
    name = st.selectbox("Strategy", options, index=default, key=f"{key}.strategy",
                        format_func=lambda n: STRATEGIES[n].title or n)
    return name, STRATEGIES[name]


def broker_inputs(key: str) -> dict[str, float]:
    """Cash and commission, the settings every research run passes to the backtest."""
    c1, c2 = st.columns(2)
    cash = c1.number_input("Cash", min_value=1.0, value=10_000.0, step=1_000.0,
                           key=f"{key}.cash")
    commission = c2.number_input("Commission (fraction)", min_value=0.0, max_value=0.1,
                                 value=0.001, step=0.0005, format="%.4f", key=f"{key}.comm")
    return {"cash": float(cash), "commission": float(commission)}


__all__ = ["DataChoice", "broker_inputs", "data_inputs", "history_notes", "is_simulated",
           "load_bars", "param_inputs", "render_run_header", "strategy_inputs"]
