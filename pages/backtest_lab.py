"""Backtest Lab: configure a backtest in a form, run it, read it, store it, compare runs.

Two modes: one symbol with a strategy (or a two-leg pair), or a portfolio of several symbols held
at target weights and rebalanced on a calendar (its widgets live in components/portfolio_form).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace

import pandas as pd
import streamlit as st

from components.backtest_charts import (
    drawdown_figure,
    equity_figure,
    monthly_heatmap_figure,
    trades_figure,
)
from components.backtest_data import uploaded_bars
from components.exports import render_downloads
from components.history import get_history_service
from components.portfolio_form import (
    PortfolioForm,
    portfolio_closes,
    portfolio_form,
    read_weights,
    render_portfolio_result,
)
from components.runtime import get_runtime
from components.strategy_form import param_inputs
from core.backtest import run_backtest, run_pairs, run_portfolio
from core.backtest.strategies import PLUGIN_ERRORS, STRATEGIES, load_plugins
from core.data.frames import canonical
from core.data.prepare import POLICY_LABELS, Prepared, prepare_history
from core.data.sources.registry import configured, sources_for
from core.errors import DataError, GSError, ValidationError
from core.feeds.simulator import CATALOG

runtime = get_runtime()
store = runtime.store
st.title("Backtest Lab")
load_plugins()  # user strategies in plugins/ (or GS_PLUGINS_DIR); each file loads once
for problem in PLUGIN_ERRORS.values():
    st.warning(f"A strategy plugin was not loaded: {problem}")

names = list(STRATEGIES)
history = get_history_service()
real_sources = configured(runtime.settings)
choices = ["Simulated history", "Upload CSV/Parquet"]
if real_sources:
    choices.insert(0, f"Market data ({', '.join(real_sources)})")
catalog = sorted(CATALOG)
MODES = ("Single symbol", "Portfolio")
if "bt_mode_next" in st.session_state:  # a reopened run picks its mode before the radio exists
    st.session_state["bt_mode"] = st.session_state.pop("bt_mode_next")
mode = st.radio("Mode", MODES, horizontal=True, key="bt_mode",
                help="One symbol and a strategy, or several symbols held at target weights and "
                     "rebalanced on a calendar.")


def _daily(symbol: str, years: int, market: bool) -> pd.DataFrame:
    """Daily bars of ``symbol`` through the history service: its sources, or the simulator."""
    start = pd.Timestamp(datetime.now(UTC).date(), tz="UTC") - pd.DateOffset(years=years)
    return history.load(symbol, start, None, "1d", only=None if market else ["simulator"])


def _run_portfolio(form: PortfolioForm) -> dict | None:
    """Run, store and return the form's portfolio; show any problem next to the weights."""
    market = form.source.startswith("Market data")
    try:
        weights = read_weights(form.table)
        closes = portfolio_closes(list(weights), lambda sym: _daily(sym, form.years, market))
        equal = dict.fromkeys(closes.columns, 1.0 / closes.shape[1])
        benchmark = run_portfolio(closes, equal, rebalance=None, cash=form.cash).equity
        run = run_portfolio(closes, weights, rebalance=form.rule, cash=form.cash,
                            commission=form.commission, benchmark=benchmark)
    except GSError as exc:
        form.weights_slot.error(str(exc), icon=":material/error:")
        return None
    title = (f"Portfolio {', '.join(f'{s} {w:g}' for s, w in weights.items())} · "
             f"rebalance {form.rebalance}")
    config = {"mode": "portfolio", "data": form.source, "simulated": not market,
              "symbols": list(weights), "weights": weights, "rebalance": form.rule,
              "rebalance_label": form.rebalance, "years": form.years, "cash": form.cash,
              "commission": form.commission, "benchmark": "Equal-weight buy & hold",
              "start": str(closes.index[0]), "end": str(closes.index[-1])}
    stats = {**run.stats, "orders": len(run.orders)}
    run_id = None
    if store is not None:
        try:  # the orders are stored in place of trades
            run_id = store.runs.save(title, "portfolio", config, stats, run.orders, run.equity)
        except GSError as exc:
            st.toast(f"The run was not saved: {exc}")
    return {"title": title, "stats": stats, "orders": run.orders, "equity": run.equity,
            "weights": run.weights_realised, "benchmark": benchmark, "config": config,
            "id": run_id}


def _portfolio_mode() -> None:
    form = portfolio_form([c for c in choices if not c.startswith("Upload")])
    if form.submitted and (outcome := _run_portfolio(form)) is not None:
        st.session_state["bt_portfolio"] = outcome
    if shown := st.session_state.get("bt_portfolio"):
        render_portfolio_result(shown)


