"""Several sources as one: routing each symbol to its ordered sources, with a Router on top.

The hub sees a single Source; events keep their own ``source`` name, and the hub asks
``MultiSource.router`` which of them drive the snapshot. The simulator (or a replay) serves a
symbol only where a route names it, or when it is the only kind of source running, so simulated
prices never mix silently into a real symbol.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from core.errors import GSError, UnknownSymbol
from core.feeds.base import Emit, HistorySource, Source, SourceHealth
from core.feeds.failover import Router
from core.models import Bar
from core.symbols import asset_class

_STATE_RANK = {"live": 0, "stale": 1, "reconnecting": 2, "connecting": 3, "finished": 4,
               "down": 5, "stopped": 6}


class MultiSource:
    """Fan symbols out to several sources and report them as one.

    Parameters
    ----------
    sources
        The running sources, by name (``binance``, ``yahoo``, ``simulator``...).
    routes
        Preferred order of source names per asset class (``crypto``, ``equity``, ``index``).
    router
        Decides the active source per symbol; the hub consults it.
    """

    name = "multi"

    def __init__(self, sources: Sequence[Source], routes: Mapping[str, Sequence[str]],
                 router: Router) -> None:
        self.children: dict[str, Source] = {s.name: s for s in sources}
        self.routes = {k: tuple(v) for k, v in routes.items()}
        self.router = router
        self._symbols: set[str] = set()
        router.set_simulated([n for n, s in self.children.items() if s.simulated])
        for name, src in self.children.items():
            poll = getattr(getattr(src, "config", None), "poll_s", None)
            if poll:  # a poller is silent between polls by design
                router.set_stale_after(name, 2.5 * float(poll))

    @property
    def simulated(self) -> bool:
        """True when a simulated source (simulator, replay) serves any symbol."""
        return any(src.simulated and src.symbols() for src in self.children.values())

    def route_for(self, symbol: str) -> tuple[str, ...]:
        """The running sources that may serve ``symbol``, most preferred first."""
        order = [n for n in self.routes.get(asset_class(symbol), ()) if n in self.children]
        if not order and all(src.simulated for src in self.children.values()):
            order = list(self.children)  # an offline set-up: the simulated sources serve all
        return tuple(order)

    def subscribe(self, symbols: Iterable[str]) -> None:
        for symbol in list(symbols):
            order = self.route_for(symbol)
            if symbol not in self._symbols:
                self.router.set_route(symbol, order)  # before any child can send its events
            taken, why = [], []
            for name in order:
                try:
                    self.children[name].subscribe([symbol])
                    taken.append(name)
                except GSError as exc:
                    why.append(str(exc))
            if not taken:
                if symbol not in self._symbols:
                    self.router.set_route(symbol, ())
                route = ", ".join(order) or "none of the running sources"
                detail = f" ({'; '.join(why)})" if why else ""
                raise UnknownSymbol(f"No running source serves {symbol}: its route is {route}"
                                    f"{detail}.")
            self.router.set_route(symbol, taken)
            self._symbols.add(symbol)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        wanted = list(symbols)
        for src in self.children.values():
            src.unsubscribe(wanted)
        self._symbols.difference_update(wanted)

    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self._symbols))

    def start(self, emit: Emit) -> None:
        started = []
        try:
            for src in self.children.values():
                src.start(emit)
                started.append(src)
        except BaseException:
            for src in started:
                src.stop()
            raise

    def stop(self) -> None:
        for src in self.children.values():
            src.stop()

    def child_health(self) -> dict[str, SourceHealth]:
        return {name: src.health() for name, src in self.children.items()}

    def unrouted(self) -> list[str]:
        """Running sources that no route names (they serve nothing: a likely mistake)."""
        named = {n for order in self.routes.values() for n in order}
        if all(src.simulated for src in self.children.values()):
            return []
        return sorted(n for n in self.children if n not in named)

    def health(self) -> SourceHealth:
        parts = self.child_health()
        serving = {n for n, src in self.children.items() if src.symbols()}
        ranked = [h for n, h in parts.items() if n in serving] or list(parts.values())
        best = min(ranked, key=lambda h: _STATE_RANK.get(h.state, 9))
        ages = [h.last_event_age_s for h in parts.values() if h.last_event_age_s is not None]
        message = "; ".join(h.message if h.message.startswith(h.name) else f"{h.name}: {h.message}"
                            for h in parts.values() if h.message)
        return SourceHealth(" + ".join(parts), best.state, self.simulated,
                            sum(h.events for h in parts.values()),
                            sum(h.errors for h in parts.values()),
                            min(ages) if ages else None, message)

    def simulated_names(self) -> set[str]:
        """Names of the simulated sources (simulator, replay)."""
        return {name for name, src in self.children.items() if src.simulated}

    def history(self, symbol: str, timeframe: str, end: datetime, count: int,
                end_price: float | None = None) -> list[Bar]:
        """History from the first source in the symbol's route that can draw it.

        A symbol with any real source in its route never gets simulated history: a chart of a
        real market must not be padded with invented bars.
        """
        order = self.router.route(symbol) or self.route_for(symbol)
        real = [n for n in order if not self.children[n].simulated]
        failure: GSError | None = None
        for name in real or order:
            src = self.children.get(name)
            if isinstance(src, HistorySource):
                try:
                    return src.history(symbol, timeframe, end, count, end_price)
                except GSError as exc:
                    failure = exc
        if failure is not None:
            raise failure  # the chart says why it has no history
        return []

    def reference_price(self, symbol: str) -> float | None:
        for name in self.router.route(symbol):
            ref = getattr(self.children.get(name), "reference_price", None)
            if ref is not None and (value := ref(symbol)) is not None:
                return value
        return None
