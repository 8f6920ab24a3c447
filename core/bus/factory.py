"""Choose the bus from the settings: Redis when ``GS_REDIS_URL`` is set, in-process otherwise."""

from __future__ import annotations

from core.bus.base import Bus
from core.bus.memory import InMemoryBus
from core.config import Settings


def make_bus(settings: Settings) -> Bus:
    """Build the bus the settings ask for.

    Parameters
    ----------
    settings
        ``redis_url`` selects :class:`~core.bus.redis_bus.RedisBus` (streams capped at
        ``redis_stream_maxlen``); empty selects :class:`~core.bus.memory.InMemoryBus`.

    Returns
    -------
    Bus
        A bus that has not connected yet: a RedisBus reports an unreachable server on its first
        publish or subscribe, as a :class:`~core.errors.BusError`.
    """
    if settings.redis_url:
        from core.bus.redis_bus import RedisBus  # redis-py is only imported when used

        return RedisBus(settings.redis_url, maxlen=settings.redis_stream_maxlen)
    return InMemoryBus(maxlen=settings.redis_stream_maxlen)
