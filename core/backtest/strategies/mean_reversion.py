"""Z-score mean reversion of the close around its rolling mean."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from core.backtest.data import Bars
from core.backtest.strategies._indicators import zone_signals, zscore
from core.backtest.strategies.base import Param, Strategy
from core.errors import ValidationError


def check_zones(name: str, values: Mapping[str, Any]) -> None:
    """Require ``entry_z > exit_z`` (shared with ``pairs``)."""
    if values["entry_z"] <= values["exit_z"]:
        raise ValidationError(
            f"{name}: entry_z must be greater than exit_z (got entry_z={values['entry_z']:g}, "
            f"exit_z={values['exit_z']:g}).")


class MeanReversion(Strategy):
    """Fade stretches of the close away from its rolling mean, measured as a z-score.

    ``z = (close - mean) / std`` over the last ``lookback`` bars (population std, current bar
    included). ``LONG`` on the bar ``z`` enters ``z < -entry_z``; ``SHORT`` (``EXIT`` with
    ``long_only``) on the bar it enters ``z > entry_z``; ``EXIT`` on the bar it enters
    ``|z| < exit_z``.
    """

    name = "mean_reversion"
    title = "Z-score mean reversion"
    params = (
        Param("lookback", int, 20, min=2, max=10_000, help="Bars in the rolling mean and std."),
        Param("entry_z", float, 2.0, min=0.0, max=100.0,
              help="Enter when the z-score is beyond this many standard deviations."),
        Param("exit_z", float, 0.5, min=0.0, max=100.0,
              help="Exit when the z-score is back within this many standard deviations."),
        Param("long_only", bool, False, help="Never short; only exit above +entry_z."),
    )

    @classmethod
    def check(cls, values: Mapping[str, Any]) -> None:
        """Require ``entry_z > exit_z``."""
        check_zones(cls.name, values)

    def signals(self, bars: Bars) -> np.ndarray:
        """Zone-entry events of the close's rolling z-score."""
        z = zscore(bars.close, self.values["lookback"])
        return zone_signals(z, self.values["entry_z"], self.values["exit_z"],
                            self.values["long_only"])
