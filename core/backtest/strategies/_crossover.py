"""What every crossover strategy shares: the ``slow > fast`` rule and the signal mapping."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.backtest.signals import EXIT, LONG, SHORT, SIGNAL_DTYPE, crossed_above
from core.backtest.strategies.base import Strategy
from core.errors import ValidationError


def cross_signals(fast: np.ndarray, slow: np.ndarray, long_only: bool) -> np.ndarray:
    """``LONG`` where ``fast`` crosses above ``slow``; ``SHORT`` (``EXIT`` when long-only) below.

    Crossings are strict on both bars, as backtesting.py's ``crossover`` decides them.
    """
    out = np.zeros(len(fast), dtype=SIGNAL_DTYPE)
    out[crossed_above(fast, slow)] = LONG
    out[crossed_above(slow, fast)] = EXIT if long_only else SHORT
    return out


class CrossoverStrategy(Strategy):
    """Base of strategies with ``fast`` and ``slow`` parameters (not registered itself)."""

    @classmethod
    def check(cls, values: Mapping[str, Any]) -> None:
        """Require ``slow > fast``."""
        if values["slow"] <= values["fast"]:
            raise ValidationError(
                f"{cls.name}: slow must be greater than fast (got fast={values['fast']}, "
                f"slow={values['slow']}).")
