"""Tick, bar and settings repositories on a real SQLite file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.errors import StoreError, ValidationError
from core.models import Bar, Tick
from core.store import Store
from core.store.repositories import SettingsRepository

T0 = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)
CET = timezone(timedelta(hours=1))


def test_tick_round_trip_keeps_every_field_tz_and_microseconds(store: Store) -> None:
    ticks = [
        Tick("AAPL", datetime(2024, 3, 1, 15, 0, 0, 123_457, tzinfo=CET), 187.25, 100.0,
             187.2, 187.3, "sim"),
        Tick("AAPL", T0 + timedelta(microseconds=999_999), 187.5, 0.0, None, None, ""),
        Tick("BTCUSDT", T0 + timedelta(seconds=1, microseconds=1), 64_000.123456789, 0.00012345,
             None, 64_000.5, "binance"),
        Tick("BRK.B", datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC), 1e-6, 1.0,
             1e-6, None, "replay"),
    ]
    assert store.ticks.insert_many(ticks) == 4
    back = store.ticks.fetch()
    assert back == sorted(ticks, key=lambda t: t.ts)
    for tick in back:
        assert tick.ts.tzinfo is UTC
    assert back[1].ts == datetime(2024, 3, 1, 14, 0, 0, 123_457, tzinfo=UTC)
    assert back[1].ts.microsecond == 123_457
    assert back[0].bid == 1e-6 and back[0].ask is None
    assert back[2].bid is None and back[2].ask is None


def test_insert_many_counts_and_filters(store: Store, make_ticks) -> None:
    ticks = make_ticks([("AAPL", ("sim",)), ("MSFT", ("sim",))], n=250)
    assert store.ticks.insert_many([]) == 0
    assert store.ticks.insert_many(ticks[:300]) == 300
    assert store.ticks.insert_many(ticks[300:]) == 200
    assert store.ticks.count() == 500
    assert store.ticks.count("AAPL") == 250
    assert store.ticks.count("MSFT") == 250
    assert store.ticks.count("NVDA") == 0
    assert store.ticks.fetch("MSFT") == [t for t in ticks if t.symbol == "MSFT"]


def test_fetch_range_is_start_inclusive_end_exclusive(store: Store) -> None:
    ticks = [Tick("SPY", T0 + timedelta(seconds=i), 500.0 + i, 1.0) for i in range(10)]
    store.ticks.insert_many(ticks)
    got = store.ticks.fetch("SPY", start=T0 + timedelta(seconds=2), end=T0 + timedelta(seconds=5))
    assert got == ticks[2:5]
    assert store.ticks.fetch(start=T0 + timedelta(seconds=8)) == ticks[8:]
    assert store.ticks.fetch(end=T0 + timedelta(seconds=1)) == ticks[:1]
    with pytest.raises(ValidationError, match="no time zone"):
        store.ticks.fetch(start=datetime(2024, 3, 1))


def test_fetch_bounds_are_exact_to_the_microsecond(store: Store) -> None:
    ticks = [Tick("SPY", T0 + timedelta(microseconds=us), 500.0, 1.0) for us in (5, 6, 7)]
    store.ticks.insert_many(ticks)
    at_6 = datetime(2024, 3, 1, 15, 0, 0, 6, tzinfo=CET)  # same instant, another zone
    assert store.ticks.fetch(start=at_6) == ticks[1:]
    assert store.ticks.fetch(end=at_6) == ticks[:1]


def test_equal_timestamps_come_back_in_insertion_order(store: Store) -> None:
    ticks = [Tick("QQQ", T0, 400.0 + i, 1.0) for i in (3, 1, 2)]
    store.ticks.insert_many(ticks[:2])
    store.ticks.insert_many(ticks[2:])
    assert [t.price for t in store.ticks.fetch("QQQ")] == [403.0, 401.0, 402.0]


@pytest.mark.parametrize(
    "value",
    [{"watchlist": ["AAPL", "^GSPC"], "n": 3, "ratio": 0.125, "on": True, "none": None},
     [1, 2.5, "x"], "héllo ✓", 42, 3.5, False, None],
)
def test_settings_json_round_trip(store: Store, value) -> None:
    store.settings.set("key", value)
    assert store.settings.get("key", default="missing") == value


def test_settings_overwrite_default_and_timestamp(store: Store) -> None:
    settings = SettingsRepository(store.engine, clock=lambda: 1_700_000_000.5)
    assert settings.get("theme") is None
    assert settings.get("theme", {"a": 1}) == {"a": 1}
    settings.set("theme", "dark")
    settings.set("theme", {"mode": "light"})
    assert settings.get("theme") == {"mode": "light"}
    assert settings.get("tuple-becomes-list", None) is None
    settings.set("tuple-becomes-list", (1, 2))
    assert settings.get("tuple-becomes-list") == [1, 2]
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT key, value, updated_us FROM settings ORDER BY key"
        ).all()
    assert rows == [("theme", '{"mode": "light"}', 1_700_000_000_500_000),
                    ("tuple-becomes-list", "[1, 2]", 1_700_000_000_500_000)]
    assert settings.delete("theme") is True
    assert settings.delete("theme") is False
    assert settings.get("theme", "gone") == "gone"


def test_settings_reject_what_json_cannot_hold(store: Store) -> None:
    with pytest.raises(StoreError, match="cannot be saved"):
        store.settings.set("when", datetime.now(UTC))
    with pytest.raises(ValidationError):
        store.settings.set("", 1)
    assert store.settings.get("when", "unset") == "unset"


def _bar(start_min: int, o: float, h: float, lo: float, c: float, v: float,
         symbol: str = "AAPL", tf: str = "1m", source: str = "sim") -> Bar:
    return Bar(symbol, tf, T0 + timedelta(minutes=start_min), o, h, lo, c, v, source)


def test_bar_round_trip_and_range(store: Store) -> None:
    bars = [_bar(i, 10 + i, 12 + i, 9 + i, 11 + i, 100.0 * i) for i in range(5)]
    other_tf = _bar(0, 1, 2, 0.5, 1.5, 7, tf="5m")
    assert store.bars.upsert_many([*bars, other_tf]) == 6
    assert store.bars.fetch("AAPL", "1m") == bars
    assert store.bars.fetch("AAPL", "5m") == [other_tf]
    got = store.bars.fetch("AAPL", "1m", start=T0 + timedelta(minutes=1),
                           end=T0 + timedelta(minutes=3))
    assert got == bars[1:3]
    assert all(b.start.tzinfo is UTC for b in got)
    assert store.bars.fetch("MSFT", "1m") == []


def test_bar_upsert_merges_with_the_stored_bar(store: Store) -> None:
    store.bars.upsert_many([_bar(0, 10, 12, 9, 11, 100), _bar(1, 20, 21, 19, 20, 5)])
    written = store.bars.upsert_many([
        _bar(0, 10.5, 15, 9.5, 10.8, 50, source="sim"),  # higher high, later close
        _bar(0, 10.7, 11, 8, 10.9, 25, source="replay"),  # lower low, even later close
        _bar(2, 30, 31, 29, 30.5, 1),  # new key
    ])
    assert written == 2
    bars = store.bars.fetch("AAPL", "1m")
    assert bars[0] == Bar("AAPL", "1m", T0, 10, 15, 8, 10.9, 175, "replay,sim")
    assert bars[1] == _bar(1, 20, 21, 19, 20, 5)  # untouched, though inside the batch's range
    assert bars[2] == _bar(2, 30, 31, 29, 30.5, 1)


def test_bar_upsert_merges_duplicates_within_one_batch(store: Store) -> None:
    store.bars.upsert_many([_bar(0, 10, 11, 9, 10, 1), _bar(0, 12, 14, 12, 13, 2)])
    assert store.bars.fetch("AAPL", "1m") == [_bar(0, 10, 14, 9, 13, 3)]
