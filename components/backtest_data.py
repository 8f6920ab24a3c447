"""Where the Backtest Lab's bars come from: the simulator, or a file the user uploads."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st

from core.backtest.io import parse_ohlcv, simulated_ohlcv
from core.errors import DataError


@st.cache_data(show_spinner="Drawing simulated history ...", max_entries=32)
def simulated_bars(symbol: str, seed: int, years: int, end_day: str) -> pd.DataFrame:
    """Daily simulated bars, cached per (symbol, seed, years, day)."""
    return simulated_ohlcv(symbol, seed=seed, years=years,
                           end=pd.Timestamp(end_day, tz="UTC").to_pydatetime())


@st.cache_data(show_spinner="Reading the file ...", max_entries=8)
def uploaded_bars(name: str, payload: bytes) -> pd.DataFrame:
    """Bars from an uploaded CSV or Parquet, cached per file content."""
    return read_upload(name, payload)


def read_upload(name: str, payload: bytes) -> pd.DataFrame:
    """Bars from an uploaded CSV or Parquet (Date/Open/High/Low/Close[/Volume])."""
    lower = name.lower()
    try:
        if lower.endswith(".parquet"):
            frame = pd.read_parquet(io.BytesIO(payload))
            if frame.index.name and frame.index.name.lower() in ("date", "time", "timestamp"):
                frame = frame.reset_index()
        elif lower.endswith((".csv", ".txt")):
            frame = pd.read_csv(io.BytesIO(payload), dtype=str, keep_default_na=False)
        else:
            raise DataError(f"{name}: upload a .csv or .parquet file.")
    except DataError:
        raise
    except Exception as exc:  # pandas/pyarrow parse errors, for the user as one message
        raise DataError(f"Cannot read {name}: {exc}") from None
    return parse_ohlcv(frame, name)


@st.cache_data(show_spinner="Fetching history from the market data source ...", ttl=3600,
               max_entries=32, hash_funcs={object: id})
def source_bars(_source: object, symbol: str, years: int, end_day: str) -> pd.DataFrame:
    """Daily bars from a real source that draws history (e.g. Yahoo), cached for an hour."""
    return history_to_ohlcv(_source, symbol, years, pd.Timestamp(end_day, tz="UTC"))


def history_to_ohlcv(source: object, symbol: str, years: int, end: pd.Timestamp
                     ) -> pd.DataFrame:
    """``years`` of daily bars of ``symbol`` from ``source.history`` as an OHLCV DataFrame.

    Raises DataError when the source returns nothing (the message names the symbol).
    """
    from core.symbols import normalize_symbol

    clean = normalize_symbol(symbol)
    bars = source.history(clean, "1d", end.to_pydatetime(), int(years * 366))  # type: ignore
    if not bars:
        raise DataError(f"The market data source returned no daily bars for {clean}.")
    frame = pd.DataFrame([(b.start, b.open, b.high, b.low, b.close, b.volume) for b in bars],
                         columns=["Date", "Open", "High", "Low", "Close", "Volume"])
    return frame.set_index("Date").sort_index()
