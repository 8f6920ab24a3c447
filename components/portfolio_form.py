"""Backtest Lab's portfolio mode: the form, reading its weights table, and a run's results.

The page gathers a :class:`PortfolioForm` with :func:`portfolio_form`, turns its table into target
weights with :func:`read_weights`, builds one column of closes per symbol with
:func:`portfolio_closes`, calls :func:`core.backtest.run_portfolio` and shows the outcome with
:func:`render_portfolio_result`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from components.backtest_charts import (
    drawdown_figure,
    equity_figure,
    monthly_heatmap_figure,
    weights_figure,
)
from components.exports import render_downloads
from core.errors import ValidationError
from core.symbols import normalize_symbol

REBALANCE: dict[str, str | None] = {
    "Daily": "D", "Weekly (Friday)": "W-FRI", "Month-end": "ME", "Quarter-end": "QE",
    "None (buy and hold)": None}
"""Rebalance choices of the form and the pandas offset each one means (None = buy and hold)."""
DEFAULT_WEIGHTS: dict[str, float] = {"AAPL": 0.4, "MSFT": 0.3, "SPY": 0.3}
"""The table a new session starts with (simulator symbols)."""
EDITOR_KEY = "pf.weights"
"""Session-state key of the weights editor (its edits: edited_rows, added_rows, deleted_rows)."""


@dataclass(frozen=True)
class PortfolioForm:
    """What the portfolio form holds after a run of the page."""

    submitted: bool
    table: pd.DataFrame
    rebalance: str
    source: str
    years: int
    cash: float
    commission: float
    weights_slot: Any
    """Where a problem with the symbols or weights is shown (next to the table)."""

    @property
    def rule(self) -> str | None:
        """The pandas offset of :attr:`rebalance` (None = buy and hold)."""
        return REBALANCE[self.rebalance]


def portfolio_form(sources: Sequence[str]) -> PortfolioForm:
    """Draw the form: symbols and weights, data, years, rebalancing, cash and commission."""
    with st.form("portfolio"):
        left, right = st.columns([3, 2])
        with left:
            st.markdown("**Symbols and target weights**")
            table = st.data_editor(
                pd.DataFrame({"Symbol": list(DEFAULT_WEIGHTS),
                              "Weight": list(DEFAULT_WEIGHTS.values())}),
                key=EDITOR_KEY, num_rows="dynamic", hide_index=True, width="stretch",
                column_config={
                    "Symbol": st.column_config.TextColumn(
                        "Symbol", help="A ticker, e.g. AAPL, SPY, BTCUSDT"),
                    "Weight": st.column_config.NumberColumn(
                        "Weight", help="Fraction of equity, e.g. 0.25; negative = short",
                        min_value=-1.0, max_value=1.0, step=0.01, format="%.2f")})
            weights_slot = st.empty()
            st.caption("Weights are fractions of equity: they sum to at most 1 (the rest stays "
                       "in cash) and their absolute values to at most 1 (negative = short).")
        with right:
            source = (st.radio("Data", sources, key="pf.source") if len(sources) > 1
                      else sources[0])
            years = st.slider("Years of daily bars", 1, 20, 10, key="pf.years")
            rebalance = st.selectbox("Rebalance", list(REBALANCE), index=2, key="pf.rebalance",
                                     help="Trade back to the target weights at the end of each "
                                          "period; buy and hold trades on the first bar only.")
            c1, c2 = st.columns(2)
            cash = c1.number_input("Cash", min_value=1.0, value=10_000.0, step=1_000.0,
                                   key="pf.cash")
            commission = c2.number_input("Commission (fraction)", min_value=0.0, max_value=0.1,
                                         value=0.0, step=0.0005, format="%.4f",
                                         key="pf.commission")
        submitted = st.form_submit_button("Run portfolio backtest", type="primary")
    return PortfolioForm(submitted, table, rebalance, str(source), int(years), float(cash),
                         float(commission), weights_slot)


def read_weights(table: pd.DataFrame) -> dict[str, float]:
    """Target weights from the editor's rows (blank rows skipped, symbols normalised).

    The weight limits (net <= 1, gross <= 1) are checked by ``run_portfolio``.

    Raises
    ------
    InvalidSymbol
        For a malformed symbol.
    ValidationError
        For a weight without a symbol, a symbol without a number, a symbol listed twice, or no
        row at all.
    """
    weights: dict[str, float] = {}
    for row, (raw_symbol, raw_weight) in enumerate(
            table[["Symbol", "Weight"]].itertuples(index=False, name=None), start=1):
        no_symbol = pd.isna(raw_symbol) or not str(raw_symbol).strip()
        if no_symbol and pd.isna(raw_weight):
            continue
        if no_symbol:
            raise ValidationError(f"Row {row} has a weight but no symbol; enter a symbol such "
                                  "as AAPL or delete the row.")
        symbol = normalize_symbol(str(raw_symbol))
        weight = pd.to_numeric(pd.Series([raw_weight]), errors="coerce").iloc[0]
        if pd.isna(weight):
            raise ValidationError(f"{symbol} has no weight; enter a fraction of equity such as "
                                  "0.25 (or 0 to hold none).")
        if symbol in weights:
            raise ValidationError(f"{symbol} is listed twice; list each symbol once.")
        weights[symbol] = float(weight)
    if not weights:
        raise ValidationError("Enter at least one symbol with a target weight.")
    return weights


def portfolio_closes(symbols: Sequence[str], load: Callable[[str], pd.DataFrame]
                     ) -> pd.DataFrame:
    """One column of closes per symbol from ``load(symbol)`` (OHLCV), on the union of times."""
    return pd.concat({symbol: load(symbol)["Close"] for symbol in symbols}, axis=1).sort_index()


def _number(value: Any, spec: str, suffix: str = "") -> str:
    return "—" if value is None or pd.isna(value) else f"{value:{spec}}{suffix}"


def _kpis(stats: Mapping[str, Any], orders: int) -> None:
    ret, bench = stats.get("return_pct"), stats.get("buy_hold_return_pct")
    delta = (None if ret is None or bench is None or pd.isna(ret) or pd.isna(bench)
             else f"{ret - bench:+.2f} pts vs equal weight")
    k = st.columns(6)
    k[0].metric("Return", _number(ret, ".2f", "%"), delta)
    k[1].metric("CAGR", _number(stats.get("cagr_pct"), ".2f", "%"))
    k[2].metric("Sharpe", _number(stats.get("sharpe"), ".2f"))
    k[3].metric("Max drawdown", _number(stats.get("max_drawdown_pct"), ".2f", "%"))
    k[4].metric("Volatility", _number(stats.get("volatility_pct"), ".2f", "%"))
    k[5].metric("Orders", f"{orders:,}")


def render_portfolio_result(result: Mapping[str, Any]) -> None:
    """KPI cards, equity vs benchmark, drawdown, weights, monthly returns, orders, all stats.

    ``result`` holds ``title``, ``stats``, ``orders``, ``equity``, ``config`` and optionally
    ``weights`` (realised, per bar) and ``benchmark`` (equity of the equal-weight buy & hold);
    a reopened run has neither.
    """
    stats, orders, equity = result["stats"], result["orders"], result["equity"]
    weights = result.get("weights")
    st.subheader(result["title"])
    if result["config"].get("simulated"):
        st.caption("Simulated history from the built-in market simulator, not real prices.")
    _kpis(stats, len(orders))
    tabs = st.tabs(["Equity", "Drawdown", "Weights", "Monthly returns", "Orders",
                    "All statistics"])
    tabs[0].plotly_chart(equity_figure(equity, result.get("benchmark")), width="stretch")
    tabs[1].plotly_chart(drawdown_figure(equity), width="stretch")
    if weights is None:
        tabs[2].info("Realised weights are not stored with a run; run it again to see them.")
    else:
        tabs[2].plotly_chart(weights_figure(weights), width="stretch")
    tabs[3].plotly_chart(monthly_heatmap_figure(equity), width="stretch")
    with tabs[4]:
        st.dataframe(orders, width="stretch", hide_index=True)
        render_downloads(orders, "orders", "pf-dl-orders")
        render_downloads(equity.to_frame("equity"), "equity", "pf-dl-equity")
        if weights is not None:
            render_downloads(weights, "weights", "pf-dl-weights")
    tabs[5].dataframe(pd.Series(stats, name="value").astype(str), width="stretch")
