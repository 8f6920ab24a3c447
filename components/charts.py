"""Plotly figures. Pure functions from data to figures, so tests can inspect them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

UP, DOWN = "#26a69a", "#ef5350"


def candlestick_figure(frame: pd.DataFrame, title: str) -> go.Figure:
    """Candlesticks with a volume panel below; ``frame`` has open/high/low/close/volume."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.75, 0.25],
                        vertical_spacing=0.03)
    fig.add_trace(go.Candlestick(x=frame.index, open=frame["open"], high=frame["high"],
                                 low=frame["low"], close=frame["close"], name="Price",
                                 increasing_line_color=UP, decreasing_line_color=DOWN),
                  row=1, col=1)
    colors = [UP if c >= o else DOWN for o, c in zip(frame["open"], frame["close"], strict=True)]
    fig.add_trace(go.Bar(x=frame.index, y=frame["volume"], name="Volume", marker_color=colors,
                         opacity=0.6), row=2, col=1)
    fig.update_layout(title=title, height=520, showlegend=False, xaxis_rangeslider_visible=False,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10}, uirevision=title)
    fig.update_yaxes(title_text="Price", row=1, col=1)
    fig.update_yaxes(title_text="Volume", row=2, col=1)
    return fig
