"""Signal codes shared by strategies and the engine, and vectorised helpers to build them.

A strategy turns bars into one ``int8`` code per bar; the engine acts on a code at the next bar's
open (or at the same bar's close, with ``fill="close"``):

- ``LONG`` (1): close a short if any, then open a long if flat; nothing if already long.
- ``SHORT`` (-1): close a long if any, then open a short if flat; nothing if already short.
- ``EXIT`` (2): close any position.
- ``HOLD`` (0): nothing.

Codes are events, not states: a stop that closes a position leaves it closed until the strategy's
next ``LONG`` or ``SHORT``.
"""

from __future__ import annotations

import numpy as np

HOLD: int = 0
LONG: int = 1
SHORT: int = -1
EXIT: int = 2

SIGNAL_DTYPE = np.int8


def crossed_above(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Bars where ``a`` crosses above ``b``, as backtesting.py's ``crossover(a, b)`` decides it.

    Parameters
    ----------
    a, b : numpy.ndarray
        Float arrays of equal length; NaN compares false (warm-up bars never cross).

    Returns
    -------
    numpy.ndarray
        Boolean mask: ``a[i-1] < b[i-1] and a[i] > b[i]`` (strict both times); bar 0 is False.
    """
    out = np.zeros(a.shape[0], dtype=bool)
    if a.shape[0] > 1:
        np.logical_and(a[:-1] < b[:-1], a[1:] > b[1:], out=out[1:])
    return out


def as_signals(values: object, n: int) -> np.ndarray:
    """Check and convert signal codes for the engine.

    Parameters
    ----------
    values : array-like
        One code per bar (a NumPy array or a pandas Series aligned with the bars).
    n : int
        Number of bars.

    Returns
    -------
    numpy.ndarray
        A contiguous ``int8`` array of length ``n``.

    Raises
    ------
    ValueError
        If the length differs or a value is not one of the four codes.
    """
    arr = np.asarray(values)
    if arr.shape != (n,):
        raise ValueError(f"signals must have one value per bar ({n}), got shape {arr.shape}")
    codes = np.ascontiguousarray(arr, dtype=SIGNAL_DTYPE)
    if arr.dtype != SIGNAL_DTYPE and not np.array_equal(codes, arr):
        raise ValueError("signals must be whole numbers among -1, 0, 1 and 2")
    if codes.min(initial=0) < SHORT or codes.max(initial=0) > EXIT:
        raise ValueError("signals must be among -1 (short), 0 (hold), 1 (long) and 2 (exit)")
    return codes
