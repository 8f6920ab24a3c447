"""Strategies, one per module, collected into :data:`STRATEGIES`.

Adding a strategy is adding one module here that defines a :class:`Strategy` subclass with a
``name``; this package imports every public module on first import and registers it.

User strategies (plugins) are the same kind of subclass in a ``.py`` file of a plugins folder
(``plugins/`` at the repository root, or ``$GS_PLUGINS_DIR``); :func:`load_plugins` imports them
and adds them to :data:`STRATEGIES`. Nothing is loaded until the app calls it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import pkgutil
import sys
from pathlib import Path

from core.backtest.strategies.base import Param, Strategy, registered, unregister
from core.errors import ValidationError

log = logging.getLogger(__name__)

PLUGINS_ENV = "GS_PLUGINS_DIR"
"""Environment variable naming the plugins folder (default :data:`DEFAULT_PLUGINS_DIR`)."""

DEFAULT_PLUGINS_DIR = Path(__file__).resolve().parents[3] / "plugins"
"""``plugins/`` at the repository root."""

PLUGIN_ERRORS: dict[str, str] = {}
"""Plugin files that failed to load (path -> message), for a page to show; cleared on success."""

_LOADED: dict[Path, list[str]] = {}


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


def plugins_dir() -> Path:
    """The plugins folder: ``$GS_PLUGINS_DIR`` when set, else ``plugins/`` at the repo root."""
    env = os.environ.get(PLUGINS_ENV, "").strip()
    return Path(env).expanduser() if env else DEFAULT_PLUGINS_DIR


def _load_file(file: Path) -> list[str]:
    before = set(registered())
    module_name = f"gs_plugin_{file.stem}"
    try:
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise ImportError("not a loadable Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # so strategies defined there pickle in-process
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - a plugin must never take the app down
        sys.modules.pop(module_name, None)
        for name in set(registered()) - before:
            unregister(name)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ValidationError(
            f"plugin {file.name} failed to load: {type(exc).__name__}: {exc}") from exc
    return sorted(set(registered()) - before)


def load_plugins(path: str | os.PathLike[str] | None = None, *, strict: bool = False) -> list[str]:
    """Import every ``.py`` file of a plugins folder and register its strategies.

    A plugin is a :class:`Strategy` subclass with a ``name`` (and ``title``, ``params``,
    ``signals``), exactly like a built-in; ``plugins/example_momentum.py`` is a template. Files
    whose name starts with ``_`` are skipped; a file already loaded is not imported again.

    Parameters
    ----------
    path : str or path-like, optional
        The folder; default :func:`plugins_dir`. A missing folder loads nothing.
    strict : bool, default False
        Raise on the first failing file instead of logging it and going on.

    Returns
    -------
    list of str
        Registry names of the strategies the folder's plugins define (already loaded ones too),
        now in :data:`STRATEGIES`.

    Raises
    ------
    ValidationError
        Only with ``strict``: a file failed to import (syntax error, exception at import, a
        name already taken); the message names the file.
    """
    folder = Path(path).expanduser() if path is not None else plugins_dir()
    if not folder.is_dir():
        if path is not None:
            log.warning("plugins folder %s does not exist; no plugins loaded", folder)
        return []
    names: list[str] = []
    for file in sorted(folder.glob("*.py")):
        if file.name.startswith("_"):
            continue
        key = file.resolve()
        if key not in _LOADED:
            try:
                _LOADED[key] = _load_file(file)
            except ValidationError as exc:
                PLUGIN_ERRORS[str(key)] = str(exc)
                log.warning("%s", exc)
                if strict:
                    raise
                continue
            PLUGIN_ERRORS.pop(str(key), None)
        names.extend(_LOADED[key])
    STRATEGIES.update(registered())
    return names


__all__ = ["PLUGIN_ERRORS", "STRATEGIES", "Param", "Strategy", "get_strategy", "load_plugins",
           "plugins_dir"]
