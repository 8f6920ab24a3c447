"""AlpacaHistory against the local fake of Alpaca's market data v2 REST bars."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from core.data.sources.alpaca import AlpacaHistory
from core.data.sources.base import (
    CredentialsRejected,
    HistorySource,
    SourceUnavailable,
    SymbolNotFound,
)
from core.data.sources.http import HttpJson
from core.errors import DataError
from tests.fakes.rest_alpaca import FakeAlpacaRest
from tests.fakes.rest_server import Fault, make_bars

KEY_ID, SECRET = "AKTESTKEYID", "sk-alpaca-secret-xyz"
UTC_DAYS = pd.bdate_range("2024-03-04", "2024-03-15", tz="UTC")
NY_MIDNIGHTS = UTC_DAYS.tz_localize(None).tz_localize("America/New_York").tz_convert("UTC")


def expected(bars: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return bars[(bars.index >= start) & (bars.index < end)]


def alpaca(fake: FakeAlpacaRest, fast_http: Callable[..., HttpJson], key_id: str = KEY_ID,
           secret: str = SECRET, **policy: object) -> AlpacaHistory:
    return AlpacaHistory(key_id, secret, fake.url, http=fast_http("alpaca", **policy))


@pytest.fixture
def minutes(alpaca_rest: FakeAlpacaRest) -> pd.DataFrame:
    bars = make_bars("2024-03-04 14:30", 11, "5min", seed=5)
    alpaca_rest.add("AAPL", "5Min", bars)
    alpaca_rest.page_size = 4
    return bars


def test_minutes_across_page_tokens_exactly(alpaca_rest: FakeAlpacaRest, minutes: pd.DataFrame,
                                            fast_http: Callable[..., HttpJson]) -> None:
    start, end = minutes.index[1], minutes.index[-1]  # end is inclusive at Alpaca: dropped here
    got = alpaca(alpaca_rest, fast_http).fetch("AAPL", start, end, "5m")
    pd.testing.assert_frame_equal(got, expected(minutes, start, end))
    assert len(got) == 9
    first, *rest = alpaca_rest.requests
    assert len(rest) == 2 and all("page_token" in r.query for r in rest)
    assert first.query == {"timeframe": "5Min", "start": "2024-03-04T14:35:00Z",
                           "end": "2024-03-04T15:20:00Z", "limit": "10000",
                           "adjustment": "raw", "feed": "iex"}
    assert first.headers["APCA-API-KEY-ID"] == KEY_ID
    assert all(SECRET not in r.raw and KEY_ID not in r.raw for r in alpaca_rest.requests)


def test_day_bars_move_from_new_york_to_utc_midnight(alpaca_rest: FakeAlpacaRest,
                                                     fast_http: Callable[..., HttpJson]) -> None:
    bars = make_bars("", 0, "1D", index=UTC_DAYS, seed=6)
    alpaca_rest.add("MSFT", "1Day", bars, stamps=NY_MIDNIGHTS)
    assert alpaca_rest.bars[("MSFT", "1Day")][0]["t"] == "2024-03-04T05:00:00Z"
    assert alpaca_rest.bars[("MSFT", "1Day")][-1]["t"] == "2024-03-15T04:00:00Z"
    start, end = pd.Timestamp("2024-03-05T12:00Z"), pd.Timestamp("2024-03-15T02:00Z")
    got = alpaca(alpaca_rest, fast_http).fetch("MSFT", start, end, "1d")
    pd.testing.assert_frame_equal(got, expected(bars, start, end))
    assert got.index[0] == pd.Timestamp("2024-03-06", tz="UTC")
    assert got.index[-1] == pd.Timestamp("2024-03-15", tz="UTC")


def test_a_bad_secret_is_a_credentials_error_without_the_keys(
        alpaca_rest: FakeAlpacaRest, minutes: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    source = alpaca(alpaca_rest, fast_http, secret="sk-wrong-secret")
    assert isinstance(source, HistorySource) and "sk-wrong" not in repr(source)
    with pytest.raises(CredentialsRejected, match="GS_ALPACA_SECRET") as err:
        source.fetch("AAPL", minutes.index[0], minutes.index[-1], "5m")
    assert isinstance(err.value, DataError)
    assert "sk-wrong-secret" not in str(err.value) and KEY_ID not in str(err.value)
    with pytest.raises(SourceUnavailable, match="circuit open"):
        source.fetch("AAPL", minutes.index[0], minutes.index[-1], "5m")
    assert alpaca_rest.count() == 1
    with pytest.raises(CredentialsRejected, match="needs an API key id and secret"):
        alpaca(alpaca_rest, fast_http, secret="").fetch("AAPL", minutes.index[0],
                                                         minutes.index[-1], "5m")


def test_unknown_symbol_and_empty_windows(alpaca_rest: FakeAlpacaRest, minutes: pd.DataFrame,
                                          fast_http: Callable[..., HttpJson]) -> None:
    source = alpaca(alpaca_rest, fast_http)
    with pytest.raises(SymbolNotFound, match="Alpaca has no bars for the symbol 'ZZZZ'"):
        source.fetch("ZZZZ", minutes.index[0], minutes.index[-1], "5m")
    night = source.fetch("AAPL", pd.Timestamp("2024-03-05T02:00Z"),
                         pd.Timestamp("2024-03-05T03:00Z"), "5m")
    assert night.empty and str(night.index.tz) == "UTC"  # "bars": null


def test_429_without_retry_after_backs_off_and_retries(
        alpaca_rest: FakeAlpacaRest, minutes: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    alpaca_rest.fail_next(Fault("429"), Fault("502"))
    got = alpaca(alpaca_rest, fast_http).fetch("AAPL", minutes.index[0],
                                                minutes.index[-1], "5m")
    pd.testing.assert_frame_equal(got, minutes.iloc[:-1])
    assert alpaca_rest.count() == 2 + 3


def test_serves_us_stocks_only(fast_http: Callable[..., HttpJson]) -> None:
    source = AlpacaHistory(KEY_ID, SECRET, "http://127.0.0.1:9", http=fast_http("alpaca"))
    assert source.supports("AAPL", "15m") and not source.supports("ETHUSDT", "1d")
    with pytest.raises(DataError, match="US stocks"):
        source.fetch("ETHUSDT", UTC_DAYS[0], UTC_DAYS[1], "1d")
