"""Settings of the simulated market."""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import ConfigError

MAX_TICK_RATE = 100_000.0
YEAR_SECONDS = 365.25 * 86_400.0
TRADING_YEAR_SECONDS = 252 * 6.5 * 3_600.0  # US equity sessions in a year


def variance_years(seconds: float, sessions: bool) -> float:
    """Years of variance that ``seconds`` of trading carry.

    With sessions (equities under market hours) volatility is per trading year (252 days of
    6.5 h), so a simulated day and a daily history bar both carry 1/252 of the annual variance;
    around the clock it is per calendar year.
    """
    return seconds / (TRADING_YEAR_SECONDS if sessions else YEAR_SECONDS)
NOMINAL_RATE = 3.0  # virtual trades per second per symbol when running "as fast as possible"


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Parameters of the simulated market.

    Prices follow geometric Brownian motion whose volatility is itself random (an Ornstein-Uhlenbeck
    process on log-volatility, normalised so the mean variance equals the symbol's configured
    volatility squared), with occasional Poisson jumps. Trades arrive as a Poisson process per
    symbol with bursts of faster, larger trading. Volatility is per calendar year.

    Parameters
    ----------
    seed
        One seed for the whole market; each symbol draws from its own stream derived from it, so a
        symbol's path does not depend on which other symbols are watched.
    tick_rate
        Mean trades per second per symbol in live mode; ``0`` means as fast as possible.
    market_hours
        When true, equities, ETFs and indices trade only 09:30-16:00 New York time on weekdays.
    """

    seed: int = 42
    tick_rate: float = 3.0
    market_hours: bool = False
    drift: float = 0.0
    vol_of_vol: float = 1.0
    vol_reversion: float = 25.0
    jump_intensity: float = 6.0
    jump_std: float = 0.015
    burst_probability: float = 0.03
    burst_rate: float = 8.0
    burst_size: float = 3.0
    block: int = 256

    def __post_init__(self) -> None:
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"The simulator seed must be a whole number >= 0, got {self.seed!r}.")
        rate = self.tick_rate
        number = isinstance(rate, int | float) and math.isfinite(rate)
        if not number or not 0 <= rate <= MAX_TICK_RATE:
            raise ConfigError(
                f"The simulator tick rate must be between 0 (as fast as possible) and "
                f"{MAX_TICK_RATE:,.0f} trades a second per symbol, got {rate!r}.")
        for name in ("vol_of_vol", "vol_reversion", "jump_intensity", "jump_std",
                     "burst_probability", "burst_rate", "burst_size"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"Simulator {name} must be a finite number >= 0, got {value!r}.")
        if self.vol_reversion == 0 or self.block < 1:
            raise ConfigError("Simulator vol_reversion must be > 0 and block >= 1.")

    @property
    def virtual_rate(self) -> float:
        """Trades per virtual second per symbol."""
        return self.tick_rate if self.tick_rate > 0 else NOMINAL_RATE
