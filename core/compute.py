"""One seam for heavy jobs: map a function over items, locally or on a Dask cluster.

Sweeps, walk-forward folds and Monte Carlo batches call :func:`get_executor` and then
``executor.map(fn, items, progress=..., cancel=...)``. The same code runs on

- :class:`SerialExecutor`: in this process (small jobs, tests, debugging);
- :class:`LocalExecutor`: a local process pool (the default);
- :class:`DaskExecutor`: a Dask distributed cluster when ``GS_DASK_SCHEDULER`` is set (the
  ``scale`` extra installs ``dask[distributed]``).

Contract for every executor: ``fn`` is a module-level (picklable) function of one item; results
come back in the order of ``items``; ``progress(done, total)`` is called in the caller's thread as
items finish; a :class:`CancelToken` that is cancelled stops the job (items not started are
dropped) and ``map`` raises :class:`Cancelled`. Randomness belongs in the items (a seed per item),
so every executor gives identical results.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    InvalidStateError,
    ProcessPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, Protocol, TypeVar

from core.errors import GSError

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]


class Cancelled(GSError):
    """The job was cancelled before it finished."""


class CancelToken:
    """A flag a page's Cancel button sets and a running job checks between items."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the job to stop."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()


class Executor(Protocol):
    """What research code needs of an executor."""

    name: str

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, progress: Progress | None = None,
            cancel: CancelToken | None = None) -> list[R]:
        """``[fn(item) for item in items]``, possibly in parallel; see the module contract."""
        ...

    def close(self) -> None:
        """Release workers."""
        ...


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled("The job was cancelled.")


class SerialExecutor:
    """Runs every item in this process, one after the other."""

    name = "serial"

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, progress: Progress | None = None,
            cancel: CancelToken | None = None) -> list[R]:
        out: list[R] = []
        total = len(items)
        for item in items:
            _check(cancel)
            out.append(fn(item))
            if progress is not None:
                progress(len(out), total)
        return out

    def close(self) -> None:
        return None


class LocalExecutor:
    """A pool of worker processes on this machine (created on first use, reused after).

    Parameters
    ----------
    max_workers : int, optional
        Worker processes; the number of CPUs by default.
    """

    name = "local"

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = max_workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # forkserver, not fork: the app process runs threads (Streamlit, the feed hub),
                # and forking a threaded process can leave a worker holding a dead lock
                self._pool = ProcessPoolExecutor(max_workers=self.max_workers,
                                                 mp_context=get_context("forkserver"))
            return self._pool

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, progress: Progress | None = None,
            cancel: CancelToken | None = None) -> list[R]:
        _check(cancel)
        try:
            futures = [self._get_pool().submit(fn, item) for item in items]
            return _collect(futures, progress, cancel)
        except BrokenProcessPool:
            with self._lock:  # the next job gets a fresh pool
                self._pool = None
            raise GSError("A worker process died during the job (out of memory?); try again "
                          "with a smaller job.") from None

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = None


def _collect(futures: list[Any], progress: Progress | None, cancel: CancelToken | None,
             poll_s: float = 0.1) -> list[Any]:
    """Wait for ``futures`` (concurrent or Dask-wrapped), reporting progress, honouring cancel."""
    pending = set(futures)
    total = len(futures)
    while pending:
        if cancel is not None and cancel.cancelled:
            for future in pending:
                future.cancel()
            raise Cancelled("The job was cancelled.")
        done, pending = wait(pending, timeout=poll_s, return_when=FIRST_COMPLETED)
        if done and progress is not None:
            progress(total - len(pending), total)
    return [future.result() for future in futures]


class DaskExecutor:
    """Jobs on a Dask distributed cluster (``GS_DASK_SCHEDULER=tcp://host:8786``).

    Parameters
    ----------
    address : str or distributed.Client
        Scheduler address, or an existing client (tests pass a LocalCluster's).
    """

    name = "dask"

    def __init__(self, address: Any) -> None:
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - the scale extra is missing
            raise GSError("GS_DASK_SCHEDULER is set but dask[distributed] is not installed; "
                          "install the 'scale' extra.") from exc
        self._own = not isinstance(address, Client)
        try:
            self.client = Client(address, timeout=10) if self._own else address
        except (OSError, TimeoutError) as exc:
            raise GSError(f"Cannot reach the Dask scheduler at {address}: {exc}") from None

    def map(self, fn: Callable[[T], R], items: Sequence[T], *, progress: Progress | None = None,
            cancel: CancelToken | None = None) -> list[R]:
        _check(cancel)
        futures = self.client.map(fn, list(items), pure=False)
        wrapped = [_as_concurrent(f) for f in futures]
        try:
            return _collect(wrapped, progress, cancel)
        except Cancelled:
            self.client.cancel(futures)
            raise

    def close(self) -> None:
        if self._own:
            self.client.close()


def _as_concurrent(dask_future: Any) -> Future:
    """A concurrent.futures.Future that resolves with a Dask future."""
    out: Future = Future()

    def done(f: Any) -> None:
        if f.cancelled():
            out.cancel()
            return
        try:
            value = f.result()
        except BaseException as exc:  # the task's own error, re-raised by result()
            _settle(out, exc)
            return
        _settle(out, value, ok=True)

    dask_future.add_done_callback(done)
    return out


def _settle(out: Future, value: Any, ok: bool = False) -> None:
    """Resolve ``out``, unless the caller cancelled it first (a task that ended meanwhile)."""
    try:
        if ok:
            out.set_result(value)
        else:
            out.set_exception(value)
    except InvalidStateError:
        pass


_DEFAULT: Executor | None = None
_DEFAULT_LOCK = threading.Lock()


def get_executor(scheduler: str | None = None) -> Executor:
    """The process-wide executor: Dask when ``scheduler`` / ``GS_DASK_SCHEDULER`` is set.

    Parameters
    ----------
    scheduler : str, optional
        A Dask scheduler address; ``GS_DASK_SCHEDULER`` from the environment when None.
    """
    global _DEFAULT
    address = scheduler if scheduler is not None else os.environ.get("GS_DASK_SCHEDULER", "")
    with _DEFAULT_LOCK:
        if address:
            if not isinstance(_DEFAULT, DaskExecutor):
                _DEFAULT = DaskExecutor(address)
        elif _DEFAULT is None or isinstance(_DEFAULT, DaskExecutor):
            _DEFAULT = LocalExecutor()
        return _DEFAULT
