"""The second cache tier: frames in Redis, shared by every app replica and the CLI.

Each (symbol, interval) is one hash ``gs:history:<interval>:<symbol>`` with the bars as Parquet
bytes and the covered ranges as JSON, expiring after ``ttl_s``. Redis is a cache here, never the
only copy: when it is down the tier answers "not here", counts the error and tries again after
``retry_after_s``, and the load carries on from the SQL store or the sources.
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable

import orjson
import pandas as pd
import redis

from core.data.cache.ranges import Ranges

log = logging.getLogger(__name__)

PREFIX = "gs:history"


class RedisTier:
    """History frames in Redis.

    Parameters
    ----------
    client : redis.Redis
        A client (its URL and password are never logged by this class).
    ttl_s : int
        Lifetime of an entry; every write renews it.
    retry_after_s : float
        After a Redis error the tier is skipped for this long.
    clock : callable
        Monotonic seconds (tests pass a fake).
    """

    name = "redis"

    def __init__(self, client: redis.Redis, ttl_s: int = 7 * 86_400, retry_after_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ttl = int(ttl_s)
        self._retry_after = retry_after_s
        self._clock = clock
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.errors = 0

    @classmethod
    def from_url(cls, url: str, **kwargs: object) -> RedisTier:
        """A tier on ``url`` with short socket timeouts (a dead Redis must not stall a load)."""
        client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        return cls(client, **kwargs)  # type: ignore[arg-type]

    @staticmethod
    def key(symbol: str, interval: str) -> str:
        """The Redis key of one symbol's bars at one interval."""
        return f"{PREFIX}:{interval}:{symbol}"

    @property
    def available(self) -> bool:
        """False while the tier waits out an error."""
        return self._clock() >= self._down_until

    def _failed(self, action: str, err: Exception) -> None:
        with self._lock:
            self.errors += 1
            self._down_until = self._clock() + self._retry_after
        log.warning("History cache in Redis unavailable (%s: %s); using the SQL store for %.0f s",
                    action, type(err).__name__, self._retry_after)

    def get(self, symbol: str, interval: str) -> tuple[pd.DataFrame, Ranges] | None:
        """The cached frame and covered ranges, or None (absent, expired or Redis down)."""
        if not self.available:
            return None
        try:
            bars, ranges = self._client.hmget(self.key(symbol, interval), ["bars", "ranges"])
        except redis.RedisError as err:
            self._failed("read", err)
            return None
        if bars is None or ranges is None:
            return None
        try:
            frame = pd.read_parquet(io.BytesIO(bars))
            covered = tuple((int(a), int(b)) for a, b in orjson.loads(ranges))
        except (ValueError, OSError, TypeError) as err:  # a corrupt entry is a miss
            log.warning("Ignoring an unreadable history cache entry for %s %s: %s",
                        symbol, interval, err)
            return None
        return frame, covered

    def put(self, symbol: str, interval: str, frame: pd.DataFrame, covered: Ranges) -> None:
        """Store (replace) the entry; a Redis error is counted and otherwise ignored."""
        if not self.available:
            return
        buffer = io.BytesIO()
        frame.to_parquet(buffer)
        key = self.key(symbol, interval)
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping={"bars": buffer.getvalue(),
                                        "ranges": orjson.dumps([list(r) for r in covered])})
                pipe.expire(key, self._ttl)
                pipe.execute()
        except redis.RedisError as err:
            self._failed("write", err)

    def close(self) -> None:
        """Release the connection pool."""
        self._client.close()
