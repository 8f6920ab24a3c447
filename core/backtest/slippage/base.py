"""The slippage protocol, the model registry and the ``"name:arg:arg"`` setting parser.

A slippage model moves every fill against the trader: buys fill higher, sells lower, on entries,
exits (signal, stop, take-profit, end of run, drawdown halt) alike. So that the compiled loop can
apply any model, each one reduces to two per-bar arrays, computed once before the loop
(:meth:`SlippageModel.per_bar`)::

    s = fixed[i] + impact[i] * sqrt(units / volume[i])     (a fill of ``units`` in bar i)

and the fill price is ``price * (1 + s)`` for a buy and ``price * (1 - s)`` for a sell. Entries
add the config's ``spread`` to ``s`` (``price * (1 + spread + s)``).

A new model is a small frozen dataclass in its own module, decorated with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, TypeVar, runtime_checkable

import numpy as np

from core.errors import ValidationError

if TYPE_CHECKING:
    from core.backtest.data import Bars


@runtime_checkable
class SlippageModel(Protocol):
    """Anything that states its slippage as per-bar ``(fixed, impact)`` arrays."""

    def per_bar(self, bars: Bars) -> tuple[np.ndarray, np.ndarray]:
        """Per-bar fixed fraction and impact coefficient (see the module docstring).

        Parameters
        ----------
        bars : Bars
            The validated bars of the run.

        Returns
        -------
        tuple of numpy.ndarray
            ``(fixed, impact)``, float64, one value per bar, finite and >= 0.
        """
        ...


M = TypeVar("M", bound=type)

_REGISTRY: dict[str, Callable[..., SlippageModel]] = {}
SLIPPAGE_MODELS: Mapping[str, Callable[..., SlippageModel]] = MappingProxyType(_REGISTRY)
"""Registered models by setting name (``fixed_bps``, ``half_spread``, ``volume_volatility``)."""


def register(name: str) -> Callable[[M], M]:
    """Class decorator: make a model available to settings as ``"name:arg:..."``.

    Parameters
    ----------
    name : str
        The setting name; the class is called with the numeric arguments that follow it.

    Returns
    -------
    callable
        The decorator (returns the class unchanged).
    """
    def decorate(cls: M) -> M:
        _REGISTRY[name] = cls
        return cls
    return decorate


def _parse_args(name: str, text: str) -> list[float]:
    args = []
    for part in filter(None, text.split(":")):
        try:
            args.append(float(part))
        except ValueError:
            raise ValidationError(
                f"slippage {name!r} takes numbers after the colon (got {part!r}).") from None
    return args


def resolve_slippage(spec: SlippageModel | str | None) -> SlippageModel | None:
    """Turn a user setting into a slippage model.

    Parameters
    ----------
    spec : SlippageModel, str or None
        A model; ``None`` or ``"none"`` for no slippage; or ``"name:arg:arg"`` with a name from
        :data:`SLIPPAGE_MODELS`, e.g. ``"fixed_bps:5"``, ``"half_spread:4"``,
        ``"volume_volatility:1.0:20"``.

    Returns
    -------
    SlippageModel or None
        The model, or ``None`` for none.

    Raises
    ------
    ValidationError
        On an unknown name, a non-numeric or out-of-range argument, or another type.
    """
    import core.backtest.slippage  # noqa: F401  (registers the built-in models)

    if spec is None or spec == "none":
        return None
    if isinstance(spec, SlippageModel):
        return spec
    if not isinstance(spec, str):
        raise ValidationError(
            "slippage must be a string such as 'fixed_bps:5' or a slippage model "
            f"(got {type(spec).__name__}).")
    name, _, rest = spec.strip().partition(":")
    if name not in _REGISTRY:
        raise ValidationError(
            f"unknown slippage model {name!r}; choose one of {', '.join(_REGISTRY)} "
            "(e.g. 'fixed_bps:5').")
    try:
        return _REGISTRY[name](*_parse_args(name, rest))
    except TypeError:
        raise ValidationError(f"wrong number of arguments for slippage {spec!r}.") from None
