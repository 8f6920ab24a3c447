"""Fixed slippage: every fill moves a constant number of basis points against the trader."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.backtest.slippage.base import register
from core.errors import ValidationError

if TYPE_CHECKING:
    from core.backtest.data import Bars


@register("fixed_bps")
@dataclass(frozen=True, slots=True)
class FixedBps:
    """A constant slippage in basis points (``"fixed_bps:5"``: buys at +0.05 %, sells at -0.05 %).

    Parameters
    ----------
    bps : float
        Basis points per fill, in [0, 1000).
    """

    bps: float

    def __post_init__(self) -> None:
        value = self.bps
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not (math.isfinite(value) and 0.0 <= value < 1000.0):
            raise ValidationError(f"fixed_bps slippage needs bps in [0, 1000) (got {value!r}).")

    def per_bar(self, bars: Bars) -> tuple[np.ndarray, np.ndarray]:
        """``bps / 10_000`` on every bar, no impact term."""
        n = len(bars)
        return np.full(n, float(self.bps) / 10_000.0), np.zeros(n)
