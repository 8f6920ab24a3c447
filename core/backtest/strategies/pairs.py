"""Pairs trading on the z-score of a rolling-OLS hedge spread against a second series.

How the second series is passed
-------------------------------
The engine trades one instrument, the bars given to :func:`core.backtest.run_backtest` (leg A).
The other leg's closes (leg B) come in as the ``other`` keyword, next to the numeric parameters::

    run_backtest(data_a, "pairs", {"other": closes_b, "lookback": 60, "entry_z": 2.0})

``other`` is a pandas Series of closes on a DatetimeIndex (or a DataFrame with a ``Close`` column,
any case), aligned onto A's bar times by carrying B's latest value at or before each bar forward
(never a later one); or a NumPy array with one value per bar of A. ``other`` is not a
:class:`~core.backtest.strategies.base.Param` (forms cannot enter a series), so ``validate()``
ignores it. Only leg A is traded: the hedge leg is not executed (the engine is single-asset), so
results are those of A's leg of the pair.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from core.backtest.data import Bars
from core.backtest.strategies._indicators import zone_signals, zscore
from core.backtest.strategies.base import Param, Strategy
from core.backtest.strategies.mean_reversion import check_zones
from core.errors import ValidationError


def rolling_beta(a: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rolling OLS of ``a`` on ``b`` over ``n`` bars (current bar included).

    Returns
    -------
    (alpha, beta) : tuple of numpy.ndarray
        ``beta = cov(a, b) / var(b)`` and ``alpha = mean(a) - beta * mean(b)``; NaN in warm-up
        and where ``b`` is constant over the window.
    """
    sa, sb = pd.Series(a), pd.Series(b)
    cov = sa.rolling(n).cov(sb, ddof=0).to_numpy()
    var = sb.rolling(n).var(ddof=0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where(var > 0, cov / var, np.nan)
    alpha = sa.rolling(n).mean().to_numpy() - beta * sb.rolling(n).mean().to_numpy()
    return alpha, beta


def _other_closes(other: Any, bars: Bars) -> np.ndarray:
    if isinstance(other, pd.DataFrame):
        cols = [c for c in other.columns if str(c).strip().lower() == "close"]
        if not cols:
            raise ValidationError("pairs: other must have a Close column.")
        other = other[cols[0]]
    if isinstance(other, pd.Series):
        if not isinstance(other.index, pd.DatetimeIndex):
            raise ValidationError("pairs: other must be indexed by bar times (DatetimeIndex).")
        series = other.sort_index()
        series = series[~series.index.duplicated(keep="last")]
        values = series.reindex(bars.index, method="ffill").to_numpy(dtype=np.float64)
    else:
        values = np.asarray(other, dtype=np.float64)
        if values.shape != (len(bars),):
            raise ValidationError(
                f"pairs: other must have one value per bar ({len(bars)}), got shape "
                f"{values.shape}.")
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


class Pairs(Strategy):
    """Trade leg A of a pair when its hedge spread to leg B is stretched.

    At each bar a rolling OLS over ``lookback`` bars gives ``A ~ alpha + beta * B``; the spread
    is ``A - alpha - beta * B`` and ``z`` its z-score over the last ``z_lookback`` bars (all from
    bars ``<= t``). ``LONG`` A on the bar ``z`` enters ``z < -entry_z`` (A cheap against B);
    ``SHORT`` A (``EXIT`` with ``long_only``) on the bar it enters ``z > entry_z``; ``EXIT`` on
    the bar it enters ``|z| < exit_z``. Leg B arrives as ``other`` (see the module docstring);
    without it :meth:`signals` raises :class:`~core.errors.ValidationError`.

    Parameters
    ----------
    other : pandas.Series, pandas.DataFrame or numpy.ndarray, optional
        Leg B's closes.
    **values
        The numeric parameters.
    """

    name = "pairs"
    title = "Pairs spread reversion"
    params = (
        Param("lookback", int, 60, min=3, max=10_000, help="Bars in the rolling hedge-ratio OLS."),
        Param("z_lookback", int, 20, min=2, max=10_000, help="Bars in the spread's z-score."),
        Param("entry_z", float, 2.0, min=0.0, max=100.0,
              help="Enter when the spread's z-score is beyond this."),
        Param("exit_z", float, 0.5, min=0.0, max=100.0,
              help="Exit when the spread's z-score is back within this."),
        Param("long_only", bool, False, help="Never short leg A."),
    )

    def __init__(self, other: Any = None, **values: Any) -> None:
        super().__init__(**values)
        self.other = other

    @classmethod
    def validate(cls, values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """As :meth:`Strategy.validate`, ignoring the ``other`` series (not a parameter)."""
        return super().validate({k: v for k, v in (values or {}).items() if k != "other"})

    @classmethod
    def check(cls, values: Mapping[str, Any]) -> None:
        """Require ``entry_z > exit_z``."""
        check_zones(cls.name, values)

    def spread_z(self, bars: Bars) -> np.ndarray:
        """The z-score of the hedge spread at each bar (NaN in warm-up or where B is missing)."""
        if self.other is None:
            raise ValidationError(
                "pairs: other (the second leg's closes) is required; pass it in params, e.g. "
                "{'other': closes_b}.")
        a, b = bars.close, _other_closes(self.other, bars)
        alpha, beta = rolling_beta(a, b, self.values["lookback"])
        return zscore(a - alpha - beta * b, self.values["z_lookback"])

    def signals(self, bars: Bars) -> np.ndarray:
        """Zone-entry events of the spread's z-score."""
        return zone_signals(self.spread_z(bars), self.values["entry_z"], self.values["exit_z"],
                            self.values["long_only"])
