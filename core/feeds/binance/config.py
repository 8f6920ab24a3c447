"""Frozen settings of the Binance spot market data source."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.feeds.binance.parsing import KLINE_INTERVALS
from core.feeds.reconnect import BackoffConfig, BreakerConfig

if TYPE_CHECKING:
    from core.config import Settings

STREAM_KINDS = ("trade", "aggTrade", "bookTicker", "miniTicker")
"""Per-symbol streams we know how to ask for, besides ``kline_<interval>``."""

QUOTE_ASSETS = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USDP", "DAI", "BTC", "ETH", "BNB",
                "EUR", "TRY", "BRL", "JPY", "GBP", "AUD", "PLN", "RON", "ZAR", "UAH", "ARS",
                "MXN", "COP", "CZK", "IDR")
"""Quote assets a Binance spot symbol may end in (``BTCUSDT`` = BTC quoted in USDT)."""

MAX_STREAMS = 1024
"""Binance's limit of streams on one connection."""
MAX_PARAMS = 200
"""Most stream names we put in one SUBSCRIBE/UNSUBSCRIBE message."""


def _valid_stream(kind: str) -> bool:
    if kind.startswith("kline_"):
        return kind.removeprefix("kline_") in KLINE_INTERVALS
    return kind in STREAM_KINDS


@dataclass(frozen=True, slots=True)
class BinanceConfig:
    """Settings of :class:`~core.feeds.binance.client.BinanceSource`.

    Parameters
    ----------
    url
        Host root, e.g. ``wss://stream.binance.com:9443`` (a trailing ``/stream`` or ``/ws`` is
        dropped); the client connects to ``{url}/stream`` (combined streams) and subscribes with
        SUBSCRIBE messages.
    streams
        Streams wanted per symbol: ``trade``, ``aggTrade``, ``bookTicker``, ``miniTicker`` or
        ``kline_<interval>`` with an interval of
        :data:`~core.feeds.binance.parsing.KLINE_INTERVALS`.
    max_connection_age_s
        Reconnect on our own after this long; Binance cuts every connection at 24 h.
    micro
        Ask for microsecond timestamps (``timeUnit=MICROSECOND``) instead of milliseconds.
    backoff, breaker
        Reconnection delays and circuit breaker.
    quote_assets
        Suffixes that make a symbol a Binance pair (see :data:`QUOTE_ASSETS`).

    Raises
    ------
    ConfigError
        For an empty URL, an unknown stream kind or a non-positive connection age.
    """

    url: str = "wss://stream.binance.com:9443"
    streams: tuple[str, ...] = ("trade", "bookTicker", "kline_1m")
    max_connection_age_s: float = 23.5 * 3600
    micro: bool = False
    backoff: BackoffConfig = field(default_factory=BackoffConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    quote_assets: tuple[str, ...] = QUOTE_ASSETS

    def __post_init__(self) -> None:
        url = self.url.strip().rstrip("/") if isinstance(self.url, str) else ""
        url = url.removesuffix("/stream").removesuffix("/ws")  # we add the path ourselves
        if not url.startswith(("ws://", "wss://")):
            raise ConfigError(f"GS_BINANCE_URL={self.url!r} must be a ws:// or wss:// URL, e.g. "
                              "wss://stream.binance.com:9443.")
        object.__setattr__(self, "url", url)
        object.__setattr__(self, "streams", tuple(self.streams))
        bad = [s for s in self.streams if not _valid_stream(s)]
        if bad or not self.streams:
            kinds = ", ".join((*STREAM_KINDS, *(f"kline_{i}" for i in sorted(KLINE_INTERVALS))))
            raise ConfigError(f"Binance streams {', '.join(bad) or '(none)'} are not supported; "
                              f"use some of {kinds}.")
        age = self.max_connection_age_s
        if not isinstance(age, (int, float)) or not math.isfinite(age) or age <= 0:
            raise ConfigError(f"Binance max_connection_age_s must be a positive number of "
                              f"seconds, got {age!r}.")

    @property
    def max_symbols(self) -> int:
        """Symbols one connection can carry with these streams (1,024 streams a connection)."""
        return MAX_STREAMS // len(self.streams)

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> BinanceConfig:
        """Build the config from ``GS_BINANCE_URL`` and ``GS_RECONNECT_*``.

        Parameters
        ----------
        settings
            Loaded :class:`core.config.Settings`.
        **overrides
            Fields without an environment variable (``streams``, ``micro``, ...).

        Returns
        -------
        BinanceConfig
        """
        backoff = BackoffConfig.from_settings(settings)
        return cls(url=settings.binance_url, backoff=backoff, **overrides)  # type: ignore[arg-type]
