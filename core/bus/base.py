"""The Bus protocol every transport implements.

Topics are dotted names (``quotes.AAPL``, ``bars.1m.AAPL``, ``status``,
``control.subscribe``). Subscriptions take glob patterns (``quotes.*``), as Redis ``PSUBSCRIBE``
does. Messages are immutable objects: domain models, tuples of them, or plain dicts/str/numbers.
Each topic also keeps a capped history so a subscriber that reconnects can replay what it missed;
entry ids are opaque strings that only the bus that issued them compares.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

Handler = Callable[[str, Any], None]


@dataclass(frozen=True, slots=True)
class BusStats:
    """Counters a bus reports to the monitoring page and the sidebar."""

    published: int
    delivered: int
    handler_errors: int
    publish_errors: int
    connected: bool
    last_error: str = ""


@runtime_checkable
class Subscription(Protocol):
    """Handle returned by :meth:`Bus.subscribe`."""

    def close(self) -> None:
        """Stop delivering; idempotent."""


@runtime_checkable
class Bus(Protocol):
    """Publish/subscribe with per-topic capped replay."""

    def publish(self, topic: str, message: Any) -> None:
        """Publish one message; raises BusError when the transport is down."""

    def publish_many(self, items: Sequence[tuple[str, Any]]) -> None:
        """Publish several messages in order, in one round trip where the transport allows."""

    def subscribe(self, patterns: Sequence[str], handler: Handler, *, replay: bool = False
                  ) -> Subscription:
        """Call ``handler(topic, message)`` for every message on a matching topic.

        With ``replay=True`` the kept history of matching topics is delivered first. Handler
        exceptions are counted, never raised into the publisher.
        """

    def history(self, topic: str, after: str | None = None, count: int | None = None
                ) -> list[tuple[str, Any]]:
        """Kept ``(entry_id, message)`` pairs of one topic, oldest first, after ``after``."""

    def stats(self) -> BusStats:
        """Counters and connection state."""

    def close(self) -> None:
        """Release connections and threads; idempotent."""
