"""core.data.calendars and core.data.gaps: expected bars, gaps, unexpected bars, fill policies."""

from __future__ import annotations

import exchange_calendars as xc
import numpy as np
import pandas as pd
import pytest

from core.data.calendars import calendar_name, expected_index
from core.data.frames import FILLED, OHLCV, canonical
from core.data.gaps import Gap, fill_gaps, find_gaps, find_unexpected
from core.data.validate import validate
from core.errors import ValidationError

ET = "America/New_York"


def bars(index: pd.DatetimeIndex, start: float = 100.0) -> pd.DataFrame:
    """A canonical frame on ``index`` whose closes step up by 1 and volumes are positive."""
    close = start + np.arange(len(index), dtype=float)
    return canonical(pd.DataFrame({"Open": close - 0.5, "High": close + 1, "Low": close - 1,
                                   "Close": close, "Volume": 1_000.0 + np.arange(len(index))},
                                  index=index))


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def july_2024() -> pd.DataFrame:
    return bars(expected_index("AAPL", "2024-07-01", "2024-07-12", "1d"))


# expected bars


@pytest.mark.parametrize("given, name", [("AAPL", "XNYS"), ("^GSPC", "XNYS"), ("BRK.B", "XNYS"),
                                         ("BTCUSDT", "24/7"), ("ETH-USD", "24/7"),
                                         ("XLON", "XLON"), ("24/7", "24/7")])
def test_calendar_name(given: str, name: str) -> None:
    assert calendar_name(given) == name


def test_daily_equity_sessions_skip_weekends_and_july_4th() -> None:
    index = expected_index("AAPL", "2024-07-01", "2024-07-12", "1d")
    assert [t.day for t in index] == [1, 2, 3, 5, 8, 9, 10, 11, 12]
    assert index.tz is not None and str(index.tz) == "UTC" and index.name == "Date"
    assert (index == index.normalize()).all()  # keyed at 00:00 UTC of the session date


def test_crypto_daily_has_weekends() -> None:
    for symbol in ("BTCUSDT", "ETH-USD"):
        index = expected_index(symbol, "2024-07-01", "2024-07-07", "1d")
        assert len(index) == 7
        assert {t.day_name() for t in index} >= {"Saturday", "Sunday"}
    assert len(expected_index("BTCUSDT", utc("2024-07-06"), utc("2024-07-06 23:59"), "1h")) == 24


def test_half_day_intraday_bars_end_at_1300_et() -> None:
    hourly = expected_index("AAPL", utc("2024-11-29"), utc("2024-11-30"), "1h").tz_convert(ET)
    assert [t.strftime("%H:%M") for t in hourly] == ["09:30", "10:30", "11:30", "12:30"]
    five = expected_index("AAPL", utc("2024-11-29"), utc("2024-11-30"), "5m").tz_convert(ET)
    assert len(five) == 42 and five[-1].strftime("%H:%M") == "12:55"
    full = expected_index("AAPL", utc("2024-11-26"), utc("2024-11-27"), "1h").tz_convert(ET)
    assert full[-1].strftime("%H:%M") == "15:30" and len(full) == 7


def test_thanksgiving_has_no_bars_and_clock_anchor_buckets_by_hour() -> None:
    assert len(expected_index("AAPL", utc("2024-11-28"), utc("2024-11-28 23:59"), "1m")) == 0
    clock = expected_index("AAPL", utc("2024-11-26"), utc("2024-11-27"), "1h", anchor="clock")
    assert [t.strftime("%H:%M") for t in clock.tz_convert(ET)][:2] == ["09:00", "10:00"]
    assert clock[-1].tz_convert(ET).strftime("%H:%M") == "15:00"


def test_intraday_range_bounds_are_included() -> None:
    index = expected_index("AAPL", utc("2024-11-26 14:30"), utc("2024-11-26 15:30"), "15m")
    assert list(index) == [utc("2024-11-26 14:30"), utc("2024-11-26 14:45"),
                           utc("2024-11-26 15:00"), utc("2024-11-26 15:15"),
                           utc("2024-11-26 15:30")]


