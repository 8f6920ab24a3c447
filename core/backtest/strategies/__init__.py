"""Strategies, one per module, collected into :data:`STRATEGIES`.

Adding a strategy is adding one module here that defines a :class:`Strategy` subclass with a
``name``; this package imports every public module on first import and registers it.
"""

from __future__ import annotations

import importlib
import pkgutil

from core.backtest.strategies.base import Param, Strategy, registered
from core.errors import ValidationError


def _discover() -> dict[str, type[Strategy]]:
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_") and module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")
    return registered()


STRATEGIES: dict[str, type[Strategy]] = _discover()
"""Strategy classes by registry name."""


def get_strategy(strategy: str | type[Strategy]) -> type[Strategy]:
    """Look a strategy class up by name (or pass a class through).

    Parameters
    ----------
    strategy : str or Strategy subclass
        A key of :data:`STRATEGIES`, or a strategy class.

    Returns
    -------
    type
        The strategy class.

    Raises
    ------
    ValidationError
        If the name is not registered or the class is not a :class:`Strategy`.
    """
    if isinstance(strategy, type) and issubclass(strategy, Strategy):
        return strategy
    if isinstance(strategy, str) and strategy in STRATEGIES:
        return STRATEGIES[strategy]
    names = ", ".join(STRATEGIES)
    raise ValidationError(f"unknown strategy {strategy!r}; choose one of {names}.")


__all__ = ["STRATEGIES", "Param", "Strategy", "get_strategy"]
