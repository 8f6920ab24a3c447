"""Figures of a backtest: equity vs benchmark, underwater, monthly returns, trades on price,
portfolio weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from components.charts import DOWN, UP, candlestick_figure

_LAYOUT = {"height": 360, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}}


def equity_figure(equity: pd.Series, benchmark: pd.Series | None = None) -> go.Figure:
    """Account equity, and the benchmark scaled to start at the same value."""
    fig = go.Figure(go.Scatter(x=equity.index, y=equity.values, name="Strategy",
                               line={"color": UP}))
    if benchmark is not None and len(benchmark):
        scaled = benchmark / benchmark.iloc[0] * equity.iloc[0]
        fig.add_trace(go.Scatter(x=scaled.index, y=scaled.values, name="Benchmark (buy & hold)",
                                 line={"color": "#9e9e9e", "dash": "dot"}))
    fig.update_layout(title="Equity", yaxis_title="Account value", **_LAYOUT)
    return fig


def drawdown_figure(equity: pd.Series) -> go.Figure:
    """Underwater chart: percent below the running peak."""
    dd = (equity / equity.cummax() - 1.0) * 100
    fig = go.Figure(go.Scatter(x=dd.index, y=dd.values, fill="tozeroy", name="Drawdown",
                               line={"color": DOWN}))
    fig.update_layout(title="Drawdown", yaxis_title="% below peak", **_LAYOUT)
    return fig


def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Percent return per calendar month: years as rows, months 1-12 as columns."""
    month_end = equity.resample("ME").last()
    first = equity.iloc[:1]
    returns = pd.concat([first, month_end]).pct_change().iloc[1:] * 100
    returns = returns[~returns.index.duplicated(keep="last")]
    table = pd.DataFrame({"year": returns.index.year, "month": returns.index.month,
                          "ret": returns.values})
    return table.pivot(index="year", columns="month", values="ret").reindex(
        columns=range(1, 13))


def monthly_heatmap_figure(equity: pd.Series) -> go.Figure:
    """Monthly returns as a red/green heatmap with the numbers written in."""
    table = monthly_returns(equity)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    text = table.map(lambda v: "" if pd.isna(v) else f"{v:+.1f}%")
    limit = float(np.nanmax(np.abs(table.values))) if table.notna().any().any() else 1.0
    fig = go.Figure(go.Heatmap(z=table.values, x=months, y=[str(y) for y in table.index],
                               text=text.values, texttemplate="%{text}", zmid=0, zmin=-limit,
                               zmax=limit, colorscale=[[0, DOWN], [0.5, "#2b2b2b"], [1, UP]],
                               colorbar={"title": "%"}))
    fig.update_layout(title="Monthly returns", **{**_LAYOUT, "height": 60 + 28 * len(table)})
    return fig


def trades_figure(ohlc: pd.DataFrame, trades: pd.DataFrame, title: str) -> go.Figure:
    """Candlesticks with a marker at every entry (triangle up long, down short) and exit."""
    frame = ohlc.rename(columns=str.lower)[["open", "high", "low", "close"]].copy()
    frame["volume"] = ohlc.get("Volume", ohlc.get("volume", pd.Series(0.0, index=ohlc.index)))
    fig = candlestick_figure(frame, title)
    if len(trades):
        longs = trades[trades["size"] > 0]
        shorts = trades[trades["size"] < 0]
        for subset, symbol, color, name in ((longs, "triangle-up", UP, "Long entry"),
                                            (shorts, "triangle-down", DOWN, "Short entry")):
            fig.add_trace(go.Scatter(x=subset["entry_time"], y=subset["entry_price"],
                                     mode="markers", name=name,
                                     marker={"symbol": symbol, "size": 10, "color": color}),
                          row=1, col=1)
        fig.add_trace(go.Scatter(x=trades["exit_time"], y=trades["exit_price"], mode="markers",
                                 name="Exit", marker={"symbol": "x", "size": 8,
                                                      "color": "#e0b84c"}), row=1, col=1)
    fig.update_layout(showlegend=True)
    return fig


def weights_figure(weights: pd.DataFrame) -> go.Figure:
    """Realised weights as a stacked area, one band per symbol (the gap to 100 % is cash)."""
    fig = go.Figure()
    for symbol in weights.columns:
        fig.add_trace(go.Scatter(x=weights.index, y=weights[symbol].values * 100, name=str(symbol),
                                 mode="lines", stackgroup="weights", line={"width": 0.5}))
    fig.update_layout(title="Realised weights", yaxis_title="% of equity", **_LAYOUT)
    return fig