def test_calendar_instance_and_bad_inputs() -> None:
    cal = xc.get_calendar("XNYS", start="2024-01-02", end="2024-12-31")
    assert len(expected_index(cal, "2024-07-01", "2024-07-12", "1d")) == 9
    with pytest.raises(ValidationError, match="covers"):
        expected_index(cal, "2020-01-01", "2020-02-01", "1d")
    with pytest.raises(ValidationError, match="Unknown interval"):
        expected_index("AAPL", "2024-07-01", "2024-07-12", "2h")
    with pytest.raises(ValidationError, match="before it starts"):
        expected_index("AAPL", "2024-07-12", "2024-07-01", "1d")
    with pytest.raises(ValidationError, match="anchor"):
        expected_index("AAPL", "2024-07-01", "2024-07-12", "1h", anchor="noon")


# gaps


def test_holiday_is_not_a_gap_and_a_missing_session_is() -> None:
    frame = july_2024()
    assert find_gaps(frame, "AAPL", "1d") == []
    assert len(find_unexpected(frame, "AAPL", "1d")) == 0
    gaps = find_gaps(frame.drop(utc("2024-07-05")), "AAPL", "1d")
    assert [(g.start, g.end, g.missing) for g in gaps] == [(utc("2024-07-05"),
                                                             utc("2024-07-05"), 1)]


def test_missing_sessions_around_a_holiday_form_one_gap() -> None:
    frame = july_2024().drop([utc("2024-07-03"), utc("2024-07-05")])
    [gap] = find_gaps(frame, "AAPL", "1d")
    assert (gap.start, gap.end, gap.missing) == (utc("2024-07-03"), utc("2024-07-05"), 2)
    assert list(gap.bars) == [utc("2024-07-03"), utc("2024-07-05")]
    assert gap.to_dict() == {"start": "2024-07-03T00:00:00+00:00",
                             "end": "2024-07-05T00:00:00+00:00", "missing": 2}


def test_bar_on_a_holiday_is_unexpected_not_a_gap() -> None:
    frame = july_2024()
    holiday = bars(pd.DatetimeIndex([utc("2024-07-04")]))
    frame = canonical(pd.concat([frame, holiday]))
    assert find_gaps(frame, "AAPL", "1d") == []
    assert list(find_unexpected(frame, "AAPL", "1d")) == [utc("2024-07-04")]
    report = validate(frame, calendar="AAPL", interval="1d")
    assert report.result("unexpected_bars").timestamps == (utc("2024-07-04"),)
    assert report.result("calendar_gaps").passed and report.score < 100


def test_intraday_gap_across_the_night_and_requested_range() -> None:
    index = expected_index("AAPL", utc("2024-11-25"), utc("2024-11-28"), "1h")
    frame = bars(index).drop([utc("2024-11-26 20:30"), utc("2024-11-27 14:30")])
    [gap] = find_gaps(frame, "AAPL", "1h")
    assert (gap.start, gap.end, gap.missing) == (utc("2024-11-26 20:30"),
                                                 utc("2024-11-27 14:30"), 2)
    trimmed = bars(index[3:])
    assert find_gaps(trimmed, "AAPL", "1h") == []
    [lead] = find_gaps(trimmed, "AAPL", "1h", start=utc("2024-11-25"))
    assert lead.start == index[0] and lead.missing == 3


def test_crypto_weekend_missing_is_a_gap() -> None:
    index = expected_index("BTCUSDT", "2024-07-01", "2024-07-10", "1d")
    frame = bars(index).drop([utc("2024-07-06"), utc("2024-07-07")])
    [gap] = find_gaps(frame, "BTCUSDT", "1d")
    assert gap.missing == 2
    assert find_gaps(frame, "AAPL", "1d") == []  # an equity calendar has no weekend sessions


def test_validate_reports_gaps_and_scores_them() -> None:
    frame = july_2024().drop(utc("2024-07-05"))
    report = validate(frame, calendar="AAPL", interval="1d")
    result = report.result("calendar_gaps")
    assert result.timestamps == (utc("2024-07-05"),) and result.checked == 9
    assert [r.name for r in report.failed] == ["calendar_gaps"]
    assert report.score == round(100 - 2 * (1 + 9 / 9), 2)
    assert report.to_dict()["gaps"] == [{"start": "2024-07-05T00:00:00+00:00",
                                         "end": "2024-07-05T00:00:00+00:00", "missing": 1}]
    assert validate(july_2024(), calendar="AAPL", interval="1d").score == 100.0


