"""compute_stats on degenerate and malformed inputs, and the shape of its result."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from core.backtest.metrics import TRADE_COLUMNS, BacktestStats, compute_stats

TRADE_FIELDS = ("win_rate_pct", "profit_factor", "expectancy", "expectancy_pct", "avg_trade_pct",
                "best_trade_pct", "worst_trade_pct", "avg_trade_duration_days",
                "max_trade_duration_days", "sqn", "kelly")
REQUIRED_KEYS = (
    "start", "end", "duration_days", "exposure_pct", "final_equity", "peak_equity", "return_pct",
    "buy_hold_return_pct", "cagr_pct", "volatility_pct", "sharpe", "sortino", "calmar",
    "max_drawdown_pct", "max_drawdown_duration_days", "avg_drawdown_pct",
    "avg_drawdown_duration_days", "var_95_pct", "var_99_pct", "es_95_pct", "es_99_pct",
    "var_95_param_pct", "var_99_param_pct", "es_95_param_pct", "es_99_param_pct", "trades",
    "win_rate_pct", "profit_factor", "expectancy", "avg_trade_pct", "best_trade_pct",
    "worst_trade_pct", "avg_trade_duration_days", "sqn", "alpha", "beta",
)


@pytest.fixture
def equity() -> pd.Series:
    """Deterministic synthetic business-day equity curve (seeded random walk)."""
    rng = np.random.default_rng(42)
    index = pd.bdate_range("2024-01-01", periods=300)
    return pd.Series(10_000 * np.cumprod(1 + rng.normal(0.0005, 0.01, len(index))), index=index)


@pytest.fixture
def trades(equity: pd.Series) -> pd.DataFrame:
    """Three trades on the equity fixture's bars: a long winner, a short loser, a long winner."""
    idx = equity.index
    return pd.DataFrame({
        "entry_time": [idx[10], idx[50], idx[100]],
        "exit_time": [idx[29], idx[59], idx[149]],
        "entry_price": [100.0, 110.0, 105.0],
        "exit_price": [110.0, 115.0, 120.0],
        "size": [10, -5, 4],
        "pnl": [100.0, -25.0, 60.0],
        "return_pct": [10.0, -500 / 110, 1500 / 105],  # percent
    })


def _no_infinities(stats: BacktestStats) -> None:
    for key, value in stats.items():
        if isinstance(value, float):
            assert not math.isinf(value), key


