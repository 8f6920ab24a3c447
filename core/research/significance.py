"""Significance of a Sharpe ratio: deflated Sharpe, bootstrap p-value, paired test vs a benchmark.

Pure functions of return arrays; randomness comes in as a ``seed``
(``numpy.random.default_rng(seed)``), so the same inputs and seed give the same numbers.

Definitions
-----------
- Sharpe ratios here are **per period** (mean over sample standard deviation, ``ddof=1``, of the
  per-bar returns, no risk-free rate), not annualised, as the deflated Sharpe ratio's formulas
  use them; multiply by ``sqrt(periods_per_year)`` to annualise.
- Skewness and kurtosis are the sample moment ratios ``m3 / m2**1.5`` and ``m4 / m2**2``
  (biased moments; kurtosis is *not* excess: 3 for a normal distribution), as in Bailey and
  López de Prado.
- Probabilistic Sharpe ratio (Bailey and López de Prado, 2012):
  ``PSR(SR*) = Phi((SR - SR*) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR**2))``.
- Expected maximum Sharpe ratio of ``N`` independent trials whose Sharpe ratios have variance
  ``V`` (Bailey and López de Prado, 2014, eq. 2, from the false strategy theorem):
  ``SR0 = sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))``, ``g`` the
  Euler-Mascheroni constant; ``SR0 = 0`` for a single trial.
- Deflated Sharpe ratio (Bailey and López de Prado, 2014, "The Deflated Sharpe Ratio: Correcting
  for Selection Bias, Backtest Overfitting and Non-Normality"): ``DSR = PSR(SR0)``, the
  probability that the true Sharpe ratio exceeds what the best of ``N`` worthless trials would
  show. 0.95 and above is the usual bar.
- Bootstrap p-value of a Sharpe ratio: one-sided, H0 "the mean return is zero". The returns are
  demeaned (so H0 holds while volatility, fat tails and, with blocks, autocorrelation are kept),
  resampled ``n_boot`` times, and ``p = (1 + #{SR_b >= SR}) / (1 + n_boot)``.
- Resampling is i.i.d. (``block=None`` or 1) or the stationary bootstrap of Politis and Romano
  (1994) with geometric blocks of mean length ``block``, wrapping around the end.
- Paired comparison against a benchmark (buy and hold): the per-bar differences
  ``d = r_strategy - r_benchmark`` on the bars both have; their mean, the t statistic
  ``mean / (std / sqrt(n))``, a percentile bootstrap confidence interval of the mean, and a
  two-sided bootstrap p-value of H0 "mean difference is zero" (demeaned differences,
  ``p = (1 + #{|mean_b| >= |mean|}) / (1 + n_boot)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from core.errors import ValidationError

__all__ = [
    "EULER_GAMMA", "BootstrapTest", "PairedComparison", "bootstrap_indices",
    "bootstrap_sharpe_pvalue", "deflated_sharpe_ratio", "expected_max_sharpe", "moments",
    "paired_comparison", "probabilistic_sharpe_ratio", "sharpe_ratio",
]

EULER_GAMMA = 0.5772156649015329
"""The Euler-Mascheroni constant."""
_NAN = float("nan")
_NORMAL = NormalDist()
_CHUNK_CELLS = 2_000_000  # resampled values held at once (16 MB of float64)


# ----------------------------------------------------------------------------- basics


def _returns(returns: object, name: str = "returns") -> np.ndarray:
    """Finite float64 returns from an array or Series (NaN and inf dropped)."""
    values = np.asarray(returns.to_numpy() if isinstance(returns, pd.Series) else returns,
                        dtype=np.float64)
    if values.ndim != 1:
        raise ValidationError(f"{name} must be one-dimensional (got shape {values.shape}).")
    return values[np.isfinite(values)]


def sharpe_ratio(returns: object) -> float:
    """Per-period Sharpe ratio: mean over sample standard deviation (``ddof=1``).

    Parameters
    ----------
    returns : array-like or pandas.Series
        Per-bar simple returns; NaN and inf are dropped.

    Returns
    -------
    float
        NaN with fewer than two returns or zero variance.
    """
    r = _returns(returns)
    if r.size < 2:
        return _NAN
    sd = float(r.std(ddof=1))
    return float(r.mean()) / sd if sd > 0 else _NAN


def moments(returns: object) -> tuple[float, float]:
    """Sample skewness and (non-excess) kurtosis, ``m3 / m2**1.5`` and ``m4 / m2**2``.

    Parameters
    ----------
    returns : array-like or pandas.Series
        Per-bar returns; NaN and inf are dropped.

    Returns
    -------
    tuple of float
        ``(skew, kurt)``; a normal sample gives about ``(0, 3)``. NaN without variance.
    """
    r = _returns(returns)
    if r.size < 2:
        return _NAN, _NAN
    dev = r - r.mean()
    m2 = float(np.mean(dev**2))
    if m2 <= 0:
        return _NAN, _NAN
    return float(np.mean(dev**3)) / m2**1.5, float(np.mean(dev**4)) / m2**2


# ----------------------------------------------------------------------------- deflated Sharpe


def probabilistic_sharpe_ratio(sharpe: float, benchmark: float, n_obs: int, skew: float = 0.0,
                               kurt: float = 3.0) -> float:
    """Probability that the true Sharpe ratio exceeds ``benchmark`` (Bailey & López de Prado).

    Parameters
    ----------
    sharpe : float
        Observed per-period Sharpe ratio.
    benchmark : float
        Per-period Sharpe ratio to beat (``SR*``).
    n_obs : int
        Number of returns ``T`` the Sharpe ratio was measured on (at least 2).
    skew, kurt : float
        Skewness and non-excess kurtosis of those returns (normal: 0 and 3).

    Returns
    -------
    float
        ``PSR`` in [0, 1]; NaN when an input is NaN or the variance term is not positive.

    Raises
    ------
    ValidationError
        If ``n_obs`` is below 2.
    """
    if n_obs < 2:
        raise ValidationError(f"the probabilistic Sharpe ratio needs at least 2 returns "
                              f"(got {n_obs}).")
    variance = 1.0 - skew * sharpe + (kurt - 1.0) / 4.0 * sharpe**2
    if not (math.isfinite(variance) and variance > 0 and math.isfinite(benchmark)):
        return _NAN
    return _NORMAL.cdf((sharpe - benchmark) * math.sqrt(n_obs - 1) / math.sqrt(variance))


def expected_max_sharpe(n_trials: int, var_trials: float) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` unskilled trials (``SR0``).

    Parameters
    ----------
    n_trials : int
        Number of independent trials (parameter combinations tried), at least 1.
    var_trials : float
        Variance of the trials' per-period Sharpe ratios.

    Returns
    -------
    float
        ``sqrt(V) * ((1 - g) * Phi^-1(1 - 1/N) + g * Phi^-1(1 - 1/(N e)))``; 0 for one trial.

    Raises
    ------
    ValidationError
        If ``n_trials`` is below 1 or ``var_trials`` is negative.
    """
    if n_trials < 1:
        raise ValidationError(f"n_trials must be at least 1 (got {n_trials}).")
    if not var_trials >= 0:
        raise ValidationError(f"var_trials must be a variance, 0 or more (got {var_trials}).")
    if n_trials == 1:
        return 0.0
    inv = _NORMAL.inv_cdf
    return math.sqrt(var_trials) * ((1 - EULER_GAMMA) * inv(1 - 1 / n_trials)
                                    + EULER_GAMMA * inv(1 - 1 / (n_trials * math.e)))


