"""compute_stats against its reference libraries on real data (backtesting.py's GOOG and EURUSD).

Every reference number is computed here by calling quantstats or backtesting.py; none is copied.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

qs_stats = pytest.importorskip("quantstats.stats")
backtesting = pytest.importorskip("backtesting")
from backtesting import Backtest  # noqa: E402
from backtesting.test import EURUSD, GOOG  # noqa: E402
from backtesting.test._test import SmaCross  # noqa: E402  (fast=10, slow=30, as on its website)

from core.backtest.metrics import BacktestStats, compute_stats  # noqa: E402

REL = 1e-9
TRADE_COLUMNS = {"EntryTime": "entry_time", "ExitTime": "exit_time", "EntryPrice": "entry_price",
                 "ExitPrice": "exit_price", "Size": "size", "PnL": "pnl",
                 "ReturnPct": "return_pct"}


@pytest.fixture(scope="module")
def equity() -> pd.Series:
    """GOOG's close as an equity curve (2,148 daily points, 2004-08-19 to 2013-03-01)."""
    return GOOG.Close.copy()


@pytest.fixture(scope="module")
def returns(equity: pd.Series) -> pd.Series:
    return equity.pct_change().dropna()


@pytest.fixture(scope="module")
def stats(equity: pd.Series) -> BacktestStats:
    return compute_stats(equity)


def _run_smacross(**kwargs: float) -> pd.Series:
    with warnings.catch_warnings():  # backtesting.py 0.6.6 calls deprecated pandas accessors
        warnings.simplefilter("ignore")
        return Backtest(GOOG, SmaCross, cash=10_000, finalize_trades=True, **kwargs).run()


@pytest.fixture(scope="module", params=[{}, {"commission": 0.002}], ids=["plain", "commission"])
def bt_run(request: pytest.FixtureRequest) -> tuple[pd.Series, BacktestStats]:
    """A SmaCross run and our statistics on its equity curve and trades."""
    bt = _run_smacross(**request.param)
    trades = bt["_trades"].rename(columns=TRADE_COLUMNS)[list(TRADE_COLUMNS.values())]
    trades["return_pct"] *= 100  # backtesting.py's ReturnPct is a fraction; ours is in percent
    ours = compute_stats(bt["_equity_curve"]["Equity"], trades, benchmark=GOOG.Close)
    return bt, ours


# ------------------------------------------------------------------------------- quantstats


def test_goog_is_the_reference_sample(returns: pd.Series, stats: BacktestStats) -> None:
    assert len(returns) == 2147
    assert stats.periods_per_year == 252


@pytest.mark.parametrize("rf", [0.0, 0.02])
def test_sharpe_and_sortino_match_quantstats(equity: pd.Series, returns: pd.Series,
                                             rf: float) -> None:
    ours = compute_stats(equity, risk_free=rf)
    assert ours.sharpe == pytest.approx(qs_stats.sharpe(returns, rf=rf, periods=252), rel=REL)
    assert ours.sortino == pytest.approx(qs_stats.sortino(returns, rf=rf, periods=252), rel=REL)


def test_return_and_risk_metrics_match_quantstats(returns: pd.Series,
                                                  stats: BacktestStats) -> None:
    assert stats.cagr_pct == pytest.approx(qs_stats.cagr(returns) * 100, rel=REL)
    assert stats.volatility_pct == pytest.approx(qs_stats.volatility(returns) * 100, rel=REL)
    assert stats.max_drawdown_pct == pytest.approx(qs_stats.max_drawdown(returns) * 100, rel=REL)
    assert stats.calmar == pytest.approx(qs_stats.calmar(returns), rel=REL)
    assert stats.return_pct == pytest.approx(qs_stats.comp(returns) * 100, rel=REL)


def test_max_drawdown_matches_quantstats_on_prices(equity: pd.Series,
                                                   stats: BacktestStats) -> None:
    assert stats.max_drawdown_pct == pytest.approx(qs_stats.max_drawdown(equity) * 100, rel=REL)


@pytest.mark.parametrize("confidence", [0.95, 0.99])
def test_value_at_risk_and_cvar_match_quantstats(returns: pd.Series, stats: BacktestStats,
                                                 confidence: float) -> None:
    label = round(confidence * 100)
    var_param = qs_stats.value_at_risk(returns, sigma=1, confidence=confidence)
    es_param = qs_stats.cvar(returns, confidence=confidence, method="parametric")
    es_hist = qs_stats.cvar(returns, confidence=confidence, method="historical")
    assert stats[f"var_{label}_param_pct"] == pytest.approx(var_param * 100, rel=REL)
    assert stats[f"es_{label}_param_pct"] == pytest.approx(es_param * 100, rel=REL)
    assert stats[f"es_{label}_pct"] == pytest.approx(es_hist * 100, rel=REL)
    # quantstats has no historical VaR; its historical cvar thresholds at the linear-interpolated
    # empirical quantile, which numpy computes independently of pandas
    hist_var = np.percentile(returns.to_numpy(), (1 - confidence) * 100)
    assert stats[f"var_{label}_pct"] == pytest.approx(hist_var * 100, rel=REL)
    assert stats[f"es_{label}_pct"] <= stats[f"var_{label}_pct"]


