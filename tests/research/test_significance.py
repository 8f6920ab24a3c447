"""Deflated Sharpe ratio, bootstrap p-value and the paired comparison."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationError
from core.research.significance import (
    EULER_GAMMA,
    bootstrap_indices,
    bootstrap_sharpe_pvalue,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    moments,
    paired_comparison,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)


def test_deflated_sharpe_worked_example() -> None:
    """Bailey & López de Prado (2014), section 6, worked by hand from their eq. 2 and the PSR.

    Annualised SR 2.5 over 5 years of daily returns (T = 1250, 250 days a year), skewness -3,
    kurtosis 10, selected from N = 100 trials whose annualised Sharpe ratios have variance 0.5.

    - per-day SR = 2.5 / sqrt(250) = 0.158114; per-day variance V = 0.5 / 250 = 0.002,
      sqrt(V) = 0.044721;
    - Phi^-1(1 - 1/100) = 2.326348; Phi^-1(1 - 1/(100 e)) = Phi^-1(0.996321) = 2.680210;
    - SR0 = 0.044721 * (0.422784 * 2.326348 + 0.577216 * 2.680210)
          = 0.044721 * (0.983543 + 1.547059) = 0.044721 * 2.530603 = 0.113172
      (the paper: 0.1132);
    - denominator sqrt(1 + 3 * 0.158114 + (10 - 1) / 4 * 0.158114^2) = sqrt(1.530592) = 1.237171;
    - z = (0.158114 - 0.113172) * sqrt(1249) / 1.237171 = 0.044942 * 35.341194 / 1.237171
        = 1.283816;
    - DSR = Phi(1.283816) = 0.9004 (the paper: 0.9004).
    """
    sr = 2.5 / math.sqrt(250)
    var = 0.5 / 250
    assert expected_max_sharpe(100, var) == pytest.approx(0.113172, abs=2e-6)
    dsr = deflated_sharpe_ratio(sr, 100, var, 1250, skew=-3.0, kurt=10.0)
    assert dsr == pytest.approx(0.9004, abs=1e-4)
    assert dsr == pytest.approx(NormalDist().cdf(1.283816), abs=1e-6)


def test_expected_max_sharpe_formula_and_edges() -> None:
    inv = NormalDist().inv_cdf
    n, v = 25, 0.01
    expected = math.sqrt(v) * ((1 - EULER_GAMMA) * inv(1 - 1 / n)
                               + EULER_GAMMA * inv(1 - 1 / (n * math.e)))
    assert expected_max_sharpe(n, v) == pytest.approx(expected)
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert expected_max_sharpe(1000, 0.0) == 0.0
    with pytest.raises(ValidationError):
        expected_max_sharpe(0, 0.1)
    with pytest.raises(ValidationError):
        expected_max_sharpe(10, -0.1)


def test_more_trials_lower_the_deflated_sharpe() -> None:
    values = [deflated_sharpe_ratio(0.1, n, 0.001, 1000, skew=-0.5, kurt=5.0)
              for n in (1, 2, 5, 10, 100, 1_000, 10_000)]
    assert all(b < a for a, b in zip(values, values[1:], strict=False))
    # a wider spread of trial Sharpe ratios deflates more
    assert deflated_sharpe_ratio(0.1, 50, 0.004, 1000) < deflated_sharpe_ratio(0.1, 50, 0.001,
                                                                                 1000)
    # one trial: the DSR is the PSR against zero
    assert deflated_sharpe_ratio(0.1, 1, 0.5, 1000) == probabilistic_sharpe_ratio(0.1, 0.0, 1000)


def test_probabilistic_sharpe_properties() -> None:
    assert probabilistic_sharpe_ratio(0.1, 0.1, 500) == pytest.approx(0.5)
    more_data = [probabilistic_sharpe_ratio(0.05, 0.0, t) for t in (50, 200, 1000)]
    assert more_data == sorted(more_data)
    # negative skew and fat tails make a positive Sharpe less convincing
    assert probabilistic_sharpe_ratio(0.1, 0.0, 250, -2.0, 9.0) < probabilistic_sharpe_ratio(
        0.1, 0.0, 250)
    with pytest.raises(ValidationError):
        probabilistic_sharpe_ratio(0.1, 0.0, 1)


def test_moments_and_sharpe() -> None:
    r = np.random.default_rng(0).normal(0.001, 0.01, 200_000)
    skew, kurt = moments(r)
    assert skew == pytest.approx(0.0, abs=0.02) and kurt == pytest.approx(3.0, abs=0.05)
    assert sharpe_ratio(r) == pytest.approx(r.mean() / r.std(ddof=1))
    assert math.isnan(sharpe_ratio([0.01, 0.01, 0.01]))
    assert math.isnan(sharpe_ratio([0.01]))
    assert sharpe_ratio(pd.Series([0.01, np.nan, 0.03])) == pytest.approx(0.02 / np.std(
        [0.01, 0.03], ddof=1))


def test_bootstrap_is_reproducible_and_seeded() -> None:
    r = np.random.default_rng(5).normal(0.0005, 0.01, 750)
    first = bootstrap_sharpe_pvalue(r, n_boot=500, seed=11)
    assert first == bootstrap_sharpe_pvalue(r, n_boot=500, seed=11)
    assert first.p_value != bootstrap_sharpe_pvalue(r, n_boot=500, seed=12).p_value
    block = bootstrap_sharpe_pvalue(r, n_boot=500, seed=11, block=10)
    assert block == bootstrap_sharpe_pvalue(r, n_boot=500, seed=11, block=10)
    assert first.sharpe == pytest.approx(sharpe_ratio(r))
    assert 0 < first.p_value <= 1 and first.n_obs == 750 and first.n_boot == 500


def test_bootstrap_p_value_separates_edge_from_noise() -> None:
    rng = np.random.default_rng(9)
    edge = rng.normal(0.002, 0.01, 1000)  # per-bar Sharpe 0.2: t about 6
    noise = rng.normal(0.0, 0.01, 1000)
    noise -= noise.mean()  # exactly zero mean: SR 0, half the resamples beat it
    assert bootstrap_sharpe_pvalue(edge, n_boot=1000, seed=1).p_value < 0.01
    assert bootstrap_sharpe_pvalue(noise, n_boot=1000, seed=1).p_value == pytest.approx(0.5,
                                                                                        abs=0.06)
    assert bootstrap_sharpe_pvalue(-edge, n_boot=1000, seed=1).p_value > 0.99


def test_bootstrap_of_constant_returns_is_undefined() -> None:
    result = bootstrap_sharpe_pvalue(np.full(50, 0.001), n_boot=50)
    assert math.isnan(result.sharpe) and math.isnan(result.p_value)
    with pytest.raises(ValidationError):
        bootstrap_sharpe_pvalue(np.ones(5), n_boot=0)
    with pytest.raises(ValidationError):
        bootstrap_sharpe_pvalue(np.ones(5), block=-2)


def test_stationary_bootstrap_indices() -> None:
    rng = np.random.default_rng(0)
    idx = bootstrap_indices(rng, 200, 500, block=20)
    assert idx.shape == (200, 500) and idx.min() >= 0 and idx.max() < 500
    steps = np.diff(idx, axis=1)
    continues = (steps == 1) | (steps == -499)  # the next bar, wrapping around the end
    assert continues.mean() == pytest.approx(1 - 1 / 20, abs=0.01)  # mean block length 20
    iid = bootstrap_indices(np.random.default_rng(0), 200, 500)
    assert ((np.diff(iid, axis=1) == 1).mean()) < 0.01


def test_paired_comparison_finds_a_constant_edge() -> None:
    rng = np.random.default_rng(2)
    index = pd.date_range("2020-01-01", periods=1000, freq="B", tz="UTC")
    bench = pd.Series(rng.normal(0.0003, 0.01, 1000), index=index)
    strat = bench + 0.001 + rng.normal(0.0, 0.002, 1000)
    result = paired_comparison(strat, bench, n_boot=1000, seed=3, periods_per_year=252)
    d = (strat - bench).to_numpy()
    assert result.n_obs == 1000
    assert result.mean_diff == pytest.approx(d.mean())
    assert result.mean_diff_annualised == pytest.approx(d.mean() * 252)
    assert result.t_stat == pytest.approx(d.mean() / (d.std(ddof=1) / math.sqrt(1000)))
    assert 0 < result.ci_low < 0.001 + 0.0002 and result.ci_high > 0.001 - 0.0002
    assert result.ci_low < result.mean_diff < result.ci_high
    assert result.p_value < 0.01
    assert result == paired_comparison(strat, bench, n_boot=1000, seed=3, periods_per_year=252)


def test_paired_comparison_without_edge_and_alignment() -> None:
    rng = np.random.default_rng(4)
    index = pd.date_range("2020-01-01", periods=600, freq="D", tz="UTC")
    bench = pd.Series(rng.normal(0.0, 0.01, 600), index=index)
    strat = pd.Series(rng.normal(0.0, 0.01, 600), index=index)
    strat.iloc[:100] = np.nan
    result = paired_comparison(strat.iloc[50:], bench, n_boot=500, seed=0, block=5)
    assert result.n_obs == 500  # the bars both have
    assert result.p_value > 0.05
    assert math.isnan(result.mean_diff_annualised)
    same = paired_comparison(bench, bench, n_boot=100)
    assert same.mean_diff == 0.0 and math.isnan(same.t_stat) and math.isnan(same.p_value)
    with pytest.raises(ValidationError, match="length"):
        paired_comparison(np.zeros(3), np.zeros(4))
    with pytest.raises(ValidationError, match="confidence"):
        paired_comparison(np.zeros(3), np.zeros(3), confidence=1.5)
