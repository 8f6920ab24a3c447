"""PolygonHistory against the local fake of Polygon/Massive's REST aggregates."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from core.data.sources.base import (
    CredentialsRejected,
    HistorySource,
    SourceUnavailable,
    SymbolNotFound,
)
from core.data.sources.http import HttpJson
from core.data.sources.polygon import PolygonHistory
from core.errors import DataError
from tests.fakes.rest_polygon import FakePolygonRest
from tests.fakes.rest_server import Fault, make_bars

KEY = "pk-test-123"
UTC_DAYS = pd.bdate_range("2024-03-04", "2024-03-15", tz="UTC")  # across the DST change (10th)
NY_MIDNIGHTS = UTC_DAYS.tz_localize(None).tz_localize("America/New_York").tz_convert("UTC")


def expected(bars: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return bars[(bars.index >= start) & (bars.index < end)]


def polygon(fake: FakePolygonRest, fast_http: Callable[..., HttpJson],
            key: str = KEY, **policy: object) -> PolygonHistory:
    return PolygonHistory(key, fake.url, http=fast_http("polygon", **policy))


@pytest.fixture
def days(polygon_rest: FakePolygonRest) -> pd.DataFrame:
    """AAPL day bars stamped like Polygon's (00:00 New York), three a page."""
    bars = make_bars("", 0, "1D", index=UTC_DAYS)
    polygon_rest.add("AAPL", 1, "day", bars, stamps=NY_MIDNIGHTS)
    polygon_rest.page_size = 3
    return bars


def test_days_across_next_url_pages_line_up_at_utc_midnight(
        polygon_rest: FakePolygonRest, days: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    assert {ts.hour for ts in NY_MIDNIGHTS} == {4, 5}
    start, end = pd.Timestamp("2024-03-05", tz="UTC"), pd.Timestamp("2024-03-14T03:00Z")
    got = polygon(polygon_rest, fast_http).fetch("AAPL", start, end, "1d")
    pd.testing.assert_frame_equal(got, expected(days, start, end))
    assert got.index[-1] == pd.Timestamp("2024-03-14", tz="UTC")  # 05:00Z at Polygon, kept
    paths = [r for r in polygon_rest.requests if r.path.startswith("/v2/aggs")]
    assert len(paths) == 3 and "cursor" in paths[1].query
    assert paths[0].query == {"adjusted": "false", "sort": "asc", "limit": "50000"}
    for request in polygon_rest.requests:  # the key travels only in the Authorization header
        assert KEY not in request.raw and request.headers["Authorization"] == f"Bearer {KEY}"


def test_minute_bars_exactly(polygon_rest: FakePolygonRest,
                             fast_http: Callable[..., HttpJson]) -> None:
    bars = make_bars("2024-03-04 14:30", 12, "5min", seed=4)
    polygon_rest.add("MSFT", 5, "minute", bars)
    polygon_rest.page_size = 5
    start, end = bars.index[2], bars.index[10]
    got = polygon(polygon_rest, fast_http).fetch("MSFT", start, end, "5m")
    pd.testing.assert_frame_equal(got, expected(bars, start, end))
    assert got.index[0] == start and len(got) == 8


def test_next_url_on_another_host_is_asked_of_the_configured_one(
        polygon_rest: FakePolygonRest, days: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    polygon_rest.next_url_base = "https://api.polygon.io"  # the network is blocked in tests
    got = polygon(polygon_rest, fast_http).fetch("AAPL", UTC_DAYS[0], UTC_DAYS[-1], "1d")
    pd.testing.assert_frame_equal(got, days.iloc[:-1])
    assert polygon_rest.count("/v2/aggs") == 4


def test_unknown_ticker_is_a_data_error_and_an_empty_window_is_empty(
        polygon_rest: FakePolygonRest, days: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    source = polygon(polygon_rest, fast_http)
    with pytest.raises(SymbolNotFound, match="Polygon/Massive does not know the ticker 'ZZZZ'"):
        source.fetch("ZZZZ", UTC_DAYS[0], UTC_DAYS[-1], "1d")
    weekend = source.fetch("AAPL", pd.Timestamp("2024-03-09", tz="UTC"),
                           pd.Timestamp("2024-03-10", tz="UTC"), "1d")
    assert weekend.empty and str(weekend.index.tz) == "UTC"
    assert polygon_rest.count("/v3/reference/tickers/") == 2  # asked only when empty


def test_a_bad_key_is_a_credentials_error_without_the_key(
        polygon_rest: FakePolygonRest, days: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    source = polygon(polygon_rest, fast_http, key="pk-wrong-987")
    with pytest.raises(CredentialsRejected, match="Unknown API Key") as err:
        source.fetch("AAPL", UTC_DAYS[0], UTC_DAYS[-1], "1d")
    assert isinstance(err.value, DataError)
    assert "GS_POLYGON_API_KEY" in str(err.value) and "pk-wrong-987" not in str(err.value)
    with pytest.raises(SourceUnavailable, match="circuit open") as again:
        source.fetch("AAPL", UTC_DAYS[0], UTC_DAYS[-1], "1d")  # same key: not asked again
    assert "pk-wrong-987" not in str(again.value) and polygon_rest.count() == 1
    with pytest.raises(CredentialsRejected, match="needs an API key"):
        polygon(polygon_rest, fast_http, key="").fetch("AAPL", UTC_DAYS[0], UTC_DAYS[-1], "1d")
    assert polygon_rest.count() == 1


def test_data_outside_the_plan_makes_the_source_unavailable(
        polygon_rest: FakePolygonRest, days: pd.DataFrame,
        fast_http: Callable[..., HttpJson]) -> None:
    polygon_rest.entitled_from_ms = int(UTC_DAYS[5].value // 1_000_000)
    source = polygon(polygon_rest, fast_http)
    with pytest.raises(SourceUnavailable, match="plan"):
        source.fetch("AAPL", UTC_DAYS[0], UTC_DAYS[-1], "1d")
    assert len(source.fetch("AAPL", UTC_DAYS[6], UTC_DAYS[-1], "1d")) == 3  # not a broken key


def test_network_failures_name_no_key(polygon_rest: FakePolygonRest, days: pd.DataFrame,
                                      fast_http: Callable[..., HttpJson]) -> None:
    polygon_rest.always = Fault("drop")
    source = polygon(polygon_rest, fast_http)
    assert isinstance(source, HistorySource) and KEY not in repr(source)
    with pytest.raises(SourceUnavailable, match="dropped") as err:
        source.fetch("AAPL", UTC_DAYS[0], UTC_DAYS[-1], "1d")
    assert KEY not in str(err.value) and polygon_rest.count() == 3


def test_serves_us_stocks_only(fast_http: Callable[..., HttpJson]) -> None:
    source = PolygonHistory(KEY, "http://127.0.0.1:9", http=fast_http("polygon"))
    assert source.supports("AAPL", "1h") and source.supports("BRK.B", "1d")
    assert not source.supports("BTCUSDT", "1d") and not source.supports("^GSPC", "1d")
    with pytest.raises(DataError, match="US stocks"):
        source.fetch("BTCUSDT", UTC_DAYS[0], UTC_DAYS[1], "1d")
