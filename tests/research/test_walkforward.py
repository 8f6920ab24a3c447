"""Walk-forward analysis: planted parameters, no look-ahead, stitching, executors."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.backtest import run_backtest
from core.compute import Cancelled, CancelToken, LocalExecutor, SerialExecutor
from core.errors import ValidationError
from core.research.splitters import AnchoredSplit, RollingSplit
from core.research.walkforward import (
    WalkForwardResult,
    assess_significance,
    objective_surface,
    walk_forward,
)

GRID = {"fast": [6, 1, 3, 2, 4], "slow": [12, 4, 16, 8, 6]}
PLANTED = {"fast": 3, "slow": 8}
LEG, BLIP_EVERY = 40, 8


def planted_bars(n: int = 1280, drift: float = 0.01, blip: float = 0.03) -> pd.DataFrame:
    """A zigzag (legs of 40 bars) with a 2-bar counter-move every 8 bars.

    The pattern repeats every 80 bars, so every training window of a multiple of 80 bars sees
    the same market; on it SMA(3) x SMA(8) is the best pair of :data:`GRID` by Sharpe ratio
    (8.73 against 8.42 for the runner-up, 4 x 6): shorter averages whipsaw on the counter-moves,
    longer ones react late to the turns.
    """
    t = np.arange(n)
    sign = np.where((t // LEG) % 2 == 0, 1.0, -1.0)
    phase = t % BLIP_EVERY
    r = sign * drift - np.where(phase == 3, sign * blip, 0.0) + np.where(phase == 5,
                                                                         sign * blip, 0.0)
    close = 100.0 * np.exp(np.cumsum(r))
    open_ = np.r_[close[0], close[:-1]]
    index = pd.date_range("2015-01-02", periods=n, freq="B", tz="UTC")
    return pd.DataFrame({"Open": open_, "High": np.maximum(open_, close) * 1.001,
                         "Low": np.minimum(open_, close) * 0.999, "Close": close,
                         "Volume": 1e6}, index=index)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return planted_bars()


@pytest.fixture(scope="module")
def rolling(bars: pd.DataFrame) -> WalkForwardResult:
    return walk_forward(bars, "sma_cross", GRID, splitter=RollingSplit(320, 160),
                        constraint="fast < slow", executor=SerialExecutor())


def test_planted_parameters_are_chosen_in_every_fold(rolling: WalkForwardResult) -> None:
    assert len(rolling.folds) == 6
    for fold in rolling.folds:
        assert fold.params == PLANTED
        assert fold.table.iloc[0][["fast", "slow"]].to_dict() == PLANTED
        assert fold.is_objective == pytest.approx(fold.is_stats["sharpe"], rel=1e-9)
        assert fold.n_trials == len(fold.table) == 22  # 5 x 5 less 3 with fast >= slow
    assert rolling.parameters[["fast", "slow"]].to_dict("records") == [PLANTED] * 6
    assert rolling.summary["fast"].tolist() == [3] * 6
    assert rolling.strategy == "sma_cross" and rolling.objective == "sharpe"


def test_planted_parameters_anchored(bars: pd.DataFrame) -> None:
    result = walk_forward(bars, "sma_cross", GRID, splitter=AnchoredSplit(320, 320),
                          constraint="fast < slow", executor=SerialExecutor())
    assert [fold.train.start for fold in result.folds] == [0, 0, 0]
    assert [fold.params for fold in result.folds] == [PLANTED] * 3


def test_fold_windows_follow_the_splitter(bars: pd.DataFrame, rolling: WalkForwardResult
                                          ) -> None:
    expected = RollingSplit(320, 160).folds(bars.index)
    assert [(f.train, f.test) for f in rolling.folds] == expected
    for fold in rolling.folds:
        assert fold.train_end < fold.test_start
        assert fold.test_start == bars.index[fold.test.start]
        assert fold.test_end == bars.index[fold.test.stop - 1]
        assert list(fold.oos_returns.index) == list(bars.index[fold.test])
        assert (fold.oos_trades["exit_time"] >= fold.test_start).all()
        assert (fold.oos_trades["exit_time"] <= fold.test_end).all()
        assert fold.oos_stats["start"] == bars.index[fold.test.start - 1]
        assert fold.oos_stats["end"] == fold.test_end


def test_no_look_ahead_changing_later_data_keeps_earlier_folds(bars: pd.DataFrame) -> None:
    """Scrambling every bar after fold 2's test window leaves folds 0-2 exactly as they were."""
    splitter = RollingSplit(320, 160)
    base = walk_forward(bars, "sma_cross", GRID, splitter=splitter, constraint="fast < slow",
                        executor=SerialExecutor())
    cut = base.folds[2].test.stop
    changed = bars.copy()
    rng = np.random.default_rng(1)
    shock = np.exp(np.cumsum(rng.normal(0.0, 0.03, len(bars) - cut)))
    changed.iloc[cut:, :4] = changed.iloc[cut:, :4].to_numpy() * shock[:, None]
    after = walk_forward(changed, "sma_cross", GRID, splitter=splitter,
                         constraint="fast < slow", executor=SerialExecutor())
    for old, new in zip(base.folds[:3], after.folds[:3], strict=True):
        assert new.params == old.params
        assert new.is_objective == old.is_objective
        pd.testing.assert_series_equal(new.oos_returns, old.oos_returns)
        pd.testing.assert_frame_equal(new.table, old.table)
        pd.testing.assert_series_equal(pd.Series(new.oos_stats.to_dict()),
                                       pd.Series(old.oos_stats.to_dict()))
    later = [not new.oos_returns.equals(old.oos_returns)
             for old, new in zip(base.folds[3:], after.folds[3:], strict=True)]
    assert all(later)  # the change did reach the later folds


