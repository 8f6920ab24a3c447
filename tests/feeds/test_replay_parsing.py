"""Tests of core.feeds.replay.parsing: files in, validated events out, or one clear DataError."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.errors import DataError
from core.feeds.replay import load_events
from core.models import Bar, Tick

T0 = datetime(2024, 1, 2, 14, 30, tzinfo=UTC)
FIXTURE = Path(__file__).parents[1] / "fixtures" / "replay" / "ticks.csv"


def _tick_frame() -> pd.DataFrame:
    """Rows deliberately out of time order, with a tie (rows 2 and 4) to check stability."""
    return pd.DataFrame({
        "ts": ["2024-01-02T14:30:01Z", "2024-01-02T14:30:00.5Z", "2024-01-02T14:30:00Z",
               "2024-01-02T14:30:00.5Z"],
        "symbol": ["aapl", "MSFT", "AAPL", "BTC-USD"],
        "price": [101.5, 300.25, 101.0, 42_000.0],
        "size": [10.0, 0.0, 5.0, 0.5],
        "bid": [101.4, None, 100.9, 41_999.0],
        "ask": [101.6, None, 101.1, 42_001.0],
    })


EXPECTED_TICKS = [
    Tick("AAPL", T0, 101.0, 5.0, 100.9, 101.1, "replay"),
    Tick("MSFT", T0 + timedelta(milliseconds=500), 300.25, 0.0, None, None, "replay"),
    Tick("BTC-USD", T0 + timedelta(milliseconds=500), 42_000.0, 0.5, 41_999.0, 42_001.0,
         "replay"),
    Tick("AAPL", T0 + timedelta(seconds=1), 101.5, 10.0, 101.4, 101.6, "replay"),
]


def _write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- good files -------------------------------------------------------------------------------


def test_tick_csv_parses_into_exact_ticks_sorted_stably(tmp_path: Path) -> None:
    path = tmp_path / "ticks.csv"
    _tick_frame().to_csv(path, index=False)
    assert load_events(path) == EXPECTED_TICKS


def test_tick_parquet_with_datetime_column_parses_into_exact_ticks(tmp_path: Path) -> None:
    frame = _tick_frame()
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    path = tmp_path / "ticks.PARQUET"
    frame.to_parquet(path, index=False)
    assert load_events(path) == EXPECTED_TICKS


def test_tick_parquet_with_text_times_and_naive_datetimes(tmp_path: Path) -> None:
    text_path, naive_path = tmp_path / "text.parquet", tmp_path / "naive.parquet"
    _tick_frame().to_parquet(text_path, index=False)
    naive = _tick_frame()
    naive["ts"] = pd.to_datetime(naive["ts"], utc=True, format="ISO8601").dt.tz_localize(None)
    naive.to_parquet(naive_path, index=False)
    assert load_events(text_path) == EXPECTED_TICKS
    assert load_events(naive_path) == EXPECTED_TICKS


def test_empty_or_nan_bid_and_ask_mean_unknown(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "t.csv", "ts,symbol,price,size,bid,ask\n"
                      "1704205800,AAPL,1,2,NaN,\n1704205800,AAPL,1,2,nan,1.5\n")
    assert [(t.bid, t.ask) for t in load_events(path)] == [(None, None), (None, 1.5)]


def test_recorded_fixture_parses() -> None:
    ticks = load_events(FIXTURE)
    assert [t.symbol for t in ticks] == ["AAPL", "MSFT", "AAPL", "MSFT", "AAPL", "MSFT"]
    assert ticks[2] == Tick("AAPL", T0 + timedelta(milliseconds=500), 185.12, 50.0,
                            source="replay")
    assert ticks[-1].ts == T0 + timedelta(seconds=2)


EPOCH_S = T0.timestamp() + 0.25  # 2024-01-02T14:30:00.250Z


@pytest.mark.parametrize("cell", [
    "2024-01-02T14:30:00.250Z",
    "2024-01-02 14:30:00.250",  # naive text is UTC
    "2024-01-02T15:30:00.250+01:00",
    f"{EPOCH_S:.3f}",  # float seconds
    str(int(EPOCH_S * 1_000)),  # milliseconds
    str(int(EPOCH_S * 1_000_000)),  # microseconds
    str(int(EPOCH_S * 1_000_000) * 1_000),  # nanoseconds
])
def test_epoch_and_iso_times_give_the_same_time(tmp_path: Path, cell: str) -> None:
    path = _write_csv(tmp_path / "t.csv", f"ts,symbol,price,size\n{cell},AAPL,1,1\n")
    assert load_events(path)[0].ts == T0 + timedelta(milliseconds=250)


def test_epoch_ms_and_iso_files_give_identical_ticks(tmp_path: Path) -> None:
    iso = _tick_frame()
    epoch = _tick_frame()
    stamps = pd.to_datetime(epoch["ts"], utc=True, format="ISO8601")
    epoch["ts"] = stamps.dt.as_unit("ms").astype("int64")
    iso.to_csv(tmp_path / "iso.csv", index=False)
    epoch.to_parquet(tmp_path / "ms.parquet", index=False)
    assert load_events(tmp_path / "ms.parquet") == load_events(tmp_path / "iso.csv")


def test_column_names_are_case_insensitive_and_time_aliases_work(tmp_path: Path) -> None:
    one = _write_csv(tmp_path / "a.csv", "TimeStamp,SYMBOL,Price,Size\n1704205800,AAPL,1,2\n")
    two = _write_csv(tmp_path / "b.csv", "Time,symbol,PRICE,size\n1704205800,AAPL,1,2\n")
    expected = [Tick("AAPL", T0, 1.0, 2.0, source="replay")]
    assert load_events(one) == expected
    assert load_events(two) == expected


def test_bar_csv_with_timeframe_column(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "bars.csv", (
        "ts,symbol,open,high,low,close,volume,timeframe\n"
        "2024-01-02T14:35:00Z,AAPL,10,12,9,11,1000,5m\n"
        "2024-01-02T14:30:00Z,AAPL,9,10,8.5,10,800,5m\n"
    ))
    assert load_events(path) == [
        Bar("AAPL", "5m", T0, 9.0, 10.0, 8.5, 10.0, 800.0, "replay"),
        Bar("AAPL", "5m", T0 + timedelta(minutes=5), 10.0, 12.0, 9.0, 11.0, 1000.0, "replay"),
    ]


def test_bar_parquet_timeframe_is_inferred_per_symbol(tmp_path: Path) -> None:
    # Two symbols 30 s apart, each with one-minute bars: the timeframe is 1m, not 30s.
    starts = [T0, T0 + timedelta(seconds=30), T0 + timedelta(minutes=1),
              T0 + timedelta(seconds=90)]
    frame = pd.DataFrame({
        "ts": [int(s.timestamp()) for s in starts],
        "symbol": ["AAPL", "MSFT", "AAPL", "MSFT"],
        "open": [1.0, 2.0, 1.0, 2.0], "high": [1.5, 2.5, 1.5, 2.5],
        "low": [0.5, 1.5, 0.5, 1.5], "close": [1.2, 2.2, 1.2, 2.2],
        "volume": [10.0, 20.0, 0.0, 20.0],
    })
    frame.to_parquet(tmp_path / "bars.parquet", index=False)
    bars = load_events(tmp_path / "bars.parquet")
    assert [b.timeframe for b in bars] == ["1m"] * 4
    assert [(b.symbol, b.start) for b in bars] == list(zip(frame["symbol"], starts, strict=True))


@pytest.mark.parametrize(("rows", "fragment"), [
    ("2024-01-02T14:30:00Z,AAPL,1,2,0.5,1.5,0\n", "no symbol has two bars"),
    ("2024-01-02T14:30:00Z,AAPL,1,2,0.5,1.5,0\n2024-01-02T14:32:00Z,AAPL,1,2,0.5,1.5,0\n",
     "smallest gap between two bars of one symbol is 120 s"),
])
def test_bar_timeframe_that_cannot_be_inferred_is_an_error(tmp_path: Path, rows: str,
                                                          fragment: str) -> None:
    path = _write_csv(tmp_path / "bars.csv", "ts,symbol,open,high,low,close,volume\n" + rows)
    with pytest.raises(DataError, match=fragment) as info:
        load_events(path)
    assert "bars.csv" in str(info.value) and "timeframe" in str(info.value)


# -- malformed files --------------------------------------------------------------------------

TICK_HEADER = "ts,symbol,price,size,bid,ask\n"
GOOD_TICK = "2024-01-02T14:30:00Z,AAPL,100,1,99,101\n"
BAR_HEADER = "ts,symbol,open,high,low,close,volume,timeframe\n"
GOOD_BAR = "2024-01-02T14:30:00Z,AAPL,10,11,9,10.5,100,1m\n"


@pytest.mark.parametrize(("text", "row", "column", "fragment"), [
    (TICK_HEADER + GOOD_TICK + "yesterday,AAPL,100,1,,\n", 2, "ts", "'yesterday' is not a time"),
    (TICK_HEADER + GOOD_TICK + ",AAPL,100,1,,\n", 2, "ts", "empty"),
    (TICK_HEADER + "2024-01-02T14:30:00Z,AAPL,abc,1,,\n", 1, "price", "'abc' is not a number"),
    (TICK_HEADER + GOOD_TICK * 2 + "2024-01-02T14:30:01Z,AAPL,NaN,1,,\n", 3, "price",
     "no value (empty or NaN)"),
    (TICK_HEADER + "2024-01-02T14:30:00Z,AAPL,-5,1,,\n", 1, "price", "must be positive"),
    (TICK_HEADER + "2024-01-02T14:30:00Z,AAPL,0,1,,\n", 1, "price", "must be positive"),
    (TICK_HEADER + "2024-01-02T14:30:00Z,AAPL,inf,1,,\n", 1, "price", "finite"),
    (TICK_HEADER + "2024-01-02T14:30:00Z,AAPL,1,-1,,\n", 1, "size", "zero or more"),
    (TICK_HEADER + GOOD_TICK + "2024-01-02T14:30:00Z,AAPL,100,1,102,101\n", 2, "bid",
     "bid 102 is above ask 101"),
    (TICK_HEADER + "2024-01-02T14:30:00Z,AAPL,100,1,x,\n", 1, "bid", "'x' is not a number"),
    (TICK_HEADER + GOOD_TICK + "2024-01-02T14:30:00Z,NOT A SYMBOL,100,1,,\n", 2, "symbol",
     "is not a valid symbol"),
    (TICK_HEADER + "2024-01-02T14:30:00Z,,100,1,,\n", 1, "symbol", "empty"),
    (BAR_HEADER + GOOD_BAR + "2024-01-02T14:31:00Z,AAPL,10,10.2,9,10.5,100,1m\n", 2, "high",
     "high 10.2 is below"),
    (BAR_HEADER + "2024-01-02T14:31:00Z,AAPL,10,11,10.1,10.5,100,1m\n", 1, "low",
     "low 10.1 is above"),
    (BAR_HEADER + "2024-01-02T14:31:00Z,AAPL,10,11,9,10.5,-3,1m\n", 1, "volume", "zero or more"),
    (BAR_HEADER + "2024-01-02T14:31:00Z,AAPL,10,11,9,10.5,3,2m\n", 1, "timeframe",
     "'2m' is not a timeframe"),
])
def test_malformed_row_is_rejected_naming_file_row_and_column(
    tmp_path: Path, text: str, row: int, column: str, fragment: str
) -> None:
    path = _write_csv(tmp_path / "bad.csv", text)
    with pytest.raises(DataError) as info:
        load_events(path)
    message = str(info.value)
    assert str(path) in message
    assert f"data row {row}, column '{column}'" in message
    assert fragment in message


def test_problem_names_the_column_as_written_in_the_file(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "bad.csv", "Timestamp,Symbol,Price,Size\nsoon,AAPL,1,1\n")
    with pytest.raises(DataError, match="data row 1, column 'Timestamp'"):
        load_events(path)


def test_at_most_five_problems_are_listed_in_row_order(tmp_path: Path) -> None:
    bad_rows = "".join(f"2024-01-02T14:30:00Z,AAPL,{-i},1,,\n" for i in range(1, 9))
    path = _write_csv(tmp_path / "bad.csv", TICK_HEADER + GOOD_TICK + bad_rows)
    with pytest.raises(DataError) as info:
        load_events(path)
    message = str(info.value)
    assert "8 problems" in message
    assert re.findall(r"data row (\d+)", message) == ["2", "3", "4", "5", "6"]
    assert "and 3 more problems" in message


def test_one_bad_row_rejects_the_whole_file(tmp_path: Path) -> None:
    path = _write_csv(tmp_path / "bad.csv", TICK_HEADER + GOOD_TICK * 50 + "x,AAPL,1,1,,\n")
    with pytest.raises(DataError, match="1 problem found"):
        load_events(path)


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "the file is empty"),
    (TICK_HEADER, "no data rows"),
    ("ts,symbol,price\n2024-01-02T14:30:00Z,AAPL,1\n", "no column 'size'"),
    ("ts,symbol,open,close,volume\n2024-01-02T14:30:00Z,AAPL,1,1,1\n", "'high', 'low'"),
    ("symbol,price,size\nAAPL,1,1\n", "no column 'ts'"),
    ("ts,time,symbol,price,size\n1,1,AAPL,1,1\n", "both 'ts' and 'time'"),
    ("ts,TS,symbol,price,size\n1,1,AAPL,1,1\n", "have the same name"),
])
def test_file_level_problems(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write_csv(tmp_path / "file.csv", text)
    with pytest.raises(DataError, match=re.escape(fragment)) as info:
        load_events(path)
    assert str(path) in str(info.value)


def test_unsupported_missing_and_corrupt_files(tmp_path: Path) -> None:
    json_file = _write_csv(tmp_path / "ticks.json", "[]")
    with pytest.raises(DataError, match=r"only \.csv and \.parquet.*'\.json'"):
        load_events(json_file)
    with pytest.raises(DataError, match="does not exist"):
        load_events(tmp_path / "absent.csv")
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load_events(corrupt)
