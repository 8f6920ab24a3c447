"""Compaction of old ticks into 1-minute bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from core.errors import ValidationError
from core.models import Tick
from core.store import CompactionResult, Store, compact_ticks
from core.store import repositories as repo

T0 = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)
SYMBOLS = [("AAPL", ("sim", "replay")), ("BTCUSDT", ("binance",))]


def _assert_bars_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.index) == list(want.index)
    ohlc = ["open", "high", "low", "close"]
    assert_frame_equal(got[ohlc], want[ohlc], check_exact=True, check_freq=False)
    assert_frame_equal(got[["volume"]], want[["volume"]], rtol=1e-12, check_freq=False)


def _boundary_ticks(cut: datetime) -> list[Tick]:
    return [
        Tick("AAPL", cut - timedelta(microseconds=1), 150.0, 7.0, None, None, "sim"),
        Tick("AAPL", cut, 151.0, 3.0, None, None, "sim"),
    ]


@pytest.mark.parametrize("window", [timedelta(hours=1), timedelta(minutes=1),
                                    timedelta(minutes=2)])
def test_compaction_matches_pandas_resample(store: Store, make_ticks, resample_bars, bars_frame,
                                            window: timedelta) -> None:
    cutoff = T0 + timedelta(minutes=3, seconds=30)  # mid-minute: floored to 14:03
    floored = T0 + timedelta(minutes=3)
    ticks = sorted(make_ticks(SYMBOLS, n=400, span=timedelta(minutes=6)) + _boundary_ticks(floored),
                   key=lambda t: t.ts)
    store.ticks.insert_many(ticks)
    old = [t for t in ticks if t.ts < floored]
    assert any(t.ts >= floored for t in ticks if t.ts < cutoff)  # the rounding matters

    result = compact_ticks(store.engine, cutoff, window=window)

    assert result.ticks_removed == len(old)
    assert store.ticks.fetch() == [t for t in ticks if t.ts >= floored]
    assert store.ticks.fetch(end=floored) == []
    n_bars = 0
    for symbol, _ in SYMBOLS:
        want = resample_bars(old, symbol)
        _assert_bars_equal(bars_frame(store.bars.fetch(symbol, "1m")), want)
        n_bars += len(want)
    assert n_bars == 6  # three minutes for each of the two symbols
    assert result.bars_written == n_bars
    assert {b.source for b in store.bars.fetch("AAPL", "1m")} == {"replay,sim"}
    assert {b.source for b in store.bars.fetch("BTCUSDT", "1m")} == {"binance"}


def test_second_compaction_merges_late_ticks(store: Store, make_ticks, resample_bars,
                                             bars_frame) -> None:
    ticks = make_ticks(SYMBOLS, n=300, span=timedelta(minutes=6))
    store.ticks.insert_many(ticks)
    store.compact(T0 + timedelta(minutes=2, seconds=10))
    first_bars = store.bars.fetch("AAPL", "1m")
    # a late print for the already compacted 14:01 minute: a new high, the new close
    late = Tick("AAPL", T0 + timedelta(minutes=1, seconds=59, microseconds=999_999),
                first_bars[1].high + 5, 1000.0, None, None, "sim")
    store.ticks.insert_many([late])

    result = store.compact(T0 + timedelta(minutes=4, seconds=45))

    every = sorted([*ticks, late], key=lambda t: t.ts)
    cut = T0 + timedelta(minutes=4)
    assert store.ticks.fetch() == [t for t in every if t.ts >= cut]
    for symbol, _ in SYMBOLS:
        want = resample_bars([t for t in every if t.ts < cut], symbol)
        _assert_bars_equal(bars_frame(store.bars.fetch(symbol, "1m")), want)
    merged = store.bars.fetch("AAPL", "1m")[1]
    assert (merged.open, merged.high, merged.close) == (first_bars[1].open, late.price, late.price)
    assert merged.volume == pytest.approx(first_bars[1].volume + 1000.0)
    in_second = [t for t in ticks if T0 + timedelta(minutes=2) <= t.ts < cut]
    # the late tick plus 14:02-14:03; bars: the merged 14:01 plus 14:02 and 14:03 of both symbols
    assert result == CompactionResult(ticks_removed=len(in_second) + 1, bars_written=1 + 2 * 2)


def test_failed_compaction_deletes_nothing(store: Store, make_ticks, monkeypatch) -> None:
    ticks = make_ticks(SYMBOLS, n=200, span=timedelta(minutes=4))
    store.ticks.insert_many(ticks)
    real = repo.merge_bar_rows
    calls = []

    def fail_on_second_symbol(conn, rows):
        calls.append(1)
        if len(calls) > 1:  # the first symbol's ticks are already deleted in the transaction
            raise RuntimeError("disk full")
        return real(conn, rows)

    monkeypatch.setattr(repo, "merge_bar_rows", fail_on_second_symbol)
    with pytest.raises(RuntimeError, match="disk full"):
        store.compact(T0 + timedelta(minutes=10))
    assert len(calls) == 2
    assert store.ticks.fetch() == ticks
    assert store.bars.fetch("AAPL", "1m") == []
    assert store.bars.fetch("BTCUSDT", "1m") == []


def test_nothing_to_compact(store: Store, make_ticks) -> None:
    assert store.compact(T0) == CompactionResult(0, 0)
    store.ticks.insert_many(make_ticks(n=10))
    assert store.compact(T0 + timedelta(seconds=59)) == CompactionResult(0, 0)  # floors to T0
    assert store.ticks.count() == 10


def test_compaction_rejects_naive_cutoff_and_bad_window(store: Store) -> None:
    with pytest.raises(ValidationError, match="no time zone"):
        store.compact(datetime(2024, 3, 1, 14, 0))
    with pytest.raises(ValidationError, match="number of minutes"):
        compact_ticks(store.engine, T0, window=timedelta(seconds=90))
