"""Settings of the Yahoo Finance source."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.errors import ConfigError
from core.feeds.reconnect import BackoffConfig, BreakerConfig
from core.feeds.yahoo.parsing import PERIOD_RE

if TYPE_CHECKING:
    from core.config import Settings

MIN_POLL_S = 0.01
"""Shortest poll interval accepted (tests poll fast; Yahoo itself wants seconds, not less)."""


@dataclass(frozen=True, slots=True)
class YahooConfig:
    """Frozen settings of :class:`~core.feeds.yahoo.YahooSource`.

    Parameters
    ----------
    poll_s
        Seconds between the starts of two poll cycles (``GS_YAHOO_POLL_S``).
    batch
        Most symbols asked for in one poll cycle. Each symbol costs one chart request (see the
        client's notes), so this caps the request rate at ``batch / poll_s``; with more symbols
        subscribed, successive cycles take the next ``batch`` in turn.
    history_period_default
        Period of :meth:`~core.feeds.yahoo.YahooSource.history_frame` when neither a period nor
        start/end is given (``1d, 5d, 1mo, 3mo, 6mo, 1y, 2y, 5y, 10y, ytd, max``, or ``7d``-like).
    prepost
        Include pre- and post-market trades in polled quotes.
    timeout_s
        Timeout yfinance applies to each price request.
    backoff
        Delays after a rate limit (HTTP 429) or a failed cycle (``GS_RECONNECT_*``).
    breaker
        Failed cycles in a row that pause polling, and for how long.

    Raises
    ------
    ConfigError
        When a value is out of range.
    """

    poll_s: float = 5.0
    batch: int = 50
    history_period_default: str = "1mo"
    prepost: bool = False
    timeout_s: float = 10.0
    backoff: BackoffConfig = field(default_factory=BackoffConfig)
    breaker: BreakerConfig = field(default_factory=BreakerConfig)

    def __post_init__(self) -> None:
        for name in ("poll_s", "timeout_s"):
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(value, int | float)
                    or not math.isfinite(value) or value < MIN_POLL_S):
                raise ConfigError(f"Yahoo {name} must be a number of seconds >= {MIN_POLL_S}, "
                                  f"got {value!r}.")
        if isinstance(self.batch, bool) or not isinstance(self.batch, int) or self.batch < 1:
            raise ConfigError(f"Yahoo batch must be a whole number >= 1, got {self.batch!r}.")
        period = self.history_period_default
        if not isinstance(period, str) or not PERIOD_RE.match(period):
            raise ConfigError(f"Yahoo history_period_default {period!r} is not a period; use "
                              "1d, 5d, 1mo, 3mo, 6mo, 1y, 2y, 5y, 10y, ytd or max.")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: object) -> YahooConfig:
        """Build the config from ``GS_YAHOO_POLL_S`` and ``GS_RECONNECT_*``.

        Parameters
        ----------
        settings
            Loaded :class:`core.config.Settings`.
        **overrides
            Fields without an environment variable (``batch``, ``prepost``...).

        Returns
        -------
        YahooConfig
        """
        backoff = BackoffConfig.from_settings(settings)
        values: dict[str, object] = {"poll_s": settings.yahoo_poll_s, "backoff": backoff}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
