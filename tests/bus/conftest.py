"""Fixtures of the bus tests: a real redis-server (module or test scope) and RedisBus factories."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from tests.redis_server import RedisServer
except ImportError:  # pytest started from elsewhere: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from tests.redis_server import RedisServer

from core.bus.redis_bus import RedisBus

_prefixes = itertools.count(1)


class BusFactory:
    """Make RedisBus objects on one server, all closed at the end of the test.

    Buses of one factory share a fresh key prefix (unless given one), so they see each other and
    nothing of other tests.
    """

    def __init__(self, server: RedisServer) -> None:
        self.server = server
        self.prefix = f"test{next(_prefixes)}"
        self.buses: list[RedisBus] = []

    def __call__(self, *, maxlen: int = 10_000, prefix: str | None = None) -> RedisBus:
        bus = RedisBus(self.server.url, maxlen=maxlen, prefix=prefix or self.prefix)
        self.buses.append(bus)
        return bus

    def close(self) -> None:
        for bus in self.buses:
            bus.close()


def _started(server: RedisServer) -> RedisServer:
    try:
        return server.start()
    except RuntimeError as exc:  # a missing redis-server is a failure, never a skip
        error = str(exc)
    server.close()
    pytest.fail(error, pytrace=False)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server per test module; tests keep apart through their own key prefix."""
    server = _started(RedisServer())
    yield server
    server.close()


@pytest.fixture
def own_redis_server() -> Iterator[RedisServer]:
    """A redis-server for one test, which may stop and restart it."""
    server = _started(RedisServer())
    yield server
    server.close()


@pytest.fixture
def make_redis_bus(redis_server: RedisServer) -> Iterator[BusFactory]:
    """``make_redis_bus(maxlen=..., prefix=...)`` on the module's server."""
    factory = BusFactory(redis_server)
    yield factory
    factory.close()
