"""OHLCV validation: case-insensitive columns, a sorted DatetimeIndex, no bad prices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.backtest import prepare_bars
from core.errors import DataError


def _frame(n: int = 5) -> pd.DataFrame:
    index = pd.date_range("2024-01-02", periods=n, freq="D")
    base = np.linspace(100, 104, n)
    return pd.DataFrame({"Open": base, "High": base + 1, "Low": base - 1, "Close": base,
                         "Volume": np.full(n, 1e3)}, index=index)


def test_columns_any_case_and_volume_optional() -> None:
    data = _frame().rename(columns=str.lower)
    bars = prepare_bars(data)
    assert bars.close.dtype == np.float64 and len(bars) == 5
    assert bars.volume is not None
    bars = prepare_bars(_frame().drop(columns="Volume").rename(columns=str.upper))
    assert bars.volume is None


def test_missing_column() -> None:
    with pytest.raises(DataError, match="missing High"):
        prepare_bars(_frame().drop(columns="High"))


def test_duplicate_column_ignoring_case() -> None:
    data = _frame()
    data["close"] = data["Close"]
    with pytest.raises(DataError, match="two columns named 'close'"):
        prepare_bars(data)


def test_index_must_be_datetime_sorted_and_unique() -> None:
    with pytest.raises(DataError, match="DatetimeIndex"):
        prepare_bars(_frame().reset_index(drop=True))
    data = _frame()
    unsorted = data.iloc[[0, 2, 1, 3, 4]]
    with pytest.raises(DataError, match=r"row 2 \(2024-01-03 00:00:00\) comes before"):
        prepare_bars(unsorted)
    duplicated = data.iloc[[0, 1, 1, 2]]
    with pytest.raises(DataError, match="row 2 .* repeats"):
        prepare_bars(duplicated)


def test_nan_price_names_the_first_bad_row() -> None:
    data = _frame()
    data.iloc[3, data.columns.get_loc("Close")] = np.nan
    data.iloc[1, data.columns.get_loc("Low")] = np.nan
    with pytest.raises(DataError, match=r"row 1 \(2024-01-03 00:00:00\): Low is missing"):
        prepare_bars(data)


def test_non_positive_and_inverted_prices() -> None:
    data = _frame()
    data.iloc[2, data.columns.get_loc("Open")] = -1.0
    with pytest.raises(DataError, match="row 2 .*Open is -1.0"):
        prepare_bars(data)
    data = _frame()
    data.iloc[4, data.columns.get_loc("High")] = 50.0
    with pytest.raises(DataError, match="row 4 .*High 50.0 is below Low"):
        prepare_bars(data)


def test_non_numeric_and_too_short() -> None:
    data = _frame().astype({"Close": object})
    data.iloc[0, data.columns.get_loc("Close")] = "n/a"
    with pytest.raises(DataError, match="Close must hold numbers"):
        prepare_bars(data)
    with pytest.raises(DataError, match="at least 2 bars"):
        prepare_bars(_frame(1))
    with pytest.raises(DataError, match="DataFrame"):
        prepare_bars([1, 2, 3])  # type: ignore[arg-type]


def test_tz_aware_index_is_kept() -> None:
    data = _frame().tz_localize("UTC")
    assert prepare_bars(data).index.tz is not None
