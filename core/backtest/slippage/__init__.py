"""Slippage models, one per module, behind :class:`SlippageModel` (see :mod:`.base`).

Settings name them ``"fixed_bps:5"``, ``"half_spread:4"`` or ``"volume_volatility:1.0:20"``
(:func:`resolve_slippage`).
"""

from __future__ import annotations

from core.backtest.slippage.base import (
    SLIPPAGE_MODELS,
    SlippageModel,
    register,
    resolve_slippage,
)
from core.backtest.slippage.fixed_bps import FixedBps
from core.backtest.slippage.half_spread import HalfSpread
from core.backtest.slippage.volume_volatility import VolumeVolatility, rolling_volatility

__all__ = [
    "SLIPPAGE_MODELS", "FixedBps", "HalfSpread", "SlippageModel", "VolumeVolatility", "register",
    "resolve_slippage", "rolling_volatility",
]
