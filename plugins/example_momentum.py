"""Example plugin: time-series momentum. Copy this file to start a strategy of your own.

A plugin is one :class:`~core.backtest.strategies.Strategy` subclass in a ``.py`` file of
``plugins/`` (or of the folder in ``$GS_PLUGINS_DIR``). Give it a unique ``name`` (its registry
key), a ``title``, a docstring, its ``params`` (:class:`~core.backtest.strategies.Param`: name,
type, default, min, max, help), optional cross-parameter rules in ``check`` and a vectorised
``signals(bars)`` returning one code per bar (:mod:`core.backtest.signals`) computed from bars
``<= t`` only (the engine fills at the next bar's open). After
``core.backtest.strategies.load_plugins()`` it runs like a built-in::

    run_backtest(data, "example_momentum", {"lookback": 60, "threshold": 0.05})
"""

from __future__ import annotations

import numpy as np

from core.backtest.data import Bars
from core.backtest.signals import EXIT, LONG, SHORT, SIGNAL_DTYPE
from core.backtest.strategies import Param, Strategy


class ExampleMomentum(Strategy):
    """Follow the trailing return: long when it is strongly up, out (or short) when down.

    ``momentum = close / close[lookback bars ago] - 1``. ``LONG`` on the bar momentum enters
    ``> threshold``; ``EXIT`` (``SHORT`` when ``long_only`` is false) on the bar it enters
    ``< -threshold``. NaN (silent) for the first ``lookback`` bars.
    """

    name = "example_momentum"
    title = "Momentum (example plugin)"
    params = (
        Param("lookback", int, 20, min=1, max=10_000, help="Bars in the trailing return."),
        Param("threshold", float, 0.0, min=0.0, max=10.0,
              help="Trailing return (fraction) needed to act, e.g. 0.05 for 5%."),
        Param("long_only", bool, True, help="Exit instead of going short on negative momentum."),
    )

    def signals(self, bars: Bars) -> np.ndarray:
        """``LONG`` entering positive momentum, ``EXIT``/``SHORT`` entering negative."""
        n, threshold = self.values["lookback"], self.values["threshold"]
        momentum = np.full(len(bars), np.nan)
        momentum[n:] = bars.close[n:] / bars.close[:-n] - 1.0
        with np.errstate(invalid="ignore"):
            up, down = momentum > threshold, momentum < -threshold
        out = np.zeros(len(bars), dtype=SIGNAL_DTYPE)
        out[1:][down[1:] & ~down[:-1]] = EXIT if self.values["long_only"] else SHORT
        out[1:][up[1:] & ~up[:-1]] = LONG
        return out