def _reopen(run_id: str) -> None:
    """Show a stored run again, in the mode it was made in."""
    stored = store.runs.get(run_id)
    if stored is None:
        return
    config = dict(stored.config)  # prices are not stored with a run: equity, stats, trades
    shown = {"title": stored.title, "stats": dict(stored.stats), "trades": stored.trades,
             "equity": stored.equity, "data": None, "config": config, "id": stored.id}
    if config.get("mode") == "portfolio":
        st.session_state["bt_portfolio"] = {**shown, "orders": shown.pop("trades")}
        st.session_state["bt_mode_next"] = "Portfolio"
    else:
        st.session_state["bt_result"] = shown
        st.session_state["bt_mode_next"] = "Single symbol"
    st.rerun()


def _earlier_runs() -> None:
    """The stored runs: a table, reopen one, or compare two side by side."""
    st.divider()
    st.subheader("Earlier runs")
    try:
        runs = store.runs.list()
    except GSError as exc:
        st.error(str(exc))
        runs = []
    if not runs:
        st.caption("Runs you make are stored here, to reopen or compare.")
        return
    table = pd.DataFrame([{"When (UTC)": r.created.strftime("%Y-%m-%d %H:%M:%S"),
                           "Run": r.title, "Return %": r.return_pct, "Sharpe": r.sharpe,
                           "Trades": r.trades, "id": r.id} for r in runs])
    st.dataframe(table.drop(columns="id"), width="stretch", hide_index=True)
    by_label = {f"{r.created:%m-%d %H:%M:%S} · {r.title} · {r.id[:6]}": r.id for r in runs}
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    picked = c1.multiselect("Compare runs side by side (or pick one to reopen)",
                            list(by_label), max_selections=2)
    chosen = [by_label[label] for label in picked]
    if c2.button("Reopen", disabled=len(chosen) != 1):
        _reopen(chosen[0])
    if len(chosen) == 2:
        a, b = (store.runs.get(i) for i in chosen)
        if a is not None and b is not None:
            side = pd.DataFrame({a.title: pd.Series(a.stats), b.title: pd.Series(b.stats)})
            st.dataframe(side.astype(str), width="stretch")


if mode == "Portfolio":  # the portfolio form and results replace the single-symbol ones
    _portfolio_mode()
    if store is not None:
        _earlier_runs()
    st.stop()

left, right = st.columns([1, 2])
with left:
    source = st.radio("Data", choices, horizontal=True)
    upload, symbol, years = None, None, 10
    if source.startswith("Market data"):
        symbol = st.text_input("Symbol", value="AAPL").strip().upper()
        years = st.slider("Years of daily bars", 1, 20, 5)
    elif source == "Simulated history":
        symbol = st.selectbox("Symbol", catalog, index=catalog.index("AAPL"))
        years = st.slider("Years of daily bars", 1, 20, 10)
    else:
        upload = st.file_uploader("OHLCV file (Date, Open, High, Low, Close, Volume)",
                                  type=["csv", "parquet"])
    data_slot = st.empty()
    policy = st.selectbox(
        "Gaps in the data", list(POLICY_LABELS), format_func=POLICY_LABELS.get,
        help="Missing sessions are found against the trading calendar (weekends and holidays "
             "are not gaps). Filled bars are marked; the data quality score is shown with the "
             "results.")
    strategy_name = st.selectbox("Strategy", names, index=names.index("sma_cross"),
                                 format_func=lambda n: STRATEGIES[n].title or n)
    leg_b = None
    if strategy_name == "pairs":
        leg_b = st.selectbox("Second leg (B)", catalog, index=catalog.index("MSFT"),
                             help="Pairs trade both legs: A (above) against B, hedged by the "
                                  "rolling ratio. B uses the same kind of history as A.")
    benchmark_choice = st.selectbox(
        "Benchmark", ["Buy & hold of the same data", *catalog],
        help="Buy-and-hold return, alpha and beta are measured against it; a catalog symbol "
             "uses its simulated daily history.")

strategy = STRATEGIES[strategy_name]
with right.form("backtest"):
    st.markdown(f"**{strategy.title or strategy_name}** parameters")
    params = param_inputs(strategy, "bt")
    param_slot = st.empty()
    c1, c2, c3, c4 = st.columns(4)
    cash = c1.number_input("Cash", min_value=1.0, value=10_000.0, step=1_000.0)
    commission = c2.number_input("Commission (fraction)", min_value=0.0, max_value=0.1,
                                 value=0.0, step=0.0005, format="%.4f")
    spread = c3.number_input("Spread (fraction)", min_value=0.0, max_value=0.1, value=0.0,
                             step=0.0005, format="%.4f")
    fill = c4.selectbox("Fill at", ["next_open", "close"])
    d1, d2 = st.columns(2)
    start = d1.date_input("From", value=None)
    end = d2.date_input("To", value=None)
    date_slot = st.empty()
    submitted = st.form_submit_button("Run backtest", type="primary")


