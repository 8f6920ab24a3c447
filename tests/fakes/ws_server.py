"""A local WebSocket server on 127.0.0.1 for venue fakes (websockets' threaded server).

A venue fake subclasses :class:`FakeWebSocketServer` and speaks that venue's frames in
``on_connect`` and ``on_message``. The base gives tests the levers a real venue pulls on us:
pings with a payload (and whether the pong echoed it), dropping every connection abruptly,
malformed frames, refusing connections.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeWebSocketServer:
    """Threaded fake venue. Use as a context manager; ``url`` is ``ws://127.0.0.1:<port><path>``."""

    path = "/"

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[str] = []
        self.connections: list[ServerConnection] = []
        self.paths: list[str] = []
        self.accepting = True
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- venue hooks -------------------------------------------------------------------------
    def on_connect(self, conn: ServerConnection) -> None:
        """Greeting frames, if the venue sends any."""

    def on_message(self, conn: ServerConnection, text: str) -> None:
        """Answer one client frame."""

    # --- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{self.path}"

    def start(self) -> FakeWebSocketServer:
        self._server = serve(self._handle, "127.0.0.1", self.port, ping_interval=None,
                             close_timeout=0.5, process_request=self._gate)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and cut every client (like the venue going away)."""
        if self._server is not None:
            self.drop_all()
            self._server.shutdown()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeWebSocketServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _gate(self, conn: ServerConnection, request: object) -> object:
        """Refuse the upgrade with HTTP 503 while ``accepting`` is False (venue down)."""
        if not self.accepting:
            return conn.respond(503, "Service Unavailable\n")
        return None

    def _handle(self, conn: ServerConnection) -> None:
        with self._lock:
            self.connections.append(conn)
            self.paths.append(conn.request.path if conn.request else "")
        try:
            self.on_connect(conn)
            for message in conn:
                text = message if isinstance(message, str) else message.decode()
                with self._lock:
                    self.received.append(text)
                self.on_message(conn, text)
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if conn in self.connections:
                    self.connections.remove(conn)

    # --- levers for tests --------------------------------------------------------------------
    def live(self) -> list[ServerConnection]:
        with self._lock:
            return list(self.connections)

    def wait_for_clients(self, n: int = 1, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while len(self.live()) < n:
            if time.monotonic() > end:
                raise TimeoutError(f"{n} client(s) did not connect within {timeout} s")
            time.sleep(0.01)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > end:
                raise TimeoutError("condition not met in time")
            time.sleep(0.01)

    def send_all(self, text: str) -> int:
        """Send one frame to every client; returns how many got it."""
        sent = 0
        for conn in self.live():
            try:
                conn.send(text)
                sent += 1
            except ConnectionClosed:
                pass
        return sent

    def ping_all(self, payload: bytes, timeout: float = 5.0) -> bool:
        """Ping every client; True when each answered with a pong echoing ``payload``."""
        waits = [conn.ping(payload) for conn in self.live()]
        return bool(waits) and all(w.wait(timeout) for w in waits)

    def drop_all(self) -> None:
        """Cut every connection without a close handshake (a network failure)."""
        for conn in self.live():
            try:  # shutdown, not close: websockets' reader thread must see EOF and clean up
                conn.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
