"""Yahoo Finance through yfinance: a polling quote source, past bars and option chains.

Which yfinance calls, and why
-----------------------------
Yahoo has no batched price call in yfinance's public API. ``yf.download(tickers)`` and
``yf.Tickers`` look batched but run ``Ticker.history`` once per ticker (``multi._download_one``),
so they cost one chart request per symbol, the same as calling ``Ticker.history`` ourselves. They
are worse for polling: ``download`` catches every per-ticker exception, including
``YFRateLimitError``, and only logs it, so a rate limit cannot be seen, and it goes on sending the
rest of the batch into the limit. ``Ticker.fast_info`` costs more (``last_price`` downloads a
year of daily bars per symbol, cached on the Ticker so it goes stale) and has no trade time.
Yahoo's v7 quote endpoint does answer many symbols in one request, but yfinance reaches it only
through its private ``YfData`` internals, so this client does not use it.

So a poll cycle calls ``Ticker(t).history(period="1d", interval="1m")`` for each symbol: one
chart request each (the smallest range Yahoo serves), which raises ``YFRateLimitError`` on HTTP
429 so the cycle stops at the first 429 and backs off. ``batch`` caps the symbols asked for in one
cycle. The tick is the last 1m bar: its close, its start time, and the volume added since the
previous poll of the same bar (so candles built from the ticks do not count a bar's volume twice).

Offline, yfinance hides most failures: ``history`` logs the reason and returns an empty frame
(the first two calls of a process may raise the HTTP library's connection error instead), while
``options`` and ``option_chain`` raise it. The client takes the reason from the exception or from
what yfinance logged on the calling thread during the call, and reports
``"Yahoo unavailable: <reason>"``.

Network I/O is injectable: ``yf`` is any object with yfinance's ``Ticker`` (tests pass a fake that
returns canned frames), and ``session`` goes to every ``Ticker`` (tests pass a ``requests``
session so the real yfinance stays on Python sockets, which the test suite blocks; curl_cffi's
own sockets would bypass that guard).
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

import pandas as pd

from core.errors import DataError, FeedError, InvalidSymbol, UnknownSymbol
from core.feeds.base import Emit, SourceHealth
from core.feeds.reconnect import Backoff, CircuitBreaker
from core.feeds.yahoo.config import YahooConfig
from core.feeds.yahoo.parsing import (
    INTRADAY_RETENTION,
    PERIOD_RE,
    TIMEFRAME_INTERVALS,
    YF_INTERVALS,
    chain_to_quotes,
    clean_ohlcv,
    frame_to_bars,
    history_window,
    last_tick,
    parse_expiries,
    to_yahoo,
)
from core.models import Bar, OptionQuote, Tick
from core.timeframes import timeframe_seconds, utc_from_epoch

log = logging.getLogger(__name__)

ABORT_AFTER_FAILURES = 3
"""Symbols failing in a row, with none answered yet, that end a poll cycle: Yahoo is down."""
QUOTE_PERIOD, QUOTE_INTERVAL = "1d", "1m"
_YF_LOGGER = "yfinance"


class YahooUnavailable(FeedError):
    """Yahoo gave no data: offline, an HTTP error, or an empty answer. ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Yahoo unavailable: {reason}")
        self.reason = reason


class YahooRateLimited(FeedError):
    """Yahoo answered HTTP 429 (``YFRateLimitError``)."""

    def __init__(self) -> None:
        super().__init__("Yahoo rate limit: too many requests from this address; "
                         "wait a minute and try again.")


def is_rate_limit(exc: BaseException) -> bool:
    """Whether ``exc`` is yfinance's ``YFRateLimitError`` (by class name, so fakes can mimic it)."""
    return any(cls.__name__ == "YFRateLimitError" for cls in type(exc).__mro__)


_RESOLVE_RE = re.compile(r"resolve(?: host)?:?\s*'?([A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9])", re.I)
_HOST_RE = re.compile(r"host='?([A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9])")
_NETWORK_HINTS = ("resolve", "dnserror", "timed out", "timeout", "refused", "connection",
                  "must not reach the network", "ssl", "proxy")