def _load() -> pd.DataFrame:
    if upload is not None:
        return canonical(uploaded_bars(upload.name, upload.getvalue()))
    if symbol is None:
        raise DataError("Upload a CSV or Parquet file first, or choose simulated history.")
    return _daily(symbol, years, source.startswith("Market data"))


def _next_source(data: pd.DataFrame) -> pd.DataFrame | None:
    """The same range straight from the next real source in the symbol's list (None if none).

    Fetched directly, not through the caches (which would hand back the same bars), and never
    from the simulator: simulated bars must not fill real history.
    """
    if symbol is None or not source.startswith("Market data"):
        return None
    served = set(data.attrs.get("history", {}).get("sources", []))
    if "simulator" in served:  # simulated history is never filled with real bars
        return None
    order = [n for n in sources_for(symbol, runtime.settings) if n != "simulator"]
    known = served & set(order)
    start_at = max(order.index(n) for n in known) + 1 if known else 1
    for name in order[start_at:]:
        try:
            return canonical(history.sources[name].fetch(
                symbol, data.index[0], data.index[-1] + pd.Timedelta(days=1), "1d"))
        except GSError:
            continue
    return None


def _prepare(data: pd.DataFrame) -> Prepared:
    backup = _next_source(data) if policy == "next_source" else None
    if policy == "next_source" and backup is None:
        raise DataError("There is no next source for this data (simulated history and uploaded "
                        "files have only one, and a symbol needs a second real source that "
                        "answers); choose another gap policy.")
    return prepare_history(data, symbol, "1d", policy, next_source=backup)


def _pairs(data: pd.DataFrame) -> SimpleNamespace:
    """Both legs traded by run_pairs; its orders stand in for trades on the page."""
    other = _daily(leg_b, years, source.startswith("Market data"))
    sims = ["simulator" in d.attrs.get("history", {}).get("sources", []) for d in (data, other)]
    if sims[0] != sims[1]:
        raise DataError(f"{leg_b if sims[1] else symbol} has no real history here, so its bars "
                        "would be simulated: a pair needs both legs real (or both simulated).")
    close_a = data["Close"].rename(symbol or "A")
    close_b = other["Close"].rename(leg_b).reindex(data.index).ffill()
    keys = ("lookback", "z_lookback", "entry_z", "exit_z")
    run = run_pairs(close_a, close_b, cash=cash, commission=commission,
                    **{k: params[k] for k in keys})
    return SimpleNamespace(stats=run.stats, trades=run.orders, equity=run.equity)


def _benchmark(data: pd.DataFrame) -> pd.Series | None:
    if benchmark_choice not in CATALOG:
        return None
    other = _daily(benchmark_choice, 20, market=False)["Close"]
    aligned = other.reindex(data.index.union(other.index)).ffill().reindex(data.index)
    if aligned.isna().all():
        raise ValidationError(f"The benchmark {benchmark_choice} has no prices in this range.")
    return aligned.bfill()


def _window(data: pd.DataFrame, first: date | None, last: date | None) -> pd.DataFrame:
    index = data.index.tz_convert(None) if data.index.tz is not None else data.index
    keep = pd.Series(True, index=data.index)
    if first is not None:
        keep &= index >= pd.Timestamp(first)
    if last is not None:
        keep &= index < pd.Timestamp(last) + pd.Timedelta(days=1)
    window = data[keep.values]
    if len(window) < 3:
        raise GSError(f"The date range {first or '…'} to {last or '…'} holds {len(window)} "
                      "bars; choose a wider range.")
    return window


def _run() -> tuple[pd.DataFrame, pd.Series | None, object, dict] | None:
    """Run with the form's values; show any problem next to the field it is about."""
    try:
        loaded = _load()
    except GSError as exc:
        data_slot.error(str(exc), icon=":material/error:")
        return None
    origin = dict(loaded.attrs.get("history", {}))
    try:
        data = _window(loaded, start, end)
    except GSError as exc:
        date_slot.error(str(exc), icon=":material/error:")
        return None
    try:
        prepared = _prepare(data)
    except GSError as exc:
        data_slot.error(str(exc), icon=":material/error:")
        return None
    data = prepared.frame
    quality = {"quality_score": prepared.report.score, "calendar": prepared.calendar,
               "gap_policy": policy, "bars_filled": prepared.filled,
               "gaps_left": sum(g.missing for g in prepared.gaps_left),
               "warnings": [r.name for r in prepared.report.results if not r.passed],
               "sources": origin.get("sources") or ["file"], "notes": origin.get("notes", []),
               "served_by": origin.get("served_by", "file")}
    try:
        benchmark = _benchmark(data)
        if leg_b is not None:
            run = _pairs(data)
        else:
            run = run_backtest(data, strategy_name, params, benchmark=benchmark, cash=cash,
                               commission=commission, spread=spread, fill=fill)
    except GSError as exc:
        slot = param_slot if str(exc).startswith(f"{strategy_name}:") else right
        slot.error(str(exc), icon=":material/error:")
        return None
    return data, benchmark, run, quality


