"""prepare_history: the calendar a frame is measured against, fill policies, the score after."""

from __future__ import annotations

import pandas as pd
import pytest

from core.data.frames import canonical
from core.data.prepare import data_calendar, prepare_history
from core.errors import ValidationError
from tests.fakes.rest_server import make_bars

SESSIONS = pd.bdate_range("2024-06-03", "2024-08-30", tz="UTC", name="Date").drop(
    pd.DatetimeIndex(["2024-06-19", "2024-07-04"], tz="UTC"))  # NYSE: no Juneteenth, July 4th
WEEKDAYS = canonical(make_bars("", 0, "D", index=SESSIONS))


def test_weekday_bars_use_the_exchange_and_seven_day_bars_the_crypto_calendar() -> None:
    assert data_calendar(WEEKDAYS, "AAPL") == "XNYS"
    assert data_calendar(WEEKDAYS, None) == "XNYS"
    daily = canonical(make_bars("2024-06-01", 90, "D"))
    assert data_calendar(daily, "AAPL") == "24/7"  # e.g. the simulator without market hours


def test_complete_sessions_have_no_gap_and_score_100() -> None:
    prepared = prepare_history(WEEKDAYS, "AAPL")
    assert (prepared.filled, prepared.gaps_left, prepared.report.score) == (0, [], 100.0)
    assert not prepared.frame["Filled"].any()


def test_a_removed_session_is_flagged_or_filled_by_policy() -> None:
    holed = WEEKDAYS.drop(pd.Timestamp("2024-07-10", tz="UTC"))
    left = prepare_history(holed, "AAPL", policy="leave")
    assert left.filled == 0 and [g.missing for g in left.gaps_left] == [1]
    assert left.report.score < 100
    filled = prepare_history(holed, "AAPL", policy="ffill")
    assert filled.filled == 1 and filled.gaps_left == []
    bar = filled.frame.loc[pd.Timestamp("2024-07-10", tz="UTC")]
    previous_close = WEEKDAYS.loc[pd.Timestamp("2024-07-09", tz="UTC"), "Close"]
    assert bool(bar["Filled"]) and bar["Open"] == bar["Close"] == previous_close
    assert bar["Volume"] == 0
    backup = WEEKDAYS * 1.01
    sourced = prepare_history(holed, "AAPL", policy="next_source", next_source=backup)
    assert sourced.frame.loc[pd.Timestamp("2024-07-10", tz="UTC"), "Close"] == pytest.approx(
        WEEKDAYS.loc[pd.Timestamp("2024-07-10", tz="UTC"), "Close"] * 1.01)


def test_unknown_policy_is_a_clear_error() -> None:
    with pytest.raises(ValidationError, match="Unknown fill policy"):
        prepare_history(WEEKDAYS, "AAPL", policy="interpolate")


def test_daily_bars_not_dated_by_session_are_scored_but_never_filled() -> None:
    new_york_midnight = WEEKDAYS.copy()
    new_york_midnight.index = new_york_midnight.index + pd.Timedelta(hours=4)
    left = prepare_history(new_york_midnight, "AAPL", policy="leave")
    assert (left.filled, left.calendar, len(left.frame)) == (0, "", len(WEEKDAYS))
    from core.errors import DataError

    with pytest.raises(DataError, match="dated by session"):
        prepare_history(new_york_midnight, "AAPL", policy="ffill")
    with pytest.raises(DataError, match="no bars"):
        prepare_history(WEEKDAYS.iloc[:0], "AAPL")
