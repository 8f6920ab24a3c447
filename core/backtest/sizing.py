"""Position sizing rules: how many units an entry buys or sells.

Sizing happens when a position opens, after any opposite position was closed, so the equity it
sees is cash. Five rules:

- :class:`AllIn`: as many units as the cash buys, like backtesting.py's ``buy()`` without a size
  (it sizes with the fraction ``1 - sys.float_info.epsilon``, and so do we).
- :class:`PercentOfEquity`: as many units as a fraction of equity buys.
- :class:`FixedUnits`: always the same number of units; the entry is skipped when cash does not
  cover it (backtesting.py cancels such orders).
- :class:`AtrRisk`: volatility targeting, ``risk_fraction * equity / (atr_multiple * ATR)``
  units, so a move of ``atr_multiple`` ATRs against the position costs ``risk_fraction`` of
  equity.
- :class:`CappedKelly`: the Kelly fraction of a given win rate and payoff ratio, capped, used as a
  fraction of equity.

Risk limits (:mod:`core.backtest.risk`) and the liquidity cap may cut any rule's size.

Spread and commission are included when working out what the cash buys.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from core.errors import ValidationError

if TYPE_CHECKING:
    from core.backtest.data import Bars

ALL_IN_FRACTION: float = 1.0 - sys.float_info.epsilon
"""The fraction of equity backtesting.py's ``Strategy.buy()``/``sell()`` use by default."""

MODE_FRACTION: int = 0
"""Kernel code: size as a fraction of equity."""
MODE_UNITS: int = 1
"""Kernel code: size as a fixed number of units."""
MODE_ATR: int = 2
"""Kernel code: size from a risk fraction of equity and the ATR (:class:`AtrRisk`)."""


@runtime_checkable
class Sizing(Protocol):
    """A sizing rule, stated as a kernel mode and a value."""

    @property
    def mode(self) -> int:
        """:data:`MODE_FRACTION` or :data:`MODE_UNITS`."""
        ...

    @property
    def value(self) -> float:
        """The fraction of equity, or the number of units."""
        ...


@dataclass(frozen=True, slots=True)
class AllIn:
    """Use all the equity (whole units unless the backtest is fractional)."""

    @property
    def mode(self) -> int:
        """Always :data:`MODE_FRACTION`."""
        return MODE_FRACTION

    @property
    def value(self) -> float:
        """:data:`ALL_IN_FRACTION`."""
        return ALL_IN_FRACTION


@dataclass(frozen=True, slots=True)
class PercentOfEquity:
    """Use a fraction of equity for each entry.

    Parameters
    ----------
    fraction : float
        In (0, 1]; ``0.25`` puts a quarter of equity into each position.
    """

    fraction: float

    def __post_init__(self) -> None:
        if not 0.0 < float(self.fraction) <= 1.0:
            raise ValidationError(
                f"percent-of-equity sizing needs a fraction in (0, 1], e.g. 0.5 for half "
                f"(got {self.fraction!r}).")

    @property
    def mode(self) -> int:
        """Always :data:`MODE_FRACTION`."""
        return MODE_FRACTION

    @property
    def value(self) -> float:
        """The fraction."""
        return float(self.fraction)


@dataclass(frozen=True, slots=True)
class FixedUnits:
    """Trade the same number of units on every entry.

    Parameters
    ----------
    units : float
        Positive; must be whole unless the backtest is fractional.
    """

    units: float

    def __post_init__(self) -> None:
        if not 0.0 < float(self.units) < float("inf"):
            raise ValidationError(f"fixed-units sizing needs a positive size (got {self.units!r}).")

    @property
    def mode(self) -> int:
        """Always :data:`MODE_UNITS`."""
        return MODE_UNITS

    @property
    def value(self) -> float:
        """The number of units."""
        return float(self.units)