def deflated_sharpe_ratio(sharpe: float, n_trials: int, var_trials: float, n_obs: int,
                          skew: float = 0.0, kurt: float = 3.0) -> float:
    """Deflated Sharpe ratio: PSR against the expected maximum Sharpe of ``n_trials``.

    Parameters
    ----------
    sharpe : float
        Observed per-period Sharpe ratio of the selected strategy.
    n_trials : int
        Number of independent trials the strategy was selected from.
    var_trials : float
        Variance of the trials' per-period Sharpe ratios.
    n_obs : int
        Number of returns ``T``.
    skew, kurt : float
        Skewness and non-excess kurtosis of the selected strategy's returns.

    Returns
    -------
    float
        ``PSR(SR0)`` in [0, 1]; it falls as ``n_trials`` or ``var_trials`` grow.

    Examples
    --------
    The paper's example: annualised SR 2.5 on 5 years of daily returns (T = 1250), skew -3,
    kurtosis 10, best of 100 trials whose annualised Sharpe ratios have variance 0.5:

    >>> round(deflated_sharpe_ratio(2.5 / 250**0.5, 100, 0.5 / 250, 1250, -3, 10), 3)
    0.9
    """
    return probabilistic_sharpe_ratio(sharpe, expected_max_sharpe(n_trials, var_trials), n_obs,
                                      skew, kurt)


