"""YahooSource against an in-process fake of yfinance: polling, backoff, breaker, history, options.

yfinance is a library, not a server, so the fake stands in for its ``Ticker`` objects and behaves
like the real one does offline (logs the reason and returns an empty frame from ``history``,
raises from ``options``/``option_chain``, raises ``YFRateLimitError`` on HTTP 429).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from yfinance.exceptions import YFRateLimitError

from core.config import Settings
from core.errors import ConfigError, DataError, FeedError, UnknownSymbol, ValidationError
from core.feeds.base import HistorySource, Source
from core.feeds.reconnect import BackoffConfig, BreakerConfig
from core.feeds.yahoo import YahooConfig, YahooSource
from core.models import Bar, Tick

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "yahoo"
NY = "America/New_York"
T0 = datetime(2026, 3, 2, 14, 40, tzinfo=UTC).timestamp()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def minute_frame(rows: list[tuple[str, float, float]], tz: str = NY) -> pd.DataFrame:
    """A ``Ticker.history(interval="1m")`` frame from (UTC "HH:MM", close, volume) rows."""
    index = pd.DatetimeIndex([pd.Timestamp(f"2026-03-02 {t}", tz="UTC") for t, _, _ in rows])
    closes = [c for _, c, _ in rows]
    return pd.DataFrame({"Open": closes, "High": [c + 0.5 for c in closes],
                         "Low": [c - 0.5 for c in closes], "Close": closes,
                         "Volume": [v for _, _, v in rows]},
                        index=index.tz_convert(tz).rename("Datetime"))


def yf_empty() -> pd.DataFrame:
    """What yfinance returns when it has nothing (``utils.empty_df``)."""
    return pd.DataFrame(columns=["Open", "High", "Low", "Close", "Adj Close", "Volume"],
                        index=pd.DatetimeIndex([], name="Date"))


class FakeYF:
    """Module-like stand-in for ``yfinance``: ``Ticker(t)`` answers from canned frames.

    ``mode`` is "ok", "offline" (log like yfinance and return an empty frame; option calls
    raise a connection error) or "rate_limit" (raise ``YFRateLimitError``).
    """

    def __init__(self) -> None:
        self.frames: dict[str, pd.DataFrame] = {}
        self.chains: dict[str, dict[str, tuple[pd.DataFrame, pd.DataFrame]]] = {}
        self.mode = "ok"
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.chain_calls: list[tuple[str, str | None]] = []
        self.sessions: list[Any] = []
        self.lock = threading.Lock()

    def Ticker(self, ticker: str, session: Any = None) -> FakeTicker:  # noqa: N802 - yfinance's name
        self.sessions.append(session)
        return FakeTicker(self, ticker)

    def tickers_called(self) -> list[str]:
        with self.lock:
            return [t for t, _ in self.calls]


class FakeTicker:
    def __init__(self, yf: FakeYF, ticker: str) -> None:
        self.yf, self.ticker = yf, ticker

    def _offline(self) -> None:
        if self.yf.mode == "rate_limit":
            raise YFRateLimitError()
        if self.yf.mode == "offline":
            raise ConnectionError("HTTPSConnectionPool(host='query2.finance.yahoo.com', port=443)"
                                  ": Max retries exceeded (Caused by NameResolutionError("
                                  "\"Failed to resolve 'query2.finance.yahoo.com'\"))")

    def history(self, **kwargs: Any) -> pd.DataFrame:
        with self.yf.lock:
            self.yf.calls.append((self.ticker, kwargs))
        if self.yf.mode == "rate_limit":
            raise YFRateLimitError()
        log = logging.getLogger("yfinance")
        if self.yf.mode == "offline":  # what yfinance 1.7 logs with a requests session
            log.warning("Cookie/crumb fetch failed (ConnectionError), continuing without crumb")
            log.error(f"Failed to get ticker '{self.ticker}' reason: HTTPSConnectionPool(host="
                      "'query2.finance.yahoo.com', port=443): Max retries exceeded (Caused by "
                      "NameResolutionError(\"Failed to resolve 'query2.finance.yahoo.com' "
                      "([Errno -2] Name or service not known)\"))")
        if self.yf.mode == "offline" or self.ticker not in self.yf.frames:
            log.error(f"${self.ticker}: possibly delisted; no price data found  (period=1d)")
            return yf_empty()
        return self.yf.frames[self.ticker].copy()

    @property
    def options(self) -> tuple[str, ...]:
        self._offline()
        return tuple(self.yf.chains.get(self.ticker, {}))

    def option_chain(self, date: str | None = None) -> Any:
        self.yf.chain_calls.append((self.ticker, date))
        self._offline()
        chains = self.yf.chains.get(self.ticker, {})
        if date is not None and date not in chains:
            raise ValueError(f"Expiration `{date}` cannot be found. "
                             f"Available expirations are: [{', '.join(chains)}]")
        if not chains:
            return type("Options", (), {"calls": None, "puts": None, "underlying": None})()
        calls, puts = chains[date or next(iter(chains))]
        return type("Options", (), {"calls": calls, "puts": puts, "underlying": {}})()


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Emitted:
    def __init__(self) -> None:
        self.batches: list[list[Tick]] = []
        self.lock = threading.Lock()

    def __call__(self, events: Any) -> None:
        with self.lock:
            self.batches.append(list(events))

    def ticks(self) -> list[Tick]:
        with self.lock:
            return [t for batch in self.batches for t in batch]


def make_source(fake: FakeYF, clock: Clock | None = None, **config: Any) -> YahooSource:
    config.setdefault("backoff", BackoffConfig(initial=5.0, factor=1.5, cap=30.0, jitter=0.0))
    config.setdefault("breaker", BreakerConfig(failures=3, cooldown=60.0))
    clock = clock or Clock()
    return YahooSource(YahooConfig(**config), yf=fake, clock=clock, monotonic=clock)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.005)


# --- protocol and config --------------------------------------------------------------------------

def test_implements_source_and_history_protocols() -> None:
    src = YahooSource(yf=FakeYF())
    assert isinstance(src, Source) and isinstance(src, HistorySource)
    assert (src.name, src.simulated) == ("yahoo", False)
    assert src.health().state == "stopped"


def test_config_from_settings_and_validation() -> None:
    settings = Settings(yahoo_poll_s=7.5, reconnect_initial_s=2.0, reconnect_factor=3.0,
                        reconnect_cap_s=20.0)
    config = YahooConfig.from_settings(settings, batch=10)
    assert (config.poll_s, config.batch) == (7.5, 10)
    assert config.backoff == BackoffConfig(initial=2.0, factor=3.0, cap=20.0)
    assert config.breaker == BreakerConfig()
    for bad in ({"poll_s": 0}, {"poll_s": float("nan")}, {"batch": 0}, {"batch": 2.5},
                {"history_period_default": "2 weeks"}, {"timeout_s": -1}):
        with pytest.raises(ConfigError):
            YahooConfig(**bad)


def test_subscribe_maps_symbols_and_rejects_invalid_ones() -> None:
    src = YahooSource(yf=FakeYF())
    src.subscribe(["BTCUSDT", "BRK.B"])
    with pytest.raises(UnknownSymbol, match="Yahoo cannot serve 'aapl'"):
        src.subscribe(["AAPL", "aapl"])
    assert src.symbols() == ("BRK.B", "BTCUSDT")  # all-or-nothing
    src.unsubscribe(["BRK.B", "NOPE"])
    assert src.symbols() == ("BTCUSDT",)


# --- polling --------------------------------------------------------------------------------------

def test_poll_emits_exact_ticks_only_for_changed_quotes() -> None:
    fake, clock, emit = FakeYF(), Clock(), Emitted()
    fake.frames["AAPL"] = minute_frame([("14:30", 241.5, 1000), ("14:31", 241.7, 400)])
    fake.frames["BTC-USD"] = minute_frame([("14:31", 67032.5, 980000)], tz="UTC")
    src = make_source(fake, clock, poll_s=5.0)
    src.subscribe(["AAPL", "BTCUSDT"])

    assert src.poll_once(emit) == 5.0
    assert emit.batches == [[
        Tick("AAPL", utc(2026, 3, 2, 14, 31), 241.7, 400.0, source="yahoo"),
        Tick("BTCUSDT", utc(2026, 3, 2, 14, 31), 67032.5, 980000.0, source="yahoo"),
    ]]
    assert fake.tickers_called() == ["AAPL", "BTC-USD"]
    assert fake.calls[0][1] == {"interval": "1m", "period": "1d", "prepost": False,
                                "auto_adjust": False, "actions": False, "timeout": 10.0}

    src.poll_once(emit)  # nothing changed: nothing emitted
    assert len(emit.batches) == 1

    fake.frames["AAPL"] = minute_frame([("14:31", 241.8, 650)])  # same bar, new price
    src.poll_once(emit)
    assert emit.batches[-1] == [Tick("AAPL", utc(2026, 3, 2, 14, 31), 241.8, 250.0,
                                     source="yahoo")]  # only the volume added since last poll
    fake.frames["AAPL"] = minute_frame([("14:31", 241.8, 700)])  # same price, more volume
    src.poll_once(emit)
    assert emit.batches[-1] == [Tick("AAPL", utc(2026, 3, 2, 14, 31), 241.8, 50.0,
                                     source="yahoo")]
    fake.frames["AAPL"] = minute_frame([("14:32", 241.9, 120)])  # a new bar
    src.poll_once(emit)
    assert emit.batches[-1] == [Tick("AAPL", utc(2026, 3, 2, 14, 32), 241.9, 120.0,
                                     source="yahoo")]
    fake.frames["AAPL"] = minute_frame([("14:30", 240.0, 5)])  # older data: ignored
    src.poll_once(emit)
    assert len(emit.batches) == 4

    clock.now += 3
    health = src.health()
    assert (health.events, health.errors, health.message) == (5, 0, "")
    assert health.last_event_age_s == pytest.approx(3.0)


def test_one_request_serves_two_symbols_of_the_same_yahoo_ticker() -> None:
    fake, emit = FakeYF(), Emitted()
    fake.frames["BTC-USD"] = minute_frame([("14:31", 67032.5, 0)], tz="UTC")
    src = make_source(fake)
    src.subscribe(["BTCUSDT", "BTC-USD"])
    src.poll_once(emit)
    assert fake.tickers_called() == ["BTC-USD"]
    assert sorted(t.symbol for t in emit.ticks()) == ["BTC-USD", "BTCUSDT"]


def test_rate_limit_backs_off_with_growing_delays_and_says_so() -> None:
    fake, emit = FakeYF(), Emitted()
    fake.frames = {s: minute_frame([("14:31", 100.0, 1)]) for s in ("AAPL", "MSFT", "NVDA")}
    src = make_source(fake)
    src.subscribe(["AAPL", "MSFT", "NVDA"])
    fake.mode = "rate_limit"
    delays = [src.poll_once(emit) for _ in range(4)]
    assert delays == [5.0, 7.5, 11.25, 16.875]
    assert len(fake.calls) == 4  # each cycle stopped at the first 429
    health = src.health()
    assert src.state == "stale"
    assert health.message == "Yahoo rate limit: retrying in 16.9 s"
    assert health.errors == 4 and emit.batches == []

    fake.mode = "ok"
    assert src.poll_once(emit) == 5.0  # poll_s again
    assert src.state == "live" and src.health().message == ""
    fake.mode = "rate_limit"
    assert src.poll_once(emit) == 5.0  # backoff was reset by the good cycle


def test_rate_limit_in_the_thread_sleeps_the_backoff() -> None:
    fake, emit, slept = FakeYF(), Emitted(), []
    fake.mode = "rate_limit"

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(0.001)

    src = YahooSource(YahooConfig(backoff=BackoffConfig(initial=1.0, factor=2.0, cap=8.0,
                                                        jitter=0.0)), yf=fake, sleep=sleep)
    src.subscribe(["AAPL"])
    src.start(emit)
    try:
        wait_for(lambda: len(slept) >= 5)
        health = src.health()
        assert health.state == "stale" and health.message.startswith("Yahoo rate limit: retrying")
    finally:
        src.stop()
    assert slept[:5] == [1.0, 2.0, 4.0, 8.0, 8.0]
    assert src.health().state == "stopped"


def test_offline_goes_down_then_breaker_stops_requests_then_recovers() -> None:
    fake, clock, emit = FakeYF(), Clock(), Emitted()
    fake.frames["AAPL"] = minute_frame([("14:31", 241.7, 400)])
    fake.mode = "offline"
    src = make_source(fake, clock, breaker=BreakerConfig(failures=3, cooldown=60.0))
    src.subscribe(["AAPL"])

    assert src.poll_once(emit) == 5.0
    assert src.state == "down"
    assert src.health().message == ("Yahoo unavailable: cannot resolve query2.finance.yahoo.com "
                                    "(no network or DNS); retrying in 5 s")
    src.poll_once(emit)
    assert src.poll_once(emit) == 60.0  # third failure opened the breaker
    calls = len(fake.calls)
    clock.now += 30
    assert src.poll_once(emit) == 30.0  # open: no request at all
    assert len(fake.calls) == calls
    assert src.health().message.endswith("retrying in 30 s")
    assert src.health().message.startswith("Yahoo unavailable: cannot resolve")
    assert src.health().errors == 3

    fake.mode = "ok"
    clock.now += 30  # cooldown over: one attempt goes through
    assert src.poll_once(emit) == 5.0
    assert src.state == "live" and src.health().message == ""
    assert emit.ticks() == [Tick("AAPL", utc(2026, 3, 2, 14, 31), 241.7, 400.0, source="yahoo")]


def test_a_cycle_gives_up_after_three_failures_in_a_row() -> None:
    fake = FakeYF()
    fake.mode = "offline"
    src = make_source(fake)
    src.subscribe(["AAPL", "AMZN", "MSFT", "NVDA", "TSLA"])
    src.poll_once(Emitted())
    assert fake.tickers_called() == ["AAPL", "AMZN", "MSFT"]


def test_unknown_ticker_keeps_the_source_live_and_is_asked_last() -> None:
    fake, emit = FakeYF(), Emitted()
    fake.frames["MSFT"] = minute_frame([("14:31", 400.0, 10)])
    src = make_source(fake)
    src.subscribe(["AAAA", "MSFT"])
    src.poll_once(emit)
    assert src.state == "live"
    assert src.health().message == ("Yahoo: no data for AAAA ($AAAA: possibly delisted; "
                                    "no price data found (period=1d))")
    assert src.health().errors == 1
    fake.calls.clear()
    src.poll_once(emit)
    assert fake.tickers_called() == ["MSFT", "AAAA"]


def test_batch_caps_the_requests_of_one_cycle() -> None:
    fake = FakeYF()
    names = ["AAPL", "AMZN", "MSFT", "NVDA", "TSLA"]
    fake.frames = {s: minute_frame([("14:31", 100.0, 1)]) for s in names}
    src = make_source(fake, batch=2)
    src.subscribe(names)
    cycles = []
    for _ in range(3):
        fake.calls.clear()
        src.poll_once(Emitted())
        cycles.append(fake.tickers_called())
    assert cycles == [["AAPL", "AMZN"], ["MSFT", "NVDA"], ["TSLA", "AAPL"]]


def test_no_symbols_means_no_requests() -> None:
    fake = FakeYF()
    src = make_source(fake, poll_s=2.0)
    assert src.poll_once(Emitted()) == 2.0
    assert fake.calls == []


def test_thread_survives_offline_and_recovers_to_live() -> None:
    fake, emit = FakeYF(), Emitted()
    fake.frames["AAPL"] = minute_frame([("14:31", 241.7, 400)])
    fake.mode = "offline"
    src = YahooSource(YahooConfig(poll_s=0.01, backoff=BackoffConfig(initial=0.01, cap=0.02),
                                  breaker=BreakerConfig(failures=2, cooldown=0.05)), yf=fake)
    src.subscribe(["AAPL"])
    src.start(emit)
    src.start(emit)  # idempotent
    try:
        wait_for(lambda: src.health().state == "down")
        assert "Yahoo unavailable: cannot resolve" in src.health().message
        wait_for(lambda: src.health().errors >= 3)  # still polling after the breaker opened
        assert src.health().state == "down"
        fake.mode = "ok"
        wait_for(lambda: src.health().state == "live")
        wait_for(lambda: len(emit.ticks()) == 1)
        assert src.health().message == ""
    finally:
        src.stop()
    assert src.health().state == "stopped"


def test_a_bug_in_a_cycle_does_not_kill_the_thread() -> None:
    fake, calls = FakeYF(), []
    fake.frames["AAPL"] = minute_frame([("14:31", 241.7, 400)])

    def emit(events: Any) -> None:
        calls.append(events)
        raise RuntimeError("consumer failed")

    src = YahooSource(YahooConfig(poll_s=0.01), yf=fake)
    src.subscribe(["AAPL"])
    src.start(emit)
    try:
        wait_for(lambda: src.health().errors >= 1)
        assert src.health().message == "Yahoo source error: consumer failed"
        fake.frames["AAPL"] = minute_frame([("14:32", 241.9, 10)])
        wait_for(lambda: len(calls) >= 2)  # the thread kept polling
    finally:
        src.stop()


def test_session_is_passed_to_every_ticker() -> None:
    fake, session = FakeYF(), object()
    fake.frames["AAPL"] = minute_frame([("14:31", 241.7, 400)])
    src = YahooSource(yf=fake, session=session)
    src.subscribe(["AAPL"])
    src.poll_once(Emitted())
    src.history_frame("AAPL", "1m", period="1d")
    assert fake.sessions == [session, session]


# --- history --------------------------------------------------------------------------------------

def _bars_frame(starts: list[datetime], tz: str = NY) -> pd.DataFrame:
    index = pd.DatetimeIndex(starts).tz_convert(tz).rename("Datetime")
    n = len(starts)
    closes = [100.0 + i for i in range(n)]
    return pd.DataFrame({"Open": closes, "High": [c + 1 for c in closes],
                         "Low": [c - 1 for c in closes], "Close": closes,
                         "Volume": [10.0 * (i + 1) for i in range(n)]}, index=index)


@pytest.mark.parametrize(("timeframe", "interval", "start", "stop"), [
    ("1m", "1m", utc(2026, 3, 4, 14, 37) - timedelta(days=6), utc(2026, 3, 4, 14, 37)),
    ("5m", "5m", utc(2026, 3, 4, 14, 35) - timedelta(days=6), utc(2026, 3, 4, 14, 35)),
    ("15m", "15m", utc(2026, 3, 4, 14, 30) - timedelta(days=7), utc(2026, 3, 4, 14, 30)),
    ("1h", "1h", utc(2026, 3, 4, 14) - timedelta(days=11), utc(2026, 3, 4, 14)),
    ("1d", "1d", utc(2026, 3, 4) - timedelta(days=46), utc(2026, 3, 4)),
])
def test_history_asks_for_the_right_interval_and_window(timeframe: str, interval: str,
                                                         start: datetime, stop: datetime) -> None:
    fake = FakeYF()
    step = timedelta(days=1) if timeframe == "1d" else timedelta(minutes=5)
    starts = [stop - step * k for k in range(5, -2, -1)]  # 5 before stop, one at stop, one after
    if timeframe == "1d":  # Yahoo stamps daily bars at New York midnight
        starts = [pd.Timestamp(s.date()).tz_localize(NY) for s in starts]
    fake.frames["BRK-B"] = _bars_frame(starts)
    src = YahooSource(yf=fake, clock=Clock(utc(2026, 3, 4, 15).timestamp()))
    bars = src.history("BRK.B", timeframe, utc(2026, 3, 4, 14, 37, 12), 30)
    assert fake.calls == [("BRK-B", {"interval": interval, "start": start, "end": stop,
                                     "auto_adjust": False, "actions": False, "timeout": 10.0})]
    assert len(bars) == 5 and all(b.start < stop for b in bars)
    assert all(b.symbol == "BRK.B" and b.timeframe == timeframe and b.source == "yahoo"
               for b in bars)
    assert bars[-1].start == (stop - step if timeframe != "1d" else utc(2026, 3, 3))
    assert src.history("BRK.B", timeframe, utc(2026, 3, 4, 14, 37, 12), 2) == bars[-2:]


def test_history_exact_bars() -> None:
    fake = FakeYF()
    fake.frames["AAPL"] = _bars_frame([utc(2026, 3, 4, 14, 30), utc(2026, 3, 4, 14, 31)])
    src = YahooSource(yf=fake, clock=Clock(utc(2026, 3, 4, 15).timestamp()))
    assert src.history("AAPL", "1m", utc(2026, 3, 4, 14, 32), 10, end_price=5.0) == [
        Bar("AAPL", "1m", utc(2026, 3, 4, 14, 30), 100.0, 101.0, 99.0, 100.0, 10.0, "yahoo"),
        Bar("AAPL", "1m", utc(2026, 3, 4, 14, 31), 101.0, 102.0, 100.0, 101.0, 20.0, "yahoo"),
    ]


def test_history_1s_is_empty_and_unknown_timeframe_is_refused() -> None:
    fake = FakeYF()
    src = YahooSource(yf=fake)
    assert src.history("AAPL", "1s", utc(2026, 3, 4), 100) == []
    assert src.history("AAPL", "1m", utc(2026, 3, 4), 0) == []
    with pytest.raises(ValidationError, match="Unknown timeframe"):
        src.history("AAPL", "2m", utc(2026, 3, 4), 100)
    assert fake.calls == []


def test_history_too_old_for_yahoo_raises() -> None:
    src = YahooSource(yf=FakeYF(), clock=Clock(utc(2026, 3, 4).timestamp()))
    with pytest.raises(FeedError, match=r"^Yahoo unavailable: 1m bars before 2025-12-01 00:00 "
                       r"UTC are older than Yahoo keeps them \(30 days\)$"):
        src.history("AAPL", "1m", utc(2025, 12, 1), 100)


def test_history_offline_raises_feed_error_with_the_reason() -> None:
    fake = FakeYF()
    fake.mode = "offline"
    src = YahooSource(yf=fake)
    with pytest.raises(FeedError, match=r"^Yahoo unavailable: cannot resolve query2\.finance"):
        src.history("AAPL", "1d", datetime.now(UTC), 10)


def test_history_frame_any_interval_and_validation() -> None:
    fake = FakeYF()
    fake.frames["BTC-USD"] = _bars_frame([utc(2026, 3, 2), utc(2026, 3, 9)], tz="UTC")
    src = YahooSource(YahooConfig(history_period_default="3mo"), yf=fake)
    frame = src.history_frame("BTCUSDT", "1wk")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume"]
    assert list(frame.index) == [pd.Timestamp("2026-03-02", tz="UTC"),
                                 pd.Timestamp("2026-03-09", tz="UTC")]
    assert fake.calls[-1] == ("BTC-USD", {"interval": "1wk", "period": "3mo",
                                          "auto_adjust": False, "actions": False,
                                          "timeout": 10.0})
    src.history_frame("BTCUSDT", "90m", period="5d", adjust=True)
    assert fake.calls[-1][1]["period"] == "5d" and fake.calls[-1][1]["auto_adjust"] is True
    src.history_frame("BTCUSDT", "1d", start="2026-01-01", end="2026-03-01")
    assert (fake.calls[-1][1]["start"], fake.calls[-1][1]["end"]) == ("2026-01-01", "2026-03-01")
    assert "period" not in fake.calls[-1][1]

    calls = len(fake.calls)
    with pytest.raises(DataError, match="no '4h' bars"):
        src.history_frame("BTCUSDT", "4h")
    with pytest.raises(DataError, match="not both"):
        src.history_frame("BTCUSDT", "1d", period="1y", start="2026-01-01")
    with pytest.raises(DataError, match="not a Yahoo period"):
        src.history_frame("BTCUSDT", "1d", period="year")
    assert len(fake.calls) == calls


def test_history_frame_never_returns_empty() -> None:
    fake = FakeYF()
    src = YahooSource(yf=fake)
    with pytest.raises(FeedError, match=r"Yahoo unavailable: \$NOPE: possibly delisted"):
        src.history_frame("NOPE", "1d")


def test_history_frame_rate_limit_and_raised_errors_become_feed_errors() -> None:
    fake = FakeYF()
    fake.frames["AAPL"] = _bars_frame([utc(2026, 3, 2)])
    src = YahooSource(yf=fake)
    fake.mode = "rate_limit"
    with pytest.raises(FeedError, match="^Yahoo rate limit"):
        src.history_frame("AAPL", "1d")

    class Boom:
        def Ticker(self, ticker: str) -> Any:  # noqa: N802
            raise ConnectionError("Connection refused by host='query2.finance.yahoo.com'")

    with pytest.raises(FeedError, match="^Yahoo unavailable: connection refused by query2"):
        YahooSource(yf=Boom()).history_frame("AAPL", "1d")


# --- options --------------------------------------------------------------------------------------

def _chain(right: str) -> pd.DataFrame:
    kind = "calls" if right == "C" else "puts"
    return pd.read_csv(FIXTURES / f"aapl_{kind}_2026-01-16.csv")


def _options_fake() -> FakeYF:
    fake = FakeYF()
    fake.chains["AAPL"] = {"2026-01-16": (_chain("C"), _chain("P")),
                           "2025-12-19": (_chain("C").iloc[:0], _chain("P").iloc[:0])}
    return fake


def test_option_chain_nearest_and_given_expiry() -> None:
    fake = _options_fake()
    src = YahooSource(yf=fake, clock=Clock(utc(2025, 11, 21, 15).timestamp()))
    quotes = src.option_chain("AAPL")
    assert fake.chain_calls == [("AAPL", None)]
    assert len(quotes) == 8 and quotes[0].ts == utc(2025, 11, 21, 15)
    assert {(q.underlying, q.expiry, q.source) for q in quotes} == {
        ("AAPL", date(2026, 1, 16), "yahoo")}
    assert src.option_chain("AAPL", date(2026, 1, 16)) == quotes
    assert fake.chain_calls[-1] == ("AAPL", "2026-01-16")
    assert src.option_chain("AAPL", date(2025, 12, 19)) == []
    assert src.expiries("AAPL") == [date(2025, 12, 19), date(2026, 1, 16)]


def test_option_chain_errors() -> None:
    fake = _options_fake()
    src = YahooSource(yf=fake)
    with pytest.raises(DataError, match="no AAPL options expiring 2026-02-20"):
        src.option_chain("AAPL", date(2026, 2, 20))
    with pytest.raises(FeedError, match="Yahoo unavailable: no option chain for BTC-USD"):
        src.option_chain("BTCUSDT")
    assert src.expiries("BTCUSDT") == []
    fake.mode = "offline"
    for call in (lambda: src.option_chain("AAPL"), lambda: src.expiries("AAPL")):
        with pytest.raises(FeedError, match="^Yahoo unavailable: cannot resolve query2"):
            call()
    fake.mode = "rate_limit"
    with pytest.raises(FeedError, match="^Yahoo rate limit"):
        src.option_chain("AAPL")


def test_history_is_cached_and_respects_the_breaker() -> None:
    fake = FakeYF()
    fake.frames["AAPL"] = _bars_frame([utc(2026, 3, 4, 14, 30), utc(2026, 3, 4, 14, 31)])
    clock = Clock(utc(2026, 3, 4, 15).timestamp())
    src = YahooSource(yf=fake, clock=clock)
    first = src.history("AAPL", "1m", utc(2026, 3, 4, 14, 32), 10)
    for _ in range(5):  # a chart refreshing every 2 s
        assert src.history("AAPL", "1m", utc(2026, 3, 4, 14, 32, 30), 10) == first
    assert len(fake.calls) == 1
    clock.now += 61
    src.history("AAPL", "1m", utc(2026, 3, 4, 14, 32), 10)
    assert len(fake.calls) == 2  # the cache expires
    src.breaker.trip()
    clock.now += 61
    with pytest.raises(FeedError, match="Yahoo unavailable: not asking"):
        src.history("AAPL", "1m", utc(2026, 3, 4, 14, 32), 10)
    assert len(fake.calls) == 2  # an open breaker sends nothing
