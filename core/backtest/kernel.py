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

Extensions, all off by default (the default path does the same float operations as before):

- per-bar inputs arrive as one ``(n, N_X)`` matrix ``x`` (``X_*`` columns): a fixed slippage
  fraction, an impact coefficient, the bar's volume and the ATR known before the bar opens;
- slippage (``P_SLIPPAGE``) moves every fill against the trader: an entry fills at
  ``raw * (1 + d * (spread + s))`` and an exit (signal, stop, take-profit, end, halt) at
  ``raw * (1 - d * s)``, ``d`` being +1 long / -1 short and ``s = x[i, X_SLIP] + x[i, X_IMPACT]
  * sqrt(units / x[i, X_VOLUME])``;
- a liquidity cap (``P_CAP``) fills at most ``cap * volume`` units of an order in a bar. For an
  entry the rest is dropped or, with ``P_CARRY``, kept as a pending order filled at the next bars'
  fill points (averaging into the position) until done, cancelled by an exit/opposite signal, a
  stop or a halt. An exit (signal, stop, take-profit, trailing stop, halt) closes the filled part
  as a trade of its own (with its share of the entry commission) and always carries the rest
  (``S_EXIT``): up to the cap at each following fill point, without re-checking stops, until
  flat; an entry signalled meanwhile (a reversal) waits in ``S_WAIT`` and is made once flat. The
  end-of-data close and the out-of-money close are not capped;
- risk limits cut an entry's units: ``P_LEVERAGE`` (notional <= leverage * equity; also the
  budget of ATR sizing; with it a fixed-unit entry is cut rather than skipped),
  ``P_MAXPOS_UNITS`` and ``P_MAXPOS_PCT`` (notional <= fraction * equity);
- ``P_HALT_DD``: once equity at a close falls that fraction below its running peak, the open
  position is closed at that close (reason ``drawdown_halt``) and no entry happens afterwards.
