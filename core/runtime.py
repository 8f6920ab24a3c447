"""Assemble a process's live data plane from settings: source, bus, store, hub, control.

Three shapes, one hub class:

- ``app`` without ``GS_REDIS_URL``: the source runs in the app process, in-memory bus, store.
- ``app`` with ``GS_REDIS_URL``: a replica; its source is the bus fed by ``gsig feed``.
- ``feed``: ``gsig feed``; the source publishes to Redis for every replica and is persisted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from core.bus.base import Bus
from core.bus.factory import make_bus
from core.config import Settings
from core.errors import ConfigError, GSError
from core.feeds.aggregator import FeedHub
from core.feeds.base import Source
from core.feeds.bus_source import BusSource
from core.feeds.control import FeedControl
from core.feeds.failover import Router
from core.feeds.multi import MultiSource
from core.feeds.simulator import SimulatorConfig, SimulatorSource
from core.store import Store
from core.store.writer import TickWriter

log = logging.getLogger(__name__)


def _simulator(settings: Settings) -> Source:
    return SimulatorSource(SimulatorConfig(seed=settings.sim_seed,
                                           tick_rate=settings.sim_tick_rate,
                                           market_hours=settings.sim_market_hours))


def _replay(settings: Settings) -> Source:
    from core.feeds.replay import ReplayConfig, ReplaySource

    return ReplaySource(ReplayConfig(path=settings.replay_path, speed=settings.replay_speed))


def _polygon(settings: Settings) -> Source:
    from core.feeds.polygon import PolygonConfig, PolygonSource

    return PolygonSource(PolygonConfig.from_settings(settings))


def _alpaca(settings: Settings) -> Source:
    from core.feeds.alpaca import AlpacaConfig, AlpacaSource

    return AlpacaSource(AlpacaConfig.from_settings(settings))


def _binance(settings: Settings) -> Source:
    from core.feeds.binance import BinanceSource

    return BinanceSource.from_settings(settings)


def _yahoo(settings: Settings) -> Source:
    from core.feeds.yahoo import YahooConfig, YahooSource

    return YahooSource(YahooConfig.from_settings(settings))


SOURCE_FACTORIES: dict[str, Callable[[Settings], Source]] = {
    "simulator": _simulator, "replay": _replay, "polygon": _polygon, "alpaca": _alpaca,
    "yahoo": _yahoo, "binance": _binance,
}


def make_source(settings: Settings) -> Source:
    """The configured source; several (``GS_SOURCE=binance,yahoo``) become one MultiSource.

    Each symbol is then served by the running sources its asset class's route names
    (``GS_ROUTE_CRYPTO``, ``GS_ROUTE_EQUITY``), with failover and fusion between them.
    """
    sources = [SOURCE_FACTORIES[name](settings) for name in settings.sources]
    if len(sources) == 1:
        return sources[0]
    router = Router(settings.stale_after_s, settings.failback_after_s, settings.max_deviation)
    routes = {"crypto": settings.route_crypto, "equity": settings.route_equity,
              "index": settings.route_equity}
    return MultiSource(sources, routes, router)


@dataclass
class Runtime:
    """Everything one process runs for live data; ``start``/``stop`` are idempotent."""

    settings: Settings
    hub: FeedHub
    bus: Bus | None
    store: Store | None
    control: FeedControl | None = None
    problems: list[str] = field(default_factory=list)
    role: str = "app"

    @property
    def default_watchlist(self) -> tuple[str, ...]:
        """What a new session watches: the configured list, or a replay file's symbols."""
        if self.settings.sources == ("replay",) and not self.replica:
            return self.hub.source.symbols() or self.settings.watchlist
        return self.settings.watchlist

    @property
    def replica(self) -> bool:
        """True for an app that shows quotes from a separate feed process."""
        return isinstance(self.hub.source, BusSource)

    def start(self) -> Runtime:
        """Start the hub (and control); on failure release everything already opened."""
        try:
            self.hub.start()
            if self.control is not None:
                self.control.start()
        except BaseException:
            self.stop()
            raise
        return self

    def store_report(self) -> str:
        """One line on persistence for the CLI and the sidebar ("" when all is well)."""
        sink = self.hub.sink
        if sink is None or not hasattr(sink, "stats"):
            return ""
        stats = sink.stats()
        if stats.spilled:
            return (f"The database refused {stats.spilled:,} ticks; they are saved in "
                    f"{stats.spill_path}.")
        if stats.errors and stats.pending:
            return f"Storage is retrying ({stats.pending:,} ticks waiting): {stats.last_error}"
        return ""

    def stop(self) -> None:
        if self.control is not None:
            self.control.stop()
        self.hub.stop()
        if self.bus is not None:
            self.bus.close()
        if self.store is not None:
            self.store.close()


def _open_store(settings: Settings, problems: list[str]) -> Store | None:
    if not settings.store_enabled:
        return None
    try:
        return Store.open(settings.effective_database_url)
    except GSError as exc:
        problems.append(f"Storage is off: {exc}")
        log.warning("store unavailable: %s", exc)
        return None


def build_runtime(settings: Settings, role: str = "app") -> Runtime:
    """Build (not start) the runtime for ``role`` ``app`` or ``feed``.

    The configured watchlist is subscribed on the source, except on a replica, which asks the
    feed process for symbols as pages need them. Whatever was opened is closed if building fails.
    """
    if role == "feed" and not settings.redis_url:
        raise ConfigError("`gsig feed` publishes to Redis for app replicas: set GS_REDIS_URL "
                          "(or pass --redis-url), e.g. redis://127.0.0.1:6379/0.")
    problems: list[str] = []
    store = _open_store(settings, problems)
    bus: Bus | None = None
    try:
        bus = make_bus(settings)
        return _assemble(settings, role, store, bus, problems)
    except BaseException:
        if bus is not None:
            bus.close()
        if store is not None:
            store.close()
        raise


def _assemble(settings: Settings, role: str, store: Store | None, bus: Bus,
              problems: list[str]) -> Runtime:
    if role == "app" and settings.redis_url:
        hub = FeedHub(BusSource(bus), bus=None, sink=None)
        return Runtime(settings, hub, bus, store, None, problems, role)
    source = make_source(settings)
    sink = None
    if store is not None:
        sink = TickWriter(store, retention_s=settings.tick_retention_s or None,
                          spill_dir=settings.data_dir)
    hub = FeedHub(source, bus=bus, sink=sink)
    if isinstance(source, MultiSource):
        problems += [f"{name} is running but no GS_ROUTE_* names it, so it serves nothing; "
                     f"add it to GS_ROUTE_CRYPTO or GS_ROUTE_EQUITY (e.g. as a fallback)."
                     for name in source.unrouted()]
    # A replay plays every symbol in its file unless asked for some; the simulator needs a list.
    for symbol in settings.watchlist if settings.sources != ("replay",) else ():
        try:
            hub.add_symbol(symbol)
        except GSError as exc:
            problems.append(str(exc))
    control = FeedControl(hub, bus) if role == "feed" else None
    return Runtime(settings, hub, bus, store, control, problems, role)
