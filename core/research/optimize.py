"""Parameter optimisation: grid, random and genetic searches over a :class:`ParameterSpace`.

All three searches share one evaluation step: a batch of combinations goes through
:func:`core.research.sweep.sweep` (vectorised for the built-in crossovers, per-combination
backtests through :mod:`core.compute` otherwise), the objective scores each row with the
minimum-trades filter, and the rows are ranked best first (NaN last, ties in evaluation order).

Examples
--------
::

    from core.research import grid_search

    result = grid_search(ohlcv, "sma_cross", {"fast": range(5, 55, 5), "slow": range(10, 210, 10)},
                         constraint="fast < slow", objective="sharpe", commission=0.001)
    result.best        # {"fast": 20, "slow": 120, "long_only": False}
    result.table.head()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.backtest.api import make_config
from core.backtest.data import Bars, prepare_bars
from core.backtest.strategies import Strategy
from core.compute import Cancelled, CancelToken, Executor, Progress
from core.errors import ValidationError
from core.research.objectives import Objective, StatsFn, check_min_trades, get_objective, score
from core.research.space import Constraint, ParameterSpace
from core.research.sweep import SWEEP_STATS, sweep

__all__ = ["SearchResult", "genetic_search", "grid_search", "random_search"]

TOURNAMENT = 3
"""Contestants per tournament in the genetic search."""
CROSSOVER_RATE = 0.9
"""Probability that two parents are crossed (uniformly, gene by gene) rather than copied."""
MUTATION_RATE = 0.2
"""Probability that each gene of a child mutates."""
ELITE = 2
"""Best individuals carried over unchanged into the next generation."""

ConstraintLike = str | Constraint | Callable[[dict[str, Any]], bool] | None
ObjectiveLike = str | Objective | StatsFn


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The outcome of a search.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per distinct combination evaluated, best first (NaN objectives last): the varied
        parameters, ``objective`` and the statistics of :data:`core.research.sweep.SWEEP_STATS`.
    best : dict or None
        Every strategy parameter of the best row (ready for ``run_backtest``); None when no
        combination has a defined objective (e.g. none made ``min_trades`` trades).
    objective : str
        The objective's name.
    n_trials : int
        Distinct combinations evaluated.
    method : str
        ``"grid"``, ``"random"`` or ``"genetic"``.
    strategy : str
        The strategy's registry name.
    params : tuple of str
        The varied parameters (the table's first columns).
    min_trades : int
        The minimum-trades filter used.
    """

    table: pd.DataFrame
    best: dict[str, Any] | None
    objective: str
    n_trials: int
    method: str
    strategy: str
    params: tuple[str, ...]
    min_trades: int

    def top(self, k: int = 10) -> pd.DataFrame:
        """The ``k`` best rows of :attr:`table`."""
        return self.table.head(k)


class _Search:
    """What every search shares: the space, the prepared data, the objective and the runner."""

    def __init__(self, data: pd.DataFrame | Bars, strategy: str | type[Strategy],
                 grid: Mapping[str, Iterable[Any]], constraint: ConstraintLike,
                 objective: ObjectiveLike, min_trades: int, executor: Executor | None,
                 cancel: CancelToken | None, settings: dict[str, Any]) -> None:
        self.space = ParameterSpace(strategy, grid, constraint)
        self.objective = get_objective(objective)
        self.min_trades = check_min_trades(min_trades)
        make_config(**settings)  # unknown or invalid settings fail before any work
        self.settings = settings
        self.bars = prepare_bars(data)
        self.executor = executor
        self.cancel = cancel

    def evaluate(self, combos: pd.DataFrame, progress: Progress | None) -> pd.DataFrame:
        """Parameters, objective and statistics of ``combos`` (rows in the same order)."""
        full = combos.assign(**{k: v for k, v in self.space.fixed.items()})
        stats = sweep(self.bars, self.space.strategy, full, executor=self.executor,
                      progress=progress, cancel=self.cancel, check=False, **self.settings)
        values = score(self.objective, pd.concat([combos, stats], axis=1), self.min_trades)
        table = combos.reset_index(drop=True).copy()
        table["objective"] = values
        for key in SWEEP_STATS:
            table[key] = stats[key].to_numpy()
        return table

    def result(self, table: pd.DataFrame, method: str) -> SearchResult:
        """Rank ``table`` best first and wrap it."""
        order = np.argsort(-table["objective"].to_numpy(dtype=np.float64), kind="stable")
        ranked = table.iloc[order].reset_index(drop=True)
        best = None
        if len(ranked) and np.isfinite(ranked["objective"].iloc[0]):
            row = {name: _python(ranked[name].iloc[0]) for name in self.space.names}
            best = self.space.params(row)
        return SearchResult(table=ranked, best=best, objective=self.objective.name,
                            n_trials=len(ranked), method=method,
                            strategy=self.space.strategy.name, params=self.space.names,
                            min_trades=self.min_trades)


