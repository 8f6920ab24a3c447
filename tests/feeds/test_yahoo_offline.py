"""YahooSource with the REAL yfinance and no network: it must report, never crash or hang.

The autouse ``_no_network`` fixture (tests/conftest.py) blocks every non-loopback connect made
through Python sockets. yfinance prefers curl_cffi, whose C sockets that guard cannot see, so these
tests hand yfinance a ``requests`` session. Two ways to be offline, both fast:

- ``no-dns``: every name lookup fails at once, as on a machine without a network;
- ``guard``: names resolve to a documentation address (192.0.2.1) and the autouse guard refuses
  the connect, so nothing can leave even on a machine that is online.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import requests
import yfinance
from yfinance.data import YfData

from core.errors import FeedError
from core.feeds.reconnect import BackoffConfig, BreakerConfig
from core.feeds.yahoo import YahooConfig, YahooSource

pytestmark = pytest.mark.timeout(60)
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


@pytest.fixture(params=["no-dns", "guard"])
def offline(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in _LOOPBACK:
            return real(host, port, *args, **kwargs)
        if request.param == "no-dns":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", port or 443))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return request.param


@pytest.fixture
def session() -> Iterator[requests.Session]:
    """A requests session without proxies from the environment.

    yfinance keeps one session per process (``YfData`` is a singleton that every ``Ticker`` with
    a session replaces); the previous one is put back afterwards.
    """
    previous = YfData()._session
    s = requests.Session()
    s.trust_env = False
    yield s
    YfData(session=previous)
    s.close()


def make_source(session: requests.Session) -> YahooSource:
    config = YahooConfig(poll_s=0.05, timeout_s=2.0,
                         backoff=BackoffConfig(initial=0.01, cap=0.05),
                         breaker=BreakerConfig(failures=50, cooldown=0.1))
    return YahooSource(config, yf=yfinance, session=session)


def test_poll_with_real_yfinance_goes_down_with_a_clear_message(offline: str,
                                                                session: requests.Session
                                                                ) -> None:
    src = make_source(session)
    src.subscribe(["AAPL", "BTCUSDT"])
    emitted: list[Any] = []
    messages = []
    began = time.monotonic()
    for _ in range(3):  # yfinance raises on its first lookups, later returns empty frames
        src.poll_once(emitted.append)
        assert src.state == "down"
        messages.append(src.health().message)
    assert time.monotonic() - began < 20
    assert emitted == []
    assert all(m.startswith("Yahoo unavailable: ") and "retrying in" in m for m in messages)
    if offline == "no-dns":
        assert all("cannot resolve" in m or "cannot connect" in m for m in messages), messages
    assert src.health().errors == 3


def test_thread_with_real_yfinance_stays_alive_and_down(offline: str,
                                                        session: requests.Session) -> None:
    src = make_source(session)
    src.subscribe(["MSFT"])
    src.start(lambda events: None)
    try:
        deadline = time.monotonic() + 20
        while src.health().errors < 3:
            assert time.monotonic() < deadline, src.health()
            time.sleep(0.01)
        health = src.health()
        assert health.state == "down" and health.message.startswith("Yahoo unavailable: ")
    finally:
        src.stop()
    assert src.health().state == "stopped"


def test_history_and_options_with_real_yfinance_raise_feed_error(offline: str,
                                                                 session: requests.Session
                                                                 ) -> None:
    src = make_source(session)
    calls = [
        lambda: src.history("AAPL", "1d", datetime.now(UTC), 20),
        lambda: src.history_frame("BTCUSDT", "1h", period="5d"),
        lambda: src.option_chain("AAPL"),
        lambda: src.option_chain("AAPL", date(2030, 1, 18)),
        lambda: src.expiries("AAPL"),
    ]
    for call in calls:
        began = time.monotonic()
        with pytest.raises(FeedError, match="^Yahoo unavailable: ") as err:
            call()
        assert time.monotonic() - began < 10
        if offline == "no-dns":
            assert "cannot resolve" in str(err.value) or "cannot connect" in str(err.value)
    with pytest.raises(FeedError, match="tests must not reach the network" if offline == "guard"
                       else "cannot resolve query2.finance.yahoo.com"):
        src.option_chain("AAPL")
