"""Reconnection policy shared by every socket source: backoff with jitter and a circuit breaker."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BackoffConfig:
    """Delays between reconnection attempts: ``initial * factor**n`` capped, times a jitter.

    With the defaults: about 5 s, 7.5 s, 11.25 s, ... up to 30 s, each spread by +/-20 %.
    """

    initial: float = 5.0
    factor: float = 1.5
    cap: float = 30.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        ok = (math.isfinite(self.initial) and self.initial > 0 and self.factor >= 1
              and math.isfinite(self.cap) and self.cap >= self.initial and 0 <= self.jitter < 1)
        if not ok:
            raise ConfigError(
                "Reconnection backoff needs an initial delay > 0 s, a factor >= 1, a cap >= the "
                f"initial delay and a jitter in [0, 1); got initial={self.initial}, "
                f"factor={self.factor}, cap={self.cap}, jitter={self.jitter}.")

    @classmethod
    def from_settings(cls, settings: Any) -> BackoffConfig:
        """The ``GS_RECONNECT_*`` policy every socket source shares."""
        return cls(initial=settings.reconnect_initial_s, factor=settings.reconnect_factor,
                   cap=settings.reconnect_cap_s)


class Backoff:
    """Successive reconnection delays; :meth:`reset` after a connection that worked."""

    def __init__(self, config: BackoffConfig | None = None,
                 rng: random.Random | None = None) -> None:
        self.config = config or BackoffConfig()
        self._rng = rng or random.Random()
        self.attempt = 0

    def next(self) -> float:
        """The delay before the next attempt, in seconds."""
        c = self.config
        base = min(c.cap, c.initial * c.factor**self.attempt)
        self.attempt += 1
        spread = self._rng.uniform(1.0 - c.jitter, 1.0 + c.jitter)
        return min(c.cap, base * spread)

    def reset(self) -> None:
        self.attempt = 0


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """``failures`` in a row open the circuit (source marked down) for ``cooldown`` seconds."""

    failures: int = 5
    cooldown: float = 60.0


class CircuitBreaker:
    """Closed (normal) -> open after repeated failures -> half-open after a cooldown -> closed.

    While open, :meth:`allow` is False, so the source stops hammering a venue that is down; after
    the cooldown one attempt is allowed, and its outcome closes or re-opens the circuit.
    """

    def __init__(self, config: BreakerConfig | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config or BreakerConfig()
        self._clock = clock
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        if self._clock() - self.opened_at >= self.config.cooldown:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May we try to connect now?"""
        return self.state != "open"

    def retry_in(self) -> float:
        """Seconds until the circuit lets an attempt through (0 when it does now)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.config.cooldown - (self._clock() - self.opened_at))

    def success(self) -> None:
        self.failures = 0
        self.opened_at = None

    def trip(self) -> None:
        """Open at once (a refusal that retrying will not fix, such as a wrong API key)."""
        self.failures = max(self.failures + 1, self.config.failures)
        self.opened_at = self._clock()

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.config.failures or self.opened_at is not None:
            self.opened_at = self._clock()


class RateLimiter:
    """At most ``rate`` sends per ``per`` seconds (a sliding window), for venue message limits."""

    def __init__(self, rate: int, per: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.per, self._clock = rate, per, clock
        self._sent: list[float] = []

    def wait_time(self) -> float:
        """Seconds to wait before one more send is allowed."""
        now = self._clock()
        self._sent = [t for t in self._sent if now - t < self.per]
        if len(self._sent) < self.rate:
            return 0.0
        return self.per - (now - self._sent[0])

    def record(self) -> None:
        self._sent.append(self._clock())