"""

from __future__ import annotations

import numpy as np

from core.backtest._jit import jit

# Parameter vector slots.
P_CASH, P_SPREAD, P_FIXED, P_PER_UNIT, P_RATE, P_MINIMUM = 0, 1, 2, 3, 4, 5
P_SIZING, P_SIZE, P_FRACTIONAL, P_SL, P_TP, P_TRAIL, P_FILL, P_FINALIZE = 6, 7, 8, 9, 10, 11, 12, 13
P_SLIPPAGE, P_CAP, P_CARRY, P_LEVERAGE, P_MAXPOS_UNITS, P_MAXPOS_PCT = 14, 15, 16, 17, 18, 19
P_HALT_DD, P_ATR_MULT = 20, 21
N_PARAMS = 22

# State vector slots.
S_CASH, S_POS, S_ENTRY, S_EBAR, S_ECOMM, S_PEAK, S_NTRADES = 0, 1, 2, 3, 4, 5, 6
S_PENDING, S_EQPEAK, S_HALTED, S_EXIT, S_XBAR, S_WAIT = 7, 8, 9, 10, 11, 12
N_STATE = 13

# Per-bar input columns.
X_SLIP, X_IMPACT, X_VOLUME, X_ATR = 0, 1, 2, 3
N_X = 4

# Trade matrix columns.
T_EBAR, T_XBAR, T_EPRICE, T_XPRICE, T_SIZE, T_COMM, T_REASON = 0, 1, 2, 3, 4, 5, 6
N_TRADE_FIELDS = 7

# Codes (must match core.backtest.signals and core.backtest.sizing).
SIG_LONG, SIG_SHORT, SIG_EXIT = 1, -1, 2
SIZING_UNITS, SIZING_ATR = 1, 2
FILL_NEXT_OPEN, FILL_CLOSE = 0, 1
FINALIZE_NONE, FINALIZE_CLOSE, FINALIZE_OPEN = 0, 1, 2
R_SIGNAL, R_STOP_LOSS, R_TAKE_PROFIT, R_TRAILING_STOP, R_END, R_OUT_OF_MONEY = 0, 1, 2, 3, 4, 5
R_HALT = 6
EXIT_REASONS: tuple[str, ...] = (
    "signal", "stop_loss", "take_profit", "trailing_stop", "end", "out_of_money", "drawdown_halt")


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
    """Units an entry takes (unsigned), by fraction or fixed units; 0 when cash falls short."""
    fractional = p[P_FRACTIONAL] != 0.0
    if p[P_SIZING] == SIZING_UNITS:
        units = p[P_SIZE]
        if p[P_LEVERAGE] > 0.0:
            return units  # the leverage limit cuts it (see limit_units)
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
def atr_size(cash: float, raw: float, adj: float, atr: float, p: np.ndarray) -> float:
    """ATR risk sizing: ``risk * equity / (multiple * atr)`` units, cut to what the budget buys.

    The budget is ``equity * max_leverage`` (``equity`` without a leverage limit); 0 units while
    the ATR is unknown (warm-up).
    """
    if not atr > 0.0:
        return 0.0
    fractional = p[P_FRACTIONAL] != 0.0
    units = _units(p[P_SIZE] * cash, p[P_ATR_MULT] * atr, fractional)
    budget = cash * p[P_LEVERAGE] if p[P_LEVERAGE] > 0.0 else cash
    if units > 0.0 and units * adj + commission(units, raw, p) > budget:
        units = min(units, _units(budget - commission(units, raw, p), adj, fractional))
    return units


@jit
def limit_units(units: float, held: float, adj: float, equity: float, p: np.ndarray) -> float:
    """Cut an order of ``units`` (unsigned) on top of ``held`` units to the risk limits."""
    cap = units
    if p[P_LEVERAGE] > 0.0:
        cap = min(cap, p[P_LEVERAGE] * equity / adj - held)
    if p[P_MAXPOS_UNITS] > 0.0:
        cap = min(cap, p[P_MAXPOS_UNITS] - held)
    if p[P_MAXPOS_PCT] > 0.0:
        cap = min(cap, p[P_MAXPOS_PCT] * equity / adj - held)
    if cap < units:
        units = max(cap, 0.0)
        if p[P_FRACTIONAL] == 0.0:
            units = np.floor(units)
    return units


@jit
def slip_fraction(i: int, units: float, p: np.ndarray, x: np.ndarray) -> float:
    """Slippage of a fill of ``units`` in bar ``i`` as a fraction of price (0 when off)."""
    if p[P_SLIPPAGE] == 0.0:
        return 0.0
    s = x[i, X_SLIP]
    vol = x[i, X_VOLUME]
    if x[i, X_IMPACT] > 0.0 and units > 0.0 and vol > 0.0:
        s += x[i, X_IMPACT] * np.sqrt(units / vol)
    return s


@jit
def liquidity_cap(i: int, units: float, p: np.ndarray, x: np.ndarray) -> float:
    """At most ``cap * volume`` units fill in bar ``i`` (whole units unless fractional)."""
    most = p[P_CAP] * x[i, X_VOLUME]
    if p[P_FRACTIONAL] == 0.0:
        most = np.floor(most)
    return min(units, max(most, 0.0))


@jit
def fill_units(i: int, want: float, held: float, raw: float, d: float, equity: float,
               st: np.ndarray, p: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """Units of an order that fill in bar ``i`` and their price; sets the carried remainder."""
    base = p[P_SPREAD] + slip_fraction(i, 0.0, p, x)
    adj = raw * (1.0 + d * base)
    units = limit_units(want, held, adj, equity, p)
    if p[P_CAP] > 0.0:
        filled = liquidity_cap(i, units, p, x)
        st[S_PENDING] = d * (units - filled) if p[P_CARRY] != 0.0 else 0.0
        units = filled
    if units > 0.0 and p[P_SLIPPAGE] != 0.0 and x[i, X_IMPACT] > 0.0:
        adj = raw * (1.0 + d * (p[P_SPREAD] + slip_fraction(i, units, p, x)))
    return units, adj


@jit
def open_position(i: int, raw: float, direction: int, st: np.ndarray, p: np.ndarray,
                  x: np.ndarray) -> None:
    """Open a long (``direction`` 1) or short (-1) at ``raw`` plus spread and slippage."""
    d = 1.0 if direction > 0 else -1.0
    adj = raw * (1.0 + d * (p[P_SPREAD] + slip_fraction(i, 0.0, p, x)))
    if p[P_SIZING] == SIZING_ATR:
        units = atr_size(st[S_CASH], raw, adj, x[i, X_ATR], p)
    else:
        units = entry_size(st[S_CASH], raw, adj, p)
    if p[P_SLIPPAGE] != 0.0 or p[P_CAP] > 0.0 or p[P_LEVERAGE] > 0.0 or p[P_MAXPOS_UNITS] > 0.0 \
            or p[P_MAXPOS_PCT] > 0.0:
        units, adj = fill_units(i, units, 0.0, raw, d, st[S_CASH], st, p, x)
        if units > 0.0 and p[P_SLIPPAGE] != 0.0 and x[i, X_IMPACT] > 0.0:
            # The impact raised the price: buy no more than the cash covers at that price.
            afford = entry_size(st[S_CASH], raw, adj, p) if p[P_SIZING] != SIZING_ATR \
                else atr_size(st[S_CASH], raw, adj, x[i, X_ATR], p)
            units = min(units, afford)
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
def fill_pending(i: int, raw: float, st: np.ndarray, p: np.ndarray, x: np.ndarray) -> None:
    """Fill (part of) a carried entry remainder at ``raw``, averaging into the position."""
    d = 1.0 if st[S_PENDING] > 0.0 else -1.0
    want = abs(st[S_PENDING])
    held = abs(st[S_POS])
    equity = st[S_CASH] + st[S_POS] * (raw - st[S_ENTRY])
    units, adj = fill_units(i, want, held, raw, d, equity, st, p, x)
    budget = equity * p[P_LEVERAGE] if p[P_LEVERAGE] > 0.0 else equity
    fee = commission(units, adj, p)
    if units > 0.0 and (held + units) * adj + fee > budget:
        st[S_PENDING] = 0.0  # no longer affordable: cancel the rest
        return
    if units <= 0.0:
        return
    st[S_CASH] -= fee
    if held == 0.0:
        st[S_ENTRY] = adj
        st[S_EBAR] = i
        st[S_ECOMM] = fee
        st[S_PEAK] = adj
    else:
        st[S_ENTRY] = (held * st[S_ENTRY] + units * adj) / (held + units)
        st[S_ECOMM] += fee
    st[S_POS] = d * (held + units)


@jit
def close_position(i: int, price: float, reason: int, st: np.ndarray, p: np.ndarray,
                   x: np.ndarray, trades: np.ndarray) -> None:
    """Close the open position at ``price`` less slippage and record the trade.

    Under a liquidity cap an exit order (any reason but ``end`` and ``out_of_money``, which are
    accounting closes) goes to :func:`exit_position` instead, and is ignored when the position
    is already exiting (a stop or take-profit touched meanwhile).
    """
    if p[P_CAP] > 0.0 and reason != R_END and reason != R_OUT_OF_MONEY:
        if st[S_EXIT] < 0.0:
            exit_position(i, price, reason, st, p, x, trades)
        return
    size = st[S_POS]
    if p[P_SLIPPAGE] != 0.0:
        d = 1.0 if size > 0.0 else -1.0
        price = price * (1.0 - d * slip_fraction(i, abs(size), p, x))
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
    st[S_PENDING] = 0.0


@jit
def close_part(i: int, units: float, price: float, reason: int, st: np.ndarray, p: np.ndarray,
               x: np.ndarray, trades: np.ndarray) -> None:
    """Close ``units`` (unsigned, at most held) at ``price`` less slippage; keep the rest.

    The part is recorded as a trade of its own with its share of the entry commission, as
    backtesting.py records a partial close as a separate trade.
    """
    k = int(st[S_NTRADES])
    if k >= trades.shape[0]:
        raise ValueError("the trade matrix is full: give it a row per entry plus one per bar")
    held = abs(st[S_POS])
    d = 1.0 if st[S_POS] > 0.0 else -1.0
    part = d * units
    entry_fee = st[S_ECOMM] * (units / held)
    if p[P_SLIPPAGE] != 0.0:
        price = price * (1.0 - d * slip_fraction(i, units, p, x))
    fee = commission(part, price, p)
    st[S_CASH] += part * (price - st[S_ENTRY]) - fee
    trades[k, T_EBAR] = st[S_EBAR]
    trades[k, T_XBAR] = i
    trades[k, T_EPRICE] = st[S_ENTRY]
    trades[k, T_XPRICE] = price
    trades[k, T_SIZE] = part
    trades[k, T_COMM] = fee + entry_fee
    trades[k, T_REASON] = reason
    st[S_NTRADES] = k + 1
    st[S_POS] = d * (held - units) if units < held else 0.0
    st[S_ECOMM] -= entry_fee


@jit
def exit_position(i: int, price: float, reason: int, st: np.ndarray, p: np.ndarray,
                  x: np.ndarray, trades: np.ndarray) -> None:
    """Exit under the liquidity cap: at most ``cap * volume`` units fill at ``price`` now.

    The exit cancels a carried entry remainder. Until flat it stays under way: ``S_EXIT`` holds
    its reason, ``S_XBAR`` the bar of its last fill and ``S_PENDING`` the units still to sell
    (buy, for a short) at the following fill points (:func:`continue_exit`).
    """
    held = abs(st[S_POS])
    units = liquidity_cap(i, held, p, x)
    if units > 0.0:
        close_part(i, units, price, reason, st, p, x, trades)
    if st[S_POS] == 0.0:
        st[S_EXIT] = -1.0
        st[S_PENDING] = 0.0
        return
    st[S_EXIT] = reason
    st[S_XBAR] = i
    st[S_PENDING] = -st[S_POS]


@jit
def continue_exit(code: int, i: int, price: float, allow_entry: bool, st: np.ndarray,
                  p: np.ndarray, x: np.ndarray, trades: np.ndarray) -> None:
    """Go on with an exit the cap split, at the fill point of a later bar.

    The bar's signal only sets the entry to make once flat (``LONG``/``SHORT``; ``EXIT`` drops
    it). Up to the cap fills (once per bar: not in the bar a stop started the exit); when that
    completes the exit, the waiting entry is made at the same price if entries are allowed.
    """
    if code == SIG_EXIT:
        st[S_WAIT] = 0.0
    elif code != 0:
        st[S_WAIT] = code
    if st[S_XBAR] >= i:
        return
    exit_position(i, price, int(st[S_EXIT]), st, p, x, trades)
    if st[S_POS] == 0.0 and st[S_WAIT] != 0.0:
        direction = int(st[S_WAIT])
        st[S_WAIT] = 0.0
        if allow_entry:
            open_position(i, price, direction, st, p, x)


@jit
def apply_signal(code: int, i: int, price: float, allow_entry: bool, st: np.ndarray,
                 p: np.ndarray, x: np.ndarray, trades: np.ndarray) -> None:
    """Act on one signal code at ``price``: close an opposite position, then open if flat.

    A carried entry remainder is cancelled by an exit or opposite signal and otherwise filled
    first (when entries are allowed). While a capped exit is under way the bar goes to
    :func:`continue_exit`; a capped exit started here makes a reversal's entry wait for it.
    """
    if st[S_EXIT] >= 0.0:
        continue_exit(code, i, price, allow_entry, st, p, x, trades)
        return
    pending = st[S_PENDING]
    if pending != 0.0:
        if code == SIG_EXIT or (code != 0 and (code == SIG_LONG) != (pending > 0.0)):
            st[S_PENDING] = 0.0
        elif allow_entry:
            fill_pending(i, price, st, p, x)
    if code == 0:
        return
    pos = st[S_POS]
    if pos != 0.0 and (code == SIG_EXIT or (code == SIG_LONG) != (pos > 0.0)):
        close_position(i, price, R_SIGNAL, st, p, x, trades)
        if st[S_POS] != 0.0:  # split by the liquidity cap: a new entry waits until flat
            st[S_WAIT] = code if code != SIG_EXIT else 0
            return
    if code != SIG_EXIT and st[S_POS] == 0.0 and st[S_PENDING] == 0.0 and allow_entry:
        open_position(i, price, code, st, p, x)


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
                p: np.ndarray, x: np.ndarray, trades: np.ndarray) -> None:
    """Close on a stop (first, as the pessimistic case) or a take-profit touched in bar ``i``.

    A stop fills at its level, or at the open when the bar gaps through it; a take-profit fills
    at its level, or at the open when the bar gaps beyond it. Slippage and the liquidity cap
    apply to both (:func:`close_position`).
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
        close_position(i, fill, reason, st, p, x, trades)
        return
    if p[P_TP] > 0.0:
        target = st[S_ENTRY] * (1.0 + d * p[P_TP])
        if d * favourable >= d * target:
            fill = o[i] if d * o[i] > d * target else target
            close_position(i, fill, R_TAKE_PROFIT, st, p, x, trades)


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
           x: np.ndarray, equity: np.ndarray, trades: np.ndarray) -> None:
    """Close a position still open after the last bar, when finalising is on.

    This is an accounting close, not an order: the liquidity cap does not apply to it.
    """
    if st[S_POS] == 0.0 or p[P_FINALIZE] == FINALIZE_NONE:
        return
    price = o[n - 1] if p[P_FINALIZE] == FINALIZE_OPEN else c[n - 1]
    close_position(n - 1, price, R_END, st, p, x, trades)
    equity[n - 1] = st[S_CASH]


