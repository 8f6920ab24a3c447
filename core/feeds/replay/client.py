"""Play a recorded file of ticks or bars as if it were a live feed.

The file is loaded and validated once (:mod:`core.feeds.replay.parsing`); a background thread
then calls ``emit`` with batches of events at the pace of the recording times ``speed``. The clock
and the sleep function are injected so tests can drive time by hand.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from core.errors import DataError, FeedError, InvalidSymbol, UnknownSymbol
from core.feeds.base import Emit, SourceHealth
from core.feeds.replay.config import ReplayConfig
from core.feeds.replay.parsing import EPOCH, load_events
from core.models import Bar, Tick
from core.symbols import normalize_symbol
from core.timeframes import TIMEFRAMES

log = logging.getLogger(__name__)

MAX_BATCH = 1000
"""Most events handed to ``emit`` in one call (the whole batch size at speed 0)."""
MAX_SLEEP_S = 0.25
"""Longest single call to an injected ``sleep``, so ``stop`` is noticed quickly."""
MIN_SLEEP_S = 0.001
"""Shortest wait, so float rounding of a large clock value cannot make the loop spin."""
_US = timedelta(microseconds=1)


def event_time(event: Tick | Bar) -> datetime:
    """When an event happens on the replayed timeline.

    A tick happens at its time. A bar happens when it is complete, at ``start + timeframe``,
    because live feeds publish a bar once its bucket has closed.
    """
    if isinstance(event, Bar):
        return event.start + timedelta(seconds=TIMEFRAMES[event.timeframe])
    return event.ts


def shift_event(event: Tick | Bar, delta: timedelta) -> Tick | Bar:
    """The same event moved by ``delta`` in time (a new frozen object)."""
    if not delta:
        return event
    if isinstance(event, Bar):
        return replace(event, start=event.start + delta)
    return replace(event, ts=event.ts + delta)


def _floor(value: int, step: int) -> int:
    return value // step * step


def _ceil(value: int, step: int) -> int:
    return -(-value // step) * step


@dataclass(frozen=True, slots=True)
class Timeline:
    """Loaded events in playback order with their times in integer microseconds.

    Attributes
    ----------
    events
        Events sorted (stably) by :func:`event_time`.
    keys_us
        :func:`event_time` of each event, microseconds since the epoch.
    step_us
        Rebasing moves times by whole multiples of this: 1 us for ticks, the longest timeframe
        for bars, so bars stay aligned on their buckets.
    gap_us
        Pause between the end of one loop pass and the start of the next: the smallest positive
        gap between events, or one step (at least 1 s) when all events share one time.
    symbols
        Every symbol in the file.
    """

    events: tuple[Tick | Bar, ...]
    keys_us: tuple[int, ...]
    step_us: int
    gap_us: int
    symbols: frozenset[str]

    @classmethod
    def build(cls, events: Sequence[Tick | Bar]) -> Timeline:
        """Order ``events`` by the time they happen and precompute the playback numbers."""
        keyed = sorted(((event_time(e) - EPOCH) // _US, i) for i, e in enumerate(events))
        ordered = tuple(events[i] for _, i in keyed)
        keys = tuple(k for k, _ in keyed)
        frames = [TIMEFRAMES[e.timeframe] for e in events if isinstance(e, Bar)]
        step = max(frames) * 1_000_000 if frames else 1
        gaps = [b - a for a, b in zip(keys, keys[1:], strict=False) if b > a]
        gap = min(gaps) if gaps else max(step, 1_000_000)
        return cls(ordered, keys, step, gap, frozenset(e.symbol for e in events))

    @property
    def span_us(self) -> int:
        """Time from the first to the last event."""
        return self.keys_us[-1] - self.keys_us[0]

    def shift_us(self, previous: int | None, now_us: int, rebase: bool) -> int:
        """How far to move the times of the next pass.

        Parameters
        ----------
        previous
            Shift of the previous pass, or None for the first pass.
        now_us
            The clock now, microseconds since the epoch.
        rebase
            Move the first event to ``now_us`` (rounded down to a whole step).

        Returns
        -------
        int
            Microseconds to add to every event time. A later pass always starts at least
            ``gap_us`` after the previous pass ended, so times never go backwards.
        """
        to_now = _floor(now_us - self.keys_us[0], self.step_us) if rebase else 0
        if previous is None:
            return to_now
        after_previous = _ceil(previous + self.span_us + self.gap_us, self.step_us)
        return max(to_now, after_previous)


class ReplaySource:
    """A market data source that plays a recorded CSV or Parquet file of ticks or bars.

    Implements :class:`core.feeds.base.Source`. ``simulated`` is True: replayed history is not
    live market data, so the app shows its "data is not live" banner.

    Parameters
    ----------
    config
        File, speed, rebasing and looping.
    clock
        Returns the current time in epoch seconds; used for pacing, rebasing and health.
    sleep
        ``sleep(seconds)`` used to wait for the next event. By default the thread waits on an
        internal event that ``stop`` sets, so stopping never waits for a sleep to end.
    """

    name = "replay"
    simulated = True

    def __init__(self, config: ReplayConfig, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self._lifecycle = threading.Lock()  # serialises start/stop/loading
        self._lock = threading.Lock()  # guards the fields below
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._timeline: Timeline | None = None
        self._wanted: frozenset[str] | None = None  # None: every symbol in the file
        self._state = "stopped"
        self._message = ""
        self._events = 0
        self._errors = 0
        self._position = 0
        self._passes = 0
        self._last_emit: float | None = None
        self._origin: tuple[float, float] | None = None  # (wall start, replayed time) of a pass

    # -- Source protocol ----------------------------------------------------------------------

    def start(self, emit: Emit) -> None:
        """Load the file and start playing it into ``emit`` from a background thread.

        Does nothing while already playing; after the file finished or ``stop``, plays it again
        from the start.

        Raises
        ------
        FeedError
            With the loader's message when the file cannot be used; the source is then "down".
        """
        with self._lifecycle:
            if self._thread is not None and self._thread.is_alive():
                return
            timeline = self._load()
            self._halt.clear()
            thread = threading.Thread(target=self._run, args=(emit, timeline),
                                      name="replay-source", daemon=True)
            with self._lock:
                self._state, self._message = "live", ""
                self._position = self._passes = 0
            self._thread = thread
            thread.start()

    def stop(self) -> None:
        """Stop playing; returns once the last ``emit`` call has finished. Idempotent."""
        with self._lifecycle:
            self._halt.set()
            thread, self._thread = self._thread, None
            if thread is not None and thread is not threading.current_thread():
                thread.join()
            with self._lock:
                if self._state in ("live", "connecting"):
                    self._state = "stopped"

    def subscribe(self, symbols: Iterable[str]) -> None:
        """Play only the subscribed symbols (all of the file's until the first call).

        Loads the file if needed. All-or-nothing: when one symbol is not in the file, none is
        added.

        Raises
        ------
        InvalidSymbol
            For text that is not a symbol.
        UnknownSymbol
            For a symbol the file does not contain; the message lists the file's symbols.
        FeedError
            When the file cannot be loaded.
        """
        wanted = frozenset(normalize_symbol(s) for s in symbols)
        with self._lifecycle:
            timeline = self._load()
        unknown = sorted(wanted - timeline.symbols)
        if unknown:
            raise UnknownSymbol(self._unknown_message(unknown, timeline))
        with self._lock:
            self._wanted = (self._wanted or frozenset()) | wanted

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        """Stop playing these symbols; unknown or malformed ones are ignored.

        Raises
        ------
        FeedError
            When nothing was subscribed yet (all symbols play) and the file cannot be loaded.
        """
        drop = set()
        for raw in symbols:
            try:
                drop.add(normalize_symbol(raw))
            except InvalidSymbol:
                continue
        with self._lifecycle:
            timeline = self._load()
        with self._lock:
            current = timeline.symbols if self._wanted is None else self._wanted
            self._wanted = current - drop

    def symbols(self) -> tuple[str, ...]:
        """Symbols played, sorted; before the file is loaded and with no subscription, none."""
        with self._lock:
            if self._wanted is not None:
                return tuple(sorted(self._wanted))
            timeline = self._timeline
        return tuple(sorted(timeline.symbols)) if timeline is not None else ()

    def health(self) -> SourceHealth:
        """State ("stopped", "connecting", "live", "down" or "finished"), counters and age."""
        now = self._clock()
        with self._lock:
            age = None if self._last_emit is None else max(0.0, now - self._last_emit)
            return SourceHealth(
                name=self.name, state=self._state, simulated=self.simulated, events=self._events,
                errors=self._errors, last_event_age_s=age, message=self._describe(),
            )

    # -- loading ------------------------------------------------------------------------------

    def _load(self) -> Timeline:
        """The loaded file (cached after the first success); call with ``_lifecycle`` held."""
        if self._timeline is not None:
            return self._timeline
        with self._lock:
            state = self._state
            self._state = "connecting"
        try:
            timeline = Timeline.build(load_events(self.config.path))
        except DataError as exc:
            with self._lock:
                self._state, self._message = "down", str(exc)
                self._errors += 1
            raise FeedError(str(exc)) from exc
        with self._lock:
            self._timeline = timeline
            self._state = "stopped" if state == "down" else state
        return timeline

    def _unknown_message(self, unknown: list[str], timeline: Timeline) -> str:
        have = sorted(timeline.symbols)
        listed = ", ".join(have[:20]) + (f" and {len(have) - 20} more" if len(have) > 20 else "")
        verb = "is" if len(unknown) == 1 else "are"
        return (f"{', '.join(unknown)} {verb} not in the replay file {self.config.path.name}; "
                f"it contains {listed}.")

    def _describe(self) -> str:
        """Health message; call with ``_lock`` held."""
        if self._state == "down" or self._timeline is None:
            return self._message
        total, name = len(self._timeline.events), self.config.path.name
        speed = "full speed" if self.config.speed == 0 else f"{self.config.speed:g}x"
        loop = f", pass {self._passes + 1}" if self.config.loop else ""
        if self._state == "finished":
            return f"Finished replaying {total:,} events from {name}."
        if self._state == "live":
            return f"Replaying {name} at {speed}: event {self._position:,} of {total:,}{loop}."
        return f"Replay of {name} stopped at event {self._position:,} of {total:,}."

    # -- the playback thread ------------------------------------------------------------------

    def _run(self, emit: Emit, timeline: Timeline) -> None:
        shift: int | None = None
        try:
            while True:
                shift = timeline.shift_us(shift, round(self._clock() * 1e6), self.config.rebase)
                if not self._play(emit, timeline, timedelta(microseconds=shift)):
                    return
                if not self.config.loop:
                    break
                pause = timeline.gap_us / 1e6 / self.config.speed if self.config.speed else 0.0
                if pause and not self._wait(pause):
                    return
                with self._lock:
                    self._passes += 1
                    self._position = 0
            with self._lock:
                self._state = "finished"
        except Exception as exc:  # a bug here must show in health, not vanish with the thread
            log.exception("replay of %s failed", self.config.path)
            with self._lock:
                self._state, self._message = "down", f"Replay failed: {exc}"
                self._errors += 1

    def now(self) -> float:
        """The replay's own clock (epoch seconds): where playback has got to.

        The hub checks event times against this, not the wall clock, since a replay at speed 10
        runs ahead of the wall clock (and at speed 0 has no clock at all: infinity).
        """
        with self._lock:
            origin = self._origin
        if origin is None:
            return self._clock()
        if self.config.speed == 0:
            return float("inf")
        started, replayed = origin
        return replayed + (self._clock() - started) * self.config.speed

    def _play(self, emit: Emit, timeline: Timeline, delta: timedelta) -> bool:
        """Play one pass; False when stopped before the end."""
        keys, speed, n = timeline.keys_us, self.config.speed, len(timeline.keys_us)
        started = self._clock()
        with self._lock:
            self._origin = (started, keys[0] / 1e6 + delta.total_seconds())
        i = 0
        while i < n:
            if self._halt.is_set():
                return False
            end = min(n, i + MAX_BATCH)
            if speed > 0:
                played_us = (self._clock() - started) * speed * 1e6
                due = bisect_right(keys, keys[0] + round(played_us), i, end)
                if due == i:
                    wait = (keys[i] - keys[0] - played_us) / 1e6 / speed
                    if not self._wait(wait):
                        return False
                    continue
                end = due
            if not self._send(emit, timeline.events[i:end], delta):
                return False
            i = end
            with self._lock:
                self._position = i
        return True

    def _send(self, emit: Emit, events: Sequence[Tick | Bar], delta: timedelta) -> bool:
        """Filter, rebase and emit one batch; False when stopped."""
        wanted = self._wanted
        batch = [shift_event(e, delta) for e in events if wanted is None or e.symbol in wanted]
        if not batch:
            return True
        if self._halt.is_set():
            return False
        try:
            emit(batch)
        except Exception:  # the consumer's bug must not end the replay
            log.exception("replay emit callback failed")
            with self._lock:
                self._errors += 1
            return True
        with self._lock:
            self._events += len(batch)
            self._last_emit = self._clock()
        return True

    def _wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; False when stopped meanwhile."""
        seconds = max(seconds, MIN_SLEEP_S)
        if self._sleep is None:
            return not self._halt.wait(seconds)
        self._sleep(min(seconds, MAX_SLEEP_S))
        return not self._halt.is_set()
