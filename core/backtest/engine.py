"""The backtest engine: bars and signal codes plus a frozen config in, a frozen result out.

The engine is pure: no I/O, no clock, no globals. Strategies compute their signals vectorised
(:mod:`core.backtest.strategies`); the bar loop (:mod:`core.backtest.kernel`) is compiled with
numba when it is installed.

Examples
--------
::

    from core.backtest.costs import PercentCommission
    from core.backtest.engine import BacktestConfig, run
    from core.backtest.strategies import STRATEGIES

    config = BacktestConfig(cash=10_000, commission=PercentCommission(0.002))
    result = run(ohlcv, STRATEGIES["sma_cross"](fast=10, slow=30), config)
    result.equity.iloc[-1], result.trades
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from core.backtest import kernel as k
from core.backtest.costs import NO_COMMISSION, CommissionModel
from core.backtest.data import Bars, prepare_bars
from core.backtest.risk import make_limits
from core.backtest.signals import LONG, SHORT, as_signals
from core.backtest.sizing import AllIn, AtrRisk, Sizing
from core.backtest.slippage import SlippageModel
from core.errors import ValidationError

Fill = Literal["next_open", "close"]
FinalizeAt = Literal["close", "open"]
Unfilled = Literal["cancel", "carry"]

_FILLS = {"next_open": k.FILL_NEXT_OPEN, "close": k.FILL_CLOSE}
_FINALIZE_AT = {"close": k.FINALIZE_CLOSE, "open": k.FINALIZE_OPEN}

TRADE_COLUMNS: tuple[str, ...] = (
    "entry_time", "exit_time", "entry_bar", "exit_bar", "entry_price", "exit_price", "size",
    "pnl", "return_pct", "commission", "exit_reason")
"""Columns of :attr:`BacktestResult.trades`, in order."""

EXIT_REASON_DTYPE = pd.CategoricalDtype(list(k.EXIT_REASONS))
"""Categories of the ``exit_reason`` column."""


class SignalSource(Protocol):
    """Anything that turns bars into one signal code per bar (every registered strategy)."""

    def signals(self, bars: Bars) -> np.ndarray:
        """Signal codes (see :mod:`core.backtest.signals`), one per bar."""
        ...


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValidationError(f"{name} must be a number (got {value!r}).")
    return float(value)


def _fraction(value: float | None, name: str, upper: float) -> float | None:
    if value is None:
        return None
    value = _number(value, name)
    if not 0.0 < value < upper:
        raise ValidationError(f"{name} must be a fraction in (0, {upper:g}) (got {value!r}).")
    return value


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """How the simulated broker fills, charges and sizes.

    Parameters
    ----------
    cash : float
        Starting cash.
    commission : CommissionModel
        Fee charged on every fill, entry and exit (:mod:`core.backtest.costs`).
    spread : float
        Bid-ask spread as a fraction of price, paid once per trade on entry (longs fill at
        ``price * (1 + spread)``, shorts at ``price * (1 - spread)``), as backtesting.py does.
    fill : {"next_open", "close"}
        Fill a bar's signal at the next bar's open (default, no look-ahead) or at its own close.
    fractional : bool
        Allow fractional units (crypto); otherwise sizes are whole units.
    finalize : bool
        Close a position still open at the end so it shows in the trades and stats.
    finalize_at : {"close", "open"}
        Price of that final exit on the last bar. ``"close"`` marks the run to its last close;
        ``"open"`` reproduces backtesting.py 0.6.6's ``finalize_trades=True``, which re-runs its
        broker on the last bar and so fills the closing orders at the last bar's open.
    sizing : Sizing
        How many units an entry takes (:mod:`core.backtest.sizing`); all-in by default.
    stop_loss, take_profit, trailing_stop : float or None
        Per-position exits as fractions of the entry price (spread included): a long with
        ``stop_loss=0.05`` exits at 95 % of its entry price, ``take_profit=0.1`` at 110 %,
        ``trailing_stop=0.05`` at 95 % of the highest high since entry (from the bar before).
        Each bar's low/high is checked; stops fill at their level or at the open when the bar
        gaps through. A stop and a take-profit touched in one bar resolve as the stop.
    slippage : SlippageModel or None
        Moves every fill (entries, exits, stops, take-profits) against the trader
        (:mod:`core.backtest.slippage`); on entries it adds to ``spread``. ``None``: no slippage.
    liquidity_cap : float or None
        At most this fraction of a bar's volume fills per order in a bar, in (0, 1]; ``0.1`` on a
        bar of volume 1,000 fills at most 100 units. It applies to entries and to exits alike
        (signal exits and reversals, stop-loss, take-profit, trailing stop, drawdown halt); each
        order is capped on its own, and a bar of zero volume fills nothing. Off when the data
        has no Volume column (and NaN volume counts as 0).

        An exit the cap splits closes the filled units as a trade of their own (same entry time
        and price, ``size`` the filled units, their pnl, the exit commission on them plus their
        share of the entry commission), as backtesting.py records partial closes. The rest is
        always carried, whatever ``unfilled`` says (a position cannot stay open once the
        strategy left it): up to the cap at each following bar's fill point (next open, or the
        close with ``fill="close"``), with the same exit reason, until flat. Stops and
        take-profits are not checked again on a position already exiting, and a stop that fired
        inside a bar fills its rest from the next bar on. An entry signalled meanwhile (the
        short side of a reversal) waits until the exit is complete, is then made at that fill
        point and follows ``unfilled``; an exit signal drops it.

        Two closes are accounting, not orders, and are never capped: the end-of-data close
        (``finalize``), so the final equity marks everything, and the close when equity runs
        out (``out_of_money``).
    unfilled : {"cancel", "carry"}
        What happens to the part of an entry the cap left unfilled: dropped (``"cancel"``), or
        kept as an order filled at the following bars' fill points, each capped again, averaging
        into the position, until filled or cancelled by an exit or opposite signal, a stop or a
        drawdown halt (``"carry"``). The rest of an exit is always carried (see above).
    max_leverage, max_position, max_drawdown_halt : optional
        Risk limits, see :mod:`core.backtest.risk`: notional/equity cap; largest position in
        units (``100``) or as a percentage of equity (``"25%"``); drawdown fraction that closes
        the position and halts new entries.
    """

    cash: float = 10_000.0
    commission: CommissionModel = NO_COMMISSION
    spread: float = 0.0
    fill: Fill = "next_open"
    fractional: bool = False
    finalize: bool = True
    finalize_at: FinalizeAt = "close"
    sizing: Sizing = field(default_factory=AllIn)
    stop_loss: float | None = None
    take_profit: float | None = None
    trailing_stop: float | None = None
    slippage: SlippageModel | None = None
    liquidity_cap: float | None = None
    unfilled: Unfilled = "cancel"
    max_leverage: float | None = None
    max_position: float | str | None = None
    max_drawdown_halt: float | None = None

    def __post_init__(self) -> None:
        cash = _number(self.cash, "cash")
        if not (math.isfinite(cash) and cash > 0.0):
            raise ValidationError(f"cash must be a positive amount (got {self.cash!r}).")
        if not 0.0 <= _number(self.spread, "spread") < 0.1:
            raise ValidationError(
                "spread must be a fraction of price in [0, 0.1), e.g. 0.0002 "
                f"(got {self.spread!r}).")
        if self.fill not in _FILLS:
            raise ValidationError(f"fill must be 'next_open' or 'close' (got {self.fill!r}).")
        if self.finalize_at not in _FINALIZE_AT:
            raise ValidationError(
                f"finalize_at must be 'close' or 'open' (got {self.finalize_at!r}).")
        if not isinstance(self.commission, CommissionModel):
            raise ValidationError("commission must be a commission model from core.backtest.costs.")
        if not isinstance(self.sizing, Sizing):
            raise ValidationError("sizing must be a sizing rule from core.backtest.sizing.")
        if self.sizing.mode == k.SIZING_UNITS and not self.fractional \
                and self.sizing.value != round(self.sizing.value):
            raise ValidationError(
                f"a fixed size of {self.sizing.value:g} units needs fractional=True.")
        _fraction(self.stop_loss, "stop_loss", 1.0)
        _fraction(self.take_profit, "take_profit", math.inf)
        _fraction(self.trailing_stop, "trailing_stop", 1.0)
        self._check_execution()

    def _check_execution(self) -> None:
        if self.slippage is not None and not isinstance(self.slippage, SlippageModel):
            raise ValidationError(
                "slippage must be a slippage model from core.backtest.slippage or a string such "
                "as 'fixed_bps:5' (through run_backtest).")
        if self.liquidity_cap is not None:
            cap = _number(self.liquidity_cap, "liquidity_cap")
            if not 0.0 < cap <= 1.0:
                raise ValidationError(
                    "liquidity_cap must be a fraction of bar volume in (0, 1], e.g. 0.1 for 10 % "
                    f"(got {self.liquidity_cap!r}).")
        if self.unfilled not in ("cancel", "carry"):
            raise ValidationError(
                f"unfilled must be 'cancel' or 'carry' (got {self.unfilled!r}).")
        make_limits(self.max_leverage, self.max_position, self.max_drawdown_halt)

    def kernel_params(self) -> np.ndarray:
        """Pack the settings into the kernel's float64 parameter vector."""
        terms = self.commission.terms
        p = np.zeros(k.N_PARAMS)
        p[k.P_CASH] = self.cash
        p[k.P_SPREAD] = self.spread
        p[k.P_FIXED] = terms.fixed
        p[k.P_PER_UNIT] = terms.per_unit
        p[k.P_RATE] = terms.rate
        p[k.P_MINIMUM] = terms.minimum
        p[k.P_SIZING] = self.sizing.mode
        p[k.P_SIZE] = self.sizing.value
        p[k.P_FRACTIONAL] = float(self.fractional)
        p[k.P_SL] = self.stop_loss or 0.0
        p[k.P_TP] = self.take_profit or 0.0
        p[k.P_TRAIL] = self.trailing_stop or 0.0
        p[k.P_FILL] = _FILLS[self.fill]
        p[k.P_FINALIZE] = _FINALIZE_AT[self.finalize_at] if self.finalize else k.FINALIZE_NONE
        p[k.P_SLIPPAGE] = float(self.slippage is not None)
        p[k.P_CAP] = self.liquidity_cap or 0.0
        p[k.P_CARRY] = float(self.unfilled == "carry")
        limits = make_limits(self.max_leverage, self.max_position, self.max_drawdown_halt)
        p[k.P_LEVERAGE] = limits.max_leverage
        p[k.P_MAXPOS_UNITS] = limits.max_position_units
        p[k.P_MAXPOS_PCT] = limits.max_position_fraction
        p[k.P_HALT_DD] = limits.max_drawdown_halt
        if isinstance(self.sizing, AtrRisk):
            p[k.P_ATR_MULT] = float(self.sizing.atr_multiple)
        return p

    def bar_inputs(self, bars: Bars) -> np.ndarray | None:
        """Per-bar kernel inputs (slippage, volume, ATR), or ``None`` when none are needed.

        Parameters
        ----------
        bars : Bars
            The bars of the run.

        Returns
        -------
        numpy.ndarray or None
            An ``(n, kernel.N_X)`` matrix, or ``None`` for the plain loop.
        """
        atr_sizing = isinstance(self.sizing, AtrRisk)
        if self.slippage is None and self.liquidity_cap is None and not atr_sizing:
            return None
        n = len(bars)
        x = np.zeros((n, k.N_X))
        x[:, k.X_VOLUME] = np.inf if bars.volume is None else np.nan_to_num(bars.volume, nan=0.0)
        x[:, k.X_ATR] = self.sizing.atr(bars) if atr_sizing else np.nan
        if self.slippage is not None:
            fixed, impact = self.slippage.per_bar(bars)
            x[:, k.X_SLIP] = fixed
            x[:, k.X_IMPACT] = impact
        return x


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """What a run produced.

    Attributes
    ----------
    equity : pandas.Series
        Account equity at each bar's close (cash plus the open position at the close), indexed
        like the bars, named ``"equity"``.
    trades : pandas.DataFrame
        One row per closed trade, columns :data:`TRADE_COLUMNS`: ``size`` is negative for shorts;
        ``entry_price`` includes the spread and slippage (the average price when a carried
        order filled over several bars); ``exit_price`` includes slippage; ``pnl`` is net of
        ``commission`` (entry plus exit); ``return_pct`` is the net return on the entry value in
        percent (backtesting.py's ``ReturnPct`` times 100); ``exit_reason`` is one of
        ``signal``, ``stop_loss``, ``take_profit``, ``trailing_stop``, ``end``,
        ``out_of_money``, ``drawdown_halt``. With a liquidity cap one position can close over
        several bars: each filled part is a row of its own. A position still open at the end with
        ``finalize=False`` is not listed (its value is in ``equity``).
    config : BacktestConfig
        The settings used.
    """

    equity: pd.Series
    trades: pd.DataFrame
    config: BacktestConfig


