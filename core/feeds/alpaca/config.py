"""Frozen settings of the Alpaca market data v2 WebSocket source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.feeds.reconnect import BackoffConfig, BreakerConfig

if TYPE_CHECKING:
    from core.config import Settings

CHANNELS = ("trades", "quotes", "bars")
"""Subscription lists the source understands (minute bars only for ``bars``)."""


@dataclass(frozen=True, slots=True)
class AlpacaConfig:
    """Settings of :class:`~core.feeds.alpaca.AlpacaSource`.

    Parameters
    ----------
    key, secret
        Alpaca API key id and secret (``GS_ALPACA_KEY``, ``GS_ALPACA_SECRET``). Kept out of
        ``repr`` and of every message.
    url
        ``wss://stream.data.alpaca.markets/v2/iex`` (free), ``.../v2/sip`` (paid),
        ``.../v2/test`` (the ``FAKEPACA`` symbol around the clock) or a local fake in tests.
    channels
        Lists every symbol is subscribed to: some of ``trades``, ``quotes`` and ``bars``.
    backoff, breaker
        Reconnection delays and circuit breaker thresholds.
    symbols_per_message
        Long subscription lists are split into frames of at most this many symbols.
    handshake_timeout
        Seconds to wait for the greeting and for the authentication reply.

    Raises
    ------
    ConfigError
        For an unknown or empty channel list or a non-positive limit.
    """

    key: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    url: str = "wss://stream.data.alpaca.markets/v2/iex"
    channels: tuple[str, ...] = CHANNELS
    backoff: BackoffConfig = field(default_factory=BackoffConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)
    symbols_per_message: int = 200
    handshake_timeout: float = 10.0

    def __post_init__(self) -> None:
        channels = tuple(dict.fromkeys(str(c).strip().lower() for c in self.channels))
        unknown = [c for c in channels if c not in CHANNELS]
        if unknown or not channels:
            raise ConfigError(f"Alpaca channels {', '.join(unknown) or '(none)'} are not "
                              f"supported; use some of {', '.join(CHANNELS)}.")
        object.__setattr__(self, "channels", channels)
        if self.symbols_per_message < 1:
            raise ConfigError("Alpaca symbols_per_message must be at least 1.")
        if self.handshake_timeout <= 0:
            raise ConfigError("Alpaca handshake_timeout must be positive.")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> AlpacaConfig:
        """Build the config from ``GS_ALPACA_KEY``, ``GS_ALPACA_SECRET``, ``GS_ALPACA_URL`` and
        ``GS_RECONNECT_*``.

        Parameters
        ----------
        settings
            Loaded :class:`core.config.Settings`.
        **overrides
            Any other field of this class (``channels``, ``breaker``...).

        Returns
        -------
        AlpacaConfig
        """
        backoff = BackoffConfig.from_settings(settings)
        values: dict[str, object] = {"key": settings.secret("GS_ALPACA_KEY"),
                                     "secret": settings.secret("GS_ALPACA_SECRET"),
                                     "url": settings.alpaca_url, "backoff": backoff}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
