from __future__ import annotations

import time

from core.feeds.aggregator import FeedHub
from core.feeds.chart_data import chart_bars
from core.feeds.simulator import SimulatorConfig, SimulatorSource


def test_chart_is_never_empty_and_history_joins_the_live_candles() -> None:
    hub = FeedHub(SimulatorSource(SimulatorConfig(seed=2, tick_rate=50)))
    hub.add_symbol("NVDA")
    before = chart_bars(hub, "NVDA", "1h", count=50)
    assert len(before) == 50  # history alone before the first trade
    hub.start()
    try:
        deadline = time.monotonic() + 5
        while not hub.candles("NVDA", "1h") and time.monotonic() < deadline:
            time.sleep(0.02)
        bars = chart_bars(hub, "NVDA", "1h", count=50)
    finally:
        hub.stop()
    live = hub.candles("NVDA", "1h")
    assert len(bars) == 50 and bars[-len(live):] == live
    past = bars[-len(live) - 1]
    assert past.close == live[0].open and past.start < live[0].start
    assert all(a.start < b.start for a, b in zip(bars, bars[1:], strict=False))