def describe_failure(text: str) -> str:
    """A short, readable reason from an exception text or a yfinance log line.

    Name-resolution failures (curl's "Could not resolve host", urllib3's "Failed to resolve",
    yfinance's "(DNSError)"), timeouts, refused and failed connections are summarised; other
    texts lose curl's "See https://curl.se..." tail and are cut to 200 characters.
    """
    text = " ".join(str(text).split())
    lowered = text.lower()
    host_match = _HOST_RE.search(text)
    host = host_match[1] if host_match else "Yahoo"
    resolve = _RESOLVE_RE.search(text)
    if resolve:
        return f"cannot resolve {resolve[1]} (no network or DNS)"
    if "dnserror" in lowered:
        return "cannot resolve Yahoo's servers (no network or DNS)"
    if "timed out" in lowered or "timeout" in lowered:
        return f"no answer from {host} in time"
    if "connection refused" in lowered:
        return f"connection refused by {host}"
    if "connectionerror" in lowered and "must not reach" not in lowered:
        return f"cannot connect to {host}"
    text = text.split(" See https://curl.se", 1)[0]
    return text if len(text) <= 200 else text[:199] + "…"


class _ThreadLog(logging.Handler):
    """Keeps WARNING+ messages that yfinance logs on one thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.thread = threading.get_ident()
        self.messages: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            try:
                self.messages.append((record.levelno, record.getMessage()))
            except Exception:  # noqa: BLE001 - a malformed log call must not break a fetch
                pass

    def reason(self) -> str | None:
        """The most telling message: a network cause first, then an error, then a warning.

        Offline, yfinance logs the network failure as a warning ("Cookie/crumb fetch failed
        (ConnectionError)") or inside an error about the time zone lookup, and then the empty
        answer as an error ("possibly delisted; no price data found"), which is not the cause.
        """
        best: tuple[int, str] | None = None
        for level, message in self.messages:
            reason = describe_failure(message)
            if reason.startswith("cannot resolve"):
                rank = 0
            elif reason.startswith(("no answer from", "connection refused")):
                rank = 1
            elif any(hint in message.lower() for hint in _NETWORK_HINTS):
                rank = 2
            else:
                rank = 3 if level >= logging.ERROR else 4
            if best is None or rank < best[0]:
                best = (rank, reason)
        return None if best is None else best[1]


@contextmanager
def _yf_log_on_this_thread() -> Iterator[_ThreadLog]:
    logger = logging.getLogger(_YF_LOGGER)
    handler = _ThreadLog()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _seconds(value: float) -> str:
    return f"{value:.3g}"


@dataclass
class _Cycle:
    """What one poll cycle got."""

    ticks: list[Tick] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # Yahoo ticker -> reason
    rate_limited: bool = False


class YahooSource:
    """Yahoo Finance quotes (polled), history and option chains through yfinance.

    Implements :class:`core.feeds.base.Source` and :class:`core.feeds.base.HistorySource`. The
    module docstring explains which yfinance calls it makes and why.

    Parameters
    ----------
    config
        Poll interval, batch size, backoff and breaker.
    yf
        Module-like object with yfinance's ``Ticker``; the real ``yfinance`` by default (imported
        on first use, so importing this module stays cheap).
    session
        HTTP session handed to every ``Ticker`` (a ``requests`` or ``curl_cffi`` session); None
        lets yfinance choose. Note that yfinance keeps one session per process, so passing one
        here changes it for every yfinance user in the process.
    clock
        Epoch-seconds wall clock (event ages, option snapshot times, history windows).
    monotonic
        Clock of the circuit breaker.
    sleep
        Wait between cycles; by default a wait on the stop event, so ``stop`` is immediate.
    rng
        Randomness of the backoff jitter.
    """

    name = "yahoo"
    simulated = False

    def __init__(self, config: YahooConfig | None = None, *, yf: Any = None, session: Any = None,
                 clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] | None = None,
                 rng: random.Random | None = None) -> None:
        self.config = config or YahooConfig()
        self._yf = yf
        self._session = session
        self._clock, self._monotonic = clock, monotonic
        self._stop = threading.Event()
        self._sleep = sleep or self._stop.wait
        self.backoff = Backoff(self.config.backoff, rng)
        self.breaker = CircuitBreaker(self.config.breaker, monotonic)
        self.delays: list[float] = []
        self._lock = threading.Lock()
        self._history_cache: dict[tuple[str, str, int, int], tuple[float, tuple[Bar, ...]]] = {}
        self._symbols: dict[str, str] = {}  # our symbol -> Yahoo ticker
        self._last: dict[str, tuple[datetime, float, float]] = {}  # symbol -> (ts, price, volume)
        self._failing: set[str] = set()  # Yahoo tickers that gave nothing last time
        self._tickers: dict[str, Any] = {}  # poll thread's Ticker objects
        self._cursor = 0
        self._thread: threading.Thread | None = None
        self._state = "stopped"
        self._message = ""
        self._reason = ""
        self._events = 0
        self._errors = 0
        self._last_event: float | None = None

    # --- Source protocol ---------------------------------------------------------------------

    def subscribe(self, symbols: Iterable[str]) -> None:
        """Poll ``symbols`` too; raises UnknownSymbol for one that has no Yahoo ticker."""
        wanted = {}
        for symbol in symbols:
            try:
                wanted[symbol] = to_yahoo(symbol)
            except InvalidSymbol as exc:
                raise UnknownSymbol(f"Yahoo cannot serve {symbol!r}: {exc}") from None
        with self._lock:
            self._symbols.update(wanted)

    def unsubscribe(self, symbols: Iterable[str]) -> None:
        """Stop polling ``symbols``; unknown ones are ignored."""
        with self._lock:
            for symbol in symbols:
                self._symbols.pop(symbol, None)
                self._last.pop(symbol, None)

    def symbols(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted(self._symbols))

    def start(self, emit: Emit) -> None:
        """Start the poll thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._state, self._message = "connecting", ""
        self._thread = threading.Thread(target=self._run, args=(emit,), name="gs-yahoo",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling; waits for a yfinance call in flight up to twice its timeout."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=max(10.0, 2 * self.config.timeout_s))
        self._state = "stopped"

    @property
    def state(self) -> str:
        """What the last poll cycle concluded ("connecting", "live", "stale", "down"...).

        :meth:`health` reports "stopped" instead whenever the thread is not running.
        """
        return self._state

    def health(self) -> SourceHealth:
        running = self._thread is not None and self._thread.is_alive()
        age = None if self._last_event is None else max(0.0, self._clock() - self._last_event)
        return SourceHealth(self.name, self._state if running else "stopped", self.simulated,
                            self._events, self._errors, age, self._message)

    # --- polling -----------------------------------------------------------------------------

    def _run(self, emit: Emit) -> None:
        while not self._stop.is_set():
            try:
                delay = self.poll_once(emit)
            except Exception as exc:  # noqa: BLE001 - a bug must not kill the source; report it
                log.exception("Yahoo poll failed")
                self._errors += 1
                self._set("down", f"Yahoo source error: {exc}")
                delay = self.config.poll_s
            if not self._stop.is_set():
                self._sleep(delay)

    def poll_once(self, emit: Emit) -> float:
        """Run one poll cycle (the thread's body) and return the seconds to wait before the next.

        Emits a Tick for each symbol whose last bar time, price or volume changed. A rate limit
        makes the source "stale" and backs off; a cycle where nothing answered makes it "down",
        counts towards the circuit breaker and backs off; while the breaker is open no request
        is made.
        """
        if not self.breaker.allow():
            wait = self.breaker.retry_in()
            self._set("down", f"Yahoo unavailable: {self._reason}; retrying in {_seconds(wait)} s")
            return wait
        groups = self._next_batch()
        if not groups:
            return self.config.poll_s
        began = self._monotonic()
        cycle = self._poll(groups)
        if cycle.ticks and not self._stop.is_set():
            cycle.ticks.sort(key=lambda t: t.ts)
            emit(cycle.ticks)
            self._events += len(cycle.ticks)
            self._last_event = self._clock()
        if cycle.rate_limited:
            return self._rate_limited()
        if not cycle.answered:
            return self._unavailable(next(iter(cycle.failures.values()), "no answer"))
        self.breaker.success()
        self.backoff.reset()
        message = ""
        if cycle.failures:
            self._errors += 1
            names = ", ".join(sorted(cycle.failures))
            message = f"Yahoo: no data for {names} ({next(iter(cycle.failures.values()))})"
        self._set("live", message)
        return max(0.0, self.config.poll_s - (self._monotonic() - began))

    def _rate_limited(self) -> float:
        self._errors += 1
        delay = self.backoff.next()
        self.delays.append(delay)
        self._set("stale", f"Yahoo rate limit: retrying in {_seconds(delay)} s")
        return delay

    def _unavailable(self, reason: str) -> float:
        self._errors += 1
        self._reason = reason
        self.breaker.failure()
        delay = self.backoff.next()
        if not self.breaker.allow():
            delay = max(delay, self.breaker.retry_in())
        self.delays.append(delay)
        self._set("down", f"Yahoo unavailable: {reason}; retrying in {_seconds(delay)} s")
        return delay

    def _set(self, state: str, message: str) -> None:
        """Record the outcome; log it when the state changes (not on every cycle)."""
        if state != self._state and state != "live":
            log.warning("%s", message)
        elif state != self._state:
            log.info("Yahoo source live")
        self._state, self._message = state, message

    def _next_batch(self) -> list[tuple[str, list[str]]]:
        """This cycle's Yahoo tickers (at most ``batch``) with our symbols for each."""
        groups: dict[str, list[str]] = {}
        with self._lock:
            for symbol, ticker in sorted(self._symbols.items()):
                groups.setdefault(ticker, []).append(symbol)
        for gone in set(self._tickers) - set(groups):
            del self._tickers[gone]
        self._failing &= set(groups)
        tickers = sorted(groups)
        if len(tickers) > self.config.batch:
            first = self._cursor % len(tickers)
            tickers = (tickers[first:] + tickers[:first])[: self.config.batch]
            self._cursor = first + self.config.batch
        tickers.sort(key=lambda t: t in self._failing)  # known-good first, stable
        return [(t, groups[t]) for t in tickers]

    def _poll(self, groups: list[tuple[str, list[str]]]) -> _Cycle:
        cycle = _Cycle()
        in_a_row = 0
        for ticker, symbols in groups:
            if self._stop.is_set():
                break
            try:
                frame = self._fetch(self._poll_ticker(ticker), ticker, QUOTE_INTERVAL,
                                    f"period {QUOTE_PERIOD}", period=QUOTE_PERIOD,
                                    prepost=self.config.prepost, auto_adjust=False)
            except YahooRateLimited:
                cycle.rate_limited = True
                break
            except YahooUnavailable as exc:
                cycle.failures[ticker] = exc.reason
                self._failing.add(ticker)
                self._tickers.pop(ticker, None)  # a fresh Ticker retries yfinance's own lookups
                in_a_row += 1
                if not cycle.answered and in_a_row >= ABORT_AFTER_FAILURES:
                    break
                continue
            in_a_row = 0
            cycle.answered.append(ticker)
            self._failing.discard(ticker)
            for symbol in symbols:
                tick = self._changed(symbol, frame)
                if tick is not None:
                    cycle.ticks.append(tick)
        return cycle

    def _changed(self, symbol: str, frame: pd.DataFrame) -> Tick | None:
        """The tick to emit for ``symbol``, or None when its last bar did not change."""
        tick = last_tick(frame, symbol)
        if tick is None:
            return None
        key = (tick.ts, tick.price, tick.size)
        with self._lock:
            if symbol not in self._symbols:
                return None
            previous = self._last.get(symbol)
            if previous == key or (previous is not None and tick.ts < previous[0]):
                return None
            self._last[symbol] = key
        if previous is not None and previous[0] == tick.ts:
            tick = replace(tick, size=max(0.0, tick.size - previous[2]))
        return tick

    def _poll_ticker(self, ticker: str) -> Any:
        obj = self._tickers.get(ticker)
        if obj is None:
            obj = self._tickers[ticker] = self._new_ticker(ticker)
        return obj

    # --- yfinance calls ----------------------------------------------------------------------

    def _module(self) -> Any:
        if self._yf is None:
            import yfinance

            self._yf = yfinance
        return self._yf

    def _new_ticker(self, ticker: str) -> Any:
        yf = self._module()
        try:
            if self._session is not None:
                return yf.Ticker(ticker, session=self._session)
            return yf.Ticker(ticker)
        except Exception as exc:  # noqa: BLE001 - yfinance validates names and may do I/O here
            raise self._failure(exc) from exc

    def _failure(self, exc: Exception) -> FeedError:
        if is_rate_limit(exc):
            return YahooRateLimited()
        return YahooUnavailable(describe_failure(f"{type(exc).__name__}: {exc}"))

    def _fetch(self, ticker_obj: Any, ticker: str, interval: str, what: str,
               **kwargs: Any) -> pd.DataFrame:
        """``Ticker.history(interval=..., **kwargs)`` as a clean frame, or YahooUnavailable."""
        with _yf_log_on_this_thread() as logged:
            try:
                raw = ticker_obj.history(interval=interval, actions=False,
                                         timeout=self.config.timeout_s, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every failure becomes a FeedError
                raise self._failure(exc) from exc
        try:
            frame = clean_ohlcv(raw if isinstance(raw, pd.DataFrame) else pd.DataFrame(),
                                ticker, interval)
        except DataError as exc:
            raise YahooUnavailable(f"unreadable answer for {ticker}: {exc}") from exc
        if frame.empty:
            raise YahooUnavailable(logged.reason() or f"no {interval} bars for {ticker} ({what})")
        return frame

    # --- history -----------------------------------------------------------------------------

    def history(self, symbol: str, timeframe: str, end: datetime, count: int,
                end_price: float | None = None) -> list[Bar]:
        """Yahoo's last ``count`` bars of ``symbol`` that start before ``end``'s bucket.

        Parameters
        ----------
        symbol, timeframe
            Our symbol; one of 1m, 5m, 15m, 1h, 1d (``1s`` gives an empty list: Yahoo has no
            second bars).
        end
            tz-aware end; bars of its bucket and later are left out.
        count
            Bars wanted; fewer come back when Yahoo keeps less (1m: 30 days, 7 days a request).
        end_price
            Ignored: these are real bars, not drawn to meet a price.

        Raises
        ------
        ValidationError
            For an unknown timeframe.
        FeedError
            ``Yahoo unavailable: ...`` or ``Yahoo rate limit: ...`` when no bar came back.
        """
        seconds = timeframe_seconds(timeframe)
        if timeframe not in TIMEFRAME_INTERVALS or count <= 0:
            return []
        key = (symbol, timeframe, int(end.timestamp()) // seconds, count)
        now = self._clock()
        with self._lock:
            cached = self._history_cache.get(key)
        if cached is not None and cached[0] > now:
            return list(cached[1])  # a chart refreshing every 2 s must not re-ask Yahoo
        if not self.breaker.allow():
            raise YahooUnavailable(f"not asking for {self.breaker.retry_in():.0f} s after "
                                   f"repeated failures ({self.health().message or 'offline'})")
        bars = self._fetch_history(symbol, timeframe, end, count)
        with self._lock:
            if len(self._history_cache) > 256:
                self._history_cache.clear()
            self._history_cache[key] = (now + max(60.0, min(seconds, 900.0)), tuple(bars))
        return bars

    def _fetch_history(self, symbol: str, timeframe: str, end: datetime, count: int
                       ) -> list[Bar]:
        interval, start, stop = history_window(timeframe, end, count,
                                               utc_from_epoch(self._clock()))
        if start >= stop:
            days = INTRADAY_RETENTION[interval].days
            raise YahooUnavailable(f"{interval} bars before {stop:%Y-%m-%d %H:%M} UTC are older "
                                   f"than Yahoo keeps them ({days} days)")
        frame = self._history(symbol, interval, start=start, end=stop)
        bars = [b for b in frame_to_bars(frame, symbol, timeframe) if b.start < stop]
        return bars[-count:]

    def history_frame(self, symbol: str, interval: str = "1d", period: str | None = None,
                      start: datetime | date | str | None = None,
                      end: datetime | date | str | None = None,
                      adjust: bool = False) -> pd.DataFrame:
        """Bars of any yfinance interval as a clean OHLCV frame.

        Parameters
        ----------
        symbol
            Our symbol (``BTCUSDT``, ``BRK.B``...).
        interval
            One of :data:`~core.feeds.yahoo.parsing.YF_INTERVALS`.
        period
            ``1d, 5d, 1mo, 3mo, 6mo, 1y, 2y, 5y, 10y, ytd, max`` (or ``7d``-like); the config's
            ``history_period_default`` when neither it nor start/end is given.
        start, end
            Instead of ``period``; ``end`` is exclusive, naive times are the exchange's.
        adjust
            False: prices as traded (Yahoo adjusts them for splits only), matching live quotes.
            True: also adjusted for dividends (yfinance's ``auto_adjust``).

        Returns
        -------
        pandas.DataFrame
            Float ``open, high, low, close, volume`` indexed by ``start`` (UTC); daily and longer
            bars start at UTC midnight of their session date. Never empty.

        Raises
        ------
        DataError
            For an unknown interval, a malformed period, or a period together with start/end.
        FeedError
            ``Yahoo unavailable: <reason>`` when yfinance fails or returns no rows,
            ``Yahoo rate limit: ...`` on HTTP 429.
        """
        if interval not in YF_INTERVALS:
            raise DataError(
                f"Yahoo has no {interval!r} bars; use one of {', '.join(YF_INTERVALS)}.")
        if period is not None and (start is not None or end is not None):
            raise DataError("Give Yahoo either a period or start/end, not both.")
        if period is not None and not PERIOD_RE.match(period):
            raise DataError(f"{period!r} is not a Yahoo period; use 1d, 5d, 1mo, 3mo, 6mo, 1y, "
                            "2y, 5y, 10y, ytd or max.")
        if period is None and start is None and end is None:
            period = self.config.history_period_default
        window = {"period": period} if period is not None else {"start": start, "end": end}
        return self._history(symbol, interval, adjust=adjust, **window)

    def _history(self, symbol: str, interval: str, adjust: bool = False,
                 **window: Any) -> pd.DataFrame:
        ticker = to_yahoo(symbol)
        what = (f"period {window['period']}" if window.get("period")
                else f"{window.get('start')} to {window.get('end')}")
        return self._fetch(self._new_ticker(ticker), ticker, interval, what,
                           auto_adjust=adjust, **{k: v for k, v in window.items() if v is not None})

    # --- options -----------------------------------------------------------------------------

    def expiries(self, symbol: str) -> list[date]:
        """Listed option expiries of ``symbol``, soonest first (empty: Yahoo lists none).

        Raises
        ------
        FeedError
            ``Yahoo unavailable: <reason>`` or ``Yahoo rate limit: ...``.
        """
        ticker = self._new_ticker(to_yahoo(symbol))
        try:
            values = ticker.options
        except Exception as exc:  # noqa: BLE001 - every failure becomes a FeedError
            raise self._failure(exc) from exc
        return parse_expiries(values or ())

    def option_chain(self, symbol: str, expiry: date | None = None) -> list[OptionQuote]:
        """The option chain of ``symbol`` for ``expiry`` (the nearest when None).

        One request for the nearest expiry, two for a given one (yfinance first loads the list
        of expiries). Quotes are stamped with the client's clock.

        Raises
        ------
        DataError
            When ``expiry`` is not listed, or Yahoo's chain is malformed.
        FeedError
            ``Yahoo unavailable: <reason>`` (offline, or no chain for the symbol) or
            ``Yahoo rate limit: ...``.
        """
        yahoo = to_yahoo(symbol)
        ticker = self._new_ticker(yahoo)
        try:
            chain = ticker.option_chain(expiry.isoformat()) if expiry else ticker.option_chain()
        except ValueError as exc:
            if "cannot be found" not in str(exc):
                raise self._failure(exc) from exc
            raise DataError(f"Yahoo lists no {symbol} options expiring {expiry}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - every failure becomes a FeedError
            raise self._failure(exc) from exc
        calls, puts = getattr(chain, "calls", None), getattr(chain, "puts", None)
        if calls is None and puts is None:
            raise YahooUnavailable(f"no option chain for {yahoo} (it may list no options)")
        return chain_to_quotes(calls, puts, symbol, expiry, utc_from_epoch(self._clock()))
