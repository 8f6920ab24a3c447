"""Position sizing rules: how many units an entry buys or sells.

Sizing happens when a position opens, after any opposite position was closed, so the equity it
sees is cash. Three rules:

- :class:`AllIn`: as many units as the cash buys, like backtesting.py's ``buy()`` without a size
  (it sizes with the fraction ``1 - sys.float_info.epsilon``, and so do we).
- :class:`PercentOfEquity`: as many units as a fraction of equity buys.
- :class:`FixedUnits`: always the same number of units; the entry is skipped when cash does not
  cover it (backtesting.py cancels such orders).

Spread and commission are included when working out what the cash buys.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.errors import ValidationError

ALL_IN_FRACTION: float = 1.0 - sys.float_info.epsilon
"""The fraction of equity backtesting.py's ``Strategy.buy()``/``sell()`` use by default."""

MODE_FRACTION: int = 0
"""Kernel code: size as a fraction of equity."""
MODE_UNITS: int = 1
"""Kernel code: size as a fixed number of units."""


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


def resolve_sizing(spec: Sizing | str | float | None) -> Sizing:
    """Turn a user setting into a sizing rule, with backtesting.py's ``size`` convention.

    Parameters
    ----------
    spec : Sizing, str, float or None
        A rule; ``"all_in"`` or ``None`` for :class:`AllIn`; a number in (0, 1) for
        :class:`PercentOfEquity`; a number >= 1 for :class:`FixedUnits`.

    Returns
    -------
    Sizing
        The rule.

    Raises
    ------
    ValidationError
        If the setting is none of the above.
    """
    if spec is None or spec == "all_in":
        return AllIn()
    if isinstance(spec, Sizing):
        return spec
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        if 0.0 < spec < 1.0:
            return PercentOfEquity(float(spec))
        return FixedUnits(float(spec))
    raise ValidationError(
        "sizing must be 'all_in', a fraction of equity in (0, 1), a number of units >= 1, "
        f"or a sizing rule (got {spec!r}).")
