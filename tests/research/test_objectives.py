"""Objectives: built-ins on stats mappings and tables, custom ones, the minimum-trades filter."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from backtesting.test import GOOG

from core.backtest import run_backtest
from core.errors import ValidationError
from core.research.objectives import OBJECTIVES, get_objective, register_objective, score


@pytest.fixture(scope="module")
def stats() -> dict:
    return dict(run_backtest(GOOG, "sma_cross", {"fast": 10, "slow": 30},
                             commission=0.002).stats)


@pytest.fixture
def registry() -> Iterator[None]:
    """Leave the registry as it was."""
    before = dict(OBJECTIVES)
    yield
    OBJECTIVES.clear()
    OBJECTIVES.update(before)


def test_builtins_read_the_statistics(stats: dict) -> None:
    assert set(OBJECTIVES) >= {"sharpe", "sortino", "calmar", "return", "return_over_max_dd"}
    assert get_objective("sharpe")(stats) == stats["sharpe"]
    assert get_objective("sortino")(stats) == stats["sortino"]
    assert get_objective("calmar")(stats) == stats["calmar"]
    assert get_objective("return")(stats) == stats["return_pct"]
    assert get_objective("return_over_max_dd")(stats) == pytest.approx(
        stats["return_pct"] / abs(stats["max_drawdown_pct"]), rel=1e-15)


def test_tables_score_like_rows(stats: dict) -> None:
    rows = [stats, {**stats, "sharpe": float("inf"), "max_drawdown_pct": 0.0, "trades": 3},
            {**stats, "sharpe": float("nan"), "return_pct": -5.0, "trades": 0}]
    table = pd.DataFrame(rows)
    for name, objective in OBJECTIVES.items():
        by_table = objective.table(table)
        by_row = np.array([objective(row) for row in rows])
        np.testing.assert_array_equal(by_table, by_row, err_msg=name)
    assert math.isnan(get_objective("sharpe").table(table)[1])  # infinite: undefined
    assert math.isnan(get_objective("return_over_max_dd").table(table)[1])  # no drawdown


def test_min_trades_filter_ranks_thin_combinations_last(stats: dict) -> None:
    table = pd.DataFrame([{**stats, "trades": n, "sharpe": 1.0 + n} for n in (0, 2, 5, 9)])
    np.testing.assert_array_equal(score("sharpe", table, min_trades=5), [np.nan, np.nan, 6, 10])
    np.testing.assert_array_equal(score("sharpe", table, min_trades=0), [1, 3, 6, 10])
    for bad in (-1, 1.5, True):
        with pytest.raises(ValidationError, match="min_trades"):
            score("sharpe", table, min_trades=bad)


def test_custom_objectives_register_by_name(stats: dict, registry: None) -> None:
    objective = register_objective("sharpe_per_trade",
                                   lambda s: s["sharpe"] / max(s["trades"], 1))
    assert get_objective("sharpe_per_trade") is objective
    assert objective(stats) == pytest.approx(stats["sharpe"] / stats["trades"])
    table = pd.DataFrame([stats, {**stats, "trades": 0}])
    np.testing.assert_allclose(score("sharpe_per_trade", table, min_trades=1),
                               [stats["sharpe"] / stats["trades"], np.nan])
    with pytest.raises(ValidationError, match="exists"):
        register_objective("sharpe_per_trade", lambda s: 0.0)
    register_objective("sharpe_per_trade", lambda s: 1.0, replace=True)
    assert get_objective("sharpe_per_trade")(stats) == 1.0
    assert get_objective(lambda s: 2.0)(stats) == 2.0  # a function passes straight through


def test_a_failing_or_odd_custom_value_is_nan(stats: dict, registry: None) -> None:
    register_objective("text", lambda s: "high")
    assert math.isnan(get_objective("text")(stats))


@pytest.mark.parametrize(("call", "match"), [
    (lambda: get_objective("sharp"), "unknown objective 'sharp'.*sharpe, sortino"),
    (lambda: get_objective(3), "a name or a function"),
    (lambda: register_objective("my score", lambda s: 0.0), "a word"),
    (lambda: register_objective("ok", "sharpe"), "function"),
])
def test_bad_objectives(call, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        call()
