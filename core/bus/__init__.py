"""Message bus: :class:`InMemoryBus` by default, :class:`RedisBus` when ``GS_REDIS_URL`` is set."""

from core.bus.base import Bus, BusStats, Handler, Subscription
from core.bus.memory import InMemoryBus

__all__ = ["Bus", "BusStats", "Handler", "InMemoryBus", "Subscription"]
