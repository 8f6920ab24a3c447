"""Figures and tables of a walk-forward run: folds, IS vs OOS, stitched equity, stability."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components.charts import DOWN, UP
from core.backtest.strategies import Strategy
from core.research.regimes import performance_by_regime, trend_regimes, volatility_regimes
from core.research.walkforward import WalkForwardResult, objective_surface

_LAYOUT = {"height": 360, "margin": {"l": 10, "r": 10, "t": 40, "b": 10}}


def _default_range(spec: Any) -> tuple[float, float, float]:
    """Half to twice the default in about four to eight steps, within the spec's bounds."""
    default = spec.default
    low = spec.min if spec.min is not None else (1 if spec.type is int else 0.0)
    if spec.type is int:
        lo, hi, step = max(low, default // 2), max(default * 2, low + 4), max(1, default // 4)
    elif default > 0:
        lo, hi, step = max(low, default / 2), default * 2, default * 1.5 / 4
    else:  # a float switched off by default (e.g. a filter at 0): a small range from it
        lo, hi, step = low, low + 1.0, 0.25
    if spec.max is not None:
        hi = min(hi, spec.max)
    return lo, hi, step


def _values(start: float, stop: float, step: float, is_int: bool) -> list[Any]:
    values: list[Any] = []
    value = start
    while value <= stop + 1e-12 and len(values) < 500:
        values.append(int(value) if is_int else round(value, 10))
        value += step
    return values


def grid_inputs(strategy: type[Strategy], key: str) -> dict[str, list[Any]]:
    """From / to / step inputs for each numeric parameter; the grid the search will walk."""
    grid: dict[str, list[Any]] = {}
    for spec in strategy.params:
        if spec.type not in (int, float):
            continue
        is_int = spec.type is int
        cast = int if is_int else float
        lo, hi, step = _default_range(spec)
        c1, c2, c3 = st.columns(3)
        k = f"{key}.{strategy.name}.{spec.name}"
        start = c1.number_input(f"{spec.name} from", value=cast(lo), key=f"{k}.lo")
        stop = c2.number_input(f"{spec.name} to", value=cast(hi), key=f"{k}.hi")
        inc = c3.number_input(f"{spec.name} step", value=cast(step),
                              min_value=cast(1) if is_int else 1e-9, key=f"{k}.step")
        grid[spec.name] = _values(cast(start), cast(stop), cast(inc), is_int)
    return grid


def folds_table(result: WalkForwardResult) -> pd.DataFrame:
    """One row per fold: windows, chosen parameters, IS objective, OOS figures, efficiency."""
    rows = []
    for fold in result.folds:
        rows.append({"Fold": fold.fold + 1,
                     "Train": f"{fold.train_start:%Y-%m-%d} to {fold.train_end:%Y-%m-%d}",
                     "Test": f"{fold.test_start:%Y-%m-%d} to {fold.test_end:%Y-%m-%d}",
                     "Parameters": ", ".join(f"{k}={v}" for k, v in fold.params.items()),
                     f"IS {result.objective}": fold.is_objective,
                     "IS return %": fold.is_stats["return_pct"],
                     "OOS return %": fold.oos_stats["return_pct"],
                     "OOS Sharpe": fold.oos_stats["sharpe"],
                     "OOS trades": fold.oos_stats["trades"],
                     "Efficiency": fold.efficiency})
    return pd.DataFrame(rows)


def is_oos_figure(result: WalkForwardResult) -> go.Figure:
    """In-sample vs out-of-sample return per fold."""
    folds = [f"Fold {f.fold + 1}" for f in result.folds]
    fig = go.Figure([
        go.Bar(x=folds, y=[f.is_stats["return_pct"] for f in result.folds], name="In sample",
               marker={"color": "#9e9e9e"}),
        go.Bar(x=folds, y=[f.oos_stats["return_pct"] for f in result.folds],
               name="Out of sample", marker={"color": UP}),
    ])
    fig.update_layout(title="Return per fold: in sample vs out of sample",
                      yaxis_title="Return (%)", barmode="group", **_LAYOUT)
    return fig


def stitched_figure(result: WalkForwardResult, close: pd.Series) -> go.Figure:
    """Stitched out-of-sample equity against buy and hold over the same bars."""
    equity = result.stitched_equity
    hold = close.reindex(equity.index).ffill()
    hold = hold / hold.iloc[0] * equity.iloc[0]
    fig = go.Figure([
        go.Scatter(x=equity.index, y=equity.values, name="Walk-forward (out of sample)",
                   line={"color": UP}),
        go.Scatter(x=hold.index, y=hold.values, name="Buy & hold",
                   line={"color": "#9e9e9e", "dash": "dot"}),
    ])
    fig.update_layout(title="Stitched out-of-sample equity", yaxis_title="Account value",
                      **_LAYOUT)
    return fig


def stability_figure(result: WalkForwardResult, fold: int, x: str, y: str) -> go.Figure:
    """Heatmap of the objective around the chosen parameters of one fold."""
    surface = objective_surface(result, fold, x, y)
    chosen = result.folds[fold].params
    fig = go.Figure(go.Heatmap(z=surface.values, x=[str(c) for c in surface.columns],
                               y=[str(i) for i in surface.index], colorscale="RdYlGn",
                               colorbar={"title": result.objective}))
    fig.add_trace(go.Scatter(x=[str(chosen[x])], y=[str(chosen[y])], mode="markers",
                             marker={"symbol": "x", "size": 14, "color": DOWN},
                             name="chosen"))
    fig.update_layout(title=f"Fold {fold + 1}: {result.objective} around the optimum",
                      xaxis_title=x, yaxis_title=y, **_LAYOUT)
    return fig


def significance_table(sig: Any) -> pd.DataFrame:
    """The deflated Sharpe, the bootstrap p-value and the comparison with buy and hold."""
    paired = sig.vs_buy_hold
    return pd.DataFrame([
        {"Test": "Out-of-sample Sharpe (annualised)", "Value": f"{sig.sharpe:.2f}"},
        {"Test": f"Deflated Sharpe ratio ({sig.n_trials} trials per fold)",
         "Value": f"{sig.deflated_sharpe:.3f}"},
        {"Test": "Expected best Sharpe of the trials by luck",
         "Value": f"{sig.expected_max_sharpe:.2f}"},
        {"Test": "Bootstrap p-value of the OOS Sharpe (H0: no edge)",
         "Value": f"{sig.bootstrap.p_value:.4f}"},
        {"Test": "vs buy & hold: mean daily difference, t-stat",
         "Value": f"{paired.mean_diff * 100:.4f} %, t = {paired.t_stat:.2f}"},
        {"Test": "vs buy & hold: p-value", "Value": f"{paired.p_value:.4f}"},
    ])


def regime_tables(result: WalkForwardResult, close: pd.Series) -> tuple[pd.DataFrame,
                                                                         pd.DataFrame]:
    """Out-of-sample performance per volatility regime and per trend/range regime."""
    equity = result.stitched_equity
    vol = performance_by_regime(equity, volatility_regimes(close).reindex(equity.index))
    trend = performance_by_regime(equity, trend_regimes(close).reindex(equity.index))
    return vol, trend


def render_result(result: WalkForwardResult, sig: Any, close: pd.Series) -> None:
    """KPIs, fold table, IS vs OOS, stitched equity, stability, significance, regimes."""
    oos = result.stitched_equity
    k = st.columns(4)
    k[0].metric("Folds", f"{len(result.folds)}")
    k[1].metric("OOS return", f"{(oos.iloc[-1] / oos.iloc[0] - 1) * 100:.2f}%")
    k[2].metric("Walk-forward efficiency", f"{result.efficiency:.2f}")
    k[3].metric("Deflated Sharpe", f"{sig.deflated_sharpe:.3f}")
    st.dataframe(folds_table(result), hide_index=True, width="stretch")
    tabs = st.tabs(["IS vs OOS", "Stitched equity", "Parameter stability", "Significance",
                    "Regimes"])
    tabs[0].plotly_chart(is_oos_figure(result), width="stretch")
    tabs[1].plotly_chart(stitched_figure(result, close), width="stretch")
    with tabs[2]:
        st.dataframe(result.parameters, width="stretch")
        names = list(result.grid)
        if len(names) >= 2:
            fold = st.selectbox("Fold", list(range(len(result.folds))),
                                format_func=lambda i: f"Fold {i + 1}", key="wf.surface.fold")
            st.plotly_chart(stability_figure(result, fold, names[0], names[1]),
                            width="stretch")
    tabs[3].dataframe(significance_table(sig), hide_index=True, width="stretch")
    with tabs[4]:
        vol, trend = regime_tables(result, close)
        st.markdown("**By volatility regime** (rolling 20-bar volatility terciles)")
        st.dataframe(vol, hide_index=True, width="stretch")
        st.markdown("**Trend or range** (20-bar efficiency ratio, 0.3 threshold)")
        st.dataframe(trend, hide_index=True, width="stretch")
