"""Fixtures for the store tests: a real SQLite file per test and deterministic ticks."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from core.models import Bar, Tick
from core.store import Store

T0 = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def db_url(tmp_path) -> str:
    """URL of a SQLite file (not yet created) in a nested folder of the test's tmp dir."""
    return f"sqlite:///{tmp_path / 'data' / 'gs.db'}"


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A migrated store on a real SQLite file."""
    s = Store.open(db_url)
    yield s
    s.close()


def _make_ticks(
    symbols: Sequence[tuple[str, Sequence[str]]] = (("AAPL", ("sim",)),),
    n: int = 100,
    span: timedelta = timedelta(minutes=5),
    start: datetime = T0,
    seed: int = 7,
) -> list[Tick]:
    """``n`` ticks per symbol at random microsecond times in ``[start, start + span)``.

    Sources are drawn at random from the symbol's list; a few ticks share a timestamp. The result
    is sorted by time (stable), which is also the order to insert them.
    """
    rng = random.Random(seed)
    span_us = span // timedelta(microseconds=1)
    out: list[Tick] = []
    for symbol, sources in symbols:
        offsets = sorted(rng.randrange(span_us) for _ in range(n))
        offsets[n // 2] = offsets[n // 2 - 1]  # a tie: order must follow insertion
        price = 100.0 + rng.random() * 50
        for off in offsets:
            price = max(1.0, price * (1 + rng.gauss(0, 0.002)))
            bid = round(price - 0.01, 4) if rng.random() < 0.7 else None
            ask = round(price + 0.01, 4) if bid is not None and rng.random() < 0.9 else None
            out.append(Tick(symbol, start + timedelta(microseconds=off), round(price, 4),
                            float(rng.randint(1, 500)), bid, ask, rng.choice(sources)))
    out.sort(key=lambda t: t.ts)
    return out


@pytest.fixture
def make_ticks() -> Callable[..., list[Tick]]:
    """Factory of deterministic ticks (see ``_make_ticks``)."""
    return _make_ticks


def _resample_bars(ticks: Sequence[Tick], symbol: str) -> pd.DataFrame:
    """Reference 1m OHLCV of ``symbol`` by pandas ``resample("1min")``, empty minutes dropped."""
    rows = [(t.ts, t.price, t.size) for t in ticks if t.symbol == symbol]
    df = pd.DataFrame(rows, columns=["ts", "price", "size"]).set_index("ts")
    df = df.sort_index(kind="stable")
    out = df["price"].resample("1min").ohlc()
    out["volume"] = df["size"].resample("1min").sum()
    out = out.dropna(subset=["open"])
    out.index = out.index.as_unit("us")
    out.index.name = "start"
    return out


@pytest.fixture
def resample_bars() -> Callable[[Sequence[Tick], str], pd.DataFrame]:
    """Reference aggregation: pandas resample of ticks."""
    return _resample_bars


def _bars_frame(bars: Sequence[Bar]) -> pd.DataFrame:
    df = pd.DataFrame(
        [(b.start, b.open, b.high, b.low, b.close, b.volume) for b in bars],
        columns=["start", "open", "high", "low", "close", "volume"],
    ).set_index("start")
    df.index = pd.DatetimeIndex(df.index).as_unit("us")
    return df


@pytest.fixture
def bars_frame() -> Callable[[Sequence[Bar]], pd.DataFrame]:
    """Stored bars as a DataFrame shaped like ``resample_bars``."""
    return _bars_frame
