from __future__ import annotations

import math
import time
from datetime import UTC, datetime

import numpy as np
import pytest

from core.errors import UnknownSymbol
from core.feeds.simulator import CATALOG, MarketSimulator, SimulatorConfig, SimulatorSource
from core.feeds.simulator.market_hours import is_open

START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC).timestamp()  # a Monday


def _run(cfg: SimulatorConfig, symbols: list[str], seconds: float, step: float = 1.0) -> list:
    m = MarketSimulator(cfg, START)
    for s in symbols:
        m.add(s)
    out = []
    t = START
    while t < START + seconds:
        t += step
        out += m.advance(t)
    return out


def test_same_seed_same_market_and_independent_of_chunking() -> None:
    cfg = SimulatorConfig(seed=11)
    a = _run(cfg, ["AAPL", "BTCUSDT"], 600, step=1.0)
    b = _run(cfg, ["AAPL", "BTCUSDT"], 600, step=7.3)
    assert len(a) > 1000
    assert [(t.symbol, t.ts, t.price, t.size) for t in a] == [(t.symbol, t.ts, t.price, t.size)
                                                                for t in b[:len(a)]]
    c = _run(SimulatorConfig(seed=12), ["AAPL", "BTCUSDT"], 600)
    assert [t.price for t in a[:200]] != [t.price for t in c[:200]]


def test_a_symbols_path_does_not_depend_on_the_others() -> None:
    alone = [t for t in _run(SimulatorConfig(seed=3), ["MSFT"], 300) if t.symbol == "MSFT"]
    mixed = [t for t in _run(SimulatorConfig(seed=3), ["MSFT", "ETHUSDT", "SPY"], 300)
             if t.symbol == "MSFT"]
    assert [t.price for t in alone] == [t.price for t in mixed]


def test_ticks_are_valid_and_time_ordered_with_a_quote() -> None:
    ticks = _run(SimulatorConfig(), ["AAPL", "ETHUSDT", "^GSPC"], 120)
    assert all(a.ts <= b.ts for a, b in zip(ticks, ticks[1:], strict=False))
    eq = [t for t in ticks if t.symbol == "AAPL"]
    assert all(t.bid < t.ask and t.price in (t.bid, t.ask) for t in eq)
    assert all(t.size >= 1 and t.size == int(t.size) for t in eq)
    idx = [t for t in ticks if t.symbol == "^GSPC"]
    assert idx and all(t.bid is None and t.size == 0 for t in idx)
    rate = len(eq) / 120
    assert 2.0 < rate < 6.0  # default ~3 trades/s per symbol, plus bursts


@pytest.mark.parametrize("vol_of_vol,tolerance", [(1e-9, 0.05), (1.0, 0.15)])
def test_realised_volatility_is_near_the_configured_one(vol_of_vol: float, tolerance: float
                                                         ) -> None:
    """Mid-price log returns, annualised per calendar second, against the catalog's vol."""
    cfg = SimulatorConfig(seed=5, tick_rate=1 / 30, vol_of_vol=vol_of_vol, jump_intensity=0.0)
    m = MarketSimulator(cfg, START)
    m.add("MSFT")
    raw = m.advance_raw(START + 120 * 86400)
    mid = (raw.bid + raw.ask) / 2
    r = np.diff(np.log(mid))
    dt = np.diff(raw.times)
    realised = math.sqrt(np.sum(r**2) / np.sum(dt) * 365.25 * 86400)
    assert realised == pytest.approx(CATALOG["MSFT"].vol, rel=tolerance)


def test_jumps_fatten_the_tails() -> None:
    base = dict(seed=8, tick_rate=1 / 60, vol_of_vol=1e-9)
    kurt = []
    for jumps in (0.0, 200.0):
        m = MarketSimulator(SimulatorConfig(jump_intensity=jumps, jump_std=0.02, **base), START)
        m.add("SPY")
        raw = m.advance_raw(START + 200 * 86400)
        r = np.diff(np.log((raw.bid + raw.ask) / 2)) / np.sqrt(np.diff(raw.times))
        kurt.append(float(np.mean((r - r.mean()) ** 4) / np.var(r) ** 2))
    assert kurt[0] < 4 < kurt[1]


def test_market_hours_pause_equities_but_not_crypto() -> None:
    cfg = SimulatorConfig(market_hours=True)
    ticks = _run(cfg, ["AAPL", "BTCUSDT"], 3 * 86400, step=600)
    aapl = [t for t in ticks if t.symbol == "AAPL"]
    btc = [t for t in ticks if t.symbol == "BTCUSDT"]
    assert aapl and all(is_open(t.ts.timestamp()) for t in aapl)
    assert any(not is_open(t.ts.timestamp()) for t in btc)