def _trades_frame(index: pd.DatetimeIndex, rec: np.ndarray) -> pd.DataFrame:
    entry_bar = rec[:, k.T_EBAR].astype(np.int64)
    exit_bar = rec[:, k.T_XBAR].astype(np.int64)
    entry_price = rec[:, k.T_EPRICE]
    exit_price = rec[:, k.T_XPRICE]
    size = rec[:, k.T_SIZE]
    fees = rec[:, k.T_COMM]
    pnl = size * (exit_price - entry_price) - fees
    gross = np.sign(size) * (exit_price / entry_price - 1.0)
    return_pct = (gross - fees / (np.abs(size) * entry_price)) * 100.0
    reason = pd.Categorical.from_codes(rec[:, k.T_REASON].astype(np.int8), dtype=EXIT_REASON_DTYPE)
    return pd.DataFrame({
        "entry_time": index.take(entry_bar), "exit_time": index.take(exit_bar),
        "entry_bar": entry_bar, "exit_bar": exit_bar, "entry_price": entry_price,
        "exit_price": exit_price, "size": size, "pnl": pnl, "return_pct": return_pct,
        "commission": fees, "exit_reason": reason,
    }, copy=False)  # the arrays are fresh: no need for pandas to copy them again


def run(data: pd.DataFrame | Bars, signals: np.ndarray | pd.Series | SignalSource,
        config: BacktestConfig | None = None) -> BacktestResult:
    """Simulate trading ``signals`` on ``data`` under ``config``.

    Parameters
    ----------
    data : pandas.DataFrame or Bars
        OHLCV bars (validated with :func:`core.backtest.data.prepare_bars`).
    signals : array-like or SignalSource
        One code per bar (:mod:`core.backtest.signals`), or a strategy instance whose
        ``signals(bars)`` gives them.
    config : BacktestConfig, optional
        Broker settings; the defaults when omitted.

    Returns
    -------
    BacktestResult
        Equity curve and closed trades.

    Raises
    ------
    DataError
        If the bars are malformed.
    ValueError
        If the signals are not one valid code per bar (``ValidationError`` when a setting
        cannot apply to the data, e.g. volume slippage without a Volume column).
    """
    bars = prepare_bars(data)
    config = config or BacktestConfig()
    codes = signals.signals(bars) if hasattr(signals, "signals") else signals
    sig = as_signals(codes, len(bars))
    capacity = int(np.count_nonzero((sig == LONG) | (sig == SHORT)))
    if config.liquidity_cap is not None:
        # A capped exit adds at most one partial trade per bar (np.empty only reserves it).
        capacity += len(bars)
    equity = np.empty(len(bars))
    book = np.empty((capacity, k.N_TRADE_FIELDS))
    x = config.bar_inputs(bars)
    if x is None:
        n_trades = k.simulate(bars.open, bars.high, bars.low, bars.close, sig,
                              config.kernel_params(), equity, book)
    else:
        n_trades = k.simulate_bars(bars.open, bars.high, bars.low, bars.close, sig,
                                   config.kernel_params(), x, equity, book)
    return BacktestResult(
        equity=pd.Series(equity, index=bars.index, name="equity"),
        trades=_trades_frame(bars.index, book[:n_trades]),
        config=config,
    )