def _positive(value: object, what: str, upper: float = math.inf, closed: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValidationError(f"{what} must be a number (got {value!r}).")
    value = float(value)
    inside = value <= upper if closed else value < upper
    if not (value > 0.0 and inside and math.isfinite(value)):
        bracket = "]" if closed else ")"
        raise ValidationError(f"{what} must be in (0, {upper:g}{bracket} (got {value!r}).")
    return value


def average_true_range(bars: Bars, window: int) -> np.ndarray:
    """Simple moving average of the true range over ``window`` bars, known before each bar.

    Parameters
    ----------
    bars : Bars
        The bars.
    window : int
        Number of true ranges averaged.

    Returns
    -------
    numpy.ndarray
        Value ``i`` averages the true ranges of bars ``i - window .. i - 1`` (no look-ahead for a
        fill at bar ``i``'s open); NaN for the first ``window`` bars (no entry is sized then).
        The true range is ``max(high - low, |high - prev close|, |low - prev close|)``; bar 0's
        is ``high - low``.
    """
    prev = np.r_[np.nan, bars.close[:-1]]
    tr = np.fmax(bars.high - bars.low,
                 np.fmax(np.abs(bars.high - prev), np.abs(bars.low - prev)))
    atr = pd.Series(tr).rolling(window, min_periods=window).mean().shift(1)
    return atr.to_numpy(dtype=np.float64)


@dataclass(frozen=True, slots=True)
class AtrRisk:
    """Volatility targeting: risk a fraction of equity per trade over an ATR-based stop distance.

    ``units = risk_fraction * equity / (atr_multiple * ATR)`` (floored to whole units unless
    fractional), cut to what ``equity * max_leverage`` buys (``equity`` without a leverage
    limit). The ATR is :func:`average_true_range` over ``window`` bars; no entry is made while it
    is unknown (the first ``window`` bars).

    Parameters
    ----------
    risk_fraction : float
        In (0, 1]; ``0.01`` risks 1 % of equity per trade.
    atr_multiple : float
        Stop distance in ATRs, > 0 (default 2).
    window : int
        ATR window in bars, >= 1 (default 14).
    """

    risk_fraction: float
    atr_multiple: float = 2.0
    window: int = 14

    def __post_init__(self) -> None:
        _positive(self.risk_fraction, "ATR sizing risk_fraction", 1.0, closed=True)
        _positive(self.atr_multiple, "ATR sizing atr_multiple")
        if isinstance(self.window, bool) or not isinstance(self.window, int | float) \
                or self.window != int(self.window) or self.window < 1:
            raise ValidationError(f"ATR sizing needs a whole window >= 1 (got {self.window!r}).")

    @property
    def mode(self) -> int:
        """Always :data:`MODE_ATR`."""
        return MODE_ATR

    @property
    def value(self) -> float:
        """The risk fraction."""
        return float(self.risk_fraction)

    def atr(self, bars: Bars) -> np.ndarray:
        """The per-bar ATR the engine sizes with (see :func:`average_true_range`)."""
        return average_true_range(bars, int(self.window))


def kelly_fraction(win_rate: float, payoff: float) -> float:
    """Kelly's optimal fraction ``W - (1 - W) / R``.

    Parameters
    ----------
    win_rate : float
        Probability of a winning trade ``W``.
    payoff : float
        Average win over average loss ``R``.

    Returns
    -------
    float
        The fraction (negative when there is no edge).
    """
    return win_rate - (1.0 - win_rate) / payoff


@dataclass(frozen=True, slots=True)
class CappedKelly:
    """Size each entry at the Kelly fraction of equity, capped at ``cap``.

    Parameters
    ----------
    win_rate : float
        Probability of a winning trade, in (0, 1).
    payoff : float
        Average win over average loss, > 0.
    cap : float
        Largest fraction of equity used, in (0, 1] (default 0.25: full Kelly is rarely wise).

    Raises
    ------
    ValidationError
        On out-of-range inputs, or when the Kelly fraction is not positive (no edge: the rule
        would never trade).
    """

    win_rate: float
    payoff: float
    cap: float = 0.25

    def __post_init__(self) -> None:
        win = _positive(self.win_rate, "Kelly win_rate", 1.0)
        payoff = _positive(self.payoff, "Kelly payoff ratio")
        _positive(self.cap, "Kelly cap", 1.0, closed=True)
        if kelly_fraction(win, payoff) <= 0.0:
            raise ValidationError(
                f"Kelly sizing with win_rate={win:g} and payoff={payoff:g} has no edge (fraction "
                f"{kelly_fraction(win, payoff):.4g} <= 0): it would never trade.")

    @property
    def mode(self) -> int:
        """Always :data:`MODE_FRACTION`."""
        return MODE_FRACTION

    @property
    def value(self) -> float:
        """``min(kelly_fraction(win_rate, payoff), cap)``."""
        return min(kelly_fraction(float(self.win_rate), float(self.payoff)), float(self.cap))


_NAMED_RULES = {"atr_risk": AtrRisk, "kelly": CappedKelly, "fixed_units": FixedUnits,
                "percent_of_equity": PercentOfEquity}


def _from_string(spec: str) -> Sizing:
    name, _, rest = spec.strip().partition(":")
    if name == "all_in" and not rest:
        return AllIn()
    if name not in _NAMED_RULES:
        raise ValidationError(
            f"sizing must be all_in, {', '.join(_NAMED_RULES)} (e.g. 'atr_risk:0.01'); unknown "
            f"sizing rule {name!r}.")
    try:
        args = [float(part) for part in rest.split(":") if part]
    except ValueError:
        raise ValidationError(f"sizing {spec!r} takes numbers after the colon.") from None
    try:
        return _NAMED_RULES[name](*args)
    except TypeError:
        raise ValidationError(f"wrong number of arguments for sizing {spec!r}.") from None


def resolve_sizing(spec: Sizing | str | float | None) -> Sizing:
    """Turn a user setting into a sizing rule, with backtesting.py's ``size`` convention.

    Parameters
    ----------
    spec : Sizing, str, float or None
        A rule; ``"all_in"`` or ``None`` for :class:`AllIn`; a number in (0, 1) for
        :class:`PercentOfEquity`; a number >= 1 for :class:`FixedUnits`; or a string
        ``"atr_risk:risk[:multiple[:window]]"`` (e.g. ``"atr_risk:0.01"``),
        ``"kelly:win_rate:payoff[:cap]"`` (e.g. ``"kelly:0.55:1.5:0.2"``),
        ``"fixed_units:n"`` or ``"percent_of_equity:f"``.

    Returns
    -------
    Sizing
        The rule.

    Raises
    ------
    ValidationError
        If the setting is none of the above.
    """
    if spec is None:
        return AllIn()
    if isinstance(spec, str):
        return _from_string(spec)
    if isinstance(spec, Sizing):
        return spec
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        if 0.0 < spec < 1.0:
            return PercentOfEquity(float(spec))
        return FixedUnits(float(spec))
    raise ValidationError(
        "sizing must be 'all_in', a fraction of equity in (0, 1), a number of units >= 1, "
        f"a string such as 'atr_risk:0.01', or a sizing rule (got {spec!r}).")
