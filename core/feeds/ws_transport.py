"""The socket under the WebSocket sources: websocket-client with read-ahead.

websocket-client reads each frame with two or three exact-size ``recv`` calls; each releases and
re-takes the GIL, and with the hub thread busy each re-take can wait. Reading up to 64 KiB per
system call lifted the Binance client from about 24k to about 50k frames a second (see
BENCHMARKS.md), so every venue connects through :func:`connect_read_ahead`.
"""

from __future__ import annotations

import websocket

READ_AHEAD = 65536


class ReadAheadSocket:
    """A socket that reads up to 64 KiB per system call and hands it out in the sizes asked for.

    websocket-client reads each frame with two or three exact-size ``recv`` calls (header,
    extended length, payload). Every call releases and re-takes the GIL, and with the hub's
    thread busy each re-take can wait, so at tens of thousands of frames a second the socket
    calls, not the parsing, set the pace. Everything else is delegated to the wrapped socket
    (so ``WebSocket.is_ssl()``, which checks the socket's type, says False for ``wss://``).
    """

    __slots__ = ("_sock", "_buf", "_pos")

    def __init__(self, sock: object) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        buf, pos = self._buf, self._pos
        if pos >= len(buf):
            buf = self._sock.recv(READ_AHEAD)  # type: ignore[attr-defined]
            if not buf:
                return buf  # end of stream
            self._buf, pos = buf, 0
        chunk = buf[pos:pos + size]
        self._pos = pos + len(chunk)
        return chunk

    def __getattr__(self, name: str) -> object:
        return getattr(self._sock, name)


def connect_read_ahead(url: str, **options: object) -> websocket.WebSocket:
    """websocket-client's ``create_connection`` with read-ahead and no UTF-8 re-check.

    The source base class decodes text frames with ``errors="replace"``, so websocket-client's
    pure-Python UTF-8 validation (slower than parsing the frame) is skipped.
    """
    options.setdefault("skip_utf8_validation", True)
    ws = websocket.create_connection(url, **options)
    ws.sock = ReadAheadSocket(ws.sock)  # after the handshake, which reads byte by byte
    return ws


