"""The engine's bar loop: one position at a time, market fills, stops, commission and spread.

Everything here is written in numba's nopython subset (see :mod:`core.backtest._jit`): scalars
and float64 arrays only. Settings arrive packed in a float64 vector (``P_*`` slots), the running
account lives in a small state vector (``S_*`` slots), and closed trades are written as rows of a
preallocated matrix (``T_*`` columns). :mod:`core.backtest.engine` packs and unpacks them.

Accounting follows backtesting.py 0.6.6 operation for operation, so results agree to the last
bit where the rules agree:

- cash moves only by realised profit and by commission; equity is cash plus the open position
  marked at the close (``close * size - size * entry_price``);
- an entry fills at ``price * (1 + spread)`` for longs and ``price * (1 - spread)`` for shorts
  (the spread is paid once, on entry); exits fill at the raw price;
- commission is charged on the entry at the spread-adjusted price and on the exit at the exit
  price;
- sizing by a fraction ``f`` of equity buys ``(cash * f - fixed) // (adj + (per_unit * f +
  f * price * rate) / f)`` units, as backtesting.py's broker computes it.
"""

from __future__ import annotations

import numpy as np

from core.backtest._jit import jit

# Parameter vector slots.
P_CASH, P_SPREAD, P_FIXED, P_PER_UNIT, P_RATE, P_MINIMUM = 0, 1, 2, 3, 4, 5
P_SIZING, P_SIZE, P_FRACTIONAL, P_SL, P_TP, P_TRAIL, P_FILL, P_FINALIZE = 6, 7, 8, 9, 10, 11, 12, 13
N_PARAMS = 14

# State vector slots.
S_CASH, S_POS, S_ENTRY, S_EBAR, S_ECOMM, S_PEAK, S_NTRADES = 0, 1, 2, 3, 4, 5, 6
N_STATE = 7

# Trade matrix columns.
T_EBAR, T_XBAR, T_EPRICE, T_XPRICE, T_SIZE, T_COMM, T_REASON = 0, 1, 2, 3, 4, 5, 6
N_TRADE_FIELDS = 7

# Codes (must match core.backtest.signals and core.backtest.sizing).
SIG_LONG, SIG_SHORT, SIG_EXIT = 1, -1, 2
SIZING_UNITS = 1
FILL_NEXT_OPEN, FILL_CLOSE = 0, 1
FINALIZE_NONE, FINALIZE_CLOSE, FINALIZE_OPEN = 0, 1, 2
R_SIGNAL, R_STOP_LOSS, R_TAKE_PROFIT, R_TRAILING_STOP, R_END, R_OUT_OF_MONEY = 0, 1, 2, 3, 4, 5
EXIT_REASONS: tuple[str, ...] = (
    "signal", "stop_loss", "take_profit", "trailing_stop", "end", "out_of_money")


@jit
def commission(size: float, price: float, p: np.ndarray) -> float:
    """Fee for one fill: ``fixed + per_unit*|size| + |size|*price*rate``, at least ``minimum``."""
    units = abs(size)
    fee = p[P_FIXED] + p[P_PER_UNIT] * units + units * price * p[P_RATE]
    if p[P_MINIMUM] > 0.0 and fee < p[P_MINIMUM]:
        fee = p[P_MINIMUM]
    return fee


@jit
def _units(amount: float, unit_cost: float, fractional: bool) -> float:
    if amount <= 0.0:
        return 0.0
    if fractional:
        return amount / unit_cost
    return amount // unit_cost


@jit
def entry_size(cash: float, raw: float, adj: float, p: np.ndarray) -> float:
    """Units an entry takes (unsigned); 0 when the cash does not cover one."""
    fractional = p[P_FRACTIONAL] != 0.0
    if p[P_SIZING] == SIZING_UNITS:
        units = p[P_SIZE]
        if units * adj + commission(units, raw, p) > cash:
            return 0.0
        return units
    frac = p[P_SIZE]
    budget = cash * frac
    unit_cost = adj + (p[P_PER_UNIT] * frac + frac * raw * p[P_RATE]) / frac
    units = _units(budget - p[P_FIXED], unit_cost, fractional)
    if p[P_MINIMUM] > 0.0 and units > 0.0 and commission(units, raw, p) <= p[P_MINIMUM]:
        units = _units(budget - p[P_MINIMUM], adj, fractional)
    return units


@jit
def open_position(i: int, raw: float, direction: int, st: np.ndarray, p: np.ndarray) -> None:
    """Open a long (``direction`` 1) or short (-1) at ``raw`` plus spread, if cash allows."""
    if direction > 0:
        adj = raw * (1.0 + p[P_SPREAD])
    else:
        adj = raw * (1.0 - p[P_SPREAD])
    units = entry_size(st[S_CASH], raw, adj, p)
    if units <= 0.0:
        return
    size = units if direction > 0 else -units
    fee = commission(size, adj, p)
    st[S_CASH] -= fee
    st[S_POS] = size
    st[S_ENTRY] = adj
    st[S_EBAR] = i
    st[S_ECOMM] = fee
    st[S_PEAK] = adj


@jit
def close_position(i: int, price: float, reason: int, st: np.ndarray, p: np.ndarray,
                   trades: np.ndarray) -> None:
    """Close the open position at ``price`` and record the trade."""
    size = st[S_POS]
    fee = commission(size, price, p)
    st[S_CASH] += size * (price - st[S_ENTRY]) - fee
    k = int(st[S_NTRADES])
    trades[k, T_EBAR] = st[S_EBAR]
    trades[k, T_XBAR] = i
    trades[k, T_EPRICE] = st[S_ENTRY]
    trades[k, T_XPRICE] = price
    trades[k, T_SIZE] = size
    trades[k, T_COMM] = fee + st[S_ECOMM]
    trades[k, T_REASON] = reason
    st[S_NTRADES] = k + 1
    st[S_POS] = 0.0


