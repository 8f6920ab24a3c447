"""Optional numba compilation for the engine's inner loop.

The engine's loop is written in the subset of Python that numba compiles. When numba is installed
the functions are compiled once (and cached next to the module); without it they run as plain
Python: identical results, roughly a hundred times slower.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])

try:  # pragma: no cover - exercised implicitly by whichever branch is installed
    from numba import njit as _njit
except ImportError:  # pragma: no cover
    _njit = None

HAVE_NUMBA: bool = _njit is not None


def jit(func: F) -> F:
    """Compile ``func`` with ``numba.njit(cache=True, nogil=True)`` when numba is available.

    Parameters
    ----------
    func : callable
        A function written in numba's nopython subset.

    Returns
    -------
    callable
        The compiled dispatcher, or ``func`` itself when numba is not installed.
    """
    if _njit is None:
        return func
    return _njit(cache=True, nogil=True)(func)

