"""The deterministic simulated market: pure, seeded, driven by virtual time.

Each symbol has its own random stream (seeded from the market seed and the symbol name with a
stable hash), generated in vectorised blocks. The engine never reads a clock: callers advance it.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from core.errors import UnknownSymbol
from core.feeds.simulator.catalog import CATALOG, SymbolSpec
from core.feeds.simulator.config import YEAR_SECONDS, SimulatorConfig, variance_years
from core.feeds.simulator.market_hours import is_open, session_bounds
from core.models import Bar, Tick
from core.timeframes import bucket_start, timeframe_seconds
from core.timeframes import utc_from_epoch as utc

SOURCE = "simulator"


@dataclass(frozen=True, slots=True)
class RawEvents:
    """A time-ordered batch of simulated trades as parallel arrays (NaN bid/ask = none)."""

    times: np.ndarray
    symbols: tuple[str, ...]
    index: np.ndarray
    price: np.ndarray
    size: np.ndarray
    bid: np.ndarray
    ask: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


def _decimals(tick: float) -> int:
    return max(0, -math.floor(math.log10(tick) + 1e-9))


def symbol_seed(seed: int, symbol: str, *extra: int) -> np.random.Generator:
    """A generator that depends only on the market seed, the symbol and ``extra`` (stable hash)."""
    return np.random.default_rng([seed, zlib.crc32(symbol.encode()), *extra])


class _SymbolStream:
    """One symbol's trades, generated a block at a time."""

    def __init__(self, spec: SymbolSpec, cfg: SimulatorConfig, start: float) -> None:
        self.spec, self.cfg = spec, cfg
        self.rng = symbol_seed(cfg.seed, spec.symbol)
        self.t, self.mid, self.logvol = start, spec.price, 0.0
        self.decimals = _decimals(spec.tick_size)
        self.sessions = cfg.market_hours and not spec.trades_24_7
        self.buf: tuple[np.ndarray, ...] | None = None
        self.pos = 0

    def _refill(self) -> None:
        cfg, spec, rng = self.cfg, self.spec, self.rng
        close = math.inf
        if self.sessions:
            opens, close = session_bounds(self.t)
            self.t = max(self.t, opens)
        n = cfg.block
        dt = rng.exponential(1.0 / cfg.virtual_rate, n)
        size_mult = np.ones(n)
        if rng.random() < cfg.burst_probability:
            first = int(rng.integers(0, n))
            last = min(n, first + int(rng.integers(n // 8, n // 2)))
            dt[first:last] /= cfg.burst_rate
            size_mult[first:last] = cfg.burst_size
        times = self.t + np.cumsum(dt)
        var_x = cfg.vol_of_vol**2 / (2.0 * cfg.vol_reversion)
        sigma = spec.vol * math.exp(self.logvol - var_x)
        years = variance_years(dt, self.sessions)
        z = rng.standard_normal(n)
        jumps = (rng.random(n) < cfg.jump_intensity * years) * rng.normal(0.0, cfg.jump_std, n)
        compensator = cfg.jump_intensity * (math.exp(0.5 * cfg.jump_std**2) - 1.0)
        r = (cfg.drift - 0.5 * sigma**2 - compensator) * years + sigma * np.sqrt(years) * z + jumps
        mids = self.mid * np.exp(np.cumsum(r))
        buy = rng.random(n) < 0.5 + 0.3 * np.tanh(z)
        sizes = spec.lot * rng.lognormal(0.0, 0.8, n) * size_mult
        sizes = np.maximum(1.0, np.round(sizes)) if spec.lot >= 1 else np.round(sizes, 4) + 1e-4
        if spec.lot == 0:
            sizes = np.zeros(n)
        keep = times < close
        if not keep.all():
            times, mids, buy, sizes = times[keep], mids[keep], buy[keep], sizes[keep]
        span = (close if len(times) < n else times[-1]) - self.t
        if len(times):
            self.mid = float(mids[-1])
        self.t = float(close if len(times) < n else times[-1])
        decay = math.exp(-cfg.vol_reversion * span / YEAR_SECONDS)
        self.logvol = self.logvol * decay + math.sqrt(var_x * (1 - decay**2)) * float(rng.normal())
        self.buf = (times, *self._quote(mids, buy, sigma), sizes)
        self.pos = 0

    def _quote(self, mids: np.ndarray, buy: np.ndarray, sigma: float) -> tuple[np.ndarray, ...]:
        spec = self.spec
        if spec.asset_class == "index":
            price = np.round(mids, self.decimals)
            nan = np.full(len(mids), np.nan)
            return price, nan, nan
        half = np.maximum(spec.tick_size / 2, mids * spec.spread_bps / 2e4 * sigma / spec.vol)
        tick = spec.tick_size
        bid = np.round(np.floor((mids - half) / tick) * tick, self.decimals)
        ask = np.round(np.ceil((mids + half) / tick) * tick, self.decimals)
        ask = np.where(ask <= bid, np.round(bid + tick, self.decimals), ask)
        bid = np.maximum(bid, tick)
        return np.where(buy, ask, bid), bid, ask

    def pull_until(self, t: float) -> tuple[np.ndarray, ...]:
        parts = []
        while True:
            if self.buf is None or self.pos >= len(self.buf[0]):
                if self.t > t:
                    break
                self._refill()
                continue
            times = self.buf[0]
            end = int(np.searchsorted(times, t, side="right"))
            if end > self.pos:
                parts.append(tuple(a[self.pos:end] for a in self.buf))
                self.pos = end
            if end < len(times):
                break
        if not parts:
            return ()
        return tuple(np.concatenate(cols) for cols in zip(*parts, strict=True))


class MarketSimulator:
    """A seeded market of many symbols advanced in virtual time (epoch seconds).

    Parameters
    ----------
    config
        Market parameters and seed.
    start
        Virtual epoch seconds at which the first symbols start trading.
    catalog
        Symbols the market knows; adding any other raises UnknownSymbol.
    """

    def __init__(self, config: SimulatorConfig, start: float,
                 catalog: dict[str, SymbolSpec] | None = None) -> None:
        self.config = config
        self.catalog = CATALOG if catalog is None else catalog
        self.now = start
        self._streams: dict[str, _SymbolStream] = {}

    def spec(self, symbol: str) -> SymbolSpec:
        """The catalog entry of ``symbol``; raises UnknownSymbol with the choices."""
        try:
            return self.catalog[symbol]
        except KeyError:
            sample = ", ".join(sorted(self.catalog)[:12])
            raise UnknownSymbol(
                f"The simulator has no symbol '{symbol}'. It knows {len(self.catalog)} symbols, "
                f"e.g. {sample}."
            ) from None

    def add(self, symbol: str) -> None:
        """Start trading ``symbol`` at the current virtual time (no-op if already trading)."""
        if symbol not in self._streams:
            self._streams[symbol] = _SymbolStream(self.spec(symbol), self.config, self.now)

    def remove(self, symbol: str) -> None:
        """Stop trading ``symbol``."""
        self._streams.pop(symbol, None)

    def symbols(self) -> tuple[str, ...]:
        """Symbols currently trading."""
        return tuple(self._streams)

    def advance_raw(self, t: float) -> RawEvents:
        """All trades with virtual time in (now, t], time-ordered, as arrays."""
        names = tuple(self._streams)
        chunks = []
        for i, name in enumerate(names):
            cols = self._streams[name].pull_until(t)
            if cols:
                chunks.append((np.full(len(cols[0]), i, dtype=np.int32), cols))
        self.now = max(self.now, t)
        if not chunks:
            empty = np.empty(0)
            return RawEvents(empty, names, np.empty(0, np.int32), empty, empty, empty, empty)
        index = np.concatenate([c[0] for c in chunks])
        times, price, bid, ask, size = (np.concatenate(col) for col in
                                        zip(*(c[1] for c in chunks), strict=True))
        order = np.argsort(times, kind="stable")
        return RawEvents(times[order], names, index[order], price[order], size[order],
                         bid[order], ask[order])

    def advance(self, t: float) -> list[Tick]:
        """Like :meth:`advance_raw`, as Tick objects stamped with their virtual times."""
        raw = self.advance_raw(t)
        return [tick for tick in to_ticks(raw, None)]

    def history(self, symbol: str, timeframe: str, end: datetime, count: int,
                end_price: float | None = None) -> list[Bar]:
        """``count`` simulated bars ending before the bucket of ``end``, last close ``end_price``.

        Deterministic in (seed, symbol, timeframe, end bucket). With the market-hours setting on,
        equity bars skip weekends and closed hours and carry trading-time variance, like the
        live market; without it every symbol trades around the clock.
        """
        spec = self.spec(symbol)
        tf = timeframe_seconds(timeframe)
        last = bucket_start(end.timestamp(), tf)
        starts = self._history_starts(spec, tf, last, count)
        n = len(starts)
        rng = symbol_seed(self.config.seed, symbol, tf, last)
        sessions = self.config.market_hours and not spec.trades_24_7
        bar_seconds = tf if tf < 86_400 else (23_400 if sessions else 86_400)
        sub = 24
        s = spec.vol * math.sqrt(variance_years(bar_seconds, sessions) / sub)
        steps = -0.5 * s * s + s * rng.standard_normal((n, sub))
        paths = np.cumsum(steps, axis=1)
        total = paths[:, -1]
        log_close = math.log(end_price or spec.price) - np.concatenate(
            [np.cumsum(total[::-1])[::-1][1:], [0.0]])
        log_open = log_close - total
        dec = _decimals(spec.tick_size)
        opens = np.round(np.exp(log_open), dec)
        closes = np.round(np.exp(log_close), dec)
        highs = np.maximum(np.round(np.exp(log_open + paths.max(axis=1)), dec),
                           np.maximum(opens, closes))
        lows = np.minimum(np.round(np.exp(log_open + np.minimum(paths.min(axis=1), 0)), dec),
                          np.minimum(opens, closes))
        volumes = spec.lot * self.config.virtual_rate * bar_seconds * rng.lognormal(0, 0.4, n)
        volumes = np.round(volumes, 4)
        return [
            Bar(symbol, timeframe, utc(t), o, h, lo, c, v, SOURCE)
            for t, o, h, lo, c, v in zip(starts, opens.tolist(), highs.tolist(), lows.tolist(),
                                         closes.tolist(), volumes.tolist(), strict=True)
        ]

    def _history_starts(self, spec: SymbolSpec, tf: int, last: int, count: int) -> list[int]:
        starts: list[int] = []
        t = last - tf
        guard = count * 400 + 1000
        while len(starts) < count and guard > 0:
            guard -= 1
            if self.config.market_hours and not spec.trades_24_7:
                closed = (utc(t + 43_200).weekday() >= 5 if tf >= 86_400 else not is_open(t))
                if closed:
                    t -= tf
                    continue
            starts.append(t)
            t -= tf
        return starts[::-1]


def to_ticks(raw: RawEvents, stamp: datetime | None) -> list[Tick]:
    """Turn raw arrays into Ticks; ``stamp`` overrides every time (live mode stamps emission)."""
    names = raw.symbols
    out = []
    stamps = [stamp] * len(raw) if stamp is not None else [utc(t) for t in raw.times.tolist()]
    for ts, i, p, s, b, a in zip(stamps, raw.index.tolist(), raw.price.tolist(),
                                 raw.size.tolist(), raw.bid.tolist(), raw.ask.tolist(),
                                 strict=True):
        out.append(Tick(names[i], ts, p, s, b if b == b else None, a if a == a else None, SOURCE))
    return out
