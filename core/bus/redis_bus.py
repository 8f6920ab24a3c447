"""Redis transport: pub/sub fan-out for live delivery, one capped Stream per topic for replay.

Every topic ``T`` has a Stream ``{prefix}:stream:T`` (``XADD MAXLEN ~ maxlen``) and a pub/sub
channel ``{prefix}:T``. A Lua script appends to the stream and publishes ``b"<entry-id> <payload>"``
in one atomic step, so each live message carries its stream id. Subscribers keep the last id they
delivered per topic; after a dropped connection they resubscribe, read what they missed from the
streams (``XRANGE`` with an exclusive start) and drop live copies whose id is not newer, so a
handler sees every kept message of a topic once, in order.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry

from core.bus.base import BusStats, Handler
from core.bus.codec import decode, encode
from core.config import redact_url, url_secrets
from core.errors import BusError

log = logging.getLogger(__name__)

PUBLISH_LUA = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'm', ARGV[2])
redis.call('PUBLISH', ARGV[3], id .. ' ' .. ARGV[2])
return id
"""
_SHA = hashlib.sha1(PUBLISH_LUA.encode()).hexdigest()
_DOWN = (RedisConnectionError, RedisTimeoutError, OSError)
_CHUNK = 1000
_POLL_S = 0.1  # how often an idle subscription thread checks for close()
_IDLE_PING_S = 1.0  # a silent subscription connection is PINGed after this long
_BACKOFF_MIN_S, _BACKOFF_MAX_S = 0.05, 1.0

StreamId = tuple[int, int]


def _parse_id(raw: bytes | str) -> StreamId:
    ms, _, seq = (raw.decode() if isinstance(raw, bytes) else raw).partition("-")
    return int(ms), int(seq)


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