def test_out_of_sample_returns_equal_a_continuous_run(bars: pd.DataFrame) -> None:
    """Warm-up and carried-in positions make the OOS bars trade as one uninterrupted run.

    With the same parameters chosen in every fold, fractional all-in sizing and no costs, the
    stitched out-of-sample returns equal the full-history backtest's returns on those bars.
    """
    result = walk_forward(bars, "sma_cross", GRID, splitter=RollingSplit(320, 160),
                          constraint="fast < slow", executor=SerialExecutor(), fractional=True)
    full = run_backtest(bars, "sma_cross", PLANTED, fractional=True).equity.pct_change()
    oos = result.stitched_returns
    np.testing.assert_allclose(oos.to_numpy(), full.reindex(oos.index).to_numpy(), rtol=1e-9,
                               atol=1e-12)


def test_stitched_equity_is_continuous(rolling: WalkForwardResult, bars: pd.DataFrame) -> None:
    equity = rolling.stitched_equity
    first = rolling.folds[0]
    assert equity.index[0] == bars.index[first.test.start - 1]
    assert equity.iloc[0] == 10_000.0
    assert equity.index.is_monotonic_increasing and equity.index.is_unique
    assert len(equity) == 1 + sum(len(f.oos_returns) for f in rolling.folds)
    assert list(equity.index[1:]) == list(bars.index[first.test.start:])  # tiles the tail
    level = 10_000.0
    for fold in rolling.folds:
        # each fold starts from the previous fold's end value...
        assert equity.loc[fold.oos_equity.index[0]] == pytest.approx(level, rel=1e-12)
        segment = equity.loc[fold.oos_equity.index]
        np.testing.assert_allclose(segment.to_numpy(),
                                   fold.oos_equity.to_numpy() * level / 10_000.0, rtol=1e-12)
        level = float(segment.iloc[-1])
        # ...and its own curve matches its statistics
        assert fold.oos_stats["final_equity"] == pytest.approx(fold.oos_equity.iloc[-1])
    assert equity.iloc[-1] == pytest.approx(level)
    total = np.prod([1 + f.oos_stats["return_pct"] / 100 for f in rolling.folds])
    assert equity.iloc[-1] / equity.iloc[0] == pytest.approx(total, rel=1e-9)


def test_all_out_of_sample_trades(rolling: WalkForwardResult) -> None:
    trades = rolling.oos_trades
    assert trades.columns[0] == "fold"
    assert len(trades) == sum(len(f.oos_trades) for f in rolling.folds)
    assert trades["fold"].tolist() == sorted(trades["fold"])
    assert rolling.oos_stats["return_pct"] == pytest.approx(
        (rolling.stitched_equity.iloc[-1] / 10_000 - 1) * 100)


def test_walk_forward_efficiency(rolling: WalkForwardResult) -> None:
    for fold in rolling.folds:
        is_mean = fold.is_mean_return
        assert fold.efficiency == pytest.approx(fold.oos_mean_return / is_mean)
        assert fold.oos_mean_return == pytest.approx(fold.oos_returns.mean())
    mean_is = np.mean([f.is_mean_return for f in rolling.folds])
    assert rolling.efficiency == pytest.approx(rolling.stitched_returns.mean() / mean_is)
    assert 0.5 < rolling.efficiency < 2.0  # the planted edge carries over out-of-sample
    assert list(rolling.summary["efficiency"]) == [f.efficiency for f in rolling.folds]


def test_objective_surface(rolling: WalkForwardResult) -> None:
    surface = objective_surface(rolling, 0, "fast", "slow")
    assert list(surface.columns) == [1, 2, 3, 4, 6]
    assert list(surface.index) == [4, 6, 8, 12, 16]
    table = rolling.folds[0].table
    assert surface.loc[8, 3] == table.iloc[0]["objective"] == np.nanmax(surface.to_numpy())
    row = table[(table["fast"] == 2) & (table["slow"] == 12)].iloc[0]
    assert surface.loc[12, 2] == row["objective"]
    assert math.isnan(surface.loc[4, 6])  # fast >= slow: not a valid combination
    sharpe = objective_surface(rolling, -1, "slow", "fast", values="sharpe")
    assert sharpe.shape == (5, 5)
    with pytest.raises(ValidationError, match="does not exist"):
        objective_surface(rolling, 99, "fast", "slow")
    with pytest.raises(ValidationError, match="not in the fold's table"):
        objective_surface(rolling, 0, "fast", "nope")


