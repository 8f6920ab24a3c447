"""A local HTTP server on 127.0.0.1 for REST venue fakes (stdlib ``http.server`` in a thread).

A venue fake subclasses :class:`FakeRestServer` and answers ``route(path, query, headers)`` with
``(status, json_body, extra_headers)``. The base records every request (monotonic time, path with
its raw query, headers) and gives tests the levers a real venue pulls on us: scripted faults for
the next requests (HTTP 429 with ``Retry-After``, HTTP 500, a dropped connection) and a fault
for every request (``always``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd

Answer = tuple[int, Any, dict[str, str]]


def make_bars(start: str, periods: int, freq: str, seed: int = 1,
              index: pd.DatetimeIndex | None = None) -> pd.DataFrame:
    """Deterministic canonical OHLCV bars (prices with 2 decimals, whole volumes).

    ``index`` replaces the regular ``start``/``periods``/``freq`` grid (for weekday-only days).
    """
    stamps = index if index is not None else pd.date_range(start, periods=periods, freq=freq,
                                                           tz="UTC")
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(stamps)))), 2)
    open_ = np.round(close * (1 + rng.normal(0, 0.003, len(stamps))), 2)
    high = np.round(np.maximum(open_, close) + rng.uniform(0, 1, len(stamps)), 2)
    low = np.round(np.minimum(open_, close) - rng.uniform(0, 1, len(stamps)), 2)
    volume = np.round(rng.uniform(100, 10_000, len(stamps)))
    frame = pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close,
                          "Volume": volume}, index=pd.DatetimeIndex(stamps, name="Date"))
    frame.index = pd.DatetimeIndex(frame.index.as_unit("ns"), freq=None)
    return frame


def request_id(n: int) -> str:
    return f"fake-{n:08d}"


@dataclass(frozen=True)
class Fault:
    """What to do instead of answering: ``kind`` is ``429``, ``500`` or ``drop``."""

    kind: str
    retry_after: str | None = None


@dataclass(frozen=True)
class Request:
    """One request as the fake saw it."""

    at: float
    path: str
    raw: str
    query: dict[str, str]
    headers: dict[str, str]


class FakeRestServer:
    """Threaded fake venue. Use as a context manager; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: deque[Fault] = deque()
        self.always: Fault | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --- venue hook ----------------------------------------------------------------------------
    def route(self, path: str, query: dict[str, str], headers: dict[str, str]) -> Answer:
        """Answer one GET."""
        return 404, {"message": "not found"}, {}

    # --- levers --------------------------------------------------------------------------------
    def fail_next(self, *faults: Fault) -> None:
        """Play ``faults`` on the next requests, one each, then answer normally."""
        with self._lock:
            self.faults.extend(faults)

    def count(self, prefix: str = "/") -> int:
        """Requests whose path starts with ``prefix``."""
        with self._lock:
            return sum(r.path.startswith(prefix) for r in self.requests)

    # --- lifecycle -----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeRestServer:
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeRestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- plumbing ------------------------------------------------------------------------------
    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self.faults.popleft() if self.faults else self.always

    def _record(self, raw: str, headers: dict[str, str]) -> Request:
        parts = urlsplit(raw)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        request = Request(time.monotonic(), parts.path, raw, query, headers)
        with self._lock:
            self.requests.append(request)
        return request

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = -1  # headers and body in one segment: no delayed-ACK stall per request
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                request = fake._record(self.path, {k: v for k, v in self.headers.items()})
                fault = fake._next_fault()
                if fault is not None and fault.kind == "drop":
                    self.close_connection = True
                    return
                if fault is not None:
                    status = int(fault.kind)
                    extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    self._send(status, {"message": f"fault {status}"}, extra)
                    return
                status, body, extra = fake.route(request.path, request.query, request.headers)
                self._send(status, body, extra)

            def _send(self, status: int, body: Any, extra: dict[str, str]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

        return Handler
