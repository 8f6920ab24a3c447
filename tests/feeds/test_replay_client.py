"""Tests of ReplaySource: pacing, rebasing, looping, subscriptions, lifecycle and health.

Pacing is checked with a fake clock whose ``sleep`` advances it, so no assertion depends on how
busy the machine is; one smoke test uses the real clock with wide bounds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import FrozenInstanceError
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.config import load_settings
from core.errors import ConfigError, FeedError, UnknownSymbol
from core.feeds.base import Source
from core.feeds.replay import ReplayConfig, ReplaySource
from core.feeds.replay.client import MAX_BATCH, Timeline
from core.models import Bar, Event, Tick

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
NOW = 1_700_000_000.25  # the fake clock's start: 2023-11-14T22:13:20.25Z
FIXTURE = Path(__file__).parents[1] / "fixtures" / "replay" / "ticks.csv"


class FakeClock:
    """``clock()`` returns ``now``; ``sleep(s)`` records ``s`` and advances ``now``."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder:
    """An ``emit`` callback that keeps every batch with the (fake) time it arrived."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.batches: list[tuple[float, list[Event]]] = []
        self.lock = threading.Lock()
        self.first = threading.Event()

    def __call__(self, batch: Sequence[Event]) -> None:
        with self.lock:
            self.batches.append((self.clock(), list(batch)))
        self.first.set()

    @property
    def events(self) -> list[Event]:
        with self.lock:
            return [e for _, batch in self.batches for e in batch]


def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def finished(source: ReplaySource) -> Callable[[], bool]:
    return lambda: source.health().state == "finished"


def tick_file(tmp_path: Path, offsets: Sequence[float], symbols: Sequence[str] = ("AAPL",)
              ) -> tuple[Path, list[Tick]]:
    """A CSV with one tick per offset (seconds after T0), symbols taken in turn."""
    ticks = [Tick(symbols[i % len(symbols)], T0 + timedelta(seconds=s), 100.0 + i, 1.0,
                  source="replay") for i, s in enumerate(offsets)]
    frame = pd.DataFrame({"ts": [t.ts.isoformat() for t in ticks],
                          "symbol": [t.symbol for t in ticks],
                          "price": [t.price for t in ticks], "size": [t.size for t in ticks]})
    path = tmp_path / "ticks.csv"
    frame.to_csv(path, index=False)
    return path, ticks


def play(config: ReplayConfig, clock: FakeClock | None = None) -> tuple[ReplaySource, Recorder]:
    """Play ``config`` to the end with a fake clock."""
    clock = clock or FakeClock()
    source = ReplaySource(config, clock=clock, sleep=clock.sleep)
    recorder = Recorder(clock)
    source.start(recorder)
    wait_until(finished(source))
    source.stop()
    return source, recorder


# -- config -----------------------------------------------------------------------------------


def test_config_is_frozen_and_validated() -> None:
    config = ReplayConfig("data/ticks.csv", speed=10)
    assert config.path == Path("data/ticks.csv") and config.speed == 10.0
    assert config.rebase is True and config.loop is False
    with pytest.raises(FrozenInstanceError):
        config.speed = 2  # type: ignore[misc]
    for speed in (-1, float("nan"), float("inf"), "fast"):
        with pytest.raises(ConfigError, match="speed"):
            ReplayConfig("x.csv", speed=speed)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="path"):
        ReplayConfig("  ")
    settings = load_settings({"GS_SOURCE": "replay", "GS_REPLAY_PATH": "t.parquet",
                              "GS_REPLAY_SPEED": "5"}, secrets_path="/nonexistent/secrets.toml")
    expected = ReplayConfig("t.parquet", speed=5, rebase=True, loop=True)
    assert ReplayConfig.from_settings(settings, loop=True) == expected


def test_source_implements_the_protocol_and_is_marked_simulated() -> None:
    source = ReplaySource(ReplayConfig(FIXTURE))
    assert isinstance(source, Source)
    assert source.name == "replay" and source.simulated is True
    health = source.health()
    assert (health.state, health.events, health.last_event_age_s) == ("stopped", 0, None)


# -- playback ---------------------------------------------------------------------------------


def test_speed_zero_emits_every_event_exactly_once_in_order(tmp_path: Path) -> None:
    path, ticks = tick_file(tmp_path, [i * 0.001 for i in range(2_500)], ("AAPL", "MSFT"))
    clock = FakeClock()
    source, recorder = play(ReplayConfig(path, speed=0, rebase=False), clock)
    assert recorder.events == ticks
    assert [len(b) for _, b in recorder.batches] == [MAX_BATCH, MAX_BATCH, 500]
    assert clock.sleeps == []
    health = source.health()
    assert (health.state, health.events, health.errors) == ("finished", 2_500, 0)
    assert "Finished replaying 2,500 events" in health.message


def test_speed_ten_plays_one_second_in_a_tenth(tmp_path: Path) -> None:
    offsets = [0.0, 0.25, 0.5, 0.75, 1.0]
    path, ticks = tick_file(tmp_path, offsets)
    clock = FakeClock()
    _, recorder = play(ReplayConfig(path, speed=10, rebase=False), clock)
    assert recorder.events == ticks
    arrivals = [at - NOW for at, _ in recorder.batches]
    assert arrivals == pytest.approx([s / 10 for s in offsets], abs=0.002)
    assert clock.now - NOW == pytest.approx(0.1, abs=0.002)


def test_half_speed_plays_one_second_in_two(tmp_path: Path) -> None:
    path, _ = tick_file(tmp_path, [0.0, 1.0])
    clock = FakeClock()
    play(ReplayConfig(path, speed=0.5), clock)
    assert clock.now - NOW == pytest.approx(2.0, abs=0.002)


def test_real_clock_smoke(tmp_path: Path) -> None:
    path, ticks = tick_file(tmp_path, [0.0, 0.5, 1.0])
    source = ReplaySource(ReplayConfig(path, speed=10))
    recorder = Recorder()
    began = time.monotonic()
    source.start(recorder)
    wait_until(finished(source))
    elapsed = time.monotonic() - began
    source.stop()
    assert len(recorder.events) == len(ticks)
    assert 0.09 <= elapsed < 1.5


def test_rebase_moves_first_event_to_now_and_keeps_gaps(tmp_path: Path) -> None:
    offsets = [0.0, 0.5, 2.0]
    path, ticks = tick_file(tmp_path, offsets)
    _, recorder = play(ReplayConfig(path, speed=0))  # rebase is the default
    now = datetime.fromtimestamp(NOW, UTC)
    assert [e.ts for e in recorder.events] == [now + timedelta(seconds=s) for s in offsets]
    assert [(e.symbol, e.price) for e in recorder.events] == [(t.symbol, t.price) for t in ticks]
    _, kept = play(ReplayConfig(path, speed=0, rebase=False))
    assert [e.ts for e in kept.events] == [t.ts for t in ticks]


def test_rebased_bars_stay_aligned_and_the_first_is_the_last_completed(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "ts": [T0.isoformat(), (T0 + timedelta(minutes=1)).isoformat()],
        "symbol": ["AAPL", "AAPL"], "open": [1.0, 1.0], "high": [2.0, 2.0], "low": [0.5, 0.5],
        "close": [1.5, 1.5], "volume": [10.0, 10.0],
    })
    frame.to_csv(tmp_path / "bars.csv", index=False)
    clock = FakeClock(datetime(2025, 3, 4, 10, 0, 30, tzinfo=UTC).timestamp())
    _, recorder = play(ReplayConfig(tmp_path / "bars.csv", speed=0), clock)
    bars = recorder.events
    assert all(isinstance(b, Bar) and b.timeframe == "1m" for b in bars)
    first = datetime(2025, 3, 4, 9, 59, tzinfo=UTC)  # its end, 10:00:00, is the last before now
    assert [b.start for b in bars] == [first, first + timedelta(minutes=1)]


def test_loop_keeps_time_increasing_and_stop_ends_it(tmp_path: Path) -> None:
    path, ticks = tick_file(tmp_path, [0.0, 1.0, 2.0])
    clock = FakeClock()
    source = ReplaySource(ReplayConfig(path, speed=0, loop=True), clock=clock, sleep=clock.sleep)
    recorder = Recorder(clock)
    source.start(recorder)
    wait_until(lambda: len(recorder.events) >= 3 * len(ticks))
    assert source.health().state == "live"
    source.stop()
    times = [e.ts for e in recorder.events]
    assert times[:3] == [datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=s) for s in (0, 1, 2)]
    assert times[3] == times[2] + timedelta(seconds=1)  # next pass starts one gap later
    assert all(a < b for a, b in zip(times, times[1:], strict=False))
    assert source.health().state == "stopped"


def test_stop_mid_replay_stops_emitting(tmp_path: Path) -> None:
    path, _ = tick_file(tmp_path, [0.0, 0.01, 50.0, 100.0])
    source = ReplaySource(ReplayConfig(path, speed=1))
    recorder = Recorder()
    source.start(recorder)
    assert recorder.first.wait(2.0)
    wait_until(lambda: len(recorder.events) == 2)
    began = time.monotonic()
    source.stop()
    assert time.monotonic() - began < 0.5  # the wait for the next event is interrupted
    count = len(recorder.events)
    time.sleep(0.05)
    assert len(recorder.events) == count == 2
    health = source.health()
    assert health.state == "stopped" and "stopped at event 2 of 4" in health.message
    source.stop()  # idempotent


def test_stop_waits_for_a_running_emit(tmp_path: Path) -> None:
    path, _ = tick_file(tmp_path, [0.0, 1.0])
    source = ReplaySource(ReplayConfig(path, speed=0))
    inside, done = threading.Event(), threading.Event()

    def slow_emit(batch: Sequence[Event]) -> None:
        inside.set()
        time.sleep(0.05)
        done.set()

    source.start(slow_emit)
    assert inside.wait(2.0)
    source.stop()
    assert done.is_set()


def test_start_is_idempotent_and_can_play_again_after_finishing(tmp_path: Path) -> None:
    path, ticks = tick_file(tmp_path, [0.0, 10.0])
    clock, gate = FakeClock(), threading.Event()

    def gated_sleep(seconds: float) -> None:  # holds the first pass until both starts are done
        assert gate.wait(2.0)
        clock.sleep(seconds)

    source = ReplaySource(ReplayConfig(path, speed=1), clock=clock, sleep=gated_sleep)
    recorder = Recorder(clock)
    source.start(recorder)
    source.start(recorder)
    gate.set()
    wait_until(finished(source))
    assert len(recorder.events) == len(ticks)
    source.start(recorder)
    wait_until(lambda: len(recorder.events) == 2 * len(ticks) and finished(source)())
    source.stop()


def test_emit_errors_are_counted_and_the_replay_goes_on(tmp_path: Path) -> None:
    path, _ = tick_file(tmp_path, [0.0, 1.0, 2.0])
    clock = FakeClock()
    source = ReplaySource(ReplayConfig(path, speed=1), clock=clock, sleep=clock.sleep)
    seen: list[Event] = []

    def flaky(batch: Sequence[Event]) -> None:
        seen.extend(batch)
        if len(seen) == 1:
            raise RuntimeError("consumer bug")

    source.start(flaky)
    wait_until(finished(source))
    health = source.health()
    assert len(seen) == 3 and (health.events, health.errors) == (2, 1)


# -- subscriptions ----------------------------------------------------------------------------


def test_all_symbols_play_without_subscribe_and_subscribe_restricts() -> None:
    _, everything = play(ReplayConfig(FIXTURE, speed=0))
    assert {e.symbol for e in everything.events} == {"AAPL", "MSFT"}
    clock = FakeClock()
    source = ReplaySource(ReplayConfig(FIXTURE, speed=0), clock=clock, sleep=clock.sleep)
    assert source.symbols() == ()
    source.subscribe([" msft "])
    assert source.symbols() == ("MSFT",)
    recorder = Recorder(clock)
    source.start(recorder)
    wait_until(finished(source))
    assert [e.symbol for e in recorder.events] == ["MSFT"] * 3
    assert source.health().events == 3


def test_subscribe_to_a_symbol_not_in_the_file_raises_unknown_symbol() -> None:
    source = ReplaySource(ReplayConfig(FIXTURE, speed=0))
    with pytest.raises(UnknownSymbol, match="TSLA is not in the replay file ticks.csv; "
                                            "it contains AAPL, MSFT"):
        source.subscribe(["AAPL", "TSLA"])
    assert source.symbols() == ("AAPL", "MSFT")  # nothing was added: all still play


def test_unsubscribe_removes_symbols_and_ignores_unknown_ones() -> None:
    source = ReplaySource(ReplayConfig(FIXTURE, speed=0))
    source.unsubscribe(["AAPL", "NOPE", "???"])
    assert source.symbols() == ("MSFT",)
    source.subscribe(["AAPL"])
    source.unsubscribe(["MSFT"])
    assert source.symbols() == ("AAPL",)


# -- failures and health ----------------------------------------------------------------------


def test_bad_file_puts_the_source_down_with_the_data_error_text(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("ts,symbol,price,size\n2024-01-02T14:30:00Z,AAPL,-1,1\n", encoding="utf-8")
    source = ReplaySource(ReplayConfig(path, speed=0))
    with pytest.raises(FeedError, match="data row 1, column 'price'") as info:
        source.start(Recorder())
    health = source.health()
    assert health.state == "down" and health.errors == 1
    assert health.message == str(info.value) and str(path) in health.message
    # Once the file is fixed, starting again works.
    path.write_text("ts,symbol,price,size\n2024-01-02T14:30:00Z,AAPL,1,1\n", encoding="utf-8")
    recorder = Recorder()
    source.start(recorder)
    wait_until(finished(source))
    assert len(recorder.events) == 1


def test_missing_file_fails_subscribe_with_feed_error(tmp_path: Path) -> None:
    source = ReplaySource(ReplayConfig(tmp_path / "absent.parquet"))
    with pytest.raises(FeedError, match="does not exist"):
        source.subscribe(["AAPL"])
    assert source.health().state == "down"


def test_health_counts_events_and_ages_them_with_the_injected_clock() -> None:
    clock = FakeClock()
    source, _ = play(ReplayConfig(FIXTURE, speed=1), clock)
    clock.now += 5.0
    health = source.health()
    assert (health.name, health.state, health.simulated) == ("replay", "finished", True)
    assert health.events == 6
    assert health.last_event_age_s == pytest.approx(5.0)


def test_timeline_orders_bars_by_their_end_and_steps_by_the_longest_timeframe() -> None:
    hour = Bar("AAPL", "1h", T0, 1.0, 2.0, 0.5, 1.5, 1.0)
    minute = Bar("AAPL", "1m", T0 + timedelta(minutes=5), 1.0, 2.0, 0.5, 1.5, 1.0)
    timeline = Timeline.build([hour, minute])
    assert timeline.events == (minute, hour)
    assert timeline.step_us == 3_600 * 1_000_000
