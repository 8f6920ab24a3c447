"""Frozen settings of the Polygon.io (now Massive) stocks WebSocket source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.feeds.reconnect import BackoffConfig, BreakerConfig

if TYPE_CHECKING:
    from core.config import Settings

CHANNELS = ("T", "Q", "A", "AM")
"""Stock channels the source understands: trades, quotes, second and minute aggregates."""


@dataclass(frozen=True, slots=True)
class PolygonConfig:
    """Settings of :class:`~core.feeds.polygon.PolygonSource`.

    Parameters
    ----------
    api_key
        The Polygon/Massive API key (``GS_POLYGON_API_KEY``). Kept out of ``repr`` and of every
        message; an empty key makes the source report that the key is missing.
    url
        Stocks endpoint, ``wss://socket.massive.com/stocks`` (``.../delayed`` host for delayed
        data; a local fake in tests).
    channels
        Channels subscribed for every symbol, a subset of ``T`` (trades), ``Q`` (quotes), ``A``
        (second bars) and ``AM`` (minute bars).
    backoff, breaker
        Reconnection delays and circuit breaker thresholds.
    symbols_per_message
        Long subscription lists are split into frames of at most this many symbols.
    handshake_timeout
        Seconds to wait for each greeting and authentication reply.
    min_session_s
        A disconnect notice (``force_disconnect``, ``max_connections``) that arrives within this
        many seconds of connecting counts as a failure with the normal backoff, so a venue that
        keeps cutting us off is not hammered with immediate reconnects.

    Raises
    ------
    ConfigError
        For an unknown or empty channel list or a non-positive limit.
    """

    api_key: str = field(default="", repr=False)
    url: str = "wss://socket.massive.com/stocks"
    channels: tuple[str, ...] = ("T", "Q", "AM")
    backoff: BackoffConfig = field(default_factory=BackoffConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    symbols_per_message: int = 200
    handshake_timeout: float = 10.0
    min_session_s: float = 10.0

    def __post_init__(self) -> None:
        channels = tuple(dict.fromkeys(str(c).strip().upper() for c in self.channels))
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown or not channels:
            raise ConfigError(f"Polygon/Massive channels {', '.join(unknown) or '(none)'} are not "
                              f"supported; use some of {', '.join(CHANNELS)}.")
        object.__setattr__(self, "channels", channels)
        if self.symbols_per_message < 1:
            raise ConfigError("Polygon/Massive symbols_per_message must be at least 1.")
        if self.handshake_timeout <= 0 or self.min_session_s < 0:
            raise ConfigError("Polygon/Massive timeouts must be positive.")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> PolygonConfig:
        """Build the config from ``GS_POLYGON_API_KEY``, ``GS_POLYGON_URL`` and ``GS_RECONNECT_*``.

        Parameters
        ----------
        settings
            Loaded :class:`core.config.Settings`.
        **overrides
            Any other field of this class (``channels``, ``breaker``...).

        Returns
        -------
        PolygonConfig
        """
        backoff = BackoffConfig.from_settings(settings)
        values: dict[str, object] = {"api_key": settings.secret("GS_POLYGON_API_KEY"),
                                     "url": settings.polygon_url, "backoff": backoff}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
