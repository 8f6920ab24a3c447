"""Commission models behind one small protocol.

Every model reduces to the same four numbers, :class:`CommissionTerms`, so that the compiled loop
can charge any of them::

    fee = fixed + per_unit * |size| + rate * |size| * price,   raised to ``minimum`` if below it

A model is anything with a ``terms`` attribute (see :class:`CommissionModel`); a new one is a small
frozen dataclass. Commission is charged on every fill, entry and exit, like backtesting.py does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from core.errors import ValidationError


@dataclass(frozen=True, slots=True)
class CommissionTerms:
    """The linear fee schedule every commission model reduces to.

    Parameters
    ----------
    fixed : float
        Cash charged per order.
    per_unit : float
        Cash charged per unit (share, coin, contract) traded.
    rate : float
        Fraction of the traded value (``|size| * price``); negative values are rebates.
    minimum : float
        Smallest fee per order; ``0`` for none.
    """

    fixed: float = 0.0
    per_unit: float = 0.0
    rate: float = 0.0
    minimum: float = 0.0

    def cost(self, size: float, price: float) -> float:
        """Fee for one fill of ``size`` units (sign ignored) at ``price``.

        Parameters
        ----------
        size : float
            Units traded; negative for sells.
        price : float
            Fill price.

        Returns
        -------
        float
            The fee in cash; ``0`` for a zero size.
        """
        units = abs(size)
        if units == 0:
            return 0.0
        fee = self.fixed + self.per_unit * units + units * price * self.rate
        if self.minimum > 0.0 and fee < self.minimum:
            fee = self.minimum
        return fee


@runtime_checkable
class CommissionModel(Protocol):
    """Anything that can state its fee schedule as :class:`CommissionTerms`."""

    @property
    def terms(self) -> CommissionTerms:
        """The fee schedule the engine charges."""
        ...


def _check_finite_non_negative(value: float, what: str) -> float:
    value = float(value)
    if not value >= 0.0 or value == float("inf"):
        raise ValidationError(f"{what} must be a finite number >= 0 (got {value!r}).")
    return value


@dataclass(frozen=True, slots=True)
class PercentCommission:
    """A fraction of the traded value, e.g. ``0.001`` for 0.1 % (backtesting.py's float commission).

    Parameters
    ----------
    rate : float
        Fraction of ``|size| * price`` charged per fill, between -0.1 (rebate) and 0.1.
    """

    rate: float = 0.0

    def __post_init__(self) -> None:
        if not -0.1 <= float(self.rate) < 0.1:
            raise ValidationError(
                f"commission rate must be a fraction between -0.1 and 0.1, e.g. 0.001 for 0.1 % "
                f"(got {self.rate!r}).")

    @property
    def terms(self) -> CommissionTerms:
        """The fee schedule: ``rate`` only."""
        return CommissionTerms(rate=float(self.rate))


@dataclass(frozen=True, slots=True)
class PerShareCommission:
    """A fee per unit traded with a minimum per order (US equity brokers).

    Parameters
    ----------
    per_share : float
        Cash per unit traded, e.g. ``0.005``.
    minimum : float
        Smallest fee per order, e.g. ``1.0``.
    """

    per_share: float = 0.005
    minimum: float = 1.0

    def __post_init__(self) -> None:
        _check_finite_non_negative(self.per_share, "per_share commission")
        _check_finite_non_negative(self.minimum, "minimum commission")

    @property
    def terms(self) -> CommissionTerms:
        """The fee schedule: ``per_unit`` with ``minimum``."""
        return CommissionTerms(per_unit=float(self.per_share), minimum=float(self.minimum))


@dataclass(frozen=True, slots=True)
class FixedCommission:
    """The same cash fee on every order, whatever its size.

    Parameters
    ----------
    amount : float
        Cash per order, e.g. ``4.95``.
    """

    amount: float = 0.0

    def __post_init__(self) -> None:
        _check_finite_non_negative(self.amount, "fixed commission")

    @property
    def terms(self) -> CommissionTerms:
        """The fee schedule: ``fixed`` only."""
        return CommissionTerms(fixed=float(self.amount))


NO_COMMISSION = PercentCommission(0.0)

COMMISSION_PRESETS: Mapping[str, CommissionModel] = MappingProxyType({
    "none": NO_COMMISSION,
    "crypto_spot_0.1pct": PercentCommission(0.001),
    "us_per_share": PerShareCommission(per_share=0.005, minimum=1.0),
})
"""Named commission models that settings may refer to by name."""


def resolve_commission(spec: CommissionModel | float | str | None) -> CommissionModel:
    """Turn a user setting into a commission model.

    Parameters
    ----------
    spec : CommissionModel, float, str or None
        A model; a fraction of traded value (``0.002`` = 0.2 %, like backtesting.py); the name of
        a preset in :data:`COMMISSION_PRESETS`; or ``None`` for no commission.

    Returns
    -------
    CommissionModel
        The model the engine will charge.

    Raises
    ------
    ValidationError
        If the setting is none of the above.
    """
    if spec is None:
        return NO_COMMISSION
    if isinstance(spec, CommissionModel):
        return spec
    if isinstance(spec, str):
        try:
            return COMMISSION_PRESETS[spec]
        except KeyError:
            names = ", ".join(COMMISSION_PRESETS)
            raise ValidationError(
                f"unknown commission preset {spec!r}; choose one of {names} or give a fraction "
                "such as 0.001.") from None
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        return PercentCommission(float(spec))
    raise ValidationError(
        f"commission must be a fraction (e.g. 0.001), a preset name or a commission model "
        f"(got {type(spec).__name__}).")
