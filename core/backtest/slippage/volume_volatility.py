"""Square-root market impact: slippage grows with volatility and the order's share of volume."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.backtest.slippage.base import register
from core.errors import ValidationError

if TYPE_CHECKING:
    from core.backtest.data import Bars


def rolling_volatility(close: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation of close-to-close returns over ``window`` bars, known before each bar.

    Parameters
    ----------
    close : numpy.ndarray
        Close prices.
    window : int
        Number of returns in the rolling window (sample std, ``ddof=1``; from 2 returns on).

    Returns
    -------
    numpy.ndarray
        Value ``i`` uses returns up to bar ``i - 1``'s close (no look-ahead for a fill at bar
        ``i``'s open); ``0`` where fewer than 2 returns are known (the first 2 bars).
    """
    returns = pd.Series(close).pct_change()
    vol = returns.rolling(window, min_periods=2).std().shift(1)
    return np.nan_to_num(vol.to_numpy(dtype=np.float64), nan=0.0)


@register("volume_volatility")
@dataclass(frozen=True, slots=True)
class VolumeVolatility:
    """Impact ``k * volatility * sqrt(order units / bar volume)`` (``"volume_volatility:1:20"``).

    The square-root law: 4x the order's share of the bar's volume costs 2x the impact. The
    volatility is the rolling std of close-to-close returns over ``window`` bars, up to the bar
    before the fill (:func:`rolling_volatility`); the volume is that of the bar the fill happens
    in. Bars with zero volume get no impact term. Needs a Volume column.

    Parameters
    ----------
    k : float
        Impact coefficient in [0, 100]; empirical studies put it near 1 (the default).
    window : int
        Volatility window in bars, >= 2 (default 20).
    """

    k: float = 1.0
    window: int = 20

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int | float) \
                or not (math.isfinite(self.k) and 0.0 <= self.k <= 100.0):
            raise ValidationError(f"volume_volatility needs k in [0, 100] (got {self.k!r}).")
        if isinstance(self.window, bool) or not isinstance(self.window, int | float) \
                or self.window != int(self.window) or self.window < 2:
            raise ValidationError(
                f"volume_volatility needs a whole window >= 2 bars (got {self.window!r}).")

    def per_bar(self, bars: Bars) -> tuple[np.ndarray, np.ndarray]:
        """No fixed part; impact coefficient ``k * volatility`` per bar.

        Raises
        ------
        ValidationError
            If the bars have no Volume column.
        """
        if bars.volume is None:
            raise ValidationError(
                "volume_volatility slippage needs a Volume column in the data; use fixed_bps "
                "or half_spread without one.")
        vol = rolling_volatility(bars.close, int(self.window))
        return np.zeros(len(bars)), float(self.k) * vol