def test_goog_daily_matches_the_nyse_calendar() -> None:
    from backtesting.test import GOOG

    frame = canonical(GOOG)
    assert find_gaps(frame, "GOOG", "1d") == []
    assert len(find_unexpected(frame, "GOOG", "1d")) == 0


# fill policies


def gappy() -> tuple[pd.DataFrame, list[Gap]]:
    frame = july_2024().drop([utc("2024-07-03"), utc("2024-07-05"), utc("2024-07-10")])
    return frame, find_gaps(frame, "AAPL", "1d")


def test_leave_changes_no_value_and_returns_the_gaps() -> None:
    frame, gaps = gappy()
    out, still = fill_gaps(frame, gaps, "leave")
    pd.testing.assert_frame_equal(out[list(OHLCV)], frame)
    assert not out[FILLED].any()
    assert still == gaps


def test_ffill_makes_flat_bars_at_the_previous_close() -> None:
    frame, gaps = gappy()
    out, still = fill_gaps(frame, gaps, "ffill")
    assert still == []
    assert list(out.index) == list(july_2024().index)
    filled = out[out[FILLED]]
    assert list(filled.index) == [utc("2024-07-03"), utc("2024-07-05"), utc("2024-07-10")]
    previous_close = frame.loc[utc("2024-07-02"), "Close"]
    for day in ("2024-07-03", "2024-07-05"):
        row = out.loc[utc(day)]
        assert [row[c] for c in OHLCV] == [previous_close] * 4 + [0.0]
    assert out.loc[utc("2024-07-10"), "Close"] == frame.loc[utc("2024-07-09"), "Close"]
    assert not out.loc[frame.index, FILLED].any()
    pd.testing.assert_frame_equal(out.loc[frame.index, list(OHLCV)], frame)
    report = validate(out, calendar="AAPL", interval="1d")
    assert report.passed and report.score == 100.0


def test_ffill_cannot_fill_before_the_first_bar() -> None:
    frame = july_2024()
    expected = expected_index("AAPL", "2024-06-27", "2024-07-12", "1d")
    out, still = fill_gaps(frame, expected, "ffill")
    assert [(g.start, g.missing) for g in still] == [(utc("2024-06-27"), 2)]
    assert not out[FILLED].any()


def test_next_source_fills_what_it_has_and_leaves_the_rest() -> None:
    frame, gaps = gappy()
    other = bars(expected_index("AAPL", "2024-07-01", "2024-07-08", "1d"), start=500.0)
    out, still = fill_gaps(frame, gaps, "next_source", next_source=other)
    assert list(out.index[out[FILLED]]) == [utc("2024-07-03"), utc("2024-07-05")]
    pd.testing.assert_series_equal(out.loc[utc("2024-07-05"), list(OHLCV)],
                                   other.loc[utc("2024-07-05"), list(OHLCV)],
                                   check_names=False)
    assert [(g.start, g.missing) for g in still] == [(utc("2024-07-10"), 1)]
    assert not out.loc[frame.index, FILLED].any()


def test_fill_from_an_expected_index_and_keep_existing_flags() -> None:
    frame, _ = gappy()
    expected = expected_index("AAPL", "2024-07-01", "2024-07-12", "1d")
    once, _ = fill_gaps(frame, expected, "ffill")
    twice, still = fill_gaps(once, expected, "ffill")
    assert still == [] and twice[FILLED].sum() == 3
    pd.testing.assert_frame_equal(once, twice)


def test_intraday_ffill_over_the_night() -> None:
    index = expected_index("AAPL", utc("2024-11-25"), utc("2024-11-28"), "1h")
    frame = bars(index).drop([utc("2024-11-26 20:30"), utc("2024-11-27 14:30")])
    out, still = fill_gaps(frame, find_gaps(frame, "AAPL", "1h"), "ffill")
    assert still == [] and out[FILLED].sum() == 2 and len(out) == len(index)


def test_fill_rejects_bad_policy_and_missing_source() -> None:
    frame, gaps = gappy()
    with pytest.raises(ValidationError, match="Unknown fill policy"):
        fill_gaps(frame, gaps, "interpolate")
    with pytest.raises(ValidationError, match="next source"):
        fill_gaps(frame, gaps, "next_source")
