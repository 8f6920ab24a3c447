"""Fixtures of the history source tests: the local REST venue fakes and a fast HTTP policy."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from core.data.sources.http import HttpJson, HttpPolicy
from core.feeds.reconnect import BackoffConfig, BreakerConfig
from tests.fakes.rest_alpaca import FakeAlpacaRest
from tests.fakes.rest_binance import FakeBinanceRest
from tests.fakes.rest_polygon import FakePolygonRest


@pytest.fixture
def binance_rest() -> Iterator[FakeBinanceRest]:
    with FakeBinanceRest() as fake:
        yield fake


@pytest.fixture
def polygon_rest() -> Iterator[FakePolygonRest]:
    with FakePolygonRest() as fake:
        yield fake


@pytest.fixture
def alpaca_rest() -> Iterator[FakeAlpacaRest]:
    with FakeAlpacaRest() as fake:
        yield fake


@pytest.fixture
def fast_http() -> Callable[..., HttpJson]:
    """``fast_http(name, **policy)``: an HTTP helper with millisecond backoff and no rate limit."""

    def make(name: str, **policy: object) -> HttpJson:
        values: dict[str, object] = {
            "rate": 1000, "per": 1.0, "max_retries": 2, "timeout": 2.0,
            "backoff": BackoffConfig(initial=0.01, factor=2.0, cap=0.05, jitter=0.2),
            "breaker": BreakerConfig(failures=5, cooldown=60.0)}
        values.update(policy)
        return HttpJson(name, HttpPolicy(**values))  # type: ignore[arg-type]

    return make
