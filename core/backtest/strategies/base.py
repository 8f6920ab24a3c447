"""The strategy protocol: a parameter spec, validation, and vectorised signals.

A strategy is one class in one file of this package: it names itself, lists its parameters as
:class:`Param` specs, optionally adds cross-parameter rules in :meth:`Strategy.check`, and turns
:class:`~core.backtest.data.Bars` into one signal code per bar (:mod:`core.backtest.signals`).
Subclasses register themselves by defining ``name``; the package collects them into
``STRATEGIES``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from core.backtest.data import Bars
from core.errors import ValidationError

_REGISTRY: dict[str, type[Strategy]] = {}


@dataclass(frozen=True, slots=True)
class Param:
    """One strategy parameter, as forms and validation see it.

    Parameters
    ----------
    name : str
        Keyword name.
    type : type
        ``int``, ``float`` or ``bool``.
    default : int, float or bool
        Value when not given.
    min, max : float or None
        Inclusive bounds for numbers; ``None`` for unbounded.
    help : str
        One line for a form's tooltip.
    """

    name: str
    type: type
    default: Any
    min: float | None = None
    max: float | None = None
    help: str = ""

    def coerce(self, value: Any, strategy: str) -> Any:
        """Check ``value`` against this spec and return it as ``self.type``.

        Raises
        ------
        ValidationError
            If the value has the wrong type or lies outside ``[min, max]``.
        """
        if self.type is bool:
            if isinstance(value, bool | np.bool_):
                return bool(value)
            raise ValidationError(f"{strategy}: {self.name} must be true or false (got {value!r}).")
        number = self._number(value, strategy)
        if self.min is not None and number < self.min:
            raise ValidationError(
                f"{strategy}: {self.name} must be at least {self.min:g} (got {number:g}).")
        if self.max is not None and number > self.max:
            raise ValidationError(
                f"{strategy}: {self.name} must be at most {self.max:g} (got {number:g}).")
        return number

    def _number(self, value: Any, strategy: str) -> int | float:
        kind = "a whole number" if self.type is int else "a number"
        if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
            raise ValidationError(f"{strategy}: {self.name} must be {kind} (got {value!r}).")
        if not math.isfinite(float(value)):
            raise ValidationError(f"{strategy}: {self.name} must be finite (got {value!r}).")
        if self.type is int:
            if float(value) != int(value):
                raise ValidationError(f"{strategy}: {self.name} must be {kind} (got {value!r}).")
            return int(value)
        return float(value)


class Strategy(ABC):
    """Base class of every strategy.

    Class attributes
    ----------------
    name : str
        Registry key, snake_case, e.g. ``"sma_cross"``.
    title : str
        Human name for forms.
    params : tuple of Param
        The parameter spec.

    Parameters
    ----------
    **values
        Parameter values; missing ones take their defaults.

    Raises
    ------
    ValidationError
        From :meth:`validate`.
    """

    name: ClassVar[str]
    title: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name is None:
            return
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise TypeError(f"two strategies are named {name!r}: {_REGISTRY[name]} and {cls}")
        _REGISTRY[name] = cls

    def __init__(self, **values: Any) -> None:
        self._values: dict[str, Any] = dict(self.validate(values))

    @property
    def values(self) -> Mapping[str, Any]:
        """The validated parameter values, read-only."""
        return MappingProxyType(self._values)

    @classmethod
    def validate(cls, values: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
        """Check parameter values and fill in defaults.

        Parameters
        ----------
        values : mapping, optional
            Parameter name to value.

        Returns
        -------
        mapping
            Every parameter, read-only, in spec order.

        Raises
        ------
        ValidationError
            On an unknown name, a wrong type, a value out of bounds, or a broken rule of
            :meth:`check` (e.g. "slow must be greater than fast").
        """
        values = dict(values or {})
        known = {spec.name: spec for spec in cls.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            expected = ", ".join(known) or "none"
            raise ValidationError(
                f"{cls.name}: unknown parameter {', '.join(unknown)} (expected: {expected}).")
        resolved = {name: spec.coerce(values.get(name, spec.default), cls.name)
                    for name, spec in known.items()}
        cls.check(resolved)
        return MappingProxyType(resolved)

    @classmethod
    def check(cls, values: Mapping[str, Any]) -> None:
        """Rules across parameters; raise :class:`ValidationError` when one is broken."""
        return None

    @abstractmethod
    def signals(self, bars: Bars) -> np.ndarray:
        """One signal code per bar (:mod:`core.backtest.signals`), computed vectorised."""

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.values.items())
        return f"{type(self).__name__}({args})"


def registered() -> dict[str, type[Strategy]]:
    """Strategies defined so far, by name (the package imports every module first)."""
    return dict(sorted(_REGISTRY.items()))


def unregister(name: str) -> None:
    """Forget the strategy registered as ``name`` (used to roll back a plugin that failed)."""
    _REGISTRY.pop(name, None)