def test_objective_surface_slices_through_the_optimum(bars: pd.DataFrame) -> None:
    grid = {"fast": [2, 3], "slow": [8, 12], "long_only": [False, True]}
    result = walk_forward(bars, "sma_cross", grid, splitter=RollingSplit(320, 320),
                          executor=SerialExecutor())
    fold = result.folds[0]
    surface = objective_surface(result, 0, "fast", "slow")
    table = fold.table
    keep = table["long_only"] == fold.params["long_only"]
    assert surface.notna().sum().sum() == int(keep.sum()) == 4


def test_executors_give_identical_results(bars: pd.DataFrame) -> None:
    data = bars.iloc[:800]
    kwargs = {"splitter": RollingSplit(320, 160), "constraint": "fast < slow",
              "commission": 0.001}
    serial = walk_forward(data, "sma_cross", GRID, executor=SerialExecutor(), **kwargs)
    pool = LocalExecutor(max_workers=2)
    calls: list[tuple[int, int]] = []
    try:
        parallel = walk_forward(data, "sma_cross", GRID, executor=pool,
                                progress=lambda d, t: calls.append((d, t)), **kwargs)
    finally:
        pool.close()
    pd.testing.assert_series_equal(parallel.stitched_equity, serial.stitched_equity)
    pd.testing.assert_frame_equal(parallel.summary, serial.summary)
    assert calls[-1] == (3, 3)


def test_a_dask_cluster_gives_the_serial_result(bars: pd.DataFrame) -> None:
    from distributed import Client, LocalCluster

    from core.compute import DaskExecutor

    data = bars.iloc[:800]
    kwargs = {"splitter": RollingSplit(320, 160), "constraint": "fast < slow",
              "commission": 0.001}
    serial = walk_forward(data, "sma_cross", GRID, executor=SerialExecutor(), **kwargs)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dask = walk_forward(data, "sma_cross", GRID, executor=DaskExecutor(client), **kwargs)
    pd.testing.assert_series_equal(dask.stitched_equity, serial.stitched_equity)
    pd.testing.assert_frame_equal(dask.summary, serial.summary)


def test_progress_and_cancel(bars: pd.DataFrame) -> None:
    calls: list[tuple[int, int]] = []
    walk_forward(bars.iloc[:640], "sma_cross", {"fast": [3], "slow": [8]},
                 splitter=RollingSplit(320, 160), executor=SerialExecutor(),
                 progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 2), (2, 2)]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        walk_forward(bars, "sma_cross", GRID, splitter=RollingSplit(320, 160),
                     executor=SerialExecutor(), cancel=token)


def test_settings_reach_every_backtest(bars: pd.DataFrame) -> None:
    result = walk_forward(bars.iloc[:640], "sma_cross", {"fast": [3], "slow": [8]},
                          splitter=RollingSplit(320, 160), executor=SerialExecutor(),
                          cash=50_000, commission=0.002)
    assert result.stitched_equity.iloc[0] == 50_000
    fold = result.folds[0]
    assert (fold.oos_trades["commission"] > 0).all()
    assert fold.oos_equity.iloc[0] == 50_000


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"splitter": RollingSplit(2000, 200)}, "too little data"),
    ({"splitter": RollingSplit(320, 160), "min_trades": 1000}, "fold 0"),
    ({"splitter": RollingSplit(320, 160), "leverage": 2}, "unknown backtest setting"),
])
def test_invalid_runs(bars: pd.DataFrame, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        walk_forward(bars, "sma_cross", GRID, executor=SerialExecutor(), **kwargs)


def test_empty_grid_is_rejected(bars: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match="grid"):
        walk_forward(bars, "sma_cross", {}, splitter=RollingSplit(320, 160))


def test_significance_is_reproducible(rolling: WalkForwardResult, bars: pd.DataFrame) -> None:
    first = assess_significance(rolling, bars, n_boot=300, seed=4)
    again = assess_significance(rolling, bars, n_boot=300, seed=4)
    assert first == again
    assert first.n_trials == 22
    assert first.sharpe == pytest.approx(rolling.oos_stats["sharpe"], rel=1e-9)
    assert first.bootstrap.p_value < 0.01  # the planted edge is significant
    assert first.deflated_sharpe > 0.95
    assert first.vs_buy_hold.n_obs == len(rolling.stitched_returns)
    assert first.vs_buy_hold.mean_diff > 0
    payload = first.to_dict()
    assert set(payload) >= {"deflated_sharpe", "bootstrap", "vs_buy_hold"}
