"""Fusing one symbol's prices from several sources: quality scores and a weighted median.

Pure functions, no clock: callers pass ``now``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourcePrice:
    """A source's latest price for a symbol; times are epoch seconds."""

    source: str
    price: float
    event_time: float
    received: float


@dataclass(frozen=True, slots=True)
class Fused:
    """The fused price and how it was made."""

    price: float
    used: tuple[str, ...]
    outliers: tuple[str, ...]
    median: float


def weighted_median(values: Sequence[float], weights: Sequence[float]) -> float:
    """The value where the cumulative weight (values sorted) reaches half the total.

    When it reaches exactly half at a value, the result is the midpoint of that value and the
    next one (so equal weights give the ordinary median). Zero or negative weights count as a
    tiny positive weight so every value can still be chosen.
    """
    if not values:
        raise ValueError("weighted_median of nothing")
    pairs = sorted(zip(values, (max(w, 1e-9) for w in weights), strict=True))
    total = sum(w for _, w in pairs)
    acc = 0.0
    for i, (value, weight) in enumerate(pairs):
        acc += weight
        if math.isclose(acc, total / 2.0, rel_tol=1e-12) and i + 1 < len(pairs):
            return (value + pairs[i + 1][0]) / 2.0
        if acc > total / 2.0:
            return value
    return pairs[-1][0]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def quality_score(latency_s: float, age_s: float, error_rate: float, deviation: float,
                  stale_after_s: float) -> float:
    """A source's quality in (0, 1]: 1 is fast, fresh, error-free and in line with the others.

    Each factor halves the score at its scale: 0.5 s of latency, an age of ``stale_after_s``,
    a 0.5 % deviation from the median of all sources; errors scale it by ``1 - error_rate``.
    """
    lat = 1.0 / (1.0 + max(latency_s, 0.0) / 0.5)
    fresh = 1.0 / (1.0 + max(age_s, 0.0) / max(stale_after_s, 1e-9))
    errors = max(0.05, 1.0 - min(max(error_rate, 0.0), 1.0))
    dev = 1.0 / (1.0 + abs(deviation) / 0.005)
    score = lat * fresh * errors * dev
    return score if math.isfinite(score) else 0.0


def outliers(prices: Mapping[str, float], max_deviation: float) -> tuple[str, ...]:
    """Sources whose price is more than ``max_deviation`` (0.02 = 2 %) from the median of all.

    Needs three or more sources: with two, nobody can tell which one is off.
    """
    if len(prices) < 3:
        return ()
    mid = median(list(prices.values()))
    return tuple(s for s, p in prices.items() if abs(p - mid) / mid > max_deviation)


def fuse(latest: Sequence[SourcePrice], scores: Mapping[str, float], now: float,
         stale_after_s: float, max_deviation: float) -> Fused | None:
    """Quality-weighted median of the fresh prices, outliers left out; None if none is fresh."""
    fresh = {p.source: p.price for p in latest if now - p.received <= stale_after_s}
    if not fresh:
        return None
    bad = outliers(fresh, max_deviation)
    kept = {s: p for s, p in fresh.items() if s not in bad}
    price = weighted_median(list(kept.values()), [scores.get(s, 1.0) for s in kept])
    return Fused(price, tuple(sorted(kept)), bad, median(list(fresh.values())))
