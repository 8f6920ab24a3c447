"""Risk limits the engine enforces on every entry, and the drawdown halt.

- ``max_position``: the largest position, as a number of units (``100``) or as a share of
  equity by notional (``"25%"``: ``|units| * fill price <= 0.25 * equity``). Entries (and
  carried remainders) are cut to it.
- ``max_leverage``: the largest position notional over equity (``1.5``). Entries are cut to
  it; it is also the budget of ATR sizing, and with it a fixed-unit entry larger than the
  budget is cut to it instead of skipped. Without it the engine never lends: positions are paid
  from cash, as before.
- ``max_drawdown_halt``: a fraction in (0, 1). Once equity at a bar's close is that fraction
  or more below its running peak (peak of closes, starting from the cash), trading halts: the
  open position is **closed** at that bar's close (exit reason ``drawdown_halt``, with
  slippage and commission), a carried remainder is cancelled, and no new entry is made for the
  rest of the run. Closing rather than keeping the position is the choice: a halt is meant to
  stop losses, and a kept position would carry on losing without a signal to exit it.

Limits are checked when an order fills, against the equity at that moment; a position is never
reduced later because prices moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from core.errors import ValidationError


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{what} must be a number (got {value!r}).")
    value = float(value)
    if not math.isfinite(value):
        raise ValidationError(f"{what} must be finite (got {value!r}).")
    return value


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Validated risk limits; ``0`` means off for each field.

    Parameters
    ----------
    max_leverage : float
        Largest notional / equity, > 0.
    max_position_units : float
        Largest position in units, > 0.
    max_position_fraction : float
        Largest position notional as a fraction of equity, in (0, 10].
    max_drawdown_halt : float
        Drawdown from peak equity that halts trading, in (0, 1).
    """

    max_leverage: float = 0.0
    max_position_units: float = 0.0
    max_position_fraction: float = 0.0
    max_drawdown_halt: float = 0.0


def parse_max_position(value: float | str | None) -> tuple[float, float]:
    """Read a ``max_position`` setting as ``(units, fraction of equity)``, 0 for unset.

    Parameters
    ----------
    value : float, str or None
        A number of units (``100``), a percentage string (``"25%"``) or ``None``.

    Returns
    -------
    tuple of float
        ``(units, 0.0)``, ``(0.0, fraction)`` or ``(0.0, 0.0)``.

    Raises
    ------
    ValidationError
        On a non-positive number or a malformed or out-of-range percentage.
    """
    if value is None:
        return 0.0, 0.0
    if isinstance(value, str):
        text = value.strip()
        try:
            pct = float(text[:-1]) if text.endswith("%") else math.nan
        except ValueError:
            pct = math.nan
        if not 0.0 < pct <= 1000.0:
            raise ValidationError(
                "max_position as text must be a percentage of equity in (0%, 1000%], e.g. "
                f"'25%' (got {value!r}).")
        return 0.0, pct / 100.0
    units = _number(value, "max_position")
    if units <= 0.0:
        raise ValidationError(
            f"max_position must be a positive number of units or a percentage such as '25%' "
            f"(got {value!r}).")
    return units, 0.0


def make_limits(max_leverage: float | None = None, max_position: float | str | None = None,
                max_drawdown_halt: float | None = None) -> RiskLimits:
    """Validate user risk settings into :class:`RiskLimits`.

    Parameters
    ----------
    max_leverage : float, optional
        Notional / equity cap, > 0 and <= 100.
    max_position : float or str, optional
        Units, or a percentage of equity such as ``"25%"`` (:func:`parse_max_position`).
    max_drawdown_halt : float, optional
        Fraction in (0, 1), e.g. ``0.2`` halts after a 20 % drawdown.

    Returns
    -------
    RiskLimits
        The limits.

    Raises
    ------
    ValidationError
        On an out-of-range value, with the accepted range in the message.
    """
    leverage = 0.0
    if max_leverage is not None:
        leverage = _number(max_leverage, "max_leverage")
        if not 0.0 < leverage <= 100.0:
            raise ValidationError(
                f"max_leverage must be in (0, 100], e.g. 1 for no margin (got {max_leverage!r}).")
    halt = 0.0
    if max_drawdown_halt is not None:
        halt = _number(max_drawdown_halt, "max_drawdown_halt")
        if not 0.0 < halt < 1.0:
            raise ValidationError(
                "max_drawdown_halt must be a fraction in (0, 1), e.g. 0.2 for 20 % "
                f"(got {max_drawdown_halt!r}).")
    units, fraction = parse_max_position(max_position)
    return RiskLimits(max_leverage=leverage, max_position_units=units,
                      max_position_fraction=fraction, max_drawdown_halt=halt)
