"""Which history sources exist for a process, and in which order to ask them for a symbol.

A source is *configured* when ``GS_SOURCE`` names it (real sources switch on by config; the
default, ``simulator``, keeps a fresh machine offline) and, for the keyed venues, its credentials
are set: ``GS_POLYGON_API_KEY`` for polygon, ``GS_ALPACA_KEY`` and ``GS_ALPACA_SECRET`` for
alpaca. The routes (``GS_ROUTE_CRYPTO``, ``GS_ROUTE_EQUITY``; by default crypto binance then
yahoo, equities polygon, alpaca, yahoo) only order the configured sources. The simulator is
always there.

:func:`sources_for` orders them for one symbol: the symbol's asset class route (crypto:
``GS_ROUTE_CRYPTO``; equities and indices: ``GS_ROUTE_EQUITY``), keeping the configured sources
that serve that asset class, then the simulator, always last, so history works offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.data.sources.base import HistorySource
from core.symbols import asset_class

if TYPE_CHECKING:
    from core.config import Settings

SERVES: dict[str, frozenset[str]] = {
    "binance": frozenset({"crypto"}),
    "polygon": frozenset({"equity"}),
    "alpaca": frozenset({"equity"}),
    "yahoo": frozenset({"equity", "index", "crypto"}),
}
"""Asset classes each network source serves (the simulator serves its catalog)."""
SIMULATOR = "simulator"


def configured(settings: Settings) -> list[str]:
    """Names of the configured network sources, in :data:`SERVES` order."""
    named = set(settings.sources)  # routes only order what GS_SOURCE switches on
    keys = {
        "polygon": bool(settings.secret("GS_POLYGON_API_KEY")),
        "alpaca": bool(settings.secret("GS_ALPACA_KEY") and settings.secret("GS_ALPACA_SECRET")),
    }
    return [name for name in SERVES if name in named and keys.get(name, True)]


def sources_for(symbol: str, settings: Settings) -> list[str]:
    """The ordered source names to ask for ``symbol``'s history; the simulator is last.

    Parameters
    ----------
    symbol
        A normalised symbol.
    settings
        Loaded settings (routes, sources, keys).

    Returns
    -------
    list of str
        E.g. ``["binance", "yahoo", "simulator"]`` for ``BTCUSDT`` and
        ``["polygon", "alpaca", "yahoo", "simulator"]`` for ``AAPL`` with both keys set.
    """
    kind = asset_class(symbol)
    route = settings.route_crypto if kind == "crypto" else settings.route_equity
    available = set(configured(settings))
    names = [name for name in dict.fromkeys(route)
             if name in available and kind in SERVES[name]]
    return [*names, SIMULATOR]


def build_sources(settings: Settings, *, yahoo_client: Any = None) -> dict[str, HistorySource]:
    """The configured history sources by name, built from ``settings``.

    Parameters
    ----------
    settings
        REST base URLs (``GS_BINANCE_REST_URL``, ``GS_POLYGON_REST_URL``,
        ``GS_ALPACA_DATA_URL``), keys, simulator seed and market hours.
    yahoo_client
        An existing :class:`~core.feeds.yahoo.client.YahooSource` to share (its rate limiting
        and breaker); a new one from the settings by default.

    Returns
    -------
    dict
        ``simulator`` always; ``binance``, ``yahoo``, ``polygon``, ``alpaca`` when configured.
        Building makes no network call.
    """
    from core.data.sources.simulator import SimulatorHistory

    out: dict[str, HistorySource] = {}
    for name in configured(settings):
        out[name] = _FACTORIES[name](settings, yahoo_client)
    out[SIMULATOR] = SimulatorHistory(seed=settings.sim_seed,
                                      market_hours=settings.sim_market_hours)
    return out


def _binance(settings: Settings, _: Any) -> HistorySource:
    from core.data.sources.binance import BinanceHistory

    return BinanceHistory(settings.binance_rest_url)


def _polygon(settings: Settings, _: Any) -> HistorySource:
    from core.data.sources.polygon import PolygonHistory

    return PolygonHistory(settings.secret("GS_POLYGON_API_KEY"), settings.polygon_rest_url)


def _alpaca(settings: Settings, _: Any) -> HistorySource:
    from core.data.sources.alpaca import AlpacaHistory

    return AlpacaHistory(settings.secret("GS_ALPACA_KEY"), settings.secret("GS_ALPACA_SECRET"),
                         settings.alpaca_data_url)


def _yahoo(settings: Settings, client: Any) -> HistorySource:
    from core.data.sources.yahoo import YahooHistory

    if client is None:
        from core.feeds.yahoo import YahooConfig, YahooSource

        client = YahooSource(YahooConfig.from_settings(settings))
    return YahooHistory(client)


_FACTORIES = {"binance": _binance, "polygon": _polygon, "alpaca": _alpaca, "yahoo": _yahoo}