@jit
def apply_signal(code: int, i: int, price: float, allow_entry: bool, st: np.ndarray,
                 p: np.ndarray, trades: np.ndarray) -> None:
    """Act on one signal code at ``price``: close an opposite position, then open if flat."""
    if code == 0:
        return
    pos = st[S_POS]
    if pos != 0.0 and (code == SIG_EXIT or (code == SIG_LONG) != (pos > 0.0)):
        close_position(i, price, R_SIGNAL, st, p, trades)
    if code != SIG_EXIT and st[S_POS] == 0.0 and allow_entry:
        open_position(i, price, code, st, p)


@jit
def stop_level(st: np.ndarray, p: np.ndarray) -> tuple[float, int]:
    """The active protective stop (stop-loss or trailing, whichever is tighter) and its reason."""
    d = 1.0 if st[S_POS] > 0.0 else -1.0
    level = np.nan
    reason = R_STOP_LOSS
    if p[P_SL] > 0.0:
        level = st[S_ENTRY] * (1.0 - d * p[P_SL])
    if p[P_TRAIL] > 0.0:
        trail = st[S_PEAK] * (1.0 - d * p[P_TRAIL])
        if level != level or d * trail > d * level:
            level = trail
            reason = R_TRAILING_STOP
    return level, reason


@jit
def check_exits(i: int, o: np.ndarray, h: np.ndarray, lo: np.ndarray, st: np.ndarray,
                p: np.ndarray, trades: np.ndarray) -> None:
    """Close on a stop (first, as the pessimistic case) or a take-profit touched in bar ``i``.

    A stop fills at its level, or at the open when the bar gaps through it; a take-profit fills
    at its level, or at the open when the bar gaps beyond it.
    """
    pos = st[S_POS]
    if pos == 0.0:
        return
    d = 1.0 if pos > 0.0 else -1.0
    adverse = lo[i] if pos > 0.0 else h[i]
    favourable = h[i] if pos > 0.0 else lo[i]
    level, reason = stop_level(st, p)
    if level == level and d * adverse <= d * level:
        fill = o[i] if d * o[i] < d * level else level
        close_position(i, fill, reason, st, p, trades)
        return
    if p[P_TP] > 0.0:
        target = st[S_ENTRY] * (1.0 + d * p[P_TP])
        if d * favourable >= d * target:
            fill = o[i] if d * o[i] > d * target else target
            close_position(i, fill, R_TAKE_PROFIT, st, p, trades)


@jit
def update_peak(i: int, h: np.ndarray, lo: np.ndarray, st: np.ndarray) -> None:
    """Track the best price since entry (highest high long, lowest low short) for trailing."""
    if st[S_POS] > 0.0:
        if h[i] > st[S_PEAK]:
            st[S_PEAK] = h[i]
    elif st[S_POS] < 0.0 and lo[i] < st[S_PEAK]:
        st[S_PEAK] = lo[i]


@jit
def finish(n: int, o: np.ndarray, c: np.ndarray, st: np.ndarray, p: np.ndarray,
           equity: np.ndarray, trades: np.ndarray) -> None:
    """Close a position still open after the last bar, when finalising is on."""
    if st[S_POS] == 0.0 or p[P_FINALIZE] == FINALIZE_NONE:
        return
    price = o[n - 1] if p[P_FINALIZE] == FINALIZE_OPEN else c[n - 1]
    close_position(n - 1, price, R_END, st, p, trades)
    equity[n - 1] = st[S_CASH]


@jit
def simulate(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, sig: np.ndarray,
             p: np.ndarray, equity: np.ndarray, trades: np.ndarray) -> int:
    """Run the bar loop; fill ``equity`` (one value per bar) and ``trades``; return trade count.

    Per bar ``i``: act on the previous bar's signal at the open (``fill="next_open"``); check the
    stop and take-profit against the bar's range; update the trailing peak; act on this bar's
    signal at the close (``fill="close"``; no new entry on the last bar when finalising); mark to
    market at the close. Equity at or below zero closes everything at the close and ends the run
    with zero equity, as backtesting.py does.

    Helpers are called only on events or when a stop is configured: passing arrays to a numba
    function costs reference counting (~15 ns a call), which would otherwise dominate the loop.
    """
    n = c.shape[0]
    st = np.zeros(N_STATE)
    st[S_CASH] = p[P_CASH]
    at_close = p[P_FILL] == FILL_CLOSE
    exits = p[P_SL] > 0.0 or p[P_TP] > 0.0 or p[P_TRAIL] > 0.0
    trailing = p[P_TRAIL] > 0.0
    for i in range(n):
        if not at_close and i > 0 and sig[i - 1] != 0:
            apply_signal(sig[i - 1], i, o[i], True, st, p, trades)
        if exits and st[S_POS] != 0.0:
            check_exits(i, o, h, lo, st, p, trades)
            if trailing:
                update_peak(i, h, lo, st)
        if at_close and sig[i] != 0:
            allow = i < n - 1 or p[P_FINALIZE] == FINALIZE_NONE
            apply_signal(sig[i], i, c[i], allow, st, p, trades)
        pos = st[S_POS]
        value = st[S_CASH] + (c[i] * pos - pos * st[S_ENTRY])
        equity[i] = value
        if value <= 0.0:
            if pos != 0.0:
                close_position(i, c[i], R_OUT_OF_MONEY, st, p, trades)
            equity[i:] = 0.0
            return int(st[S_NTRADES])
    finish(n, o, c, st, p, equity, trades)
    return int(st[S_NTRADES])
