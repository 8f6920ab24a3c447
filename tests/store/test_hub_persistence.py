"""The hub persists every tick it receives: what the source produced is what the store holds."""

from __future__ import annotations

import time
from pathlib import Path

from core.feeds.aggregator import FeedHub
from core.feeds.simulator import SimulatorConfig, SimulatorSource
from core.store import Store
from core.store.writer import TickWriter


class Recording(SimulatorSource):
    """The simulator, keeping a copy of every batch it emits."""

    def start(self, emit):  # noqa: ANN001, ANN201
        self.produced: list = []

        def tee(batch):  # noqa: ANN001, ANN202
            self.produced.extend(batch)
            emit(batch)
        super().start(tee)


def test_ticks_in_the_store_equal_ticks_produced_after_stop(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'gs.db'}")
    source = Recording(SimulatorConfig(seed=9, tick_rate=0), batch=500)
    hub = FeedHub(source, sink=TickWriter(store))
    for symbol in ("AAPL", "BTCUSDT", "^GSPC"):
        hub.add_symbol(symbol)
    hub.start()
    time.sleep(0.7)
    hub.stop()  # no flush call: stop alone must drain the queue and the writer
    produced = source.produced
    assert len(produced) > 5_000
    assert store.ticks.count() == len(produced) == hub.stats().accepted
    stored = store.ticks.fetch()
    key = lambda t: (t.ts, t.symbol, t.price, t.size, t.bid, t.ask)  # noqa: E731
    assert sorted(map(key, stored), key=repr) == sorted(map(key, produced), key=repr)
    store.close()
