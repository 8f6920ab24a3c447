"""Walk-forward analysis: optimise in-sample, trade the choice out-of-sample, fold after fold.

:func:`walk_forward` takes OHLCV data, a strategy, a parameter grid and a splitter
(:mod:`core.research.splitters`). For every fold it

1. runs :func:`core.research.optimize.grid_search` on the training bars **only** and keeps the
   best combination (the first row of its table) and the whole table (for the stability heatmap,
   :func:`objective_surface`);
2. backtests that combination on the training bars (the in-sample statistics);
3. evaluates it out-of-sample on the test bars (below);

then chains the out-of-sample returns into one equity curve and measures the walk-forward
efficiency. Folds are independent jobs mapped through :mod:`core.compute` (in parallel on a local
process pool or a Dask cluster); each fold's job receives only the bars from its training start
to its test end.

Out-of-sample evaluation and warm-up
------------------------------------
The chosen parameters are backtested on the fold's bars from the start of its training window to
the end of its test window, and only the equity changes on the test bars count: the
out-of-sample return of test bar ``t`` is ``equity[t] / equity[t - 1] - 1`` of that run. The
indicators are therefore warmed up on the training (and gap) bars, which all lie before the test
window, and no bar after the test window is ever read, so there is no look-ahead. The position
the chosen parameters hold when the test window opens is carried in, as if the strategy had
been running with them (an event-driven strategy such as a crossover does not sit flat until its
next cross); its entry costs were paid before the window. The run's ``finalize`` setting closes
what is open on the last test bar, so each fold ends flat and its exit costs count.

The out-of-sample trades of a fold are those that close on a test bar (one may have opened
before the window). Out-of-sample statistics are computed on the fold's equity rebased to the
starting cash at the close before the test window, so that every test bar's return counts.

Stitched equity
---------------
``stitched_equity`` starts at the starting cash (``cash``) at the close before the first test
window and compounds each fold's out-of-sample returns from the previous fold's final value;
with contiguous test windows (the default ``step``) it is one unbroken curve over the tail of the
data.

Walk-forward efficiency
-----------------------
Pardo's ratio of out-of-sample to in-sample annualised performance, on the annualised mean bar
return (``mean(r) * periods_per_year``, the same factor on both sides):

- per fold: ``mean(OOS returns of the fold) / mean(IS returns of the chosen parameters on the
  training bars)``;
- overall: ``mean(stitched OOS returns) / average over folds of the IS mean return``.

1 means the out-of-sample bars earned as much per bar as the training bars; above 0.5 is the
usual rule of thumb for a robust strategy. It is NaN when the in-sample mean is not positive (a
ratio to a loss says nothing).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.backtest.api import make_config, run_backtest
from core.backtest.conventions import infer_periods_per_year
from core.backtest.data import prepare_bars
from core.backtest.engine import run
from core.backtest.metrics import BacktestStats, compute_stats
from core.backtest.signals import as_signals
from core.backtest.strategies import Strategy, get_strategy
from core.compute import CancelToken, Executor, SerialExecutor, get_executor
from core.errors import ValidationError
from core.research.splitters import Splitter

__all__ = [
    "SUMMARY_STATS", "FoldResult", "WalkForwardResult", "WalkForwardSignificance",
    "assess_significance", "objective_surface", "walk_forward",
]

SUMMARY_STATS: tuple[str, ...] = (
    "return_pct", "cagr_pct", "sharpe", "sortino", "max_drawdown_pct", "trades",
    "win_rate_pct")
"""In-sample and out-of-sample statistics in :attr:`WalkForwardResult.summary`."""
_NAN = float("nan")


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, eq=False)
class FoldResult:
    """One walk-forward fold.

    Attributes
    ----------
    fold : int
        Fold number, from 0.
    train, test : slice
        Integer positions of the training and test bars in the data.
    train_start, train_end, test_start, test_end : pandas.Timestamp
        First and last bar (inclusive) of each window.
    params : dict
        The combination chosen in-sample (the grid's parameters).
    is_objective : float
        Its objective value in-sample.
    is_stats : BacktestStats
        Its statistics on the training bars.
    oos_stats : BacktestStats
        Its statistics on the test bars (equity rebased at the close before the window).
    oos_returns : pandas.Series
        Out-of-sample return of each test bar.
    oos_equity : pandas.Series
        The fold's equity from the starting cash at the close before the test window through
        its last test bar (one more point than test bars).
    oos_trades : pandas.DataFrame
        Trades closed on a test bar (``entry_bar``/``exit_bar`` are positions in the data).
    table : pandas.DataFrame
        The fold's full search table (one row per valid combination, best first).
    n_trials : int
        Combinations evaluated in-sample.
    is_mean_return, oos_mean_return : float
        Mean bar return in-sample (chosen parameters) and out-of-sample.
    efficiency : float
        ``oos_mean_return / is_mean_return``; NaN when the in-sample mean is not positive.
    """

    fold: int
    train: slice
    test: slice
    train_start: pd.Timestamp
    train_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    params: dict[str, Any]
    is_objective: float
    is_stats: BacktestStats
    oos_stats: BacktestStats
    oos_returns: pd.Series
    oos_equity: pd.Series
    oos_trades: pd.DataFrame
    table: pd.DataFrame
    n_trials: int
    is_mean_return: float
    oos_mean_return: float
    efficiency: float


@dataclass(frozen=True, eq=False)
class WalkForwardResult:
    """A finished walk-forward analysis.

    Attributes
    ----------
    folds : tuple of FoldResult
        Every fold, in time order.
    summary : pandas.DataFrame
        One row per fold: windows, bars, chosen parameters, ``is_objective``, ``is_*`` and
        ``oos_*`` statistics (:data:`SUMMARY_STATS`), mean bar returns and ``efficiency``.
    parameters : pandas.DataFrame
        The chosen parameters, one row per fold (parameter stability).
    stitched_returns : pandas.Series
        The out-of-sample returns of every test bar, in order.
    stitched_equity : pandas.Series
        Those returns compounded from ``cash`` (first point: the close before the first test
        window).
    efficiency : float
        Overall walk-forward efficiency (see the module docstring).
    strategy : str
        Strategy name.
    objective : str
        Objective optimised in each fold.
    grid : dict
        The parameter grid searched.
    splitter : Splitter
        How the folds were laid out.
    periods_per_year : float
        Annualisation factor of the data's bars.
    """

    folds: tuple[FoldResult, ...]
    summary: pd.DataFrame
    parameters: pd.DataFrame
    stitched_returns: pd.Series
    stitched_equity: pd.Series
    efficiency: float
    strategy: str
    objective: str
    grid: dict[str, list[Any]] = field(repr=False)
    splitter: Splitter = field(repr=False)
    periods_per_year: float = float("nan")

    @property
    def n_trials(self) -> int:
        """Combinations evaluated in-sample, summed over folds."""
        return sum(fold.n_trials for fold in self.folds)

    @property
    def oos_trades(self) -> pd.DataFrame:
        """Every fold's out-of-sample trades, with a ``fold`` column first."""
        frames = [fold.oos_trades.assign(fold=fold.fold) for fold in self.folds]
        trades = pd.concat(frames, ignore_index=True)
        return trades[["fold", *[c for c in trades.columns if c != "fold"]]]

    @property
    def oos_stats(self) -> BacktestStats:
        """Statistics of the stitched out-of-sample equity curve."""
        return compute_stats(self.stitched_equity, periods_per_year=self.periods_per_year)


# ----------------------------------------------------------------------------- the fold job


@dataclass(frozen=True)
class _FoldJob:
    """Everything one fold needs; picklable (module-level types and plain data)."""

    fold: int
    window: pd.DataFrame  # data[train.start:test.stop]
    offset: int  # position of window's first bar in the data
    train: slice  # positions within the window
    test: slice
    strategy: str | type[Strategy]
    grid: dict[str, list[Any]]
    constraint: Any
    objective: Any
    min_trades: int
    settings: dict[str, Any]


@dataclass(frozen=True, eq=False)
class _FoldOutput:
    table: pd.DataFrame
    params: dict[str, Any]
    is_objective: float
    n_trials: int
    is_stats: BacktestStats
    is_returns: np.ndarray
    oos_returns: pd.Series
    oos_trades: pd.DataFrame
    periods_per_year: float
    objective: str


def _run_fold(job: _FoldJob) -> _FoldOutput:
    """Optimise on the training bars, then trade the choice over the test bars."""
    from core.research.optimize import grid_search

    train_data = job.window.iloc[job.train]
    search = grid_search(train_data, job.strategy, job.grid, constraint=job.constraint,
                         objective=job.objective, min_trades=job.min_trades,
                         executor=SerialExecutor(), **job.settings)
    table = search.table
    if search.best is None:
        raise ValidationError(
            f"walk-forward fold {job.fold} (training {train_data.index[0]} to "
            f"{train_data.index[-1]}): no parameter combination has a defined {search.objective}"
            f" with at least {job.min_trades} trade(s); widen the grid, lower min_trades or "
            "lengthen the training window.")
    best = {name: _plain(value) for name, value in search.best.items()}
    in_sample = run_backtest(train_data, job.strategy, best, **job.settings)
    oos_returns, trades, ppy = _out_of_sample(job, best)
    return _FoldOutput(
        table=table, params={name: best[name] for name in job.grid if name in best},
        is_objective=float(table["objective"].iloc[0]), n_trials=int(search.n_trials),
        is_stats=in_sample.stats, is_returns=_bar_returns(in_sample.equity.to_numpy()),
        oos_returns=oos_returns, oos_trades=trades, periods_per_year=ppy,
        objective=search.objective)


def _out_of_sample(job: _FoldJob, params: Mapping[str, Any]
                   ) -> tuple[pd.Series, pd.DataFrame, float]:
    """Test-bar returns of ``params`` run over the window, and the trades closed on test bars."""
    bars = prepare_bars(job.window)
    strategy = get_strategy(job.strategy)(**dict(params))
    signals = as_signals(strategy.signals(bars), len(bars))
    result = run(bars, signals, make_config(**job.settings))
    equity = result.equity.to_numpy()
    start, stop = job.test.start, job.test.stop
    returns = pd.Series(equity[start:stop] / equity[start - 1:stop - 1] - 1.0,
                        index=result.equity.index[start:stop], name="oos_return")
    trades = result.trades[result.trades["exit_bar"] >= start].copy()
    trades["entry_bar"] += job.offset
    trades["exit_bar"] += job.offset
    ppy = infer_periods_per_year(result.equity.index)  # the window's bars: no look-ahead
    return returns, trades.reset_index(drop=True), ppy


# ----------------------------------------------------------------------------- public API


def walk_forward(data: pd.DataFrame, strategy: str | type[Strategy],
                 grid: Mapping[str, Sequence[Any]], *, splitter: Splitter,
                 constraint: Any = None, objective: Any = "sharpe", min_trades: int = 1,
                 executor: Executor | None = None,
                 progress: Callable[[int, int], None] | None = None,
                 cancel: CancelToken | None = None, **settings: Any) -> WalkForwardResult:
    """Walk-forward analysis of a strategy over a parameter grid.

    Parameters
    ----------
    data : pandas.DataFrame
        OHLCV bars on a sorted DatetimeIndex.
    strategy : str or Strategy subclass
        A registered strategy name (``"sma_cross"``) or class.
    grid : mapping
        Parameter name to the values to try, e.g. ``{"fast": range(5, 31, 5), "slow":
        range(20, 101, 10)}``.
    splitter : Splitter
        :class:`~core.research.splitters.RollingSplit` or
        :class:`~core.research.splitters.AnchoredSplit`.
    constraint : str or callable, optional
        Rule on the combinations, e.g. ``"fast < slow"`` (see ``grid_search``).
    objective : str or callable
        What the in-sample search maximises (``"sharpe"``, ``"sortino"``, ``"calmar"``,
        ``"return"``, ``"return_over_max_dd"`` or a registered custom one). With a process or
        Dask executor, a custom objective must be registered by name or be a module-level
        function (it is pickled).
    min_trades : int
        Combinations with fewer in-sample trades are not chosen.
    executor : Executor, optional
        Runs the folds (:func:`core.compute.get_executor` by default).
    progress : callable, optional
        ``progress(done_folds, total_folds)``.
    cancel : CancelToken, optional
        Stops the run (:class:`core.compute.Cancelled` is raised).
    **settings
        Broker settings for every backtest (``cash``, ``commission``, ``spread``...), see
        :func:`core.backtest.api.make_config`.

    Returns
    -------
    WalkForwardResult
        Per-fold choices and statistics, the stitched out-of-sample equity and the efficiency.

    Raises
    ------
    ValidationError
        On bad inputs (too little data for one fold, an unknown parameter or setting), or a fold
        where no combination qualifies.
    DataError
        On malformed bars.
    Cancelled
        When ``cancel`` is set.
    """
    prepare_bars(data)  # validate once, up front (bad bars fail fast)
    frame = data
    grid_lists = _grid(grid)
    _check_search(strategy, grid_lists, constraint, objective, min_trades)
    make_config(**settings)  # unknown or invalid settings fail before any job starts
    folds = list(splitter.split(frame.index))
    jobs = [_job(number, frame, train, test, strategy, grid_lists, constraint, objective,
                 min_trades, settings) for number, (train, test) in enumerate(folds)]
    runner = executor if executor is not None else get_executor()
    outputs = runner.map(_run_fold, jobs, progress=progress, cancel=cancel)
    cash = float(make_config(**settings).cash)
    results = tuple(_fold_result(job, out, frame) for job, out in zip(jobs, outputs,
                                                                      strict=True))
    returns = pd.concat([fold.oos_returns for fold in results]).rename("oos_return")
    first_base = frame.index[results[0].test.start - 1]
    equity = pd.concat([pd.Series([cash], index=[first_base]),
                        cash * (1.0 + returns).cumprod()]).rename("equity")
    is_means = [fold.is_mean_return for fold in results]
    return WalkForwardResult(
        folds=results, summary=_summary(results), parameters=_parameters(results),
        stitched_returns=returns, stitched_equity=equity,
        efficiency=_ratio(_mean(returns.to_numpy()), float(np.mean(is_means))),
        strategy=get_strategy(strategy).name, objective=outputs[0].objective,
        grid=grid_lists, splitter=splitter, periods_per_year=outputs[0].periods_per_year)


def objective_surface(result: WalkForwardResult, fold: int, x: str, y: str,
                      values: str = "objective") -> pd.DataFrame:
    """The objective of one fold's search over two parameters, around the chosen combination.

    Parameters
    ----------
    result : WalkForwardResult
        A walk-forward result.
    fold : int
        Fold number (negative counts from the end).
    x, y : str
        Parameters on the columns and on the rows.
    values : str
        Column of the fold's table to show (``"objective"`` or a statistic such as
        ``"sharpe"``).

    Returns
    -------
    pandas.DataFrame
        Rows: the values of ``y``; columns: the values of ``x``; cells: ``values`` with every
        other parameter held at the fold's chosen value (the slice through the optimum), NaN
        where a combination was not valid (a constraint) or has no value.

    Raises
    ------
    ValidationError
        On an unknown fold, parameter or column.
    """
    try:
        chosen = result.folds[fold]
    except IndexError:
        raise ValidationError(f"fold {fold} does not exist; the run has "
                              f"{len(result.folds)} folds.") from None
    table = chosen.table
    for name in (x, y, values):
        if name not in table.columns:
            raise ValidationError(f"{name!r} is not in the fold's table (columns: "
                                  f"{', '.join(map(str, table.columns))}).")
    if x == y:
        raise ValidationError("x and y must be two different parameters.")
    others = [name for name in chosen.params if name in table.columns and name not in (x, y)]
    keep = np.ones(len(table), dtype=bool)
    for name in others:
        keep &= (table[name] == chosen.params[name]).to_numpy()
    surface = table.loc[keep].pivot_table(index=y, columns=x, values=values, aggfunc="max",
                                          dropna=False)
    grid = result.grid
    rows = grid.get(y, list(surface.index))
    columns = grid.get(x, list(surface.columns))
    return surface.reindex(index=sorted(rows), columns=sorted(columns))


# ----------------------------------------------------------------------------- significance


@dataclass(frozen=True)
class WalkForwardSignificance:
    """Significance of the stitched out-of-sample performance.

    Attributes
    ----------
    sharpe : float
        Annualised Sharpe ratio of the stitched out-of-sample returns.
    deflated_sharpe : float
        Deflated Sharpe ratio of those returns (per-period Sharpe, ``T`` out-of-sample bars,
        their skewness and kurtosis) against the expected best of ``n_trials`` combinations
        whose Sharpe ratios vary as the folds' grids did.
    expected_max_sharpe : float
        That expected best, annualised.
    n_trials : int
        Combinations per fold's search (the largest over folds).
    trial_sharpe_variance : float
        Variance of the per-period Sharpe ratios across a fold's grid, averaged over folds.
    bootstrap : BootstrapTest
        Bootstrap p-value of the out-of-sample Sharpe ratio (H0: zero mean).
    vs_buy_hold : PairedComparison
        Out-of-sample returns minus buy-and-hold returns over the same bars.
    """

    sharpe: float
    deflated_sharpe: float
    expected_max_sharpe: float
    n_trials: int
    trial_sharpe_variance: float
    bootstrap: Any
    vs_buy_hold: Any

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers for JSON (nested dicts for the two tests)."""
        from dataclasses import asdict

        return {"sharpe": self.sharpe, "deflated_sharpe": self.deflated_sharpe,
                "expected_max_sharpe": self.expected_max_sharpe, "n_trials": self.n_trials,
                "trial_sharpe_variance": self.trial_sharpe_variance,
                "bootstrap": asdict(self.bootstrap), "vs_buy_hold": asdict(self.vs_buy_hold)}


def assess_significance(result: WalkForwardResult, data: pd.DataFrame, *, n_boot: int = 2000,
                        seed: int | None = 0, block: float | None = None
                        ) -> WalkForwardSignificance:
    """Deflated Sharpe, bootstrap p-value and a paired test against buy and hold.

    The deflated Sharpe ratio is applied to the stitched out-of-sample returns with the number
    of combinations each fold chose from: conservative (out-of-sample returns carry less
    selection bias than in-sample ones), and it says whether the result would stand out among
    that many unskilled trials.

    Parameters
    ----------
    result : WalkForwardResult
        A walk-forward result.
    data : pandas.DataFrame
        The OHLCV bars it ran on (buy and hold is their close over the out-of-sample bars).
    n_boot : int
        Bootstrap samples.
    seed : int, optional
        Seed of the bootstraps (reproducible).
    block : float, optional
        Mean block length of the stationary bootstrap; i.i.d. when None.

    Returns
    -------
    WalkForwardSignificance
        The three tests.
    """
    from core.research import significance as sig

    returns = result.stitched_returns
    ppy = result.periods_per_year
    root = math.sqrt(ppy)
    per_period = sig.sharpe_ratio(returns)
    skew, kurt = sig.moments(returns)
    variances = []
    for fold in result.folds:
        trial = fold.table["sharpe"].to_numpy(np.float64) / root if "sharpe" in fold.table \
            else np.array([])
        trial = trial[np.isfinite(trial)]
        if trial.size > 1:
            variances.append(float(trial.var(ddof=1)))
    variance = float(np.mean(variances)) if variances else 0.0
    n_trials = max(fold.n_trials for fold in result.folds)
    sr0 = sig.expected_max_sharpe(n_trials, variance)
    deflated = _NAN
    if math.isfinite(per_period) and math.isfinite(skew) and len(returns) > 1:
        deflated = sig.deflated_sharpe_ratio(per_period, n_trials, variance, len(returns), skew,
                                             kurt)
    close = _close_of(data).astype(np.float64)
    buy_hold = close.pct_change().reindex(returns.index)
    return WalkForwardSignificance(
        sharpe=per_period * root, deflated_sharpe=deflated, expected_max_sharpe=sr0 * root,
        n_trials=n_trials, trial_sharpe_variance=variance,
        bootstrap=sig.bootstrap_sharpe_pvalue(returns, n_boot=n_boot, seed=seed, block=block),
        vs_buy_hold=sig.paired_comparison(returns, buy_hold, n_boot=n_boot, seed=seed,
                                          block=block, periods_per_year=ppy))


# ----------------------------------------------------------------------------- helpers


def _grid(grid: Mapping[str, Sequence[Any]]) -> dict[str, list[Any]]:
    if not isinstance(grid, Mapping) or not grid:
        raise ValidationError("grid must map parameter names to the values to try, e.g. "
                              "{'fast': [5, 10], 'slow': [20, 50]}.")
    out = {}
    for name, values in grid.items():
        if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
            values = [values]
        out[str(name)] = list(values)
        if not out[str(name)]:
            raise ValidationError(f"grid: {name} has no values to try.")
    return out


def _check_search(strategy: Any, grid: dict[str, list[Any]], constraint: Any, objective: Any,
                  min_trades: Any) -> None:
    """Fail before any fold starts on what every fold's search would reject."""
    from core.research.objectives import check_min_trades, get_objective
    from core.research.space import ParameterSpace

    ParameterSpace(strategy, grid, constraint)
    get_objective(objective)
    check_min_trades(min_trades)


def _job(number: int, frame: pd.DataFrame, train: slice, test: slice, strategy: Any,
         grid: dict[str, list[Any]], constraint: Any, objective: Any, min_trades: int,
         settings: dict[str, Any]) -> _FoldJob:
    start = train.start
    return _FoldJob(
        fold=number, window=frame.iloc[start:test.stop], offset=start,
        train=slice(0, train.stop - start), test=slice(test.start - start, test.stop - start),
        strategy=strategy, grid=grid, constraint=constraint, objective=objective,
        min_trades=min_trades, settings=dict(settings))


def _fold_result(job: _FoldJob, out: _FoldOutput, frame: pd.DataFrame) -> FoldResult:
    train = slice(job.offset + job.train.start, job.offset + job.train.stop)
    test = slice(job.offset + job.test.start, job.offset + job.test.stop)
    cash = float(make_config(**job.settings).cash)
    base = pd.Series([cash], index=[frame.index[test.start - 1]])
    equity = pd.concat([base, cash * (1.0 + out.oos_returns).cumprod()]).rename("equity")
    oos_stats = compute_stats(equity, out.oos_trades, benchmark=_benchmark(frame, test),
                              periods_per_year=out.periods_per_year)
    is_mean = _mean(out.is_returns)
    oos_mean = _mean(out.oos_returns.to_numpy())
    return FoldResult(
        fold=job.fold, train=train, test=test, train_start=frame.index[train.start],
        train_end=frame.index[train.stop - 1], test_start=frame.index[test.start],
        test_end=frame.index[test.stop - 1], params=out.params, is_objective=out.is_objective,
        is_stats=out.is_stats, oos_stats=oos_stats, oos_returns=out.oos_returns,
        oos_equity=equity, oos_trades=out.oos_trades, table=out.table, n_trials=out.n_trials,
        is_mean_return=is_mean, oos_mean_return=oos_mean, efficiency=_ratio(oos_mean, is_mean))


def _benchmark(frame: pd.DataFrame, test: slice) -> pd.Series:
    """Closes from the bar before the test window through its end (buy and hold over it)."""
    return _close_of(frame.iloc[test.start - 1:test.stop])


def _summary(folds: Sequence[FoldResult]) -> pd.DataFrame:
    rows = []
    for fold in folds:
        row: dict[str, Any] = {
            "fold": fold.fold, "train_start": fold.train_start, "train_end": fold.train_end,
            "test_start": fold.test_start, "test_end": fold.test_end,
            "train_bars": fold.train.stop - fold.train.start,
            "test_bars": fold.test.stop - fold.test.start, **fold.params,
            "is_objective": fold.is_objective}
        row.update({f"is_{key}": fold.is_stats[key] for key in SUMMARY_STATS})
        row.update({f"oos_{key}": fold.oos_stats[key] for key in SUMMARY_STATS})
        row.update({"is_mean_return": fold.is_mean_return,
                    "oos_mean_return": fold.oos_mean_return, "efficiency": fold.efficiency})
        rows.append(row)
    return pd.DataFrame(rows)


def _parameters(folds: Sequence[FoldResult]) -> pd.DataFrame:
    frame = pd.DataFrame([fold.params for fold in folds],
                         index=pd.Index([fold.fold for fold in folds], name="fold"))
    frame.insert(0, "test_start", [fold.test_start for fold in folds])
    return frame


def _bar_returns(equity: np.ndarray) -> np.ndarray:
    return equity[1:] / equity[:-1] - 1.0


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else _NAN


def _ratio(oos: float, is_: float) -> float:
    if not (math.isfinite(oos) and math.isfinite(is_)) or is_ <= 0:
        return _NAN
    return oos / is_


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar strategies validate (``np.int64(5)`` -> ``5``)."""
    return value.item() if isinstance(value, np.generic) else value


def _close_of(frame: pd.DataFrame) -> pd.Series:
    columns = {str(c).lower(): c for c in frame.columns}
    if "close" not in columns:
        raise ValidationError("the data has no Close column.")
    return frame[columns["close"]].rename("close")

