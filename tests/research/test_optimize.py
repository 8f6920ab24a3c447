"""Grid, random and genetic searches: a planted optimum, ranking, filters, seeds, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import run_backtest
from core.compute import Cancelled, CancelToken, SerialExecutor
from core.errors import ValidationError
from core.research import SearchResult, genetic_search, grid_search, random_search
from core.research.sweep import SWEEP_STATS

GRID = {"fast": [2, 3, 5, 8, 12, 17, 25], "slow": [10, 15, 20, 30, 40, 60, 80, 100]}
"""A grid around the planted pair, 50 valid combinations (fast < slow)."""


def planted(n: int = 4_000, fast: int = 5, slow: int = 20, drift: float = 0.002,
            vol: float = 0.01, seed: int = 0) -> pd.DataFrame:
    """Daily bars in which holding the ``(fast, slow)`` SMA crossover's position pays.

    A random walk (``vol`` a bar) plus a drift of ``drift`` a bar in the direction of the
    position that the planted crossover holds (long after its last cross up, short after its
    last cross down, as sma_cross trades it with next-open fills: each open is the previous
    close). Any other pair earns the drift only while it happens to agree with the planted one,
    so ``(fast, slow)`` is the best pair; the margin holds across seeds (checked by hand for
    seeds 0-9).
    """
    rng = np.random.default_rng(seed)
    shocks = rng.normal(0.0, vol, n)
    close = np.empty(n)
    close[0] = 100.0
    position = 0.0
    for t in range(1, n):
        close[t] = close[t - 1] * np.exp(drift * position + shocks[t])
        if t >= slow:
            now = close[t - fast + 1:t + 1].mean() - close[t - slow + 1:t + 1].mean()
            before = close[t - fast:t].mean() - close[t - slow:t].mean()
            if before < 0 < now:
                position = 1.0
            elif before > 0 > now:
                position = -1.0
    open_ = np.r_[close[0], close[:-1]]
    index = pd.bdate_range("2010-01-04", periods=n, tz="UTC")
    return pd.DataFrame({"Open": open_, "High": np.maximum(open_, close) * 1.002,
                         "Low": np.minimum(open_, close) * 0.998, "Close": close}, index=index)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return planted()


PLANTED = {"fast": 5, "slow": 20, "long_only": False}


def test_grid_search_finds_the_planted_pair(data: pd.DataFrame) -> None:
    result = grid_search(data, "sma_cross", GRID, constraint="fast < slow")
    assert isinstance(result, SearchResult)
    assert result.best == PLANTED and result.method == "grid" and result.objective == "sharpe"
    assert result.n_trials == len(result.table) == 50 and result.params == ("fast", "slow")
    table = result.table
    assert list(table.columns) == ["fast", "slow", "objective", *SWEEP_STATS]
    assert table["objective"].iloc[0] - table["objective"].iloc[1] > 0.1  # clearly best
    objective = table["objective"].to_numpy()
    assert (np.diff(objective[~np.isnan(objective)]) <= 0).all()
    stats = run_backtest(data, "sma_cross", result.best).stats
    assert table["sharpe"].iloc[0] == pytest.approx(stats["sharpe"], rel=1e-9)


def test_random_search_finds_it_with_enough_samples(data: pd.DataFrame) -> None:
    result = random_search(data, "sma_cross", GRID, constraint="fast < slow", n=40, seed=0)
    assert result.best == PLANTED and result.n_trials == 40 and result.method == "random"


def test_genetic_search_finds_it_without_trying_everything(data: pd.DataFrame) -> None:
    result = genetic_search(data, "sma_cross", GRID, constraint="fast < slow", population=8,
                            generations=6, seed=0)
    assert result.best == PLANTED and result.method == "genetic"
    assert result.n_trials < 50 and len(result.table.drop_duplicates(["fast", "slow"])) == \
        result.n_trials


def test_searches_are_reproducible_for_a_seed(data: pd.DataFrame) -> None:
    grid = {"fast": range(2, 30), "slow": range(5, 120, 5)}
    for search, options in ((random_search, {"n": 30}),
                            (genetic_search, {"population": 10, "generations": 4})):
        first = search(data, "sma_cross", grid, constraint="fast < slow", seed=7, **options)
        again = search(data, "sma_cross", grid, constraint="fast < slow", seed=7, **options)
        other = search(data, "sma_cross", grid, constraint="fast < slow", seed=8, **options)
        pd.testing.assert_frame_equal(first.table, again.table)
        assert not first.table[["fast", "slow"]].equals(other.table[["fast", "slow"]])


def test_genetic_search_respects_the_constraint(data: pd.DataFrame) -> None:
    result = genetic_search(data.iloc[:800], "ema_cross",
                            {"fast": range(2, 40), "slow": range(3, 120)},
                            constraint="slow >= 3 * fast and slow - fast <= 60",
                            population=12, generations=5, seed=1)
    table = result.table
    assert (table["slow"] >= 3 * table["fast"]).all()
    assert (table["slow"] - table["fast"] <= 60).all()


def test_min_trades_ranks_thin_combinations_last(data: pd.DataFrame) -> None:
    grid = {"fast": [5, 50], "slow": [20, 400, 1_000]}
    result = grid_search(data, "sma_cross", grid, min_trades=30)
    thin = result.table["trades"] < 30
    assert thin.any() and result.table["objective"][thin].isna().all()
    assert not thin.iloc[: (~thin).sum()].any()  # thin rows come last
    nothing = grid_search(data.iloc[:300], "sma_cross", grid, min_trades=10_000)
    assert nothing.best is None and nothing.table["objective"].isna().all()


def test_other_objectives_and_a_custom_one(data: pd.DataFrame) -> None:
    by_return = grid_search(data, "sma_cross", GRID, objective="return")
    assert by_return.table["objective"].iloc[0] == by_return.table["return_pct"].max()
    custom = grid_search(data, "sma_cross", GRID, objective=lambda s: -s["trades"])
    assert custom.table["trades"].iloc[0] == custom.table["trades"].min()
    assert custom.objective == "<lambda>"


def test_fallback_strategies_search_through_the_executor(data: pd.DataFrame) -> None:
    sample = data.iloc[:400]
    result = grid_search(sample, "rsi", {"period": [7, 14], "oversold": [25.0, 30.0]},
                         objective="return", min_trades=0, executor=SerialExecutor(),
                         commission=0.001)
    assert result.n_trials == 4 and set(result.best) == {"period", "oversold", "overbought",
                                                         "long_only"}
    top = result.table.iloc[0]
    stats = run_backtest(sample, "rsi", result.best, commission=0.001).stats
    assert top["return_pct"] == pytest.approx(stats["return_pct"], rel=1e-9)


def test_progress_and_cancel(data: pd.DataFrame) -> None:
    seen: list[tuple[int, int]] = []
    genetic_search(data.iloc[:500], "sma_cross", GRID, population=6, generations=3,
                   progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    grid_progress: list[tuple[int, int]] = []
    grid_search(data.iloc[:500], "sma_cross", GRID,
                progress=lambda d, t: grid_progress.append((d, t)))
    assert grid_progress[-1] == (50, 50)
    token = CancelToken()
    token.cancel()
    for search in (grid_search, random_search, genetic_search):
        with pytest.raises(Cancelled):
            search(data.iloc[:500], "sma_cross", GRID, cancel=token)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"objective": "sharp"}, "unknown objective"),
    ({"min_trades": -1}, "min_trades"),
    ({"constraint": "fast < slw"}, "unknown parameter 'slw'"),
    ({"leverage": 2}, "unknown backtest setting"),
    ({"commission": -1.0}, "commission"),
])
def test_bad_input_fails_before_any_work(data: pd.DataFrame, kwargs: dict, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        grid_search(data, "sma_cross", GRID, **kwargs)


def test_bad_search_sizes(data: pd.DataFrame) -> None:
    with pytest.raises(ValidationError, match="population"):
        genetic_search(data, "sma_cross", GRID, population=1)
    with pytest.raises(ValidationError, match="generations"):
        genetic_search(data, "sma_cross", GRID, generations=-1)
    with pytest.raises(ValidationError, match="n must be"):
        random_search(data, "sma_cross", GRID, n=0)


def test_genetic_search_stops_once_every_combination_is_evaluated(data: pd.DataFrame) -> None:
    seen: list[tuple[int, int]] = []
    result = genetic_search(data.iloc[:500], "sma_cross", {"fast": [3, 5], "slow": [10, 20]},
                            population=4, generations=20,
                            progress=lambda d, t: seen.append((d, t)))
    assert result.n_trials == 4 and len(seen) < 21