def _quiet(*args, **kwargs) -> BacktestStats:
    """compute_stats with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return compute_stats(*args, **kwargs)


# ------------------------------------------------------------------------------- result shape


def test_result_is_a_frozen_dataclass_and_a_mapping(equity: pd.Series) -> None:
    stats = compute_stats(equity)
    assert dataclasses.is_dataclass(stats)
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.sharpe = 1.0  # type: ignore[misc]
    assert set(REQUIRED_KEYS) <= set(stats)
    assert dict(stats) == stats.to_dict()
    assert list(stats.to_dict()) == [f.name for f in dataclasses.fields(BacktestStats)]
    assert len(stats) == len(dataclasses.fields(BacktestStats))
    assert stats["sharpe"] == stats.sharpe and "sortino" in stats and "nope" not in stats
    assert stats.get("nope") is None
    with pytest.raises(KeyError):
        stats["nope"]
    assert isinstance(stats.trades, int) and isinstance(stats.sharpe, float)
    assert isinstance(stats.start, pd.Timestamp)


def test_inputs_are_not_modified(equity: pd.Series, trades: pd.DataFrame) -> None:
    benchmark = equity.shift(2)
    before = (equity.copy(), trades.copy(), benchmark.copy())
    compute_stats(equity, trades, benchmark=benchmark, risk_free=0.03)
    pd.testing.assert_series_equal(equity, before[0])
    pd.testing.assert_frame_equal(trades, before[1])
    pd.testing.assert_series_equal(benchmark, before[2])


def test_hand_computed_trade_metrics(equity: pd.Series, trades: pd.DataFrame) -> None:
    stats = _quiet(equity, trades)
    r, pnl = trades["return_pct"] / 100, trades["pnl"]
    assert stats.trades == 3
    assert stats.win_rate_pct == pytest.approx(200 / 3)
    assert stats.profit_factor == pytest.approx((0.10 + 15 / 105) / (5 / 110))
    assert stats.expectancy == pytest.approx(45.0)
    assert stats.expectancy_pct == pytest.approx(r.mean() * 100)
    assert stats.avg_trade_pct == pytest.approx((np.prod(1 + r) ** (1 / 3) - 1) * 100)
    assert stats.best_trade_pct == pytest.approx(100 * 15 / 105)
    assert stats.worst_trade_pct == pytest.approx(-100 * 5 / 110)
    assert stats.sqn == pytest.approx(np.sqrt(3) * pnl.mean() / pnl.std())
    assert stats.kelly == pytest.approx(2 / 3 - (1 / 3) / (80 / 25))
    # bars 10..29, 50..59, 100..149 inclusive = 20 + 10 + 50 of 300
    assert stats.exposure_pct == pytest.approx(80 / 300 * 100)
    durations = (trades["exit_time"] - trades["entry_time"]) / pd.Timedelta(days=1)
    assert stats.avg_trade_duration_days == pytest.approx(durations.mean())
    assert stats.max_trade_duration_days == durations.max()


def test_exposure_counts_overlapping_trades_once_and_open_trades_to_the_end(
        equity: pd.Series, trades: pd.DataFrame) -> None:
    idx = equity.index
    overlapping = trades.copy()
    overlapping.loc[1, ["entry_time", "exit_time"]] = [idx[20], idx[39]]  # overlaps 10..29
    assert compute_stats(equity, overlapping).exposure_pct == pytest.approx(
        (30 + 50) / 300 * 100)
    still_open = trades.copy()
    still_open.loc[2, "exit_time"] = pd.NaT
    stats = compute_stats(equity, still_open)
    assert stats.exposure_pct == pytest.approx((20 + 10 + 200) / 300 * 100)
    assert stats.max_trade_duration_days == (idx[-1] - idx[100]) / pd.Timedelta(days=1)


def test_trade_times_between_bars_snap_inward(equity: pd.Series, trades: pd.DataFrame) -> None:
    shifted = trades.iloc[:1].copy()
    shifted["entry_time"] += pd.Timedelta(hours=1)  # first bar at/after: idx[11]
    shifted["exit_time"] += pd.Timedelta(hours=1)  # last bar at/before: idx[29]
    assert compute_stats(equity, shifted).exposure_pct == pytest.approx(19 / 300 * 100)


# ------------------------------------------------------------------------------- no trades


@pytest.mark.parametrize("empty", [
    pd.DataFrame(columns=list(TRADE_COLUMNS)),
    pd.DataFrame(),
], ids=["typed-empty", "bare-empty"])
def test_no_trades_gives_nan_trade_metrics_and_zero_exposure(equity: pd.Series,
                                                             empty: pd.DataFrame) -> None:
    stats = _quiet(equity, empty)
    assert stats.trades == 0
    assert stats.exposure_pct == 0.0
    for key in TRADE_FIELDS:
        assert math.isnan(stats[key]), key
    assert math.isfinite(stats.sharpe)


def test_trades_none_leaves_exposure_unknown(equity: pd.Series) -> None:
    stats = _quiet(equity, None)
    assert stats.trades == 0
    assert math.isnan(stats.exposure_pct)
    assert all(math.isnan(stats[key]) for key in TRADE_FIELDS)


def test_single_trade_has_no_sqn_and_no_profit_factor_without_losses(
        equity: pd.Series, trades: pd.DataFrame) -> None:
    stats = _quiet(equity, trades.iloc[:1])
    assert stats.trades == 1 and stats.win_rate_pct == 100.0
    assert math.isnan(stats.sqn) and math.isnan(stats.profit_factor) and math.isnan(stats.kelly)
    _no_infinities(stats)


def test_missing_trade_columns_are_named(equity: pd.Series, trades: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="pnl"):
        compute_stats(equity, trades.drop(columns=["pnl"]))


def test_trade_times_must_match_the_index_timezone(equity: pd.Series,
                                                   trades: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        compute_stats(equity.tz_localize("UTC"), trades)


# ------------------------------------------------------------------------------- flat and tiny


def test_flat_equity_gives_nan_ratios_not_infinities() -> None:
    flat = pd.Series(10_000.0, index=pd.bdate_range("2024-01-01", periods=50))
    stats = _quiet(flat, benchmark=flat)
    assert math.isnan(stats.sharpe) and math.isnan(stats.sortino) and math.isnan(stats.calmar)
    assert math.isnan(stats.alpha) and math.isnan(stats.beta)  # benchmark does not move
    assert stats.volatility_pct == 0.0 and stats.cagr_pct == 0.0 and stats.return_pct == 0.0
    assert stats.max_drawdown_pct == 0.0 and stats.max_drawdown_duration_days == 0.0
    assert math.isnan(stats.avg_drawdown_pct) and math.isnan(stats.avg_drawdown_duration_days)
    assert stats.var_95_param_pct == 0.0 and stats.es_99_param_pct == 0.0
    assert stats.var_95_pct == 0.0 and stats.es_95_pct == 0.0
    assert stats.buy_hold_return_pct == 0.0
    _no_infinities(stats)


def test_steady_growth_has_no_downside_so_no_sortino() -> None:
    steady = pd.Series(100 * 1.001 ** np.arange(30), index=pd.bdate_range("2024-01-01",
                                                                           periods=30))
    stats = _quiet(steady)
    assert math.isnan(stats.sortino) and math.isnan(stats.calmar)
    assert stats.cagr_pct == pytest.approx((1.001 ** 252 - 1) * 100, rel=1e-9)
    _no_infinities(stats)


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_points_is_a_clear_error(n: int) -> None:
    equity = pd.Series([100.0] * n, index=pd.bdate_range("2024-01-01", periods=n))
    with pytest.raises(ValueError, match="need at least two equity points"):
        compute_stats(equity)


def test_two_points_work() -> None:
    equity = pd.Series([100.0, 90.0], index=pd.bdate_range("2024-01-01", periods=2))
    stats = _quiet(equity)
    assert stats.return_pct == pytest.approx(-10.0)
    assert stats.max_drawdown_pct == pytest.approx(-10.0)
    assert stats.max_drawdown_duration_days == 1.0  # a drawdown that starts on the last bar
    assert stats.avg_drawdown_pct == pytest.approx(-10.0)
    assert math.isnan(stats.sharpe) and math.isnan(stats.volatility_pct)  # one return: no std
    assert math.isnan(stats.var_95_param_pct)
    assert stats.var_95_pct == pytest.approx(-10.0) and stats.es_95_pct == pytest.approx(-10.0)
    _no_infinities(stats)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_equity_names_the_first_bad_timestamp(equity: pd.Series, bad: float) -> None:
    broken = equity.copy()
    broken.iloc[[7, 9]] = bad
    with pytest.raises(ValueError, match=str(equity.index[7])):
        compute_stats(broken)


def test_non_datetime_index_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="DatetimeIndex"):
        compute_stats(pd.Series([1.0, 2.0, 3.0]))


def test_unsorted_or_duplicated_index_is_rejected(equity: pd.Series) -> None:
    with pytest.raises(ValueError, match="increasing"):
        compute_stats(equity.iloc[::-1])
    with pytest.raises(ValueError, match="increasing"):
        compute_stats(pd.concat([equity.iloc[:5], equity.iloc[4:10]]))


def test_non_positive_start_and_bad_parameters_are_rejected(equity: pd.Series) -> None:
    with pytest.raises(ValueError, match="start above zero"):
        compute_stats(equity - equity.iloc[0])
    with pytest.raises(ValueError, match="periods_per_year"):
        compute_stats(equity, periods_per_year=0)
    with pytest.raises(ValueError, match="risk_free"):
        compute_stats(equity, risk_free=float("nan"))


def test_account_wiped_out_gives_minus_100_percent() -> None:
    index = pd.bdate_range("2024-01-01", periods=6)
    bust = pd.Series([100.0, 50.0, 0.0, 0.0, 0.0, 0.0], index=index)
    stats = _quiet(bust)
    assert stats.max_drawdown_pct == -100.0 and stats.return_pct == -100.0
    assert stats.cagr_pct == -100.0  # quantstats: 0 ** (1 / years) - 1
    _no_infinities(stats)


# ------------------------------------------------------------------------------- benchmark


def test_benchmark_gaps_are_skipped_not_filled(equity: pd.Series) -> None:
    benchmark = equity * 1.5
    benchmark.iloc[[20, 21, 150]] = np.nan
    stats = _quiet(equity, benchmark=benchmark)
    assert stats.beta == pytest.approx(1.0, rel=1e-12)
    assert stats.alpha == pytest.approx(0.0, abs=1e-12)
    assert stats.buy_hold_return_pct == pytest.approx(stats.return_pct, rel=1e-12)


def test_benchmark_on_another_calendar_is_rejected(equity: pd.Series) -> None:
    elsewhere = pd.Series(1.0, index=pd.date_range("1990-01-01", periods=10))
    with pytest.raises(ValueError, match="no timestamp"):
        compute_stats(equity, benchmark=elsewhere)


def test_no_benchmark_gives_nan_alpha_beta_and_buy_hold(equity: pd.Series) -> None:
    stats = compute_stats(equity)
    assert math.isnan(stats.alpha) and math.isnan(stats.beta)
    assert math.isnan(stats.buy_hold_return_pct)


# ------------------------------------------------------------------------------- drawdowns


def test_drawdown_periods_by_hand() -> None:
    index = pd.date_range("2024-01-01", periods=8, freq="D")
    equity = pd.Series([100, 110, 99, 110, 120, 108, 114, 121.0], index=index)
    stats = _quiet(equity)
    # two periods: bars 1->3 (2 days, -10%) and 4->7 (3 days, -10%)
    assert stats.max_drawdown_pct == pytest.approx(-10.0)
    assert stats.max_drawdown_duration_days == 3.0
    assert stats.avg_drawdown_duration_days == 2.5
    assert stats.avg_drawdown_pct == pytest.approx(-10.0)
    assert stats.peak_equity == 121.0 and stats.final_equity == 121.0


def test_extra_trade_columns_are_ignored(equity: pd.Series, trades: pd.DataFrame) -> None:
    extended = trades.assign(entry_bar=[10, 50, 100], exit_bar=[29, 59, 149],
                             commission=0.0,
                             exit_reason=pd.Categorical(["signal", "stop_loss", "end"]))
    assert compute_stats(equity, extended).to_dict().keys() == \
        compute_stats(equity, trades).to_dict().keys()
    assert compute_stats(equity, extended).sqn == compute_stats(equity, trades).sqn
