"""Volatility and trend regimes, and performance per regime."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationError
from core.research.regimes import (
    efficiency_ratio,
    performance_by_regime,
    rolling_volatility,
    trend_regimes,
    volatility_regimes,
)

CALM, STORM, AFTER = 600, 150, 250


def _index(n: int) -> pd.DatetimeIndex:
    return pd.date_range("2018-01-01", periods=n, freq="B", tz="UTC")


@pytest.fixture(scope="module")
def storm() -> pd.Series:
    """Closes: 600 calm bars (0.5% a day), 150 stormy ones (3%), 250 calm again."""
    rng = np.random.default_rng(3)
    r = np.r_[rng.normal(0, 0.005, CALM), rng.normal(0, 0.03, STORM),
              rng.normal(0, 0.005, AFTER)]
    return pd.Series(100 * np.exp(np.cumsum(r)), index=_index(len(r)), name="Close")


def test_high_volatility_segment_is_found(storm: pd.Series) -> None:
    labels = volatility_regimes(storm, window=20)
    assert list(labels.cat.categories) == ["low", "mid", "high"]
    inside = labels.iloc[CALM + 20:CALM + STORM]  # once the window is inside the storm
    assert (inside == "high").all()
    calm = labels.iloc[100:CALM]
    assert (calm == "high").mean() < 0.5  # calm bars spread over the three labels
    assert labels.iloc[:20 + 59].isna().all()  # 20 bars of window, then 60 observations
    assert labels.iloc[20 + 60:].notna().all()


def test_thresholds_fitted_on_a_training_period(storm: pd.Series) -> None:
    labels = volatility_regimes(storm, window=20, fit_until=500)
    assert (labels.iloc[CALM + 20:CALM + STORM] == "high").all()
    assert labels.iloc[:20].isna().all() and labels.iloc[20:].notna().all()
    assert (labels.iloc[100:500].value_counts(normalize=True) > 0.2).all()
    by_time = volatility_regimes(storm, window=20, fit_until=storm.index[499])
    pd.testing.assert_series_equal(by_time, labels)
    with pytest.raises(ValidationError, match="fit_until"):
        volatility_regimes(storm, window=20, fit_until=10)


def test_volatility_regimes_are_causal(storm: pd.Series) -> None:
    """Changing prices after bar t leaves every label up to t."""
    labels = volatility_regimes(storm)
    changed = storm.copy()
    changed.iloc[700:] *= np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.05, 300)))
    other = volatility_regimes(changed)
    pd.testing.assert_series_equal(other.iloc[:700], labels.iloc[:700])
    assert not other.iloc[700:].equals(labels.iloc[700:])


def test_rolling_volatility_matches_pandas(storm: pd.Series) -> None:
    expected = np.log(storm).diff().rolling(10).std()
    np.testing.assert_allclose(rolling_volatility(storm, 10).to_numpy(), expected.to_numpy())
    frame = pd.DataFrame({"close": storm})
    pd.testing.assert_series_equal(rolling_volatility(frame, 10), rolling_volatility(storm, 10))


def test_custom_quantiles_and_labels(storm: pd.Series) -> None:
    labels = volatility_regimes(storm, quantiles=[0.5], labels=["calm", "wild"])
    assert list(labels.cat.categories) == ["calm", "wild"]
    assert (labels.iloc[CALM + 20:CALM + STORM] == "wild").all()
    with pytest.raises(ValidationError, match="quantiles"):
        volatility_regimes(storm, quantiles=[0.7, 0.3])
    with pytest.raises(ValidationError, match="labels"):
        volatility_regimes(storm, labels=["a", "b"])
    with pytest.raises(ValidationError, match="window"):
        volatility_regimes(storm, window=1)


def test_trend_and_range() -> None:
    n = 200
    ramp = pd.Series(100 + np.arange(n, dtype=float), index=_index(n))
    chop = pd.Series(100 + np.where(np.arange(n) % 2 == 0, 1.0, -1.0), index=_index(n))
    assert efficiency_ratio(ramp, 10).iloc[10:].eq(1.0).all()
    assert efficiency_ratio(chop, 10).iloc[10:].max() <= 0.2
    assert (trend_regimes(ramp, 10).iloc[10:] == "trend").all()
    assert (trend_regimes(chop, 10).iloc[10:] == "range").all()
    assert trend_regimes(ramp, 10).iloc[:10].isna().all()
    # half ramp, half chop: the label switches once the window has left the ramp
    mixed = pd.concat([ramp.iloc[:100], chop.iloc[100:] + 200])
    labels = trend_regimes(mixed, 10)
    assert (labels.iloc[10:100] == "trend").all() and (labels.iloc[111:] == "range").all()
    with pytest.raises(ValidationError, match="threshold"):
        trend_regimes(ramp, 10, threshold=1.5)


def test_performance_by_regime_by_hand() -> None:
    index = _index(7)
    returns = pd.Series([0.01, -0.02, 0.03, 0.01, 0.0, -0.01, 0.02], index=index)
    regimes = pd.Series(pd.Categorical(["a", "a", "b", "b", "b", "a", "a"],
                                       categories=["a", "b", "c"]), index=index)
    table = performance_by_regime(returns, regimes, lag=0, periods_per_year=252)
    assert list(table.columns) == ["regime", "bars", "share_pct", "return_pct",
                                   "volatility_pct", "sharpe"]
    assert table["regime"].tolist() == ["a", "b", "c"]
    a = np.array([0.01, -0.02, -0.01, 0.02])
    row = table.iloc[0]
    assert row["bars"] == 4 and row["share_pct"] == pytest.approx(400 / 7)
    assert row["return_pct"] == pytest.approx((np.prod(1 + a) - 1) * 100)
    assert row["volatility_pct"] == pytest.approx(a.std(ddof=1) * math.sqrt(252) * 100)
    assert row["sharpe"] == pytest.approx(a.mean() / a.std(ddof=1) * math.sqrt(252))
    empty = table.iloc[2]
    assert empty["bars"] == 0 and math.isnan(empty["sharpe"])
    # lag 1: each return goes to the previous bar's label (the first has none)
    lagged = performance_by_regime(returns, regimes, periods_per_year=252)
    assert lagged["bars"].tolist() == [3, 3, 0]
    b = returns.to_numpy()[[3, 4, 5]]  # the bars whose previous bar is labelled "b"
    assert lagged.iloc[1]["return_pct"] == pytest.approx((np.prod(1 + b) - 1) * 100)


def test_performance_from_equity_equals_from_returns() -> None:
    rng = np.random.default_rng(1)
    index = _index(300)
    equity = pd.Series(10_000 * np.exp(np.cumsum(rng.normal(0, 0.01, 300))), index=index)
    regimes = volatility_regimes(equity, window=10, min_history=20)
    by_equity = performance_by_regime(equity, regimes)
    by_returns = performance_by_regime(equity.pct_change().iloc[1:], regimes, kind="returns")
    pd.testing.assert_frame_equal(by_equity, by_returns)
    assert by_equity["bars"].sum() == regimes.shift(1).iloc[1:].notna().sum()
    with pytest.raises(ValidationError, match="kind"):
        performance_by_regime(equity, regimes, kind="prices")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="lag"):
        performance_by_regime(equity, regimes, lag=-1)
