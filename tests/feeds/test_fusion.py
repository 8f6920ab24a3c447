from __future__ import annotations

import pytest

from core.feeds.fusion import SourcePrice, fuse, outliers, quality_score, weighted_median


def test_weighted_median_follows_the_weight() -> None:
    assert weighted_median([1.0, 2.0, 3.0], [1, 1, 1]) == 2.0
    assert weighted_median([1.0, 2.0, 3.0], [1, 1, 5]) == 3.0
    assert weighted_median([10.0, 1.0], [1, 3]) == 1.0
    assert weighted_median([5.0], [0.0]) == 5.0
    with pytest.raises(ValueError):
        weighted_median([], [])


def test_outliers_need_three_sources_and_use_the_median_of_all() -> None:
    assert outliers({"a": 100.0, "b": 100.1, "c": 110.0}, 0.02) == ("c",)
    assert outliers({"a": 100.0, "b": 110.0}, 0.02) == ()
    assert outliers({"a": 100.0, "b": 100.5, "c": 101.0}, 0.02) == ()


def test_quality_falls_with_latency_age_errors_and_deviation() -> None:
    best = quality_score(0.0, 0.0, 0.0, 0.0, 5.0)
    assert best == pytest.approx(1.0)
    assert quality_score(0.5, 0, 0, 0, 5.0) == pytest.approx(0.5)
    assert quality_score(0, 5.0, 0, 0, 5.0) == pytest.approx(0.5)
    assert quality_score(0, 0, 0.5, 0, 5.0) == pytest.approx(0.5)
    assert quality_score(0, 0, 0, 0.005, 5.0) == pytest.approx(0.5)
    assert quality_score(0, 0, 1.0, 0, 5.0) > 0  # never zero: still a tie-breaker


def test_fuse_drops_stale_prices_and_outliers() -> None:
    now = 1000.0
    latest = [SourcePrice("a", 100.0, now, now), SourcePrice("b", 100.2, now, now - 0.5),
              SourcePrice("c", 108.0, now, now), SourcePrice("d", 50.0, now - 60, now - 60)]
    fused = fuse(latest, {"a": 0.9, "b": 0.8, "c": 1.0, "d": 1.0}, now, 5.0, 0.02)
    assert fused is not None
    assert fused.outliers == ("c",) and fused.used == ("a", "b")
    assert fused.price == 100.0  # the higher-quality of the two that agree
    assert fuse(latest[3:], {}, now, 5.0, 0.02) is None
