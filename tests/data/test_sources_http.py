"""The history sources' HTTP helper: retries, Retry-After, circuit breaker, rate limit, secrets.

Exercised through BinanceHistory and the local Binance fake (what a caller sees), plus the
helper's own small functions.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd
import pytest
import requests

from core.data.sources.base import SourceUnavailable
from core.data.sources.binance import BinanceHistory
from core.data.sources.http import (
    HttpJson,
    HttpPolicy,
    describe_exception,
    mask,
    parse_retry_after,
    show_url,
)
from core.errors import ConfigError
from core.feeds.reconnect import BreakerConfig
from tests.fakes.rest_binance import FakeBinanceRest
from tests.fakes.rest_server import Fault, make_bars

T0 = pd.Timestamp("2024-03-01", tz="UTC")
END = T0 + pd.Timedelta(days=6)
EPS = 0.01  # timer slack


@pytest.fixture
def bars(binance_rest: FakeBinanceRest) -> pd.DataFrame:
    frame = make_bars("2024-03-01", 6, "1D")
    binance_rest.add("BTCUSDT", "1d", frame)
    return frame


def binance(fake: FakeBinanceRest, http: HttpJson, page_limit: int = 1000) -> BinanceHistory:
    return BinanceHistory(fake.url, http=http, page_limit=page_limit)


def test_429_is_retried_after_the_delay_retry_after_asks_for(
        binance_rest: FakeBinanceRest, bars: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    binance_rest.fail_next(Fault("429", retry_after="0.2"))
    got = binance(binance_rest, fast_http("binance")).fetch("BTCUSDT", T0, END, "1d")
    pd.testing.assert_frame_equal(got, bars)
    first, second = binance_rest.requests
    assert second.at - first.at >= 0.2 - EPS


def test_server_errors_and_dropped_connections_are_retried(
        binance_rest: FakeBinanceRest, bars: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    binance_rest.fail_next(Fault("500"), Fault("drop"))
    got = binance(binance_rest, fast_http("binance")).fetch("BTCUSDT", T0, END, "1d")
    pd.testing.assert_frame_equal(got, bars)
    assert binance_rest.count() == 3


def test_giving_up_after_max_retries(binance_rest: FakeBinanceRest, bars: pd.DataFrame,
                                     fast_http: Callable[..., HttpJson]) -> None:
    binance_rest.always = Fault("503")
    source = binance(binance_rest, fast_http("binance", max_retries=2))
    with pytest.raises(SourceUnavailable, match=r"Binance unavailable: server error \(HTTP 503"):
        source.fetch("BTCUSDT", T0, END, "1d")
    assert binance_rest.count() == 3


def test_a_long_retry_after_fails_at_once(binance_rest: FakeBinanceRest, bars: pd.DataFrame,
                                          fast_http: Callable[..., HttpJson]) -> None:
    binance_rest.fail_next(Fault("429", retry_after="120"))
    began = time.monotonic()
    with pytest.raises(SourceUnavailable, match="asked to wait 120 s"):
        binance(binance_rest, fast_http("binance")).fetch("BTCUSDT", T0, END, "1d")
    assert time.monotonic() - began < 1.0 and binance_rest.count() == 1


def test_repeated_failures_open_the_breaker_and_it_recovers_after_the_cooldown(
        binance_rest: FakeBinanceRest, bars: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    binance_rest.always = Fault("500")
    http = fast_http("binance", max_retries=1,
                     breaker=BreakerConfig(failures=3, cooldown=0.3))
    source = binance(binance_rest, http)
    with pytest.raises(SourceUnavailable, match="after 2 attempts"):
        source.fetch("BTCUSDT", T0, END, "1d")
    with pytest.raises(SourceUnavailable, match="circuit open"):
        source.fetch("BTCUSDT", T0, END, "1d")  # the third failure in a row opens it
    assert binance_rest.count() == 3
    with pytest.raises(SourceUnavailable, match="not asked for another"):
        source.fetch("BTCUSDT", T0, END, "1d")
    assert binance_rest.count() == 3  # the server was not touched
    binance_rest.always = None
    time.sleep(0.35)
    pd.testing.assert_frame_equal(source.fetch("BTCUSDT", T0, END, "1d"), bars)
    assert http.breaker.state == "closed"


def test_the_rate_limiter_spaces_requests(binance_rest: FakeBinanceRest, bars: pd.DataFrame,
                                          fast_http: Callable[..., HttpJson]) -> None:
    source = binance(binance_rest, fast_http("binance", rate=1, per=0.15), page_limit=2)
    pd.testing.assert_frame_equal(source.fetch("BTCUSDT", T0, END, "1d"), bars)
    times = [r.at for r in binance_rest.requests]
    assert len(times) == 3
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.15 - EPS


def test_no_secret_reaches_a_message(binance_rest: FakeBinanceRest,
                                     fast_http: Callable[..., HttpJson]) -> None:
    binance_rest.always = Fault("drop")
    http = fast_http("polygon", max_retries=0)
    with pytest.raises(SourceUnavailable) as err:
        http.get(f"{binance_rest.url}/v2/x?apiKey=sk-in-url", params={"apiKey": "sk-param"},
                 headers={"Authorization": "Bearer sk-header"},
                 secrets=("sk-in-url", "sk-param", "sk-header"))
    text = str(err.value)
    assert "dropped" in text and "sk-" not in text and "?" not in text
    assert err.value.__cause__ is None and err.value.__suppress_context__
    binance_rest.stop()  # now refused
    with pytest.raises(SourceUnavailable, match="connection refused") as err:
        fast_http("polygon", max_retries=0).get(f"{binance_rest.url}/v2/x?apiKey=sk-in-url")
    assert "sk-in-url" not in str(err.value)


def test_a_url_that_is_not_http_is_a_config_error(fast_http: Callable[..., HttpJson]) -> None:
    with pytest.raises(ConfigError, match="not an http"):
        fast_http("binance").get("api.binance.com/api/v3/klines")


def test_helpers() -> None:
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("2") == 2.0 and parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT",
                             now=lambda: pd.Timestamp("2015-10-21 07:28:00Z").timestamp()) == 30
    assert show_url("https://h/p/q?apiKey=k#f") == "https://h/p/q"
    assert mask("key k1 and k2", ("k1", "", "k2")) == "key *** and ***"
    assert describe_exception(requests.ConnectTimeout("x?apiKey=1")) == "no answer in time"
    assert "apiKey" not in describe_exception(requests.ConnectionError("boom url?apiKey=1"))
    with pytest.raises(ConfigError, match="rate >= 1"):
        HttpPolicy(rate=0)
