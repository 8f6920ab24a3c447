"""Tests for :mod:`core.backtest.portfolio` (fixed-weight, calendar-rebalanced portfolios)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest.costs import FixedCommission, PerShareCommission
from core.backtest.portfolio import ORDER_COLUMNS, PortfolioRun, run_portfolio
from core.errors import DataError, ValidationError


def _two_assets() -> pd.DataFrame:
    # Rebalance bars with "ME": Jan 31 (first bar and month end), Feb 29 (month end), Mar 15
    # (last bar, closes the partial March period).
    index = pd.to_datetime(["2024-01-31", "2024-02-15", "2024-02-29", "2024-03-15"])
    return pd.DataFrame({"A": [100.0, 110.0, 120.0, 90.0], "B": [50.0, 40.0, 50.0, 60.0]},
                        index=index)


def _random_closes(n: int = 300, k: int = 3, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rets = rng.normal(0.0003, 0.015, size=(n, k))
    prices = 50.0 * np.exp(np.cumsum(rets, axis=0)) * np.arange(1, k + 1)
    index = pd.date_range("2020-01-01", periods=n, freq="B")
    return pd.DataFrame(prices, index=index, columns=[f"S{i}" for i in range(k)])


# --------------------------------------------------------------------------- hand-computed


def test_two_assets_hand_computed_no_commission() -> None:
    run = run_portfolio(_two_assets(), {"A": 0.6, "B": 0.4}, rebalance="ME", cash=10_000)
    assert isinstance(run, PortfolioRun)
    # Jan 31: 60 A, 80 B. Feb 15: 60*110 + 80*40. Feb 29: 60*120 + 80*50 = 11200 -> 56 A,
    # 89.6 B. Mar 15: 56*90 + 89.6*60 = 10416 -> 69.44 A, 69.44 B.
    assert run.equity.tolist() == pytest.approx([10_000, 9_800, 11_200, 10_416], rel=1e-12)
    assert run.holdings["A"].tolist() == pytest.approx([60, 60, 56, 69.44], rel=1e-12)
    assert run.holdings["B"].tolist() == pytest.approx([80, 80, 89.6, 69.44], rel=1e-12)
    assert tuple(run.orders.columns) == ORDER_COLUMNS
    assert len(run.orders) == 6
    feb = run.orders[run.orders["time"] == pd.Timestamp("2024-02-29")].set_index("symbol")
    assert feb.loc["A", "size"] == pytest.approx(-4.0)
    assert feb.loc["B", "size"] == pytest.approx(9.6)
    assert feb["price"].tolist() == [120.0, 50.0]
    assert (run.orders["commission"] == 0.0).all()
    assert run.cash.abs().max() < 1e-9
    assert run.weights_realised.iloc[2].tolist() == pytest.approx([0.6, 0.4], rel=1e-12)
    assert run.stats["final_equity"] == pytest.approx(10_416, rel=1e-12)


def test_two_assets_hand_computed_percentage_commission() -> None:
    r = 0.001
    run = run_portfolio(_two_assets(), {"A": 0.6, "B": 0.4}, rebalance="ME", cash=10_000,
                        commission=r)
    # Post-fee sizing equity B solves B = E - fees. Jan 31, all buys: B1 = 10000 / (1 + r).
    b1 = 10_000 / (1 + r)
    # Feb 29: E = 1.12 B1; sell A worth 0.6 (1.2 B1 - B2), buy B worth 0.4 (B2 - B1).
    b2 = b1 * (1.12 - 0.32 * r) / (1 - 0.2 * r)
    # Mar 15: E = 0.93 B2; buy A worth 0.6 (B3 - 0.75 B2), sell B worth 0.4 (1.2 B2 - B3).
    b3 = b2 * (0.93 - 0.03 * r) / (1 + 0.2 * r)
    assert run.equity.tolist() == pytest.approx([b1, 0.98 * b1, b2, b3], rel=1e-12)
    fees = (10_000 - b1) + (1.12 * b1 - b2) + (0.93 * b2 - b3)
    assert run.orders["commission"].sum() == pytest.approx(fees, rel=1e-9)
    jan = run.orders[run.orders["time"] == pd.Timestamp("2024-01-31")]
    assert jan["commission"].tolist() == pytest.approx([r * 0.6 * b1, r * 0.4 * b1], rel=1e-12)
    assert run.cash.abs().max() < 1e-8  # fully invested: fees are reserved, never borrowed
    assert run.weights_realised.iloc[2].tolist() == pytest.approx([0.6, 0.4], rel=1e-12)


def test_commission_preset_name_is_resolved() -> None:
    run = run_portfolio(_two_assets(), {"A": 0.6, "B": 0.4}, commission="crypto_spot_0.1pct")
    ref = run_portfolio(_two_assets(), {"A": 0.6, "B": 0.4}, commission=0.001)
    assert run.equity.tolist() == pytest.approx(ref.equity.tolist(), rel=1e-12)
    with pytest.raises(ValidationError, match="unknown commission preset"):
        run_portfolio(_two_assets(), {"A": 0.6}, commission="nope")


def test_fixed_and_per_share_commission_charged_per_order() -> None:
    run = run_portfolio(_two_assets(), {"A": 0.5}, rebalance=None,
                        commission=FixedCommission(5.0))
    assert run.orders["commission"].tolist() == [5.0]
    assert run.equity.iloc[0] == pytest.approx(10_000 - 5.0, rel=1e-12)
    assert run.holdings["A"].iloc[0] == pytest.approx(0.5 * 9_995 / 100, rel=1e-12)
    ps = run_portfolio(_two_assets(), {"A": 0.5}, rebalance=None,
                       commission=PerShareCommission(per_share=0.005, minimum=1.0))
    assert ps.orders["commission"].tolist() == [1.0]  # 50 shares * 0.005 < minimum


# --------------------------------------------------------------------------- equivalences


def test_buy_and_hold_equivalence() -> None:
    closes = _random_closes()
    run = run_portfolio(closes, {"S1": 1.0}, rebalance=None, cash=25_000)
    expected = 25_000 * closes["S1"] / closes["S1"].iloc[0]
    np.testing.assert_allclose(run.equity.to_numpy(), expected.to_numpy(), rtol=1e-12)
    assert len(run.orders) == 1
    assert list(run.holdings.columns) == ["S1"]


def test_daily_rebalance_matches_weighted_returns() -> None:
    closes = _random_closes(n=400, k=3)
    weights = {"S0": 0.5, "S1": -0.2, "S2": 0.3}  # net 0.6 (40% cash), gross 1.0
    run = run_portfolio(closes, weights, rebalance="D", cash=10_000)
    r = closes.pct_change().fillna(0.0)
    port = sum(w * r[s] for s, w in weights.items())
    expected = 10_000 * (1.0 + port).cumprod()
    np.testing.assert_allclose(run.equity.to_numpy(), expected.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(run.weights_realised.iloc[-1].to_numpy(), [0.5, -0.2, 0.3],
                               rtol=1e-12)


def test_weekly_and_quarterly_rebalance_bars() -> None:
    closes = _random_closes(n=130)
    weekly = run_portfolio(closes, {"S0": 0.5, "S1": 0.5}, rebalance="W-FRI")
    bars = weekly.orders["time"].drop_duplicates()
    fridays = closes.index[closes.index.day_of_week == 4]
    assert set(fridays) <= set(bars)
    assert set(bars) <= set(fridays) | {closes.index[0], closes.index[-1]}
    quarterly = run_portfolio(closes, {"S0": 0.5, "S1": 0.5}, rebalance="QE")
    assert quarterly.orders["time"].nunique() == 3  # first bar, Mar 31, last bar (Jun 30)


# --------------------------------------------------------------------------- sizing


@pytest.mark.parametrize("commission", [0.0, 0.002, "us_per_share", FixedCommission(2.0)])
def test_whole_units_never_overspend(commission: object) -> None:
    closes = _random_closes(n=250, k=3, seed=11) * 7.3
    run = run_portfolio(closes, {"S0": 0.4, "S1": 0.35, "S2": 0.25}, rebalance="W-FRI",
                        cash=5_000, commission=commission, fractional=False)
    units = run.holdings.to_numpy()
    assert np.array_equal(units, np.trunc(units))
    assert (run.orders["size"] == np.trunc(run.orders["size"])).all()
    assert run.cash.min() >= -1e-9
    value = (run.holdings * closes[run.holdings.columns]).sum(axis=1)
    np.testing.assert_allclose(run.equity, run.cash + value, rtol=1e-12)


def test_whole_units_truncate_toward_zero_for_shorts() -> None:
    closes = _two_assets()
    run = run_portfolio(closes, {"A": 0.5, "B": -0.327}, rebalance=None, fractional=False)
    assert run.holdings.iloc[0].tolist() == [50.0, -65.0]  # -0.327 * 10000 / 50 = -65.4
    assert run.cash.iloc[0] == pytest.approx(10_000 - 5_000 + 65 * 50)


def test_drift_band_reduces_orders() -> None:
    closes = _random_closes(n=300, k=3)
    weights = {"S0": 0.4, "S1": 0.3, "S2": 0.3}
    tight = run_portfolio(closes, weights, rebalance="D")
    banded = run_portfolio(closes, weights, rebalance="D", drift_band=0.02)
    assert len(banded.orders) < len(tight.orders) / 5
    # a symbol is traded only when out of band, and then goes back to its target weight
    drift = (banded.weights_realised - pd.Series(weights)).abs().shift().iloc[1:]
    traded = banded.orders[banded.orders["time"] != closes.index[0]]
    for _, order in traded.iterrows():
        assert drift.loc[order["time"], order["symbol"]] > 0.0
    assert (drift.max() < 0.08).all()


# --------------------------------------------------------------------------- NaN handling


def test_nan_closes_late_listing_and_gap() -> None:
    closes = _two_assets()
    closes.loc[closes.index[0], "B"] = np.nan        # B listed on Feb 15
    closes.loc[closes.index[2], "A"] = np.nan        # A has no close on the Feb 29 rebalance
    run = run_portfolio(closes, {"A": 0.5, "B": 0.5}, rebalance="ME")
    by_time = run.orders.groupby("time")["symbol"].apply(list)
    assert by_time[pd.Timestamp("2024-01-31")] == ["A"]          # B not listed yet
    assert by_time[pd.Timestamp("2024-02-29")] == ["B"]          # A has no price: not traded
    assert sorted(by_time[pd.Timestamp("2024-03-15")]) == ["A", "B"]
    # Jan 31: 50 A, 5000 cash. Feb 15: 50*110 + 5000. Feb 29: A valued at 110 (carried)
    # -> E = 10500, B bought with 0.5 * 10500 / 50 = 105 units, cash 5000 - 5250 = -250.
    assert run.equity.tolist()[:3] == pytest.approx([10_000, 10_500, 10_500], rel=1e-12)
    assert run.holdings.loc["2024-02-29"].tolist() == pytest.approx([50, 105], rel=1e-12)
    assert run.equity.iloc[3] == pytest.approx(-250 + 50 * 90 + 105 * 60, rel=1e-12)
    assert np.isfinite(run.equity).all()


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("weights", "error", "match"), [
    ({"C": 0.5}, ValidationError, "not columns of closes: C"),
    ({"A": 0.7, "B": 0.5}, ValidationError, "sum to at most 1"),
    ({"A": 0.8, "B": -0.5}, ValidationError, "above max_gross=1"),
    ({"A": float("nan")}, ValidationError, "finite number"),
    ({}, ValidationError, "non-empty mapping"),
])
def test_weights_validation(weights: dict[str, float], error: type[Exception],
                            match: str) -> None:
    with pytest.raises(error, match=match):
        run_portfolio(_two_assets(), weights)


def test_max_gross_allows_leverage() -> None:
    run = run_portfolio(_two_assets(), {"A": 1.0, "B": -0.5}, max_gross=1.5, rebalance=None)
    assert run.holdings.iloc[0].tolist() == pytest.approx([100.0, -100.0])


@pytest.mark.parametrize("rebalance", ["M", "xx", 5])
def test_bad_offset(rebalance: object) -> None:
    with pytest.raises(ValidationError, match="rebalance must be a pandas offset"):
        run_portfolio(_two_assets(), {"A": 0.5}, rebalance=rebalance)  # type: ignore[arg-type]


def test_data_validation() -> None:
    with pytest.raises(DataError, match="empty"):
        run_portfolio(pd.DataFrame(index=pd.DatetimeIndex([])), {"A": 1.0})
    with pytest.raises(DataError, match="DatetimeIndex"):
        run_portfolio(_two_assets().reset_index(drop=True), {"A": 1.0})
    with pytest.raises(DataError, match="strictly increasing"):
        run_portfolio(_two_assets().iloc[::-1], {"A": 1.0})
    bad = _two_assets()
    bad.iloc[1, 1] = -3.0
    with pytest.raises(DataError, match=r"row 1 .*'B' is -3.0"):
        run_portfolio(bad, {"A": 0.5, "B": 0.5})
    ignored = run_portfolio(bad, {"A": 1.0})  # columns not weighted are neither checked nor held
    assert ignored.equity.tolist() == pytest.approx([10_000, 11_000, 12_000, 9_000])
    missing = _two_assets()
    missing["B"] = np.nan
    with pytest.raises(DataError, match="'B' has no prices"):
        run_portfolio(missing, {"B": 0.5})
    with pytest.raises(ValidationError, match="cash must be"):
        run_portfolio(_two_assets(), {"A": 1.0}, cash=0)
    with pytest.raises(ValidationError, match="drift_band must be"):
        run_portfolio(_two_assets(), {"A": 1.0}, drift_band=-0.1)


def test_inputs_not_modified_and_benchmark_stats() -> None:
    closes = _random_closes(n=120)
    before = closes.copy()
    run = run_portfolio(closes, {"S0": 0.5, "S1": 0.5}, benchmark=closes["S0"])
    pd.testing.assert_frame_equal(closes, before)
    assert run.stats["buy_hold_return_pct"] == pytest.approx(
        (closes["S0"].iloc[-1] / closes["S0"].iloc[0] - 1) * 100)
    assert np.isfinite(run.stats["beta"])


def test_tz_aware_intraday_index() -> None:
    index = pd.date_range("2024-01-30 10:00", periods=16, freq="6h", tz="US/Eastern")
    closes = pd.DataFrame({"A": np.linspace(100, 115, 16), "B": np.linspace(50, 40, 16)},
                          index=index)
    run = run_portfolio(closes, {"A": 0.5, "B": 0.5}, rebalance="D")
    # the first bar and the last bar of each calendar day (Jan 30 .. Feb 3, the last bar)
    expected = [index[0]] + [index[index.normalize() == day][-1]
                             for day in index.normalize().unique()]
    assert list(run.orders["time"].drop_duplicates()) == expected
    assert run.equity.index.equals(index)