@pytest.mark.parametrize("periods", [252.0, 365.0, 52.0])
def test_explicit_periods_per_year_match_quantstats(equity: pd.Series, returns: pd.Series,
                                                    periods: float) -> None:
    ours = compute_stats(equity, periods_per_year=periods)
    assert ours.periods_per_year == periods
    assert ours.sharpe == pytest.approx(qs_stats.sharpe(returns, periods=periods), rel=REL)
    assert ours.sortino == pytest.approx(qs_stats.sortino(returns, periods=periods), rel=REL)
    assert ours.cagr_pct == pytest.approx(qs_stats.cagr(returns, periods=periods) * 100, rel=REL)
    assert ours.volatility_pct == pytest.approx(
        qs_stats.volatility(returns, periods=periods) * 100, rel=REL)
    assert ours.calmar == pytest.approx(qs_stats.calmar(returns, periods=periods), rel=REL)


def _eurusd_on_goog_dates() -> pd.Series:
    return pd.Series(EURUSD.Close.to_numpy()[: len(GOOG)], index=GOOG.index)


@pytest.mark.parametrize(
    "make_benchmark",
    [_eurusd_on_goog_dates, lambda: GOOG.Close.shift(1), lambda: GOOG.Close.shift(-3)],
    ids=["eurusd-values", "goog-lagged", "goog-led"],
)
@pytest.mark.parametrize("periods", [None, 365.0])
def test_alpha_beta_match_quantstats_greeks(equity: pd.Series, returns: pd.Series,
                                            make_benchmark, periods: float | None) -> None:
    benchmark = make_benchmark()
    ours = compute_stats(equity, benchmark=benchmark, periods_per_year=periods)
    bench_returns = benchmark.pct_change().loc[returns.index]
    ref = qs_stats.greeks(returns, bench_returns, periods=periods or 252.0)
    assert ours.beta == pytest.approx(ref["beta"], rel=REL)
    assert ours.alpha == pytest.approx(ref["alpha"], rel=REL)
    first, last = benchmark.dropna().iloc[[0, -1]]
    assert ours.buy_hold_return_pct == pytest.approx((last / first - 1) * 100, rel=REL)


def test_strategy_alpha_beta_against_its_underlying(bt_run) -> None:
    bt, ours = bt_run
    strategy_returns = bt["_equity_curve"]["Equity"].pct_change().dropna()
    ref = qs_stats.greeks(strategy_returns, GOOG.Close.pct_change().loc[strategy_returns.index])
    assert ours.beta == pytest.approx(ref["beta"], rel=REL)
    assert ours.alpha == pytest.approx(ref["alpha"], rel=REL)
    assert ours.sharpe == pytest.approx(qs_stats.sharpe(strategy_returns), rel=REL)
    assert ours.max_drawdown_pct == pytest.approx(
        qs_stats.max_drawdown(strategy_returns) * 100, rel=REL)


def test_tz_aware_index_gives_the_same_numbers(equity: pd.Series, stats: BacktestStats) -> None:
    aware = equity.tz_localize("America/New_York")
    ours = compute_stats(aware, benchmark=aware.shift(1))
    naive = compute_stats(equity, benchmark=equity.shift(1))
    assert ours.start == aware.index[0]
    for key in ("sharpe", "sortino", "cagr_pct", "max_drawdown_pct", "var_95_param_pct",
                "es_99_pct", "alpha", "beta", "buy_hold_return_pct"):
        assert ours[key] == pytest.approx(naive[key], rel=REL)
    # durations are elapsed time: across DST changes a local "day" is not always 24 hours
    assert ours.duration_days == (aware.index[-1] - aware.index[0]) / pd.Timedelta(days=1)
    assert abs(ours.max_drawdown_duration_days - naive.max_drawdown_duration_days) <= 1 / 24 + 1e-9


# ------------------------------------------------------------------------------- backtesting.py

BACKTESTING_KEYS = {
    "Return [%]": "return_pct",
    "Equity Final [$]": "final_equity",
    "Equity Peak [$]": "peak_equity",
    "Exposure Time [%]": "exposure_pct",
    "Max. Drawdown [%]": "max_drawdown_pct",
    "Avg. Drawdown [%]": "avg_drawdown_pct",
    "Win Rate [%]": "win_rate_pct",
    "Best Trade [%]": "best_trade_pct",
    "Worst Trade [%]": "worst_trade_pct",
    "Avg. Trade [%]": "avg_trade_pct",
    "Profit Factor": "profit_factor",
    "Expectancy [%]": "expectancy_pct",
    "SQN": "sqn",
    "Kelly Criterion": "kelly",
}


@pytest.mark.parametrize("bt_key", list(BACKTESTING_KEYS))
def test_trade_and_equity_metrics_match_backtesting_py(bt_run, bt_key: str) -> None:
    bt, ours = bt_run
    assert ours[BACKTESTING_KEYS[bt_key]] == pytest.approx(bt[bt_key], rel=REL)


def test_counts_dates_and_durations_match_backtesting_py(bt_run) -> None:
    bt, ours = bt_run
    assert ours.trades == bt["# Trades"]
    assert ours.start == bt["Start"] and ours.end == bt["End"]
    assert pd.Timedelta(days=ours.duration_days) == bt["Duration"]
    # backtesting.py rounds durations up to the bar resolution (days here); we keep the exact mean
    assert pd.Timedelta(days=ours.max_drawdown_duration_days) == bt["Max. Drawdown Duration"]
    assert pd.Timedelta(days=ours.avg_drawdown_duration_days).ceil("D") == \
        bt["Avg. Drawdown Duration"]
    assert pd.Timedelta(days=ours.max_trade_duration_days) == bt["Max. Trade Duration"]
    assert pd.Timedelta(days=ours.avg_trade_duration_days).ceil("D") == bt["Avg. Trade Duration"]
    assert ours.expectancy == pytest.approx(bt["_trades"]["PnL"].mean(), rel=REL)