outcome = _run() if submitted else None
if outcome is not None:
    data, benchmark, run, quality = outcome
    label = symbol or (upload.name if upload else "data")
    if leg_b is not None:
        label = f"{label}/{leg_b}"
    title = f"{label} · {strategy_name}({', '.join(f'{k}={v}' for k, v in params.items())})"
    config = {"data": label, "simulated": "simulator" in quality["sources"], **quality,
              "benchmark": benchmark_choice, "strategy": strategy_name,
              "params": params, "cash": cash, "commission": commission, "spread": spread,
              "fill": fill, "start": str(data.index[0]), "end": str(data.index[-1])}
    run_id = None
    if store is not None:
        try:
            run_id = store.runs.save(title, strategy_name, config, run.stats, run.trades,
                                     run.equity)
        except GSError as exc:
            st.toast(f"The run was not saved: {exc}")
    st.session_state["bt_result"] = {"title": title, "stats": dict(run.stats),
                                     "trades": run.trades, "equity": run.equity,
                                     "data": None if leg_b else data, "config": config,
                                     "id": run_id,
                                     "benchmark": benchmark}

result = st.session_state.get("bt_result")
if result:
    stats = result["stats"]
    st.subheader(result["title"])
    if result["config"].get("simulated"):
        st.caption("Simulated history from the built-in market simulator, not real prices.")
    for note in result["config"].get("notes") or []:
        st.warning(f"History: {note}.")
    if (score := result["config"].get("quality_score")) is not None:
        cfg = result["config"]
        flagged = ", ".join(cfg.get("warnings") or []) or "no rule failed"
        st.caption(f"Data quality {score:.1f}/100 ({flagged}) · {cfg.get('calendar')} calendar"
                   f" · {cfg.get('bars_filled', 0)} bar(s) filled"
                   f" ({POLICY_LABELS.get(cfg.get('gap_policy'), '')}),"
                   f" {cfg.get('gaps_left', 0)} missing · from"
                   f" {', '.join(cfg.get('sources', []))} ({cfg.get('served_by')})")
    k = st.columns(6)
    k[0].metric("Return", f"{stats['return_pct']:.2f}%",
                f"{stats['return_pct'] - (stats.get('buy_hold_return_pct') or 0):+.2f} pts "
                "vs benchmark")
    k[1].metric("CAGR", f"{stats['cagr_pct']:.2f}%")
    k[2].metric("Sharpe", f"{stats['sharpe']:.2f}")
    k[3].metric("Max drawdown", f"{stats['max_drawdown_pct']:.2f}%")
    k[4].metric("Win rate", "—" if stats["win_rate_pct"] is None or pd.isna(
        stats["win_rate_pct"]) else f"{stats['win_rate_pct']:.1f}%")
    k[5].metric("Trades", f"{stats['trades']}")
    data, equity, trades = result["data"], result["equity"], result["trades"]
    tabs = st.tabs(["Equity", "Drawdown", "Monthly returns", "Trades on price", "Trades",
                    "All statistics"])
    shown = result.get("benchmark")
    if shown is None and data is not None:
        shown = data["Close"]
    tabs[0].plotly_chart(equity_figure(equity, shown), width="stretch")
    tabs[1].plotly_chart(drawdown_figure(equity), width="stretch")
    tabs[2].plotly_chart(monthly_heatmap_figure(equity), width="stretch")
    if data is None:
        tabs[3].info("This chart shows single-symbol runs made in this session; a pairs run's "
                     "orders (both legs) and a reopened run's trades are in the Trades tab.")
    else:
        tabs[3].plotly_chart(trades_figure(data, trades, result["title"]), width="stretch")
    with tabs[4]:
        st.dataframe(trades, width="stretch", hide_index=True)
        render_downloads(trades, "trades", "dl-trades")
        render_downloads(equity.to_frame("equity"), "equity", "dl-equity")
    tabs[5].dataframe(pd.Series(stats, name="value").astype(str), width="stretch")

if store is not None:
    _earlier_runs()
