"""A throwaway ``redis-server`` on a free 127.0.0.1 port, for tests that need a real Redis.

Usage::

    with RedisServer() as server:
        bus = RedisBus(server.url)
        server.stop()   # Redis gone
        server.start()  # back on the same port, empty (no persistence)

The process is always killed: on ``stop()``, on leaving the ``with`` block, when the object is
garbage collected or the interpreter exits, and (Linux, through PR_SET_PDEATHSIG) when the
thread that started it ends, so a killed test run leaves no server behind. Start it from a
thread that outlives it (pytest fixtures run in the main thread).
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path

INSTALL_HINT = (
    "redis-server is not installed, so the Redis bus tests cannot run. Run scripts/test.sh "
    "(it installs Debian's redis-server) or `sudo apt-get install redis-server`."
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Looked up here, not in the child: after fork() a multi-threaded parent's locks (dlopen's
# among them) may be held forever, so the child only calls an already resolved function.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    _PRCTL(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis on ``127.0.0.1:port`` answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """Run ``redis-server`` without persistence in a temporary directory.

    Parameters
    ----------
    port
        Port to listen on; a free one is picked when omitted.
    binary
        Name or path of the server executable.
    startup_timeout
        Seconds to wait for the first PING answer.

    Raises
    ------
    RuntimeError
        From :meth:`start` when the binary is missing or the server does not come up.
    """

    def __init__(self, port: int | None = None, binary: str = "redis-server",
                 startup_timeout: float = 10.0) -> None:
        self._pick_port = port is None
        self.port = port or free_port()
        self.binary = binary
        self.startup_timeout = startup_timeout
        self._dir = Path(tempfile.mkdtemp(prefix="gs-redis-"))
        self._proc: subprocess.Popen | None = None
        self._finalizer = weakref.finalize(self, RedisServer._cleanup, [None], self._dir)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @staticmethod
    def _cleanup(holder: list, directory: Path) -> None:
        if holder[0] is not None:
            _kill(holder[0])
        shutil.rmtree(directory, ignore_errors=True)

    def _log_tail(self) -> str:
        try:
            return (self._dir / "redis.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def start(self) -> RedisServer:
        """Start the server (again, on the same port) and wait until it answers PING."""
        if self.running:
            return self
        exe = shutil.which(self.binary)
        if exe is None:
            raise RuntimeError(INSTALL_HINT)
        for _ in range(3):
            if self._spawn(exe):
                self._pick_port = False  # restarts reuse this port
                return self
            if not self._pick_port:
                break
            self.port = free_port()  # lost a race for the port: try another one
        raise RuntimeError(
            f"redis-server did not answer on 127.0.0.1:{self.port} within "
            f"{self.startup_timeout:.0f} s. Its log:\n{self._log_tail()}"
        )

    def _spawn(self, exe: str) -> bool:
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self._dir), "--daemonize", "no",
                "--logfile", str(self._dir / "redis.log")]
        self._proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if _PRCTL is not None else None,
        )
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, RedisServer._cleanup, [self._proc], self._dir)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and self._proc.poll() is None:
            if ping(self.port):
                return True
            time.sleep(0.02)
        _kill(self._proc)
        return False

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but nothing answers."""
        if self.running:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Undo :meth:`pause` (SIGCONT)."""
        if self.running:
            self._proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); :meth:`start` reuses the port."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                _kill(proc)

    def close(self) -> None:
        """Stop the server for good and remove its directory."""
        self.stop()
        self._finalizer()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
