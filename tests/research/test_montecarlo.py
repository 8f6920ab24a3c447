"""Monte Carlo: GBM closed forms, reproducibility across chunking and executors, each method."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from core.compute import Cancelled, CancelToken, DaskExecutor, LocalExecutor, SerialExecutor
from core.errors import ValidationError
from core.research.montecarlo import (
    METHODS,
    PERCENTILES,
    MonteCarloResult,
    _percentile_rows,
    fit_student_df,
    monte_carlo,
)

PHI = NormalDist().cdf
MU, SIGMA, T = 0.0005, 0.02, 252  # per-step drift of the price and volatility; steps
NU = MU - SIGMA ** 2 / 2  # drift of the log price


def gbm_returns(n: int = 2_520, seed: int = 5) -> pd.Series:
    """Daily simple returns whose log returns have mean NU and sample std SIGMA exactly."""
    z = np.random.default_rng(seed).standard_normal(n)
    z = (z - z.mean()) / z.std(ddof=1)
    index = pd.bdate_range("2015-01-01", periods=n, tz="UTC")
    return pd.Series(np.expm1(NU + SIGMA * z), index=index)


@pytest.fixture(scope="module")
def returns() -> pd.Series:
    return gbm_returns()


@pytest.fixture(scope="module")
def trades() -> np.ndarray:
    return np.random.default_rng(11).normal(0.01, 0.06, 60)


def assert_same(a: MonteCarloResult, b: MonteCarloResult) -> None:
    """Bit-for-bit equal results."""
    pd.testing.assert_frame_equal(a.percentiles, b.percentiles, check_exact=True)
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
    for name in a.distributions:
        assert np.array_equal(a.distributions[name], b.distributions[name], equal_nan=True)
    assert dict(a.risk) == dict(b.risk)
    pd.testing.assert_series_equal(a.worst_path, b.worst_path, check_exact=True)
    pd.testing.assert_series_equal(a.worst_drawdown_path, b.worst_drawdown_path,
                                   check_exact=True)
    assert (a.worst_path_index, a.worst_drawdown_path_index) == (
        b.worst_path_index, b.worst_drawdown_path_index)
    assert dict(a.params) == dict(b.params) and dict(a.inputs) == dict(b.inputs)


def bgk_ruin(level: float, nu: float, sigma: float, steps: int) -> float:
    """P(min log wealth < log(level)) for a Brownian motion with drift, monitored every step.

    The continuous first-passage probability with the barrier moved away by Broadie, Glasserman
    and Kou's (1997) discrete-monitoring correction ``0.5826 * sigma * sqrt(dt)``.
    """
    b = math.log(level) - 0.5826 * sigma
    s = sigma * math.sqrt(steps)
    return (PHI((b - nu * steps) / s)
            + math.exp(2 * nu * b / sigma ** 2) * PHI((b + nu * steps) / s))


# --------------------------------------------------------------------------- GBM closed forms


@pytest.fixture(scope="module")
def gbm_run(returns: pd.Series) -> MonteCarloResult:
    return monte_carlo(returns, 20_000, T, "gbm", 123, ruin_level=0.6, drawdown_limit=0.3)


def test_gbm_fits_the_log_return_moments(gbm_run: MonteCarloResult) -> None:
    assert gbm_run.params["mu"] == pytest.approx(NU, rel=1e-9)
    assert gbm_run.params["sigma"] == pytest.approx(SIGMA, rel=1e-9)
    assert gbm_run.inputs["steps_per_year"] == 252.0  # inferred from the business-day index


def test_gbm_final_log_return_converges_to_the_closed_form(gbm_run: MonteCarloResult) -> None:
    final = np.log1p(gbm_run.distributions["final_return"])
    n = final.size
    mean_se = SIGMA * math.sqrt(T / n)
    assert abs(final.mean() - NU * T) < 4 * mean_se  # (mu - sigma^2/2) T
    var = SIGMA ** 2 * T
    assert abs(final.var(ddof=1) - var) < 4 * var * math.sqrt(2 / (n - 1))  # sigma^2 T
    # the median of a lognormal is exp((mu - sigma^2/2) T); SE of a normal median: 1.2533 sd/√n
    median_se = 1.2533 * SIGMA * math.sqrt(T / n)
    assert abs(math.log(gbm_run.percentiles["p50"].iloc[-1]) - NU * T) < 4 * median_se
    assert abs(math.log(np.median(1 + gbm_run.distributions["final_return"])) - NU * T) \
        < 4 * median_se


def test_gbm_percentile_bands_follow_the_lognormal_quantiles(gbm_run: MonteCarloResult) -> None:
    for step in (21, 126, 252):
        for q in PERCENTILES:
            z = NormalDist().inv_cdf(q / 100)
            sd = SIGMA * math.sqrt(step)
            expected = NU * step + z * sd
            got = math.log(gbm_run.percentiles.loc[step, f"p{q:g}"])
            # SE of a sample quantile: sqrt(q (1 - q) / n) / density at the quantile
            se = math.sqrt(q / 100 * (1 - q / 100) / 20_000) / NormalDist().pdf(z) * sd
            assert abs(got - expected) < 4 * se, (step, q)
    assert (gbm_run.percentiles.loc[0] == 1.0).all()


def test_gbm_ruin_matches_the_first_passage_probability(gbm_run: MonteCarloResult) -> None:
    expected = bgk_ruin(0.6, NU, SIGMA, T)
    p = gbm_run.risk["prob_ruin"]
    se = math.sqrt(expected * (1 - expected) / 20_000)
    assert 0.02 < expected < 0.2
    assert abs(p - expected) < 4 * se
    assert gbm_run.risk["prob_ruin_ci_low"] < p < gbm_run.risk["prob_ruin_ci_high"]


def test_gbm_drawdown_breach_matches_a_brute_force_simulation(gbm_run: MonteCarloResult
                                                              ) -> None:
    """A plain numpy reference (other seed, every path in memory) of P(max drawdown < -30%)."""
    z = np.random.default_rng(99).standard_normal((20_000, T))
    logw = np.concatenate([np.zeros((20_000, 1)), np.cumsum(NU + SIGMA * z, axis=1)], axis=1)
    max_dd = np.expm1((logw - np.maximum.accumulate(logw, axis=1)).min(axis=1))
    reference = float(np.mean(max_dd < -0.3))
    p = gbm_run.risk["prob_drawdown_breach"]
    se = math.sqrt(2 * reference * (1 - reference) / 20_000)
    assert abs(p - reference) < 4 * se
    assert np.median(gbm_run.distributions["max_drawdown"]) == pytest.approx(
        np.median(max_dd), abs=0.01)


def test_the_fan_chart_is_numpys_percentile_of_the_final_equity(gbm_run: MonteCarloResult
                                                                ) -> None:
    final_equity = 1 + gbm_run.distributions["final_return"]
    expected = np.percentile(final_equity, PERCENTILES)
    np.testing.assert_allclose(gbm_run.percentiles.iloc[-1].to_numpy(), expected, rtol=1e-6)


def test_cagr_and_sharpe_follow_the_metrics_conventions(gbm_run: MonteCarloResult) -> None:
    dist = gbm_run.distributions
    np.testing.assert_allclose(dist["cagr"], (1 + dist["final_return"]) ** (252 / T) - 1,
                               rtol=1e-12, atol=1e-15)
    # per path: mean / std of simple daily returns x sqrt(252); its mean ~ the population value
    simple_mean = math.exp(MU) - 1
    simple_sd = math.sqrt((math.exp(SIGMA ** 2) - 1) * math.exp(2 * NU + SIGMA ** 2))
    assert np.mean(dist["sharpe"]) == pytest.approx(simple_mean / simple_sd * math.sqrt(252),
                                                    abs=0.05)


# --------------------------------------------------------------------------- exact percentiles


def test_order_statistics_equal_numpys_percentiles_with_ties_and_infinities() -> None:
    rng = np.random.default_rng(0)
    matrix = rng.normal(0, 0.2, (6, 5_001)).astype(np.float32)
    matrix[1, :2_000] = -np.inf  # wiped-out paths (wealth 0)
    matrix[2] = 0.125  # all equal
    matrix[3, ::2] = 0.5  # half tied
    matrix[4, :10] = 700.0  # far outliers squeeze the others into a few histogram bins
    matrix[5] = np.sort(matrix[5])[::-1]
    expected = 3.0 * np.percentile(np.exp(matrix.astype(np.float64)), PERCENTILES, axis=1).T
    np.testing.assert_allclose(_percentile_rows(matrix, 3.0), expected, rtol=1e-12)


# --------------------------------------------------------------------------- reproducibility


def test_same_seed_same_result_and_another_seed_differs(returns: pd.Series) -> None:
    a = monte_carlo(returns, 3_000, 60, "block_bootstrap", 7)
    assert_same(a, monte_carlo(returns, 3_000, 60, "block_bootstrap", 7))
    other = monte_carlo(returns, 3_000, 60, "block_bootstrap", 8)
    assert not np.array_equal(a.distributions["final_return"],
                              other.distributions["final_return"])


@pytest.mark.parametrize("method", METHODS)
def test_chunk_size_and_memory_cap_do_not_change_the_result(method: str, returns: pd.Series,
                                                            trades: np.ndarray) -> None:
    kwargs = {"trades": trades, "seed": 3, "n_paths": 2_500, "horizon": 40, "method": method}
    reference = monte_carlo(returns, chunk_paths=10_000, **kwargs)
    assert_same(reference, monte_carlo(returns, chunk_paths=1_000, **kwargs))
    assert_same(reference, monte_carlo(returns, chunk_paths=1, **kwargs))
    # 2,500 paths x 4 bytes x 7 steps per pass: the paths are simulated 6 times
    assert_same(reference, monte_carlo(returns, max_matrix_bytes=70_000, **kwargs))


@pytest.fixture(scope="module")
def dask_executor() -> Iterator[DaskExecutor]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    try:
        yield DaskExecutor(client)
    finally:
        client.close()
        cluster.close()


@pytest.mark.parametrize("method", ["block_bootstrap", "gbm", "trades_without_replacement"])
def test_serial_process_pool_and_dask_give_identical_results(
        method: str, returns: pd.Series, trades: np.ndarray,
        dask_executor: DaskExecutor) -> None:
    kwargs = {"trades": trades, "seed": 42, "n_paths": 4_000, "horizon": 50, "method": method,
              "chunk_paths": 1_000}
    serial = monte_carlo(returns, executor=SerialExecutor(), **kwargs)
    local = LocalExecutor(max_workers=2)
    try:
        assert_same(serial, monte_carlo(returns, executor=local, **kwargs))
    finally:
        local.close()
    assert_same(serial, monte_carlo(returns, executor=dask_executor, **kwargs))


def test_progress_counts_chunks_of_every_pass_and_cancel_stops(returns: pd.Series) -> None:
    calls: list[tuple[int, int]] = []
    monte_carlo(returns, 3_000, 30, "gbm", 0, chunk_paths=1_000, max_matrix_bytes=3_000 * 4 * 15,
                progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 6) for i in range(1, 7)]  # 3 chunks x 2 passes
    token = CancelToken()

    def stop(done: int, total: int) -> None:
        token.cancel()

    with pytest.raises(Cancelled):
        monte_carlo(returns, 5_000, 30, "gbm", 0, chunk_paths=1_000, progress=stop,
                    cancel=token)


# --------------------------------------------------------------------------- methods


def test_without_replacement_keeps_the_multiset_of_trades(trades: np.ndarray) -> None:
    run = monte_carlo(None, 2_000, None, "trades_without_replacement", 1, trades=trades,
                      steps_per_year=30.0)
    final = 1 + run.distributions["final_return"]
    np.testing.assert_allclose(final, np.prod(1 + trades), rtol=1e-12)  # same for every path
    assert run.inputs["horizon"] == trades.size
    for path in (run.worst_path, run.worst_drawdown_path):
        steps = path.to_numpy()[1:] / path.to_numpy()[:-1] - 1
        np.testing.assert_allclose(np.sort(steps), np.sort(trades), rtol=1e-9, atol=1e-12)
    assert np.ptp(run.distributions["max_drawdown"]) > 0  # the order, and so drawdowns, vary
    with pytest.raises(ValidationError, match="cannot exceed"):
        monte_carlo(None, 10, trades.size + 1, "trades_without_replacement", 1, trades=trades,
                    steps_per_year=30.0)


def test_with_replacement_draws_only_sample_trades(returns: pd.Series) -> None:
    frame = pd.DataFrame({"return_pct": [5.0, -2.0, 1.0, -4.0]})  # the engine's percent column
    run = monte_carlo(returns, 1_000, 30, "trades_with_replacement", 2, trades=frame)
    steps = run.worst_path.pct_change().dropna().to_numpy()
    assert np.all(np.min(np.abs(steps[:, None] - frame["return_pct"].to_numpy() / 100), axis=1)
                  < 1e-12)
    assert run.params["n_trades"] == 4
    assert run.inputs["steps_per_year"] == pytest.approx(4 * 252 / returns.size)
    assert len(np.unique(np.round(run.distributions["final_return"], 12))) > 30


def test_block_bootstrap_preserves_the_mean_and_uses_circular_blocks(returns: pd.Series) -> None:
    run = monte_carlo(returns, 5_000, 100, "block_bootstrap", 4)
    logs = np.log1p(returns.to_numpy())
    assert run.params["block"] == pytest.approx(returns.size ** (1 / 3))
    per_step = np.log1p(run.distributions["final_return"]) / 100
    # blocks of mean 13.6 bars: the SE of the mean is at most sqrt(block) times the i.i.d. one
    se = logs.std() / math.sqrt(100 * 5_000) * math.sqrt(run.params["block"])
    assert abs(per_step.mean() - logs.mean()) < 4 * se
    # with a block far longer than the horizon every path is one circular window of the sample
    windows = monte_carlo(returns, 5_000, 100, "block_bootstrap", 4, block=1e12)
    finals = np.log1p(windows.distributions["final_return"])
    sums = np.convolve(np.concatenate([logs, logs[:99]]), np.ones(100), "valid")[:logs.size]
    assert np.min(np.abs(finals[:, None] - sums[None, :]), axis=1).max() < 1e-9


def test_student_t_has_fatter_tails_than_gbm() -> None:
    rng = np.random.default_rng(8)
    df = 4.0
    logs = 0.0003 + 0.015 * rng.standard_t(df, 5_000) * math.sqrt((df - 2) / df)
    returns = np.expm1(logs)
    fitted = fit_student_df(logs)
    assert 3.0 < fitted < 6.0
    t_run = monte_carlo(returns, 20_000, 1, "student_t", 0)
    g_run = monte_carlo(returns, 20_000, 1, "gbm", 0)
    assert t_run.params["df"] == pytest.approx(fitted)
    assert t_run.params["sigma"] == g_run.params["sigma"]

    def kurtosis(x: np.ndarray) -> float:
        d = x - x.mean()
        return float(np.mean(d ** 4) / np.mean(d ** 2) ** 2 - 3)

    t_k = kurtosis(np.log1p(t_run.distributions["final_return"]))
    g_k = kurtosis(np.log1p(g_run.distributions["final_return"]))
    assert abs(g_k) < 0.2 and t_k > 2.0
    # same volatility by construction (std of the unit-variance t is 1)
    t_sd = np.log1p(t_run.distributions["final_return"]).std()
    assert t_sd == pytest.approx(t_run.params["sigma"], rel=0.05)


def test_normal_returns_fit_a_near_normal_student_t(returns: pd.Series) -> None:
    assert fit_student_df(np.log1p(returns.to_numpy())) > 30


def test_ruin_and_wipe_out() -> None:
    trades = np.array([0.5, -1.0, 0.2])  # a trade that loses everything
    run = monte_carlo(None, 2_000, 10, "trades_with_replacement", 0, trades=trades,
                      steps_per_year=10.0, start_equity=1_000.0)
    hit = run.distributions["final_return"] == -1.0
    assert 0.9 < hit.mean() < 1.0  # P(no -100% trade in 10 draws) = (2/3)^10 ~ 1.7%
    assert run.risk["prob_ruin"] >= hit.mean()
    assert run.worst_path.iloc[-1] == 0.0 and run.worst_path.iloc[0] == 1_000.0
    assert run.risk["worst_max_drawdown"] == -1.0
    assert run.percentiles["p5"].iloc[-1] == 0.0


def test_result_is_frozen_and_json_ready(returns: pd.Series) -> None:
    run = monte_carlo(returns, 1_000, 20, "gbm", 0, start_equity=10_000.0)
    with pytest.raises(AttributeError):
        run.risk = {}  # type: ignore[misc]
    with pytest.raises(ValueError):
        run.distributions["sharpe"][0] = 0.0
    with pytest.raises(TypeError):
        run.risk["prob_ruin"] = 1.0  # type: ignore[index]
    payload = json.loads(json.dumps(run.to_dict(), allow_nan=False))
    assert set(payload) == {"inputs", "params", "percentiles", "summary", "risk", "worst_path",
                            "worst_drawdown_path"}
    assert payload["percentiles"]["step"] == list(range(21))
    assert payload["percentiles"]["p50"][0] == 10_000.0
    assert set(payload["summary"]) == {"final_return", "cagr", "sharpe", "max_drawdown"}
    assert run.summary.loc["max_drawdown", "p97.5"] <= 0


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((1_000, 10, "bootstrap"), {}, "unknown Monte Carlo method"),
    ((1_000, 10, "trades_with_replacement"), {}, "pass trades="),
    ((0, 10, "gbm"), {}, "n_paths"),
    ((10, 0, "gbm"), {}, "horizon"),
    ((10, 10, "gbm"), {"ruin_level": 1.5}, "ruin_level"),
    ((10, 10, "block_bootstrap"), {"block": 0.5}, "block"),
    ((10, 10, "trades_with_replacement"), {"trades": []}, "no trades"),
])
def test_bad_input_is_explained(args: tuple, kwargs: dict, message: str,
                                returns: pd.Series) -> None:
    with pytest.raises(ValidationError, match=message):
        monte_carlo(returns, *args, 0, **kwargs)


def test_too_few_returns_is_explained() -> None:
    with pytest.raises(ValidationError, match="at least two"):
        monte_carlo([0.01, float("nan")], 10, 5, "gbm", 0)
