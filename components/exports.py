"""Download buttons for tables: CSV, Parquet and JSON."""

from __future__ import annotations

import io

import pandas as pd
import streamlit as st


def to_parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def render_downloads(frame: pd.DataFrame, stem: str, key: str) -> None:
    """Three buttons side by side; the frame is serialised only for the format clicked."""
    c1, c2, c3 = st.columns(3)
    c1.download_button(f"{stem}.csv", data=lambda: frame.to_csv().encode(),
                       file_name=f"{stem}.csv", mime="text/csv", key=f"{key}.csv")
    c2.download_button(f"{stem}.parquet", data=lambda: to_parquet_bytes(frame),
                       file_name=f"{stem}.parquet", mime="application/octet-stream",
                       key=f"{key}.parquet")
    c3.download_button(f"{stem}.json",
                       data=lambda: frame.to_json(orient="table", date_format="iso").encode(),
                       file_name=f"{stem}.json", mime="application/json", key=f"{key}.json")
