"""The compiled rolling mean is pandas' rolling mean to the last bit (crossovers depend on it)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from backtesting.test import EURUSD, GOOG

from core.backtest.strategies._indicators import rolling_mean


def _series(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, int(rng.integers(1, 300))) * 10.0 ** int(rng.integers(-3, 5))
    if seed % 3 == 0:
        x = np.round(x, 1)  # values that cancel exactly
    if seed % 5 == 0:
        x[rng.random(len(x)) < 0.3] = x[0]  # runs of one repeated value
    if seed % 7 == 0:
        x[rng.random(len(x)) < 0.1] = np.nan  # gaps
    if seed % 4 == 0:
        x = np.abs(x) + 100  # all positive
    return x


@pytest.mark.parametrize("values", [GOOG.Close.to_numpy(), EURUSD.Close.to_numpy(),
                                    *(_series(seed) for seed in range(60))])
def test_rolling_mean_is_bit_identical_to_pandas(values: np.ndarray) -> None:
    for n in (1, 2, 3, 10, 20, 30):
        ours = rolling_mean(values.astype(np.float64), n)
        theirs = pd.Series(values).rolling(n).mean().to_numpy()
        assert np.array_equal(ours, theirs, equal_nan=True), n
