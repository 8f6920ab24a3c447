"""The background thread that owns every tick write (and the periodic compaction).

Producers call :meth:`TickWriter.submit`, which only appends to an in-memory queue; the thread
writes the queue in batches of up to ``batch_size`` ticks, at least every ``flush_interval``
seconds. A failed write is retried with exponential backoff, keeping the batch, so a locked or
briefly unreachable database delays ticks but never loses them. When :meth:`TickWriter.stop` runs
out of time with ticks still unwritten (the database stays down), they are spilled to a CSV file
that the replay source and ``pandas.read_csv`` read, and the path is reported in the stats.
"""

from __future__ import annotations

import csv
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from core.models import Tick

log = logging.getLogger(__name__)


class _TickSink(Protocol):
    def insert_many(self, ticks: Sequence[Tick]) -> int: ...


class WriterTarget(Protocol):
    """What the writer needs from a :class:`core.store.Store`."""

    @property
    def ticks(self) -> _TickSink: ...

    def compact(self, older_than: datetime) -> Any: ...


@dataclass(frozen=True, slots=True)
class WriterStats:
    """Counters of a :class:`TickWriter`, for the monitoring page.

    Attributes
    ----------
    submitted
        Ticks handed to :meth:`TickWriter.submit`.
    written
        Ticks committed to the database.
    errors
        Failed write or compaction attempts (each retry counts).
    pending
        Ticks received and not yet written.
    last_error
        Message of the latest failure, ``""`` if none.
    compactions
        Successful compactions.
    spilled
        Ticks written to ``spill_path`` because the database refused them until shutdown.
    spill_path
        The CSV holding them, ``""`` if none.
    """

    submitted: int
    written: int
    errors: int
    pending: int
    last_error: str
    compactions: int
    spilled: int = 0
    spill_path: str = ""


