"""Optimisation objectives: small plug-ins from a backtest's statistics to one number.

An objective maps a statistics mapping (``core.backtest.metrics.BacktestStats``, or one row of a
sweep's table) to a float, higher is better; NaN means "undefined" and ranks last. The built-ins
also know how to score a whole table of statistics at once, which is how the optimisers call
them:

=====================  ====================================================================
``sharpe``             quantstats' Sharpe ratio (``stats["sharpe"]``)
``sortino``            quantstats' Sortino ratio
``calmar``             CAGR over the absolute maximum drawdown
``return``             total return in percent (``return_pct``)
``return_over_max_dd`` ``return_pct / |max_drawdown_pct|``; NaN without a drawdown
=====================  ====================================================================

A custom objective is one function registered under a name::

    register_objective("sharpe_per_trade", lambda s: s["sharpe"] / max(s["trades"], 1))

The minimum-trades filter (:func:`score`) gives NaN to combinations with fewer trades than
asked, so a lucky single trade cannot win a search.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ValidationError

__all__ = ["OBJECTIVES", "Objective", "check_min_trades", "get_objective", "register_objective",
           "score"]

StatsFn = Callable[[Mapping[str, Any]], float]
ColumnsFn = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class Objective:
    """One objective: a name, a function of one statistics mapping, and optionally of a table.

    Attributes
    ----------
    name : str
        Registry key.
    fn : callable
        ``fn(stats) -> float``; higher is better, NaN when undefined.
    columns : callable, optional
        ``columns(table) -> array``: the same values for every row of a statistics table at
        once (the built-ins have one; a custom objective is called row by row).
    needs : tuple of str
        Statistics the objective reads (documentation, and a check on tables).
    """

    name: str
    fn: StatsFn
    columns: ColumnsFn | None = None
    needs: tuple[str, ...] = ()

    def __call__(self, stats: Mapping[str, Any]) -> float:
        """Score one statistics mapping (NaN when the value is undefined or not finite)."""
        value = _as_float(self.fn(stats))
        return value if math.isfinite(value) else math.nan

    def table(self, stats: pd.DataFrame) -> np.ndarray:
        """Score every row of a statistics table; infinities become NaN."""
        if self.columns is not None:
            out = np.asarray(self.columns(stats), dtype=np.float64).copy()
        else:
            out = np.array([self(row) for row in stats.to_dict("records")], dtype=np.float64)
        out[~np.isfinite(out)] = np.nan
        return out


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _ratio(num: Any, den: Any) -> float:
    num, den = _as_float(num), abs(_as_float(den))
    return num / den if den > 0 and math.isfinite(den) else math.nan


def _column_ratio(table: pd.DataFrame, num: str, den: str) -> np.ndarray:
    n = table[num].to_numpy(dtype=np.float64)
    d = np.abs(table[den].to_numpy(dtype=np.float64))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, n / d, np.nan)


def _column(name: str) -> ColumnsFn:
    return lambda table: table[name].to_numpy(dtype=np.float64)


def _stat(name: str) -> StatsFn:
    return lambda stats: _as_float(stats[name])


OBJECTIVES: dict[str, Objective] = {
    "sharpe": Objective("sharpe", _stat("sharpe"), _column("sharpe"), ("sharpe",)),
    "sortino": Objective("sortino", _stat("sortino"), _column("sortino"), ("sortino",)),
    "calmar": Objective("calmar", _stat("calmar"), _column("calmar"), ("calmar",)),
    "return": Objective("return", _stat("return_pct"), _column("return_pct"), ("return_pct",)),
    "return_over_max_dd": Objective(
        "return_over_max_dd", lambda s: _ratio(s["return_pct"], s["max_drawdown_pct"]),
        lambda t: _column_ratio(t, "return_pct", "max_drawdown_pct"),
        ("return_pct", "max_drawdown_pct")),
}
"""Objectives by name; :func:`register_objective` adds one."""


def register_objective(name: str, fn: StatsFn, *, replace: bool = False) -> Objective:
    """Register a custom objective under ``name``.

    Parameters
    ----------
    name : str
        Registry key (letters, digits and underscores).
    fn : callable
        ``fn(stats) -> float`` on one statistics mapping; higher is better. It receives the
        sweep's statistics (``return_pct``, ``sharpe``, ``sortino``, ``calmar``,
        ``max_drawdown_pct``, ``trades``, ``win_rate_pct``, ``final_equity``...).
    replace : bool, default False
        Allow replacing an existing objective of that name.

    Returns
    -------
    Objective
        The registered objective.

    Raises
    ------
    ValidationError
        On a bad name, a non-callable, or a name already taken (without ``replace``).
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValidationError(f"an objective name must be a word such as 'my_score' "
                              f"(got {name!r}).")
    if not callable(fn):
        raise ValidationError(f"objective {name!r} must be a function of the statistics.")
    if name in OBJECTIVES and not replace:
        raise ValidationError(f"an objective named {name!r} exists; pass replace=True to "
                              "replace it.")
    objective = Objective(name, fn)
    OBJECTIVES[name] = objective
    return objective


def get_objective(objective: str | Objective | StatsFn) -> Objective:
    """Look an objective up by name (an :class:`Objective` or a function passes through).

    Raises
    ------
    ValidationError
        If the name is not registered.
    """
    if isinstance(objective, Objective):
        return objective
    if isinstance(objective, str):
        if objective in OBJECTIVES:
            return OBJECTIVES[objective]
        raise ValidationError(f"unknown objective {objective!r}; choose one of "
                              f"{', '.join(OBJECTIVES)} (or register_objective a custom one).")
    if callable(objective):
        return Objective(getattr(objective, "__name__", "custom"), objective)
    raise ValidationError(f"objective must be a name or a function (got {objective!r}).")


def check_min_trades(min_trades: Any) -> int:
    """``min_trades`` as an int; ValidationError unless it is a whole number >= 0."""
    if isinstance(min_trades, bool) or not isinstance(min_trades, int | np.integer) \
            or min_trades < 0:
        raise ValidationError(f"min_trades must be a whole number >= 0 (got {min_trades!r}).")
    return int(min_trades)


def score(objective: str | Objective | StatsFn, stats: pd.DataFrame,
          min_trades: int = 1) -> np.ndarray:
    """Objective values of every row of a statistics table, with the minimum-trades filter.

    Parameters
    ----------
    objective : str, Objective or callable
        The objective (see :data:`OBJECTIVES`).
    stats : pandas.DataFrame
        One row per combination, with at least the statistics the objective reads and
        ``trades``.
    min_trades : int, default 1
        Rows with fewer trades get NaN (ranked last); 0 turns the filter off.

    Returns
    -------
    numpy.ndarray
        One float64 per row; NaN where undefined or filtered out.

    Raises
    ------
    ValidationError
        On an unknown objective or a negative ``min_trades``.
    """
    min_trades = check_min_trades(min_trades)
    values = get_objective(objective).table(stats)
    if min_trades > 0:
        values[stats["trades"].to_numpy() < min_trades] = np.nan
    return values