def _python(value: Any) -> Any:
    """numpy scalars as Python scalars (``best`` is plain data)."""
    return value.item() if isinstance(value, np.generic) else value


def grid_search(data: pd.DataFrame | Bars, strategy: str | type[Strategy],
                grid: Mapping[str, Iterable[Any]], constraint: ConstraintLike = None,
                objective: ObjectiveLike = "sharpe", min_trades: int = 1,
                executor: Executor | None = None, progress: Progress | None = None,
                cancel: CancelToken | None = None, **settings: Any) -> SearchResult:
    """Evaluate every valid combination of ``grid``.

    Parameters
    ----------
    data : pandas.DataFrame or Bars
        OHLCV bars (see :func:`core.backtest.run_backtest`).
    strategy : str or Strategy subclass
        A registered strategy, e.g. ``"sma_cross"``.
    grid : mapping of str to iterable
        Values to try per parameter, e.g. ``{"fast": range(5, 55, 5), "slow": range(10, 210,
        10)}``; parameters left out keep their defaults.
    constraint : str, Constraint or callable, optional
        E.g. ``"fast < slow"`` (see :mod:`core.research.space`); the strategy's own rules
        (``slow > fast`` for the crossovers) always apply as well.
    objective : str, Objective or callable, default "sharpe"
        A name from :data:`core.research.objectives.OBJECTIVES` or a function of the statistics.
    min_trades : int, default 1
        Combinations with fewer trades score NaN and rank last.
    executor : Executor, optional
        For strategies or settings without a vectorised sweep (see
        :func:`core.research.sweep.sweep`).
    progress : callable, optional
        ``progress(done, total)`` in combinations.
    cancel : CancelToken, optional
        Stops the search (raises :class:`core.compute.Cancelled`).
    **settings
        Broker settings, see :func:`core.backtest.make_config`.

    Returns
    -------
    SearchResult
        The ranked table and the best parameters.

    Raises
    ------
    ValidationError
        On an unknown strategy, parameter, objective or setting, an invalid value or
        constraint, or when no combination is valid.
    DataError
        If the data is malformed.
    """
    search = _Search(data, strategy, grid, constraint, objective, min_trades, executor, cancel,
                     settings)
    return search.result(search.evaluate(search.space.grid(), progress), "grid")


def random_search(data: pd.DataFrame | Bars, strategy: str | type[Strategy],
                  grid: Mapping[str, Iterable[Any]], constraint: ConstraintLike = None,
                  objective: ObjectiveLike = "sharpe", min_trades: int = 1, n: int = 100,
                  seed: int = 0, executor: Executor | None = None,
                  progress: Progress | None = None, cancel: CancelToken | None = None,
                  **settings: Any) -> SearchResult:
    """Evaluate ``n`` distinct valid combinations drawn uniformly from ``grid``.

    Parameters are those of :func:`grid_search`, plus:

    Parameters
    ----------
    n : int, default 100
        Combinations to draw (all valid ones when there are fewer).
    seed : int, default 0
        Seed of the draw; the same seed gives the same result.

    Returns
    -------
    SearchResult
        The ranked table and the best parameters.
    """
    search = _Search(data, strategy, grid, constraint, objective, min_trades, executor, cancel,
                     settings)
    return search.result(search.evaluate(search.space.sample(n, seed), progress), "random")


def genetic_search(data: pd.DataFrame | Bars, strategy: str | type[Strategy],
                   grid: Mapping[str, Iterable[Any]], constraint: ConstraintLike = None,
                   objective: ObjectiveLike = "sharpe", min_trades: int = 1,
                   population: int = 30, generations: int = 15, seed: int = 0,
                   executor: Executor | None = None, progress: Progress | None = None,
                   cancel: CancelToken | None = None, **settings: Any) -> SearchResult:
    """Evolve combinations of ``grid``: tournament selection, crossover and mutation.

    Each individual holds one value index per varied parameter. Every generation keeps the
    :data:`ELITE` best, then breeds children from two tournament winners (:data:`TOURNAMENT`
    contestants): uniform crossover with probability :data:`CROSSOVER_RATE`, then each gene
    mutates with probability :data:`MUTATION_RATE` (a step of a few values, or any value). A
    child breaking the constraint or the strategy's rules is mutated again, or replaced by a
    random valid combination. A generation's new individuals are evaluated together (one
    vectorised sweep where available); individuals seen before are not evaluated again. The
    search stops early once every combination has been evaluated.

    Parameters are those of :func:`grid_search`, plus:

    Parameters
    ----------
    population : int, default 30
        Individuals per generation (at least 2).
    generations : int, default 15
        Generations bred after the first, random one.
    seed : int, default 0
        Seed of every random choice; the same seed gives the same result.

    Returns
    -------
    SearchResult
        Every distinct combination evaluated, ranked, and the best parameters.
    """
    population = _count(population, "population", 2)
    generations = _count(generations, "generations", 0)
    search = _Search(data, strategy, grid, constraint, objective, min_trades, executor, cancel,
                     settings)
    evolution = _Evolution(search, np.random.default_rng(seed))
    pop = evolution.initial(population)
    for generation in range(generations + 1):
        if search.cancel is not None and search.cancel.cancelled:
            raise Cancelled("The job was cancelled.")
        evolution.evaluate(pop)
        if progress is not None:
            progress(generation + 1, generations + 1)
        if generation == generations or evolution.exhausted:
            break
        pop = evolution.breed(pop, population)
    return search.result(evolution.table(), "genetic")