class TickWriter:
    """Batch ticks into the store from one background thread.

    Parameters
    ----------
    store
        A :class:`core.store.Store` (anything with ``ticks.insert_many`` and ``compact``).
    batch_size
        Most ticks written per transaction.
    flush_interval
        Seconds a partial batch may wait before it is written.
    retention_s
        Keep raw ticks this many seconds; older ones are compacted into 1m bars. None keeps all.
    compact_every_s
        Seconds between compactions (the first runs when the thread starts).
    clock
        Epoch seconds; decides when to compact and the cutoff. Injected by tests.
    retry_initial, retry_max
        First and largest pause in seconds between attempts of a failed write.
    spill_dir
        Where unwritten ticks go when :meth:`stop` times out; None keeps them only in memory.
    """

    def __init__(
        self,
        store: WriterTarget,
        batch_size: int = 5000,
        flush_interval: float = 0.25,
        retention_s: float | None = None,
        compact_every_s: float = 600,
        clock: Callable[[], float] = time.time,
        retry_initial: float = 0.1,
        retry_max: float = 5.0,
        spill_dir: str | Path | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1.")
        self._store = store
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._retention_s = retention_s
        self._compact_every_s = compact_every_s
        self._clock = clock
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._cond = threading.Condition()
        self._buffer: list[Tick] = []
        self._inflight = 0
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._flush_waiters = 0
        self._next_compact = 0.0
        self._submitted = 0
        self._written = 0
        self._errors = 0
        self._last_error = ""
        self._compactions = 0
        self._give_up = False
        self._spill_dir = Path(spill_dir) if spill_dir is not None else None
        self._spilled = 0
        self._spill_path = ""

    # -- producer side -------------------------------------------------------------------------

    def submit(self, ticks: Sequence[Tick]) -> None:
        """Queue ticks for writing; never blocks on the database.

        Parameters
        ----------
        ticks
            Ticks in the order they should be stored.
        """
        if not ticks:
            return
        with self._cond:
            self._buffer.extend(ticks)
            self._submitted += len(ticks)
            if len(self._buffer) >= self._batch_size:
                self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every tick submitted before this call is written.

        Parameters
        ----------
        timeout
            Seconds to wait at most; None waits as long as it takes.

        Returns
        -------
        bool
            True if everything was written, False on timeout (or if the writer is not running).
        """
        with self._cond:
            target = self._submitted
            if not self.running:
                return self._written >= target
            self._flush_waiters += 1
            self._cond.notify_all()
            try:
                return self._cond.wait_for(lambda: self._written >= target, timeout)
            finally:
                self._flush_waiters -= 1

    def stats(self) -> WriterStats:
        """A consistent snapshot of the counters."""
        with self._cond:
            return WriterStats(
                submitted=self._submitted, written=self._written, errors=self._errors,
                pending=len(self._buffer) + self._inflight, last_error=self._last_error,
                compactions=self._compactions, spilled=self._spilled, spill_path=self._spill_path,
            )

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether the background thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self) -> None:
        """Start the background thread; does nothing if it is already running."""
        with self._cond:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stopping = False
            self._give_up = False
            self._next_compact = self._clock()
            self._thread = threading.Thread(target=self._run, name="gs-tick-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float | None = None) -> bool:
        """Write everything received, then stop the thread; does nothing if not running.

        Parameters
        ----------
        timeout
            Seconds to wait at most; None waits until every tick is written, however long the
            database takes to accept them.

        Returns
        -------
        bool
            True if every tick reached the database; False on timeout, in which case the writer
            stops retrying and spills what is left to a CSV in ``spill_dir`` (see :meth:`stats`).
        """
        with self._cond:
            thread = self._thread
            if thread is None:
                return not self._buffer
            self._stopping = True
            self._cond.notify_all()
        thread.join(timeout)
        gave_up = thread.is_alive()
        if gave_up:
            with self._cond:
                self._give_up = True
                self._cond.notify_all()
            thread.join()
        with self._cond:
            if self._thread is thread:
                self._thread = None
                self._stopping = False
            return not gave_up and not self._buffer and not self._inflight

    def __enter__(self) -> TickWriter:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- writer thread -------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if batch and not self._write(batch):
                self._spill()
                return
            self._maybe_compact()

    def _next_batch(self) -> list[Tick] | None:
        """Up to ``batch_size`` ticks when due; [] if none is due; None once stopped and empty."""
        with self._cond:
            if not (len(self._buffer) >= self._batch_size or self._stopping or self._flush_waiters):
                self._cond.wait(self._flush_interval)
            if not self._buffer:
                return None if self._stopping else []
            batch = self._buffer[: self._batch_size]
            del self._buffer[: self._batch_size]
            self._inflight = len(batch)
            return batch

    def _failed(self, what: str, err: Exception) -> None:
        with self._cond:
            self._errors += 1
            self._last_error = f"{type(err).__name__}: {err}"
        log.warning("tick writer: %s failed: %s", what, err)

    def _write(self, batch: list[Tick]) -> bool:
        """Write one batch, retrying; False (batch back in the buffer) once told to give up."""
        delay = self._retry_initial
        while True:
            try:
                self._store.ticks.insert_many(batch)
            except Exception as err:  # keep the batch whatever went wrong; the thread must live
                self._failed(f"writing {len(batch)} ticks", err)
                with self._cond:
                    if not self._give_up:
                        self._cond.wait(delay)
                    if self._give_up:
                        self._buffer[:0] = batch
                        self._inflight = 0
                        return False
                delay = min(delay * 2, self._retry_max)
                continue
            with self._cond:
                self._written += len(batch)
                self._inflight = 0
                self._cond.notify_all()
            return True

    def _spill(self) -> None:
        """Save the unwritten ticks to a CSV (replayable), or log how many are lost."""
        with self._cond:
            ticks, self._buffer = self._buffer, []
        if not ticks:
            return
        if self._spill_dir is None:
            log.error("tick writer: %d ticks could not be written and are lost", len(ticks))
            return
        stamp = datetime.fromtimestamp(self._clock(), tz=UTC).strftime("%Y%m%dT%H%M%S")
        path = self._spill_dir / f"unwritten-ticks-{stamp}.csv"
        try:
            self._spill_dir.mkdir(parents=True, exist_ok=True)
            with path.open("w", newline="", encoding="utf-8") as fh:
                out = csv.writer(fh)
                out.writerow(["ts", "symbol", "price", "size", "bid", "ask", "source"])
                for t in ticks:
                    out.writerow([t.ts.isoformat(), t.symbol, repr(t.price), repr(t.size),
                                  "" if t.bid is None else repr(t.bid),
                                  "" if t.ask is None else repr(t.ask), t.source])
        except OSError as err:
            log.error("tick writer: %d ticks lost; could not write %s: %s", len(ticks), path, err)
            return
        with self._cond:
            self._spilled += len(ticks)
            self._spill_path = str(path)
        log.error("tick writer: the database refused %d ticks; they are saved in %s",
                  len(ticks), path)

    def _maybe_compact(self) -> None:
        if self._retention_s is None or self._stopping:
            return
        now = self._clock()
        if now < self._next_compact:
            return
        self._next_compact = now + self._compact_every_s
        cutoff = datetime.fromtimestamp(now - self._retention_s, tz=UTC)
        try:
            result = self._store.compact(cutoff)
        except Exception as err:  # the next period retries; writes go on meanwhile
            self._failed("compacting ticks", err)
            return
        with self._cond:
            self._compactions += 1
        log.info("tick writer: compacted ticks before %s: %s", cutoff.isoformat(), result)
