"""make_bus picks the transport from the settings, without connecting."""

from __future__ import annotations

import pytest

from core.bus.base import Bus
from core.bus.factory import make_bus
from core.bus.memory import InMemoryBus
from core.bus.redis_bus import RedisBus
from core.config import Settings
from core.errors import BusError


def test_in_memory_without_redis_url() -> None:
    bus = make_bus(Settings(redis_stream_maxlen=2))
    assert isinstance(bus, InMemoryBus) and isinstance(bus, Bus)
    for i in range(5):
        bus.publish("t", i)
    assert [m for _, m in bus.history("t")] == [3, 4]


def test_redis_with_redis_url() -> None:
    bus = make_bus(Settings(redis_url="redis://:pw@127.0.0.1:1/0", redis_stream_maxlen=123))
    try:
        assert isinstance(bus, RedisBus) and isinstance(bus, Bus)
        assert bus._maxlen == 123
        assert "pw" not in repr(bus)
    finally:
        bus.close()


def test_bad_redis_url_is_a_bus_error() -> None:
    with pytest.raises(BusError, match="not a Redis URL"):
        make_bus(Settings(redis_url="http://example.invalid/"))
