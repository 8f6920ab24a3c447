"""Tests for time-varying weights in :func:`run_portfolio` and two-leg :func:`run_pairs`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest.pairs import pairs_weights, run_pairs
from core.backtest.portfolio import run_portfolio
from core.backtest.strategies.pairs import rolling_beta
from core.errors import DataError, ValidationError


def _daily_two_assets() -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=4, freq="D")
    return pd.DataFrame({"A": [100.0, 110.0, 120.0, 90.0], "B": [50.0, 40.0, 50.0, 60.0]},
                        index=index)


def _month_end_two_assets() -> pd.DataFrame:
    index = pd.to_datetime(["2024-01-31", "2024-02-15", "2024-02-29", "2024-03-15"])
    return pd.DataFrame({"A": [100.0, 110.0, 120.0, 90.0], "B": [50.0, 40.0, 50.0, 60.0]},
                        index=index)


def _random_closes(n: int = 200, k: int = 3, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    prices = 50.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, size=(n, k)), axis=0))
    index = pd.date_range("2021-01-01", periods=n, freq="B")
    return pd.DataFrame(prices, index=index, columns=[f"S{i}" for i in range(k)])


# --------------------------------------------------------------------------- weights frame


def test_weights_frame_hand_computed_daily() -> None:
    closes = _daily_two_assets()
    weights = pd.DataFrame({"A": [1.0, 0.5], "B": [0.0, 0.5]}, index=closes.index[[0, 2]])
    run = run_portfolio(closes, weights, rebalance="D", cash=10_000)
    # d0: 100 A. d1: E = 11000, target unchanged -> still 100 A, no order. d2: E = 12000 ->
    # 50 A, 120 B. d3: E = 50*90 + 120*60 = 11700 -> 65 A, 97.5 B.
    assert run.equity.tolist() == pytest.approx([10_000, 11_000, 12_000, 11_700], rel=1e-12)
    assert run.holdings["A"].tolist() == pytest.approx([100, 100, 50, 65], rel=1e-12)
    assert run.holdings["B"].tolist() == pytest.approx([0, 0, 120, 97.5], rel=1e-12)
    got = [(t, s, size) for t, s, size in run.orders[["time", "symbol", "size"]].itertuples(
        index=False)]
    idx = closes.index
    expected = [(idx[0], "A", 100.0), (idx[2], "A", -50.0), (idx[2], "B", 120.0),
                (idx[3], "A", 15.0), (idx[3], "B", -22.5)]
    assert [(t, s) for t, s, _ in got] == [(t, s) for t, s, _ in expected]
    assert [size for *_, size in got] == pytest.approx([size for *_, size in expected])
    assert run.cash.abs().max() < 1e-9
    assert run.weights_realised.iloc[2].tolist() == pytest.approx([0.5, 0.5], rel=1e-12)


def test_weights_frame_nan_row_and_calendar_rebalance() -> None:
    closes = _month_end_two_assets()
    weights = pd.DataFrame({"A": [0.6, 0.0, np.nan], "B": [0.4, 1.0, np.nan]},
                           index=closes.index[:3])
    run = run_portfolio(closes, weights, rebalance="ME")
    # Feb 15 is not a rebalance bar: its new row waits for Feb 29 (NaN row = keep [0, 1]).
    # Feb 29: E = 60*120 + 80*50 = 11200 -> 0 A, 224 B. Mar 15: 224 B is on target, no order.
    assert sorted(run.orders["time"].unique()) == [closes.index[0], closes.index[2]]
    assert run.holdings.loc["2024-02-15"].tolist() == pytest.approx([60, 80])
    assert run.holdings.loc["2024-02-29"].tolist() == pytest.approx([0, 224], rel=1e-12)
    assert run.equity.iloc[-1] == pytest.approx(224 * 60, rel=1e-12)


def test_weights_frame_leading_rows_are_flat() -> None:
    closes = _daily_two_assets()
    weights = pd.DataFrame({"B": [np.nan, 1.0]}, index=closes.index[1:3])
    run = run_portfolio(closes, weights, rebalance="D")
    assert list(run.holdings.columns) == ["B"]
    assert run.holdings["B"].tolist() == pytest.approx([0, 0, 200, 200])
    assert run.orders["time"].tolist() == [closes.index[2]]


@pytest.mark.parametrize("commission", [0.0, 0.001, "us_per_share"])
def test_constant_frame_matches_mapping(commission: object) -> None:
    closes = _random_closes()
    mapping = {"S0": 0.5, "S1": -0.2, "S2": 0.3}
    frame = pd.DataFrame(mapping, index=closes.index[:1])
    for rebalance in ("W-FRI", "D"):
        ref = run_portfolio(closes, mapping, rebalance=rebalance, commission=commission,
                            fractional=False)
        run = run_portfolio(closes, frame, rebalance=rebalance, commission=commission,
                            fractional=False)
        pd.testing.assert_series_equal(run.equity, ref.equity)
        pd.testing.assert_frame_equal(run.holdings, ref.holdings)
        pd.testing.assert_frame_equal(run.orders, ref.orders)


@pytest.mark.parametrize(("weights", "match"), [
    (pd.DataFrame({"C": [0.5]}, index=pd.to_datetime(["2024-01-01"])), "not columns of closes"),
    (pd.DataFrame({"A": [0.5]}, index=pd.to_datetime(["2024-01-09"])), "not a bar of closes"),
    (pd.DataFrame({"A": [0.5]}, index=[0]), "DatetimeIndex"),
    (pd.DataFrame({"A": [0.5, 0.7], "B": [0.0, 0.5]}, index=pd.to_datetime(
        ["2024-01-01", "2024-01-03"])), "at 2024-01-03 .* sum to 1.2"),
    (pd.DataFrame({"A": [0.5, 0.6], "B": [0.0, -0.6]}, index=pd.to_datetime(
        ["2024-01-01", "2024-01-02"])), "at 2024-01-02.* is 1.2, above max_gross"),
    (pd.DataFrame({"A": [np.inf]}, index=pd.to_datetime(["2024-01-01"])), "infinite"),
    (pd.DataFrame({"A": ["x"]}, index=pd.to_datetime(["2024-01-01"])), "hold numbers"),
    (pd.DataFrame({"A": []}, index=pd.DatetimeIndex([])), "empty"),
])
def test_weights_frame_validation(weights: pd.DataFrame, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        run_portfolio(_daily_two_assets(), weights, rebalance="D")


# --------------------------------------------------------------------------- pairs


_N, _SHOCK = 260, 200


def _cointegrated(seed: int = 1) -> tuple[pd.Series, pd.Series]:
    """B a random walk, A = 2 B + AR(1) noise with one big shock at bar ``_SHOCK``."""
    rng = np.random.default_rng(seed)
    b = 100.0 + np.cumsum(rng.normal(0.0, 1.0, _N))
    shocks = rng.normal(0.0, 0.3, _N)
    shocks[_SHOCK] += 6.0
    noise = np.zeros(_N)
    for t in range(1, _N):
        noise[t] = 0.8 * noise[t - 1] + shocks[t]
    index = pd.date_range("2022-01-03", periods=_N, freq="B")
    return pd.Series(2.0 * b + noise, index, name="AAA"), pd.Series(b, index, name="BBB")


def test_pairs_trades_both_legs_with_hedge_ratio_near_two() -> None:
    a, b = _cointegrated()
    run = run_pairs(a, b)
    assert set(run.orders["symbol"]) == {"AAA", "BBB"}
    assert list(run.holdings.columns) == ["AAA", "BBB"]
    by_time = run.orders.groupby("time")["symbol"].apply(sorted)
    assert all(symbols == ["AAA", "BBB"] for symbols in by_time)  # legs always trade together
    held = run.holdings[run.holdings["AAA"] != 0.0]
    assert len(held) > 20
    assert (np.sign(held["AAA"]) == -np.sign(held["BBB"])).all()
    ratio = (held["BBB"] / held["AAA"]).abs()
    assert ratio.median() == pytest.approx(2.0, abs=0.15)
    assert ratio.between(1.7, 2.35).all()
    # exact construction: units ratio = beta(t-1) scaled by the price moves from t-1 to t
    pa, pb = a.to_numpy(), b.to_numpy()
    _, beta = rolling_beta(pa, pb, 60)
    t = run.holdings.index.get_indexer(held.index)
    expected = beta[t - 1] * pb[t - 1] / pa[t - 1] * pa[t] / pb[t]
    np.testing.assert_allclose(ratio.to_numpy(), expected, rtol=1e-9)
    gross = run.weights_realised.loc[held.index].abs().sum(axis=1)
    np.testing.assert_allclose(gross.to_numpy(), 1.0, rtol=1e-9)


def test_shock_opens_short_spread_next_bar_and_profits() -> None:
    a, b = _cointegrated()
    run = run_pairs(a, b)
    idx = run.holdings.index
    assert run.holdings.iloc[_SHOCK].tolist() == [0.0, 0.0]       # flat on the shock bar
    assert (run.orders["time"] == idx[_SHOCK]).sum() == 0
    opened = run.orders[run.orders["time"] == idx[_SHOCK + 1]].set_index("symbol")
    assert opened.loc["AAA", "size"] < 0.0 < opened.loc["BBB", "size"]  # short the spread
    after = run.holdings.iloc[_SHOCK + 1:]
    closed = after.index[after["AAA"] == 0.0][0]                  # first flat bar: reverted
    assert (after.loc[:closed, "AAA"].iloc[:-1] < 0.0).all()
    assert run.equity[closed] - run.equity.iloc[_SHOCK] > 50.0
    assert run.stats["final_equity"] > 10_000


def test_pairs_no_look_ahead() -> None:
    a, b = _cointegrated()
    base = run_pairs(a, b)
    rng = np.random.default_rng(99)
    for k in (120, _SHOCK - 1, _SHOCK, _SHOCK + 3):
        a2, b2 = a.copy(), b.copy()
        a2.iloc[k + 1:] *= np.exp(rng.normal(0.0, 0.05, _N - k - 1))
        b2.iloc[k + 1:] *= np.exp(rng.normal(0.0, 0.05, _N - k - 1))
        changed = run_pairs(a2, b2)
        cut = a.index[k]
        pd.testing.assert_frame_equal(changed.orders[changed.orders["time"] <= cut],
                                      base.orders[base.orders["time"] <= cut])
        assert not changed.orders.equals(base.orders)  # the perturbation does matter later
    weights = pairs_weights(a, b)
    a3 = a.copy()
    a3.iloc[_SHOCK] += 50.0                                       # bar t's own close ...
    w3 = pairs_weights(a3, b)
    pd.testing.assert_frame_equal(w3.iloc[:_SHOCK + 1], weights.iloc[:_SHOCK + 1])  # ... unused


def test_pairs_commission_inputs_and_names() -> None:
    a, b = _cointegrated()
    a_before, b_before = a.copy(), b.copy()
    free = run_pairs(a, b)
    paid = run_pairs(a, b, commission=0.001, fractional=False)
    pd.testing.assert_series_equal(a, a_before)
    pd.testing.assert_series_equal(b, b_before)
    assert (paid.orders["commission"] > 0.0).all()
    assert paid.equity.iloc[-1] < free.equity.iloc[-1]
    assert np.array_equal(paid.holdings, np.trunc(paid.holdings))
    unnamed = run_pairs(a.rename(None), b.rename(None), gross=0.5)
    assert list(unnamed.holdings.columns) == ["A", "B"]
    held = unnamed.weights_realised[unnamed.holdings["A"] != 0.0]
    np.testing.assert_allclose(held.abs().sum(axis=1).to_numpy(), 0.5, rtol=1e-9)


def test_pairs_validation() -> None:
    a, b = _cointegrated()
    with pytest.raises(ValidationError, match="entry_z"):
        run_pairs(a, b, entry_z=0.5, exit_z=0.5)
    with pytest.raises(ValidationError, match="lookback must be an integer >= 3"):
        run_pairs(a, b, lookback=2)
    with pytest.raises(ValidationError, match="gross must be > 0"):
        run_pairs(a, b, gross=0.0)
    with pytest.raises(DataError, match="no bar time in common"):
        run_pairs(a.iloc[:10], b.iloc[20:])
    with pytest.raises(DataError, match="pandas Series"):
        run_pairs(a.to_numpy(), b)  # type: ignore[arg-type]