@jit
def check_halt(i: int, value: float, c: np.ndarray, st: np.ndarray, p: np.ndarray,
               x: np.ndarray, trades: np.ndarray) -> float:
    """Track peak equity; on a drawdown of ``P_HALT_DD`` halt and close at the close.

    The halt's exit is capped like any exit (:func:`exit_position`); an exit already under way
    just goes on. Returns the bar's equity (changed by the exit's slippage and commission).
    """
    if st[S_HALTED] != 0.0:
        return value
    if value > st[S_EQPEAK]:
        st[S_EQPEAK] = value
    elif value <= st[S_EQPEAK] * (1.0 - p[P_HALT_DD]):
        st[S_HALTED] = 1.0
        st[S_WAIT] = 0.0
        if st[S_EXIT] >= 0.0:
            return value
        st[S_PENDING] = 0.0
        if st[S_POS] != 0.0:
            close_position(i, c[i], R_HALT, st, p, x, trades)
            pos = st[S_POS]
            value = st[S_CASH] if pos == 0.0 else st[S_CASH] + (c[i] * pos - pos * st[S_ENTRY])
    return value


@jit
def simulate(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, sig: np.ndarray,
             p: np.ndarray, equity: np.ndarray, trades: np.ndarray) -> int:
    """:func:`simulate_bars` without per-bar inputs (no slippage, cap or ATR sizing).

    The loop never reads ``x`` when those are off, so a one-row dummy array stands in for it
    (allocating ``n`` rows cost ~8 ms on a million bars).
    """
    if p[P_SLIPPAGE] != 0.0 or p[P_CAP] > 0.0 or p[P_SIZING] == SIZING_ATR:
        raise ValueError("slippage, a liquidity cap or ATR sizing need simulate_bars")
    x = np.zeros((1, N_X))
    x[0, X_VOLUME] = np.inf
    x[0, X_ATR] = np.nan
    return simulate_bars(o, h, lo, c, sig, p, x, equity, trades)


