"""Figures and tables of a Monte Carlo run: fan chart, distributions, risk, stress results."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.charts import DOWN, UP
from core.research.montecarlo import MonteCarloResult

_LAYOUT = {"height": 380, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}}
_BAND = "rgba(38, 166, 154, {alpha})"
DISTRIBUTIONS = {"final_return": "Final return", "cagr": "CAGR", "sharpe": "Sharpe",
                 "max_drawdown": "Max drawdown"}


def fan_figure(result: MonteCarloResult) -> go.Figure:
    """Equity fan: 5-95 % and 25-75 % bands, the median, and the worst path."""
    p = result.percentiles
    steps = list(p.index)
    fig = go.Figure()
    for low, high, alpha, name in (("p5", "p95", 0.18, "5-95 %"), ("p25", "p75", 0.35,
                                                                     "25-75 %")):
        fig.add_trace(go.Scatter(x=steps, y=p[high], line={"width": 0}, showlegend=False,
                                 hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=steps, y=p[low], fill="tonexty", line={"width": 0},
                                 fillcolor=_BAND.format(alpha=alpha), name=name))
    fig.add_trace(go.Scatter(x=steps, y=p["p50"], name="Median", line={"color": UP}))
    fig.add_trace(go.Scatter(x=steps, y=result.worst_path.values, name="Worst path",
                             line={"color": DOWN, "dash": "dot"}))
    fig.update_layout(title="Equity fan (percentiles of every path)", xaxis_title="Step",
                      yaxis_title="Equity", **_LAYOUT)
    return fig


def distribution_figure(result: MonteCarloResult, metric: str) -> go.Figure:
    """Histogram of one per-path metric (percent for the return metrics)."""
    values = np.asarray(result.distributions[metric], dtype=float)
    values = values[np.isfinite(values)]
    scale = 1.0 if metric == "sharpe" else 100.0
    fig = go.Figure(go.Histogram(x=values * scale, nbinsx=60, marker={"color": UP},
                                 name=DISTRIBUTIONS[metric]))
    unit = "" if metric == "sharpe" else " (%)"
    fig.update_layout(title=f"{DISTRIBUTIONS[metric]} across paths", xaxis_title=
                      f"{DISTRIBUTIONS[metric]}{unit}", yaxis_title="Paths", **_LAYOUT)
    return fig


def summary_table(result: MonteCarloResult) -> pd.DataFrame:
    """Mean and the 95 % interval of each metric, for people (percent where it is one)."""
    rows = []
    for metric, row in result.summary.iterrows():
        scale, unit = (1.0, "") if metric == "sharpe" else (100.0, " %")
        rows.append({"Metric": DISTRIBUTIONS.get(str(metric), str(metric)),
                     "Mean": f"{row['mean'] * scale:,.2f}{unit}",
                     "95 % interval": f"{row['p2.5'] * scale:,.2f}{unit} to "
                                      f"{row['p97.5'] * scale:,.2f}{unit}",
                     "Median": f"{row['p50'] * scale:,.2f}{unit}" if "p50" in row else ""})
    return pd.DataFrame(rows)


def risk_table(risk: Mapping[str, float]) -> pd.DataFrame:
    """Probabilities with their intervals and the tail figures."""
    def pct(key: str) -> str:
        return f"{risk[key] * 100:.2f} %"

    return pd.DataFrame([
        {"Risk": f"Ruin (equity below {risk['ruin_level'] * 100:.0f} % of the start)",
         "Value": pct("prob_ruin"),
         "95 % interval": f"{pct('prob_ruin_ci_low')} to {pct('prob_ruin_ci_high')}"},
        {"Risk": f"Drawdown beyond {risk['drawdown_limit'] * 100:.0f} %",
         "Value": pct("prob_drawdown_breach"),
         "95 % interval": f"{pct('prob_drawdown_breach_ci_low')} to "
                          f"{pct('prob_drawdown_breach_ci_high')}"},
        {"Risk": "VaR 95 % of the final return", "Value": pct("var_95"), "95 % interval": ""},
        {"Risk": "Expected shortfall 95 %", "Value": pct("es_95"), "95 % interval": ""},
        {"Risk": "Median max drawdown", "Value": pct("median_max_drawdown"),
         "95 % interval": ""},
        {"Risk": "Worst final return", "Value": pct("worst_final_return"), "95 % interval": ""},
    ])


def render_result(result: MonteCarloResult, stress: pd.DataFrame | None) -> None:
    """KPIs, fan chart, distributions, risk and stress tables."""
    risk = result.risk
    k = st.columns(5)
    k[0].metric("Probability of ruin", f"{risk['prob_ruin'] * 100:.2f} %")
    k[1].metric(f"P(drawdown > {risk['drawdown_limit'] * 100:.0f} %)",
                f"{risk['prob_drawdown_breach'] * 100:.2f} %")
    median = float(np.nanmedian(result.distributions["final_return"]))
    k[2].metric("Median final return", f"{median * 100:.2f} %")
    k[3].metric("VaR 95 %", f"{risk['var_95'] * 100:.2f} %")
    k[4].metric("Paths", f"{result.inputs['n_paths']:,}")
    st.plotly_chart(fan_figure(result), width="stretch")
    tabs = st.tabs([*DISTRIBUTIONS.values(), "Risk", "Stress tests"])
    for tab, metric in zip(tabs, DISTRIBUTIONS, strict=False):
        tab.plotly_chart(distribution_figure(result, metric), width="stretch")
    with tabs[len(DISTRIBUTIONS)]:
        st.dataframe(risk_table(risk), hide_index=True, width="stretch")
        st.dataframe(summary_table(result), hide_index=True, width="stretch")
    with tabs[len(DISTRIBUTIONS) + 1]:
        if stress is None:
            st.caption("No stress test was run.")
        else:
            st.dataframe(stress, hide_index=True, width="stretch")