def _count(value: Any, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < least:
        raise ValidationError(f"{name} must be a whole number >= {least} (got {value!r}).")
    return int(value)


Genes = tuple[int, ...]


class _Evolution:
    """The genetic search's population mechanics over value indices ("genes")."""

    def __init__(self, search: _Search, rng: np.random.Generator) -> None:
        self.search = search
        self.space = search.space
        self.rng = rng
        self.sizes = [len(d) for d in self.space.dimensions]
        self.fitness: dict[Genes, float] = {}
        self.rows: list[pd.DataFrame] = []
        # Valid combinations (counted when cheap to enumerate), to stop once all are evaluated.
        self.limit = len(self.space.grid()) if self.space.size <= 100_000 else self.space.size

    @property
    def exhausted(self) -> bool:
        """Whether every valid combination has been evaluated."""
        return len(self.fitness) >= self.limit

    def initial(self, population: int) -> list[Genes]:
        """Distinct random valid individuals (fewer if the space is smaller)."""
        pop: dict[Genes, None] = {}
        for _ in range(population * 20):
            pop.setdefault(self.space.random_genes(self.rng), None)
            if len(pop) == population:
                break
        return list(pop)

    def evaluate(self, pop: list[Genes]) -> None:
        """Evaluate the individuals not seen before, in one batch."""
        new = list(dict.fromkeys(g for g in pop if g not in self.fitness))
        if not new:
            return
        combos = pd.DataFrame([self.space.from_genes(g) for g in new],
                              columns=list(self.space.names))
        table = self.search.evaluate(combos, None)
        for genes, value in zip(new, table["objective"].to_numpy(), strict=True):
            self.fitness[genes] = float(value) if np.isfinite(value) else -np.inf
        self.rows.append(table)

    def table(self) -> pd.DataFrame:
        """Every evaluated individual, in evaluation order."""
        return pd.concat(self.rows, ignore_index=True)

    def breed(self, pop: list[Genes], population: int) -> list[Genes]:
        """The next generation: the elite, then children of tournament winners."""
        ranked = sorted(dict.fromkeys(pop), key=lambda g: -self.fitness[g])
        nxt = ranked[:ELITE]
        while len(nxt) < population:
            a, b = self._tournament(pop), self._tournament(pop)
            nxt.append(self._child(a, b))
        return nxt

    def _tournament(self, pop: list[Genes]) -> Genes:
        picks = self.rng.integers(0, len(pop), size=min(TOURNAMENT, len(pop)))
        return max((pop[i] for i in picks), key=lambda g: self.fitness[g])

    def _child(self, a: Genes, b: Genes) -> Genes:
        if self.rng.random() < CROSSOVER_RATE:
            take = self.rng.random(len(a)) < 0.5
            child = tuple(x if t else y for x, y, t in zip(a, b, take, strict=True))
        else:
            child = a
        for attempt in range(20):
            candidate = self._mutate(child, force=attempt > 0)
            if self.space.is_valid(self.space.from_genes(candidate)) \
                    and (candidate not in self.fitness or attempt >= 10):
                return candidate
        return self.space.random_genes(self.rng)

    def _mutate(self, genes: Genes, force: bool) -> Genes:
        out = list(genes)
        mutate = self.rng.random(len(out)) < MUTATION_RATE
        if force and not mutate.any():
            mutate[self.rng.integers(len(out))] = True
        for k in np.flatnonzero(mutate):
            size = self.sizes[k]
            if self.rng.random() < 0.5:  # a local step of up to a tenth of the range
                reach = max(1, size // 10)
                step = int(self.rng.integers(1, reach + 1)) * (1 if self.rng.random() < 0.5
                                                               else -1)
                out[k] = min(max(out[k] + step, 0), size - 1)
            else:
                out[k] = int(self.rng.integers(size))
        return tuple(out)