def test_unknown_symbol_is_refused_with_a_clear_message() -> None:
    m = MarketSimulator(SimulatorConfig(), START)
    with pytest.raises(UnknownSymbol, match="no symbol 'ZZZZ'"):
        m.add("ZZZZ")


def test_history_is_deterministic_and_ends_at_the_anchor() -> None:
    m = MarketSimulator(SimulatorConfig(seed=1), START)
    end = datetime(2026, 3, 4, 15, 7, 30, tzinfo=UTC)
    bars = m.history("AAPL", "5m", end, 100, end_price=231.17)
    again = MarketSimulator(SimulatorConfig(seed=1), 0).history("AAPL", "5m", end, 100, 231.17)
    assert bars == again and len(bars) == 100
    assert bars[-1].close == 231.17
    assert bars[-1].start == datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
    starts = [b.start.timestamp() for b in bars]
    assert np.all(np.diff(starts) == 300)
    assert all(b.open == a.close for a, b in zip(bars, bars[1:], strict=False))
    sessions = MarketSimulator(SimulatorConfig(seed=1, market_hours=True), START)
    daily = sessions.history("SPY", "1d", end, 30, 570.0)
    assert all(b.start.weekday() < 5 for b in daily)
    assert all(is_open(b.start.timestamp()) for b in sessions.history("SPY", "5m", end, 200))
    crypto = sessions.history("BTCUSDT", "1d", end, 30, 67000.0)
    assert any(b.start.weekday() >= 5 for b in crypto)


@pytest.mark.parametrize("market_hours,per_year", [(False, 365.25), (True, 252.0)])
def test_history_volatility_agrees_across_timeframes_and_with_the_live_market(
        market_hours: bool, per_year: float) -> None:
    """Daily and hourly history, and the live market, all realise the configured volatility."""
    cfg = SimulatorConfig(seed=6, market_hours=market_hours, tick_rate=1 / 60, vol_of_vol=1e-9,
                          jump_intensity=0.0)
    m = MarketSimulator(cfg, START)
    end = datetime(2026, 3, 4, 15, 7, 30, tzinfo=UTC)
    vol = CATALOG["MSFT"].vol
    daily = np.diff(np.log([b.close for b in m.history("MSFT", "1d", end, 3000, 400.0)]))
    assert daily.std() * math.sqrt(per_year) == pytest.approx(vol, rel=0.08)
    hours_a_day = 6.5 if market_hours else 24.0
    hourly = [b for b in m.history("MSFT", "1h", end, 6000, 400.0)]
    r = np.diff(np.log([b.close for b in hourly]))
    assert r.std() * math.sqrt(per_year * hours_a_day) == pytest.approx(vol, rel=0.08)
    m.add("MSFT")
    raw = m.advance_raw(START + 200 * 86400)
    day = np.array([int(t // 86400) for t in raw.times])
    closes = [raw.price[day == d][-1] for d in np.unique(day)]
    live = np.diff(np.log(closes))
    days_a_year = per_year if market_hours else 365.25
    assert live.std() * math.sqrt(days_a_year) == pytest.approx(vol, rel=0.2)


def test_live_source_streams_paced_ticks_and_can_go_full_speed() -> None:
    got: list = []
    src = SimulatorSource(SimulatorConfig(tick_rate=20.0))
    src.subscribe(["AAPL", "BTCUSDT"])
    src.start(got.extend)
    time.sleep(1.0)
    src.stop()
    src.stop()  # idempotent
    n = len(got)
    assert 15 < n < 200  # about 2 x 20 per second
    time.sleep(0.1)
    assert len(got) == n  # nothing after stop
    assert src.health().state == "stopped" and src.health().events == n

    fast: list = []
    src = SimulatorSource(SimulatorConfig(tick_rate=0))
    src.subscribe(["AAPL"])
    src.start(fast.extend)
    time.sleep(0.5)
    src.stop()
    assert len(fast) > 20_000


@pytest.mark.parametrize("kwargs,fragment", [
    ({"tick_rate": float("inf")}, "tick rate"), ({"tick_rate": -1.0}, "tick rate"),
    ({"tick_rate": float("nan")}, "tick rate"), ({"tick_rate": 1e9}, "tick rate"),
    ({"seed": -1}, "seed"), ({"jump_std": -0.1}, "jump_std"),
])
def test_bad_simulator_settings_are_refused_clearly(kwargs: dict, fragment: str) -> None:
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match=fragment):
        SimulatorConfig(**kwargs)


def test_a_bad_tick_rate_setting_is_shown_in_the_app_not_a_hang(monkeypatch) -> None:  # noqa: ANN001
    from core.config import load_settings
    from core.errors import ConfigError
    from core.runtime import build_runtime

    monkeypatch.setenv("GS_SIM_TICK_RATE", "inf")
    with pytest.raises(ConfigError, match="tick rate"):
        build_runtime(load_settings(), role="app")