class RedisBus:
    """A :class:`~core.bus.base.Bus` over Redis pub/sub and Streams.

    Parameters
    ----------
    url
        ``redis://[user:password@]host:port/db`` (``rediss://`` and ``unix://`` work too).
    maxlen
        Approximate number of entries kept per topic stream (``XADD MAXLEN ~``).
    prefix
        Namespace of every key and channel, so several apps can share one Redis.
    timeout
        Socket connect/read timeout in seconds: how quickly a dead server is noticed.

    Notes
    -----
    Nothing connects until the first call. Handlers run in one background thread per
    subscription, never in the publisher's thread. A publish that fails with a connection
    error may still have reached Redis (the reply was lost); it is reported as failed.
    """

    def __init__(self, url: str, maxlen: int = 10_000, prefix: str = "gs", *,
                 timeout: float = 2.0) -> None:
        self._safe_url = redact_url(url)
        if maxlen < 1:
            raise BusError(f"The Redis stream length must be at least 1, got {maxlen}.")
        self._secrets = url_secrets(url)
        self._maxlen = maxlen
        self._stream_prefix = f"{prefix}:stream:"
        self._channel_prefix = f"{prefix}:"
        opts: dict[str, Any] = {
            "socket_timeout": timeout, "socket_connect_timeout": timeout,
            "retry": Retry(NoBackoff(), 0), "protocol": 2,
        }
        try:
            self._pool = redis.ConnectionPool.from_url(url, health_check_interval=1, **opts)
            self._sub_pool_args = (url, opts)
        except (ValueError, TypeError) as exc:
            raise BusError(f"GS_REDIS_URL {self._safe_url!r} is not a Redis URL: {exc}") from None
        self._client = redis.Redis(connection_pool=self._pool)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._subs: list[_RedisSubscription] = []
        self._closed = False
        self._published = 0
        self._publish_errors = 0
        self._done_delivered = 0  # counters of closed subscriptions
        self._done_errors = 0
        self._ok: bool | None = None
        self._checked_at = 0.0
        self._last_error = ""

    def __repr__(self) -> str:
        return f"RedisBus({self._safe_url!r}, prefix={self._channel_prefix[:-1]!r})"

    # -- errors and state -------------------------------------------------------------------

    def _note(self, ok: bool, error: str = "") -> None:
        self._ok = ok
        self._checked_at = time.monotonic()
        if error:
            for secret in self._secrets:
                error = error.replace(secret, "***")
            self._last_error = error

    def _down_error(self, exc: BaseException) -> BusError:
        msg = (f"Redis at {self._safe_url} is unreachable: {exc}. Start Redis, or unset "
               "GS_REDIS_URL to use the in-process bus.")
        self._note(False, msg)
        return BusError(self._last_error)

    def _check_open(self) -> None:
        if self._closed:
            raise BusError("The Redis bus is closed; create a new one.")

    # -- publishing -------------------------------------------------------------------------

    def _command(self, topic: str, payload: bytes) -> tuple:
        return ("EVALSHA", _SHA, 1, self._stream_prefix + topic, self._maxlen, payload,
                self._channel_prefix + topic)

    def _send(self, commands: list[tuple]) -> list[Any]:
        """Pipeline ``commands`` on one pooled connection; ResponseErrors come back as values."""
        conn = self._pool.get_connection()
        try:
            conn.send_packed_command(conn.pack_commands(commands))
            replies: list[Any] = []
            for _ in commands:
                try:
                    replies.append(conn.read_response())
                except ResponseError as exc:
                    replies.append(exc)
            return replies
        finally:
            self._pool.release(conn)

    def _publish_encoded(self, items: list[tuple[str, bytes]]) -> None:
        commands = [self._command(t, p) for t, p in items]
        try:
            replies = self._send(commands)
            missing = [i for i, r in enumerate(replies) if isinstance(r, NoScriptError)]
            if missing:  # first use, or Redis restarted: load the script, resend those
                self._client.script_load(PUBLISH_LUA)
                for i, reply in zip(missing, self._send([commands[i] for i in missing]),
                                    strict=True):
                    replies[i] = reply
        except _DOWN as exc:
            with self._lock:
                self._publish_errors += len(items)
            raise self._down_error(exc) from None
        except RedisError as exc:
            with self._lock:
                self._publish_errors += len(items)
            self._note(True, f"Redis refused to publish: {exc}")
            raise BusError(self._last_error) from None
        failed = [r for r in replies if isinstance(r, Exception)]
        with self._lock:
            self._published += len(items) - len(failed)
            self._publish_errors += len(failed)
        self._note(True)
        if failed:
            self._note(True, f"Redis refused {len(failed)} of {len(items)} messages: {failed[0]}")
            raise BusError(self._last_error)

    def publish(self, topic: str, message: Any) -> None:
        """Publish one message; raises :class:`~core.errors.BusError` when Redis is down."""
        self._check_open()
        self._publish_encoded([(topic, encode(message))])

    def publish_many(self, items: Sequence[tuple[str, Any]]) -> None:
        """Publish ``(topic, message)`` pairs in order, pipelined in one round trip.

        Every message is encoded before anything is sent, so an unsupported value publishes
        nothing.
        """
        self._check_open()
        if items:
            self._publish_encoded([(t, encode(m)) for t, m in items])

    # -- reading the streams ----------------------------------------------------------------

    def _server_time_id(self) -> str:
        seconds, micros = self._client.time()
        return f"{seconds * 1000 + micros // 1000}-0"

    def _matching_topics(self, patterns: Sequence[str]) -> set[str]:
        cut = len(self._stream_prefix)
        found: set[str] = set()
        escaped = _glob_escape(self._stream_prefix)
        for pattern in patterns:
            for key in self._client.scan_iter(match=escaped + pattern, count=1000,
                                              _type="stream"):
                found.add(key[cut:].decode())
        return found

    def _entries(self, topic: str, start: str, count: int | None = None
                 ) -> Iterator[tuple[StreamId, bytes]]:
        """Stream entries of ``topic`` from ``start`` (XRANGE syntax), read in chunks."""
        key = self._stream_prefix + topic
        left = count
        while left is None or left > 0:
            size = _CHUNK if left is None else min(_CHUNK, left)
            rows = self._client.xrange(key, min=start, count=size)
            for raw_id, fields in rows:
                yield _parse_id(raw_id), fields[b"m"]
            if len(rows) < size:
                return
            if left is not None:
                left -= len(rows)
            start = "(" + rows[-1][0].decode()

    def history(self, topic: str, after: str | None = None, count: int | None = None
                ) -> list[tuple[str, Any]]:
        """Kept ``(entry_id, message)`` pairs of ``topic``, oldest first, after ``after``.

        Entry ids are Redis stream ids (``"1700000000000-0"``).
        """
        self._check_open()
        if count is not None and count <= 0:
            return []
        try:
            start = "-" if after is None else "(" + after
            rows = list(self._entries(topic, start, count))
        except _DOWN as exc:
            raise self._down_error(exc) from None
        except ResponseError as exc:
            raise BusError(f"{after!r} is not an entry id of this Redis bus ({exc}).") from None
        self._note(True)
        out = []
        for (ms, seq), payload in rows:
            try:
                out.append((f"{ms}-{seq}", decode(payload)))
            except BusError as exc:  # written by something else: skip it, say so
                self._note(True, f"Topic {topic}, entry {ms}-{seq}: {exc}")
                log.warning("bus history of %s: skipped entry %s-%s: %s", topic, ms, seq, exc)
        return out

    # -- subscribing ------------------------------------------------------------------------

    def subscribe(self, patterns: Sequence[str], handler: Handler, *, replay: bool = False
                  ) -> _RedisSubscription:
        """Deliver messages of topics matching ``patterns`` (globs) to ``handler``.

        Returns once the subscription is live; ``handler(topic, message)`` then runs in the
        subscription's own thread, history first when ``replay`` is true.

        Raises
        ------
        BusError
            When Redis cannot be reached to set the subscription up.
        """
        self._check_open()
        patterns = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        if not patterns:
            raise BusError("subscribe() needs at least one topic pattern, e.g. 'quotes.*'.")
        url, opts = self._sub_pool_args
        pool = redis.ConnectionPool.from_url(url, health_check_interval=0, **opts)
        sub = _RedisSubscription(self, pool, patterns, handler, replay)
        with self._lock:
            self._subs.append(sub)
        error = sub.start(wait_s=self._timeout * 2 + 1)
        if error is None:
            return sub
        sub.close()
        if isinstance(error, (*_DOWN, TimeoutError)):
            raise self._down_error(error)
        self._note(True, f"Redis at {self._safe_url} refused the subscription: {error}")
        raise BusError(self._last_error)

    def _forget(self, sub: _RedisSubscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)
                self._done_delivered += sub.delivered
                self._done_errors += sub.errors

    # -- monitoring and lifecycle -----------------------------------------------------------

    def stats(self) -> BusStats:
        """Counters and connection state (pings Redis when nothing was heard for a second)."""
        if not self._closed and time.monotonic() - self._checked_at > 1.0:
            try:
                self._client.ping()
                self._note(True)
            except _DOWN as exc:
                self._down_error(exc)
        with self._lock:
            subs = list(self._subs)
            delivered = self._done_delivered + sum(s.delivered for s in subs)
            errors = self._done_errors + sum(s.errors for s in subs)
            published, publish_errors = self._published, self._publish_errors
        connected = bool(self._ok) and not self._closed and all(s.connected for s in subs)
        return BusStats(published, delivered, errors, publish_errors, connected, self._last_error)

    def close(self) -> None:
        """Stop every subscription thread and close the connections; idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.stop()  # all threads wind down together
        for sub in subs:
            sub.close()
        self._pool.disconnect()


class _RedisSubscription:
    """One PSUBSCRIBE connection in its own thread, with stream catch-up after reconnects.

    Attributes
    ----------
    connected
        True while the subscription connection is up.
    delivered, errors
        Messages handed to the handler, and handler exceptions plus unreadable messages.
    reconnects, replayed, duplicates
        Connection attempts after the first, messages delivered from the streams (replay and
        catch-up), and live copies dropped because the streams had delivered them already.
    """

    _ids = itertools.count(1)

    def __init__(self, bus: RedisBus, pool: redis.ConnectionPool, patterns: tuple[str, ...],
                 handler: Handler, replay: bool) -> None:
        self.bus = bus
        self.patterns = patterns
        self.handler = handler
        self.replay = replay
        self.connected = False
        self.delivered = 0
        self.errors = 0
        self.reconnects = 0
        self.replayed = 0  # delivered from the streams rather than live
        self.duplicates = 0  # live copies dropped because the streams delivered them first
        self._pool = pool
        self._channels = [_glob_escape(bus._channel_prefix) + p for p in patterns]
        self._last: dict[str, StreamId] = {}
        self._since: str | None = None
        self._topics: dict[bytes, str] = {}
        self._live = False
        self._stop = threading.Event()
        self._closed = False
        self._started = threading.Event()
        self._start_error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"redis-bus-sub-{next(self._ids)}", daemon=True)

    def start(self, wait_s: float) -> BaseException | None:
        self._thread.start()
        if not self._started.wait(wait_s):
            return TimeoutError(f"no answer to SUBSCRIBE within {wait_s:.0f} s")
        return self._start_error

    def stop(self) -> None:
        """Ask the thread to finish, without waiting."""
        self._stop.set()

    def close(self) -> None:
        """Stop delivering and close the connection; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5.0)
            if self._thread.is_alive():
                log.warning("bus subscription %s: handler still busy after close()", self.patterns)
        self.bus._forget(self)

    # -- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        delay = _BACKOFF_MIN_S
        while not self._stop.is_set():
            if self._attempt():
                delay = _BACKOFF_MIN_S
            if self._start_error is not None or self._stop.wait(delay):
                break
            delay = min(delay * 2, _BACKOFF_MAX_S)
            self.reconnects += 1
        self._pool.disconnect()

    def _attempt(self) -> bool:
        """One connection's life; True when it got as far as a live subscription."""
        self._live = False
        conn = None
        try:
            conn = self._pool.get_connection()
            self._session(conn)
        except Exception as exc:  # noqa: BLE001 - the thread must survive anything
            if not self._started.is_set():
                self._start_error = exc
                self._started.set()
            elif isinstance(exc, _DOWN):
                self.bus._down_error(exc)
                log.warning("bus subscription %s lost Redis: %s", self.patterns, exc)
            else:
                self.bus._note(True, f"Bus subscription {self.patterns} failed: {exc}")
                log.exception("bus subscription %s failed", self.patterns)
        finally:
            self.connected = False
            if conn is not None:
                conn.disconnect()
                self._pool.release(conn)
        return self._live

    def _session(self, conn: Any) -> None:
        first = not self._started.is_set()
        if self._since is None:
            self._since = self.bus._server_time_id()
        conn.send_command("PSUBSCRIBE", *self._channels)
        for _ in self._channels:
            reply = conn.read_response()
            if not (isinstance(reply, list) and reply and reply[0] == b"psubscribe"):
                raise BusError(f"Unexpected answer to PSUBSCRIBE: {reply!r}")
        self.connected = self._live = True
        self.bus._note(True)
        if first:
            self._started.set()
            if self.replay:
                self._catch_up(default_start="-")
        else:  # topics first seen now: everything (replay) or what came since subscribe()
            self._catch_up(default_start="-" if self.replay else self._since)
        self._listen(conn)

    def _catch_up(self, default_start: str) -> None:
        """Deliver stream entries newer than the last delivered id of each matching topic."""
        runs = []
        for topic in sorted(self.bus._matching_topics(self.patterns)):
            last = self._last.get(topic)
            start = f"({last[0]}-{last[1]}" if last else default_start
            runs.append(self._tagged(topic, start))
        for sid, topic, payload in heapq.merge(*runs):
            if self._stop.is_set():
                return
            last = self._last.get(topic)
            if last is None or sid > last:
                self._last[topic] = sid
                self.replayed += 1
                self._dispatch(topic, payload)

    def _tagged(self, topic: str, start: str) -> Iterator[tuple[StreamId, str, bytes]]:
        for sid, payload in self.bus._entries(topic, start):
            yield sid, topic, payload

    def _listen(self, conn: Any) -> None:
        """Deliver live messages until close() or a dead connection (PING after 1 s idle)."""
        timeout = self.bus._timeout
        ping_at, pong_due = time.monotonic() + _IDLE_PING_S, 0.0
        cut = len(self.bus._channel_prefix)
        while not self._stop.is_set():
            if not conn.can_read(timeout=_POLL_S):
                now = time.monotonic()
                if pong_due and now > pong_due:
                    raise RedisTimeoutError(f"Redis did not answer PING within {timeout:g} s")
                if not pong_due and now > ping_at:
                    conn.send_command("PING")
                    pong_due = now + timeout
                continue
            reply = conn.read_response()
            ping_at, pong_due = time.monotonic() + _IDLE_PING_S, 0.0
            if reply[0] != b"pmessage":
                continue  # b"pong"
            channel, data = reply[2], reply[3]
            topic = self._topics.get(channel)
            if topic is None:
                topic = self._topics[channel] = channel[cut:].decode(errors="replace")
            raw_id, _, payload = data.partition(b" ")
            try:
                sid = _parse_id(raw_id)
            except ValueError:
                self.errors += 1
                self.bus._note(True, f"Topic {topic}: a message without a stream id was skipped.")
                continue
            last = self._last.get(topic)
            if last is not None and sid <= last:
                self.duplicates += 1
                continue
            self._last[topic] = sid
            self._dispatch(topic, payload)

    def _dispatch(self, topic: str, payload: bytes) -> None:
        try:
            message = decode(payload)
        except BusError as exc:
            self.errors += 1
            self.bus._note(True, f"Topic {topic}: {exc}")
            log.warning("bus topic %s: %s", topic, exc)
            return
        try:
            self.handler(topic, message)
            self.delivered += 1
        except Exception:  # a subscriber's bug must not stop the bus
            self.errors += 1
            log.exception("bus handler failed on topic %s", topic)
