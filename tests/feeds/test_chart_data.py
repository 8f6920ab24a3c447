from __future__ import annotations

import time

from core.feeds.aggregator import FeedHub
from core.feeds.chart_data import chart_bars
from core.feeds.simulator import SimulatorConfig, SimulatorSource


def test_chart_is_never_empty_and_history_joins_the_live_candles() -> None:
    hub = FeedHub(SimulatorSource(SimulatorConfig(seed=2, tick_rate=50)))
    hub.add_symbol("NVDA")
    before = chart_bars(hub, "NVDA", "1h", count=50).bars
    assert len(before) == 50  # history alone before the first trade
    hub.start()
    try:
        deadline = time.monotonic() + 5
        while not hub.candles("NVDA", "1h") and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        hub.stop()  # freeze the candles, so both reads below see the same ones
    bars = chart_bars(hub, "NVDA", "1h", count=50).bars
    live = hub.candles("NVDA", "1h")
    assert len(bars) == 50 and bars[-len(live):] == live
    past = bars[-len(live) - 1]
    assert past.close == live[0].open and past.start < live[0].start
    assert all(a.start < b.start for a, b in zip(bars, bars[1:], strict=False))


def test_a_failing_history_source_leaves_live_candles_and_a_reason() -> None:
    from core.errors import FeedError

    class NoHistory(SimulatorSource):
        def history(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            raise FeedError("Yahoo unavailable: no network")

    hub = FeedHub(NoHistory(SimulatorConfig(seed=2, tick_rate=50)))
    hub.add_symbol("NVDA")
    data = chart_bars(hub, "NVDA", "1h", count=50)
    assert data.bars == [] and "Yahoo unavailable" in data.note