@jit
def simulate_bars(o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, sig: np.ndarray,
                  p: np.ndarray, x: np.ndarray, equity: np.ndarray, trades: np.ndarray) -> int:
    """Run the bar loop; fill ``equity`` (one value per bar) and ``trades``; return trade count.

    Per bar ``i``: act on the previous bar's signal at the open (``fill="next_open"``); check the
    stop and take-profit against the bar's range; update the trailing peak; act on this bar's
    signal at the close (``fill="close"``; no new entry on the last bar when finalising); mark to
    market at the close; check the drawdown halt. Equity at or below zero closes everything at
    the close (not capped) and ends the run with zero equity, as backtesting.py does. A carried
    entry remainder and the rest of a capped exit fill at the fill point of the following bars
    (see :func:`apply_signal`).

    Helpers are called only on events or when a stop is configured: passing arrays to a numba
    function costs reference counting (~15 ns a call), which would otherwise dominate the loop.
    """
    n = c.shape[0]
    st = np.zeros(N_STATE)
    st[S_CASH] = p[P_CASH]
    st[S_EQPEAK] = p[P_CASH]
    st[S_EXIT] = -1.0
    st[S_XBAR] = -1.0
    at_close = p[P_FILL] == FILL_CLOSE
    exits = p[P_SL] > 0.0 or p[P_TP] > 0.0 or p[P_TRAIL] > 0.0
    trailing = p[P_TRAIL] > 0.0
    halt = p[P_HALT_DD] > 0.0
    for i in range(n):
        if not at_close and i > 0 and (sig[i - 1] != 0 or st[S_PENDING] != 0.0):
            apply_signal(sig[i - 1], i, o[i], st[S_HALTED] == 0.0, st, p, x, trades)
        if exits and st[S_POS] != 0.0:
            check_exits(i, o, h, lo, st, p, x, trades)
            if trailing:
                update_peak(i, h, lo, st)
        if at_close and (sig[i] != 0 or st[S_PENDING] != 0.0):
            allow = (i < n - 1 or p[P_FINALIZE] == FINALIZE_NONE) and st[S_HALTED] == 0.0
            apply_signal(sig[i], i, c[i], allow, st, p, x, trades)
        pos = st[S_POS]
        value = st[S_CASH] + (c[i] * pos - pos * st[S_ENTRY])
        if halt:
            value = check_halt(i, value, c, st, p, x, trades)
            pos = st[S_POS]
        equity[i] = value
        if value <= 0.0:
            if pos != 0.0:
                close_position(i, c[i], R_OUT_OF_MONEY, st, p, x, trades)
            equity[i:] = 0.0
            return int(st[S_NTRADES])
    finish(n, o, c, st, p, x, equity, trades)
    return int(st[S_NTRADES])
