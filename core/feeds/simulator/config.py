"""Settings of the simulated market."""

from __future__ import annotations

from dataclasses import dataclass

YEAR_SECONDS = 365.25 * 86_400.0
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

    @property
    def virtual_rate(self) -> float:
        """Trades per virtual second per symbol."""
        return self.tick_rate if self.tick_rate > 0 else NOMINAL_RATE
