"""The WebSocket source base: connection lifecycle shared by the venue clients.

A subclass supplies the venue's pieces (URL, handshake, subscribe messages, pure parsing); this
class owns the thread, reconnection with backoff and jitter, the circuit breaker, resubscription
after a reconnect, rate-limited control messages, planned reconnects (connection age, venue
shutdown notices) and health reporting. websocket-client answers pings with pongs that echo the
payload.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import websocket

from core.errors import FeedError, UnknownSymbol
from core.feeds.base import Emit, SourceHealth
from core.feeds.reconnect import Backoff, BackoffConfig, BreakerConfig, CircuitBreaker, RateLimiter
from core.feeds.ws_transport import connect_read_ahead
from core.models import Event

log = logging.getLogger(__name__)


class AuthError(FeedError):
    """The venue refused our credentials; the message says which venue and why."""


@dataclass(frozen=True, slots=True)
class Parsed:
    """What one wire frame turned into."""

    events: Sequence[Event] = ()
    errors: Sequence[str] = ()
    reconnect: bool = False
    info: Sequence[str] = field(default_factory=tuple)


Connect = Callable[..., websocket.WebSocket]


def handshake_replies(conn: websocket.WebSocket, venue: str, step: str, timeout: float,
                      decode: Callable[[str], list[Any]], frames: int = 3) -> Iterator[list[Any]]:
    """The venue's next ``frames`` replies during a login step, each decoded by ``decode``.

    Raises FeedError naming the venue and step on a timeout or a frame ``decode`` rejects
    (with ValueError); the caller returns as soon as it sees the reply it waits for.
    """
    for _ in range(frames):
        try:
            raw = conn.recv()
        except websocket.WebSocketTimeoutException:
            raise FeedError(f"{venue} did not answer the {step} within {timeout:g} s.") from None
        text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
        try:
            yield decode(text)
        except ValueError as exc:
            raise FeedError(f"{exc} (during the {step})") from None


@dataclass(slots=True)
class _Life:
    """Times of one connection (monotonic seconds)."""

    opened: float
    last_frame: float = 0.0
    last_ping: float = 0.0
    settled: bool = False

    def __post_init__(self) -> None:
        self.last_frame = self.last_ping = self.opened


class WebSocketSource:
    """Base class of the venue sources. Subclasses override the hook methods below.

    Parameters
    ----------
    url
        The venue endpoint (a local fake in tests).
    backoff, breaker
        Reconnection delays and the circuit breaker's thresholds.
    clock
        Wall clock (epoch seconds) for event ages; ``monotonic`` for intervals.
    sleep
        Interruptible wait; defaults to waiting on the stop event.
    name
        Overrides the class's source name, so two feeds of one venue can run side by side.
    min_session_s
        A connection that ends sooner (the venue closes it, or announces a disconnect) counts
        as a failure with backoff, so a venue that keeps cutting us off is not hammered; the
        backoff and the circuit breaker reset only after a connection lived this long.
    """

    name = "websocket"
    simulated = False
    control_rate: int | None = None  # outgoing messages a second the venue allows
    max_connection_age: float | None = None  # reconnect before the venue cuts us off
    planned_delay: float = 0.1  # pause before a planned reconnect
    min_session_s: float = 10.0  # a connection must live this long to count as a success
    idle_timeout_s: float | None = 90.0  # no frame at all (pings included) this long: reconnect
    client_ping_s: float | None = None  # venues that never ping us: we ping, to detect dead TCP

    def __init__(self, url: str, *, backoff: BackoffConfig | None = None,
                 breaker: BreakerConfig | None = None, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None, rng: random.Random | None = None,
                 connect: Connect | None = None, recv_timeout: float = 0.2,
                 connect_timeout: float = 5.0, name: str | None = None,
                 min_session_s: float | None = None) -> None:
        if min_session_s is not None:
            self.min_session_s = min_session_s
        self._renamed = bool(name) and name != self.name
        if name:
            self.name = name  # a second feed of one venue (e.g. a delayed endpoint)
        self.url = url
        self._clock, self._monotonic = clock, monotonic
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self.backoff = Backoff(backoff, rng)
        self.breaker = CircuitBreaker(breaker, monotonic)
        rate = self.control_rate
        self._limiter = RateLimiter(rate, 1.0, monotonic) if rate else None
        self._connect = connect or connect_read_ahead
        self._recv_timeout, self._connect_timeout = recv_timeout, connect_timeout
        self._lock = threading.Lock()
        self._symbols: set[str] = set()
        self._pending: list[str] = []
        self._thread: threading.Thread | None = None
        self._conn: websocket.WebSocket | None = None
        self.state = "stopped"
        self.message = ""
        self.events = self.errors = self.reconnects = self.connections = 0
        self.last_event: float | None = None
        self.delays: list[float] = []
        self.problems: deque[tuple[float, str]] = deque(maxlen=50)

    # --- hooks -----------------------------------------------------------------------------
    def accepts(self, symbol: str) -> bool:
        """Whether the venue can serve ``symbol`` (shape check; the venue has the last word)."""
        return True

    def endpoint(self, symbols: Sequence[str]) -> str:
        """The URL to connect to for ``symbols``."""
        return self.url

    def handshake(self, conn: websocket.WebSocket) -> None:
        """Run after connecting: read the greeting, authenticate. Raise AuthError if refused."""

    def subscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        """Frames that subscribe ``symbols`` (empty when the URL already names them)."""
        return []

    def unsubscribe_messages(self, symbols: Sequence[str]) -> list[str]:
        return []

    def parse(self, text: str) -> Parsed:
        """One text frame -> events. Must not raise for bad input: report it in ``errors``."""
        raise NotImplementedError

    # --- Source protocol -------------------------------------------------------------------
    def subscribe(self, symbols: Iterable[str]) -> None:
        wanted = list(symbols)
        for symbol in wanted:
            if not self.accepts(symbol):
                raise UnknownSymbol(f"{self.name} does not trade {symbol}.")
        with self._lock:
            new = [s for s in wanted if s not in self._symbols]
            self._symbols.update(new)
            if new and self._conn is not None:
                self._pending += self.subscribe_messages(new)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        with self._lock:
            gone = [s for s in symbols if s in self._symbols]
            self._symbols.difference_update(gone)
            if gone and self._conn is not None:
                self._pending += self.unsubscribe_messages(gone)

    def symbols(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._symbols))

    def start(self, emit: Emit) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.state = "connecting"
        self._thread = threading.Thread(target=self._run, args=(emit,), daemon=True,
                                        name=f"gs-{self.name}")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.close(timeout=0.5)
            except Exception:  # noqa: BLE001 - closing a broken socket may fail; we are leaving
                pass
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=10)
        self.state = "stopped"

    def health(self) -> SourceHealth:
        age = None if self.last_event is None else max(0.0, self._clock() - self.last_event)
        return SourceHealth(self.name, self.state, self.simulated, self.events, self.errors, age,
                            self.message)

    # --- the thread ------------------------------------------------------------------------
    def _run(self, emit: Emit) -> None:
        while not self._stop.is_set():
            if not self.breaker.allow():
                self.state = "down"
                self._sleep(min(0.5, self.breaker.retry_in()) or 0.05)
                continue
            planned = False
            try:
                planned = self._session(emit)
            except Exception as exc:  # noqa: BLE001 - socket, venue or parser: reconnect later
                if self._stop.is_set():
                    break
                self._failed(exc)
            finally:
                with self._lock:
                    conn, self._conn = self._conn, None
                if conn is not None:
                    conn.close(timeout=0.2)
            if self._stop.is_set():
                break
            self.reconnects += 1
            if planned:
                self._sleep(self.planned_delay)  # a floor, so a venue cannot make us spin
                continue
            delay = self.backoff.next()
            self.delays.append(delay)
            self.state = "down" if not self.breaker.allow() else "reconnecting"
            self._sleep(delay)

    def _note(self, message: str) -> None:
        self.message = message
        self.problems.append((self._clock(), message))

    def _failed(self, exc: Exception) -> None:
        self.errors += 1
        if isinstance(exc, AuthError):
            self.breaker.trip()  # a wrong key stays wrong: down now, retried after the cooldown
        else:
            self.breaker.failure()
        if isinstance(exc, FeedError):
            self._note(str(exc))
        else:
            self._note(f"{self.name}: connection lost ({type(exc).__name__}: {exc})")
        log.warning("%s", self.message)

    def _session(self, emit: Emit) -> bool:
        """One connection's life. Returns True for a planned reconnect, False when stopping."""
        conn = self._connect(self.endpoint(self.symbols()), timeout=self._connect_timeout)
        with self._lock:
            self._conn = conn
        self.handshake(conn)
        with self._lock:
            self._pending = self.subscribe_messages(tuple(sorted(self._symbols)))
        self.connections += 1
        self.state, self.message = "live", ""
        life = _Life(self._monotonic())
        conn.settimeout(self._recv_timeout)
        while not self._stop.is_set():
            self._send_pending(conn)
            if self._upkeep(conn, life):
                return True
            try:
                opcode, frame = conn.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                if self.idle_timeout_s and self._monotonic() - life.last_frame > \
                        self.idle_timeout_s:
                    raise websocket.WebSocketTimeoutException(
                        f"nothing received for {self.idle_timeout_s:.0f} s; the connection "
                        "is presumed dead") from None
                continue
            life.last_frame = self._monotonic()
            if opcode == websocket.ABNF.OPCODE_PING and self._limiter:
                self._limiter.record()  # our automatic pong counts against the limit
            elif opcode == websocket.ABNF.OPCODE_CLOSE:
                raise websocket.WebSocketConnectionClosedException("the venue closed the socket")
            elif opcode == websocket.ABNF.OPCODE_TEXT and self._frame(frame, emit, life):
                return True
        return False

    def _upkeep(self, conn: websocket.WebSocket, life: _Life) -> bool:
        """Between frames: settle a session that lived long enough, ping, renew before the
        venue's age limit (True: reconnect now)."""
        now = self._monotonic()
        if not life.settled and now - life.opened >= self.min_session_s:
            life.settled = True
            self.breaker.success()
            self.backoff.reset()
        if self.max_connection_age and now - life.opened > self.max_connection_age:
            self._note(f"{self.name}: renewing the connection before the venue's limit")
            return True
        if self.client_ping_s and now - life.last_ping >= self.client_ping_s:
            conn.ping(b"gs")
            life.last_ping = now
        return False

    def _frame(self, frame: bytes, emit: Emit, life: _Life) -> bool:
        """Parse and emit one text frame; True when the venue announced a disconnect."""
        parsed = self.parse(frame.decode("utf-8", errors="replace"))
        if parsed.errors:
            self.errors += len(parsed.errors)
            self._note(f"{self.name}: {parsed.errors[-1]}")
        if parsed.events:
            events = parsed.events
            if self._renamed:  # parsers stamp the venue's name; this feed has its own
                events = [replace(e, source=self.name) for e in events]
            self.events += len(events)
            self.last_event = self._clock()
            emit(events)
        if not parsed.reconnect:
            return False
        age = self._monotonic() - life.opened
        if age < self.min_session_s:
            why = " ".join(parsed.errors[-1:])
            raise FeedError(f"{self.name}: the venue cut the connection {age:.1f} s after it "
                            f"opened; backing off. {why}".rstrip())
        self._note(f"{self.name}: the venue announced a disconnect; reconnecting")
        return True

    def coalesce(self, frames: list[str]) -> list[str]:
        """Hook: merge waiting control frames into fewer (for venues with message limits)."""
        return frames

    def _send_pending(self, conn: websocket.WebSocket) -> None:
        if not self._pending:  # the common case, once per frame: no lock needed to see it
            return
        with self._lock:
            if len(self._pending) > 1:
                self._pending = self.coalesce(self._pending)
        while True:
            with self._lock:
                if not self._pending:
                    return
                if self._limiter and self._limiter.wait_time() > 0:
                    return  # the rest goes out on a later pass of the read loop
                message = self._pending.pop(0)
            conn.send(message)
            if self._limiter:
                self._limiter.record()
