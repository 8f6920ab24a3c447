"""Half-spread slippage: a market order crosses half the bid/ask spread from the mid price."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.backtest.slippage.base import register
from core.errors import ValidationError

if TYPE_CHECKING:
    from core.backtest.data import Bars


@register("half_spread")
@dataclass(frozen=True, slots=True)
class HalfSpread:
    """Pay half a quoted bid/ask spread on every fill (``"half_spread:4"``: 2 bps a fill).

    The bars are mid prices; the spread is stated in basis points of price because bars carry
    no quotes. Unlike the config's ``spread`` (paid once, on entry, as backtesting.py does), this
    is paid on every fill, entries and exits: a round trip costs the full spread.

    Parameters
    ----------
    spread_bps : float
        The full bid/ask spread in basis points, in [0, 2000).
    """

    spread_bps: float

    def __post_init__(self) -> None:
        value = self.spread_bps
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not (math.isfinite(value) and 0.0 <= value < 2000.0):
            raise ValidationError(
                f"half_spread slippage needs the spread in bps in [0, 2000) (got {value!r}).")

    def per_bar(self, bars: Bars) -> tuple[np.ndarray, np.ndarray]:
        """``spread_bps / 2 / 10_000`` on every bar, no impact term."""
        n = len(bars)
        return np.full(n, float(self.spread_bps) / 20_000.0), np.zeros(n)