# ----------------------------------------------------------------------------- bootstrap


def bootstrap_indices(rng: np.random.Generator, n_boot: int, n: int,
                      block: float | None = None) -> np.ndarray:
    """Resampling positions, one row per bootstrap sample.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    n_boot, n : int
        Samples and positions per sample.
    block : float, optional
        Mean block length of the stationary bootstrap; ``None`` or 1 for i.i.d. resampling.

    Returns
    -------
    numpy.ndarray
        ``(n_boot, n)`` int64 positions in ``[0, n)``.
    """
    if block is None or block <= 1:
        return rng.integers(0, n, size=(n_boot, n))
    starts = rng.integers(0, n, size=(n_boot, n))
    new = rng.random((n_boot, n)) < 1.0 / block
    new[:, 0] = True
    t = np.arange(n)
    last = np.maximum.accumulate(np.where(new, t, 0), axis=1)  # where the current block began
    first = np.take_along_axis(starts, last, axis=1)
    return (first + (t - last)) % n


def _resampled_stats(values: np.ndarray, n_boot: int, seed: int | None, block: float | None,
                     stat: str) -> np.ndarray:
    """Per-sample mean (``stat="mean"``) or Sharpe ratio of ``n_boot`` resamples, in chunks."""
    rng = np.random.default_rng(seed)
    n = values.size
    chunk = max(1, _CHUNK_CELLS // max(n, 1))
    out = np.empty(n_boot)
    for lo in range(0, n_boot, chunk):
        hi = min(lo + chunk, n_boot)
        sample = values[bootstrap_indices(rng, hi - lo, n, block)]
        mean = sample.mean(axis=1)
        if stat == "mean":
            out[lo:hi] = mean
        else:
            sd = sample.std(axis=1, ddof=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                out[lo:hi] = np.where(sd > 0, mean / sd, np.nan)
    return out


def _check_boot(n_boot: int, block: float | None) -> None:
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise ValidationError(f"n_boot must be a positive whole number (got {n_boot!r}).")
    if block is not None and not (isinstance(block, int | float) and block > 0):
        raise ValidationError(f"block must be a positive mean block length (got {block!r}).")


@dataclass(frozen=True)
class BootstrapTest:
    """Bootstrap p-value of a Sharpe ratio (H0: zero mean return).

    Attributes
    ----------
    sharpe : float
        Observed per-period Sharpe ratio.
    p_value : float
        One-sided: ``(1 + #{SR_b >= SR}) / (1 + n_boot)`` over the demeaned resamples.
    n_obs, n_boot : int
        Returns used and bootstrap samples drawn.
    block : float or None
        Mean block length (None: i.i.d.).
    seed : int or None
        The seed used.
    """

    sharpe: float
    p_value: float
    n_obs: int
    n_boot: int
    block: float | None
    seed: int | None


def bootstrap_sharpe_pvalue(returns: object, *, n_boot: int = 2000, seed: int | None = 0,
                            block: float | None = None) -> BootstrapTest:
    """One-sided bootstrap p-value of the Sharpe ratio of ``returns`` under a zero mean.

    Parameters
    ----------
    returns : array-like or pandas.Series
        Per-bar returns (e.g. the stitched out-of-sample returns); NaN and inf are dropped.
    n_boot : int
        Bootstrap samples.
    seed : int, optional
        Seed of ``numpy.random.default_rng``; the same seed gives the same p-value.
    block : float, optional
        Mean block length for the stationary bootstrap (keeps autocorrelation); i.i.d. when
        None.

    Returns
    -------
    BootstrapTest
        The observed Sharpe ratio and its p-value (NaN when the Sharpe ratio is undefined).

    Raises
    ------
    ValidationError
        On a non-positive ``n_boot`` or ``block``.
    """
    _check_boot(n_boot, block)
    r = _returns(returns)
    observed = sharpe_ratio(r)
    if math.isnan(observed):
        return BootstrapTest(observed, _NAN, int(r.size), int(n_boot), block, seed)
    boot = _resampled_stats(r - r.mean(), int(n_boot), seed, block, "sharpe")
    exceed = int(np.count_nonzero(boot >= observed))  # NaN (constant resample) never exceeds
    return BootstrapTest(observed, (1 + exceed) / (1 + n_boot), int(r.size), int(n_boot), block,
                         seed)


# ----------------------------------------------------------------------------- paired test


@dataclass(frozen=True)
class PairedComparison:
    """Strategy minus benchmark, bar by bar.

    Attributes
    ----------
    n_obs : int
        Bars where both returns exist.
    mean_diff : float
        Mean per-bar difference of returns.
    mean_diff_annualised : float
        ``mean_diff * periods_per_year`` (NaN when not given).
    t_stat : float
        ``mean / (std / sqrt(n))`` with the sample standard deviation.
    ci_low, ci_high : float
        Percentile bootstrap confidence interval of the mean difference.
    confidence : float
        Level of that interval.
    p_value : float
        Two-sided bootstrap p-value of H0 "mean difference is zero".
    n_boot : int
        Bootstrap samples.
    seed : int or None
        The seed used.
    """

    n_obs: int
    mean_diff: float
    mean_diff_annualised: float
    t_stat: float
    ci_low: float
    ci_high: float
    confidence: float
    p_value: float
    n_boot: int
    seed: int | None


def paired_comparison(strategy: object, benchmark: object, *, n_boot: int = 2000,
                      seed: int | None = 0, block: float | None = None,
                      confidence: float = 0.95,
                      periods_per_year: float | None = None) -> PairedComparison:
    """Compare a strategy's per-bar returns with a benchmark's (e.g. buy and hold).

    Parameters
    ----------
    strategy, benchmark : pandas.Series or array-like
        Per-bar returns. Two Series are aligned on their index (bars both have); arrays must
        have the same length. Pairs with a NaN on either side are dropped.
    n_boot : int
        Bootstrap samples.
    seed : int, optional
        Seed of ``numpy.random.default_rng``.
    block : float, optional
        Mean block length of the stationary bootstrap; i.i.d. when None.
    confidence : float
        Level of the confidence interval, in (0, 1).
    periods_per_year : float, optional
        To report the annualised mean difference.

    Returns
    -------
    PairedComparison
        Mean difference, t statistic, bootstrap interval and p-value; NaN where fewer than two
        pairs (or no variation) leave them undefined.

    Raises
    ------
    ValidationError
        On arrays of different lengths or an invalid ``n_boot``, ``block`` or ``confidence``.
    """
    _check_boot(n_boot, block)
    if not 0 < confidence < 1:
        raise ValidationError(f"confidence must be in (0, 1) (got {confidence!r}).")
    d = _differences(strategy, benchmark)
    n = int(d.size)
    mean = float(d.mean()) if n else _NAN
    annual = mean * periods_per_year if periods_per_year else _NAN
    sd = float(d.std(ddof=1)) if n > 1 else _NAN
    if not (n > 1 and sd > 0):
        return PairedComparison(n, mean, annual, _NAN, _NAN, _NAN, confidence, _NAN,
                                int(n_boot), seed)
    t_stat = mean / (sd / math.sqrt(n))
    boot = _resampled_stats(d, int(n_boot), seed, block, "mean")
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail])
    null = boot - mean  # resampling demeaned differences is the observed resamples shifted
    p_value = (1 + int(np.count_nonzero(np.abs(null) >= abs(mean)))) / (1 + n_boot)
    return PairedComparison(n, mean, annual, t_stat, float(low), float(high), confidence,
                            p_value, int(n_boot), seed)


def _differences(strategy: object, benchmark: object) -> np.ndarray:
    if isinstance(strategy, pd.Series) and isinstance(benchmark, pd.Series):
        joined = pd.concat([strategy.rename("s"), benchmark.rename("b")], axis=1, join="inner")
        s, b = joined["s"].to_numpy(np.float64), joined["b"].to_numpy(np.float64)
    else:
        s = np.asarray(strategy, dtype=np.float64).ravel()
        b = np.asarray(benchmark, dtype=np.float64).ravel()
        if s.shape != b.shape:
            raise ValidationError(f"strategy and benchmark returns differ in length "
                                  f"({s.size} and {b.size}).")
    d = s - b
    return d[np.isfinite(d)]
