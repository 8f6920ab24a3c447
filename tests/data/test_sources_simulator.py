"""SimulatorHistory: deterministic, canonical, consistent with the backtest's simulated bars."""

from __future__ import annotations

import pandas as pd
import pytest

from core.backtest.io import simulated_ohlcv
from core.data.frames import OHLCV
from core.data.sources.base import HistorySource, SymbolNotFound
from core.data.sources.simulator import SimulatorHistory
from core.errors import DataError, ValidationError

NOW = pd.Timestamp("2026-03-02T14:37:20Z")
TODAY = NOW.floor("D")
DAY = pd.Timedelta(days=1)


def simulator(seed: int = 42, now: pd.Timestamp = NOW, **kwargs: object) -> SimulatorHistory:
    return SimulatorHistory(seed=seed, clock=lambda: now.timestamp(), **kwargs)  # type: ignore[arg-type]


def test_days_are_the_backtests_simulated_bars() -> None:
    start, end = TODAY - 400 * DAY, TODAY - 100 * DAY
    got = simulator().fetch("AAPL", start, end, "1d")
    reference = simulated_ohlcv("AAPL", seed=42, end=TODAY.to_pydatetime())
    reference = reference[(reference.index >= start) & (reference.index < end)]
    assert len(got) == 300
    pd.testing.assert_frame_equal(got, reference, check_index_type=False, check_freq=False)
    assert list(got.columns) == list(OHLCV) and (got.dtypes == "float64").all()
    assert got.index.name == "Date" and str(got.index.tz) == "UTC"
    assert isinstance(simulator(), HistorySource)


def test_deterministic_for_a_seed_and_windows_agree_where_they_overlap() -> None:
    a = simulator().fetch("BTCUSDT", NOW - 2 * DAY, NOW, "5m")
    b = simulator().fetch("BTCUSDT", NOW - DAY, NOW + DAY, "5m")
    pd.testing.assert_frame_equal(a.loc[b.index[0]:], b)
    assert not simulator(seed=7).fetch("BTCUSDT", NOW - DAY, NOW, "5m").equals(b)


def test_intraday_bars_are_completed_bars_on_the_grid() -> None:
    got = simulator().fetch("MSFT", NOW - pd.Timedelta(hours=3), NOW + DAY, "15m")
    assert len(got) == 11 and got.index[0] == pd.Timestamp("2026-03-02T11:45Z")
    assert got.index[-1] == pd.Timestamp("2026-03-02T14:15Z")  # 14:30 is not over at 14:37
    assert (got.index.minute % 15 == 0).all() and got.index.is_monotonic_increasing
    assert (got["High"] >= got[["Open", "Close"]].max(axis=1)).all()


def test_windows_the_simulator_does_not_cover_are_empty() -> None:
    sim = simulator()
    assert sim.fetch("AAPL", TODAY - 40 * 365 * DAY, TODAY - 30 * 365 * DAY, "1d").empty
    assert sim.fetch("AAPL", NOW + DAY, NOW + 2 * DAY, "1h").empty
    assert sim.fetch("AAPL", NOW, NOW - DAY, "1h").empty


def test_unknown_symbols_and_intervals() -> None:
    sim = simulator()
    assert sim.supports("AAPL", "1m") and not sim.supports("ZZZZ", "1d")
    with pytest.raises(SymbolNotFound, match="simulator cannot draw 'ZZZZ'") as err:
        sim.fetch("ZZZZ", NOW - DAY, NOW, "1d")
    assert isinstance(err.value, DataError)
    with pytest.raises(SymbolNotFound):
        sim.fetch("not a symbol!", NOW - DAY, NOW, "1d")
    with pytest.raises(ValidationError, match="Unknown interval"):
        sim.fetch("AAPL", NOW - DAY, NOW, "4h")
