"""Walk-forward splitters: layout, no overlap, no look-ahead, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import ValidationError
from core.research.splitters import MIN_BARS, AnchoredSplit, RollingSplit, parse_size

KINDS = (RollingSplit, AnchoredSplit)


def _business_days(n: int, start: str = "2015-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="B", tz="UTC")


def _spans(folds: list[tuple[slice, slice]]) -> list[tuple[int, int, int, int]]:
    return [(tr.start, tr.stop, te.start, te.stop) for tr, te in folds]


def _check_common(folds: list[tuple[slice, slice]], n: int, step_is_test: bool) -> None:
    """Properties every layout has: ordered, inside the data, never overlapping, no look-ahead."""
    assert folds
    for train, test in folds:
        assert 0 <= train.start < train.stop <= test.start < test.stop <= n
        assert test.stop - test.start >= MIN_BARS
        assert train.stop - train.start >= MIN_BARS
        assert set(range(train.start, train.stop)).isdisjoint(range(test.start, test.stop))
    for (_, first), (_, second) in zip(folds, folds[1:], strict=False):
        assert first.stop <= second.start  # test windows never overlap
        if step_is_test:
            assert first.stop == second.start  # and are contiguous


# ----------------------------------------------------------------------------- bar counts


def test_docstring_layouts() -> None:
    index = _business_days(10)
    assert _spans(RollingSplit(4, 3).folds(index)) == [(0, 4, 4, 7), (3, 7, 7, 10)]
    assert _spans(AnchoredSplit(4, 3).folds(index)) == [(0, 4, 4, 7), (0, 7, 7, 10)]
    assert _spans(RollingSplit(4, 3, gap=1).folds(index)) == [(0, 4, 5, 8), (3, 7, 8, 10)]
    assert _spans(RollingSplit(4, 2, step=3).folds(index)) == [(0, 4, 4, 6), (3, 7, 7, 9)]


def test_split_yields_slices_that_slice_the_data() -> None:
    frame = pd.DataFrame({"Close": np.arange(20.0)}, index=_business_days(20))
    for train, test in RollingSplit(8, 4).split(frame):
        assert isinstance(train, slice) and isinstance(test, slice)
        assert frame.iloc[train].index.max() < frame.iloc[test].index.min()


@pytest.mark.parametrize("kind", KINDS)
def test_bar_splits_property(kind: type[RollingSplit]) -> None:
    """Many sizes, steps and gaps: no overlap, gap respected, tests tile the tail."""
    rng = np.random.default_rng(20240601)
    for _ in range(400):
        n = int(rng.integers(10, 700))
        train = int(rng.integers(2, 200))
        test = int(rng.integers(2, 120))
        gap = int(rng.integers(0, 12)) if rng.random() < 0.6 else 0
        step = test if rng.random() < 0.6 else test + int(rng.integers(0, 30))
        splitter = kind(train, test, step=step, gap=gap)
        if n < train + gap + MIN_BARS:
            with pytest.raises(ValidationError, match="too little data"):
                splitter.folds(n)
            continue
        folds = splitter.folds(n)
        _check_common(folds, n, step == test)
        first_train, first_test = folds[0]
        assert first_test.start == train + gap
        assert (first_train.start, first_train.stop) == (0, train)
        for k, (tr, te) in enumerate(folds):
            assert tr.stop + gap == te.start
            assert te.start == first_test.start + k * step
            assert tr.start == (0 if kind is AnchoredSplit else tr.stop - train)
            assert te.stop - te.start == min(test, n - te.start)
        if step == test:  # the tail is tiled up to the last bar (or all but a lone last bar)
            assert folds[-1][1].stop >= n - 1
        assert splitter.n_folds(np.arange(n)) == len(folds)


@pytest.mark.parametrize("kind", KINDS)
def test_bar_splits_never_look_ahead(kind: type[RollingSplit]) -> None:
    """Cutting the data after any fold's test window leaves that fold and the earlier ones."""
    rng = np.random.default_rng(7)
    for _ in range(60):
        n = int(rng.integers(60, 400))
        splitter = kind(int(rng.integers(5, 40)), int(rng.integers(2, 30)),
                        gap=int(rng.integers(0, 5)))
        folds = splitter.folds(n)
        for k, (_, test) in enumerate(folds):
            assert splitter.folds(test.stop)[: k + 1] == folds[: k + 1]


# ----------------------------------------------------------------------------- periods


def _random_index(rng: np.random.Generator) -> pd.DatetimeIndex:
    """Daily, business-day or 4-hour bars with a few holes."""
    freq = ["D", "B", "4h"][int(rng.integers(0, 3))]
    n = int(rng.integers(300, 1500))
    index = pd.date_range("2012-03-05", periods=n, freq=freq, tz="UTC")
    keep = rng.random(n) > 0.03
    return index[keep]


PERIODS = [("1Y", "3M"), ("6M", "1M"), ("365D", "90D"), ("2Y", "6M"), ("26W", "4W"),
           ("120D", "1Q")]
GAPS: list[object] = [0, 3, "5D", "1W"]


@pytest.mark.parametrize("kind", KINDS)
def test_period_splits_property(kind: type[RollingSplit]) -> None:
    rng = np.random.default_rng(99)
    checked = 0
    for _ in range(120):
        index = _random_index(rng)
        train, test = PERIODS[int(rng.integers(0, len(PERIODS)))]
        gap = GAPS[int(rng.integers(0, len(GAPS)))]
        splitter = kind(train, test, gap=gap)
        try:
            folds = splitter.folds(index)
        except ValidationError as exc:
            assert "too little data" in str(exc)
            continue
        checked += 1
        _check_common(folds, len(index), step_is_test=False)
        p_train, p_test = parse_size(train, "train"), parse_size(test, "test")
        p_gap = parse_size(gap, "gap", allow_zero=True)
        for tr, te in folds:
            last_train, first_test = index[tr.stop - 1], index[te.start]
            if isinstance(p_gap, int):
                assert tr.stop + p_gap == te.start or p_gap == 0
                assert last_train < first_test
            else:
                assert last_train < first_test - p_gap  # the gap is clear of training bars
            assert index[te.stop - 1] < first_test + p_test  # a test window spans < test
            if kind is RollingSplit:
                assert index[tr.start] + p_train > last_train  # a train window spans < train
            else:
                assert tr.start == 0
        # the first training window is exactly the first period of the data
        first_train = folds[0][0]
        assert first_train.start == 0
        assert index[first_train.stop - 1] < index[0] + p_train
    assert checked > 40


@pytest.mark.parametrize("kind", KINDS)
def test_period_splits_never_look_ahead(kind: type[RollingSplit]) -> None:
    rng = np.random.default_rng(3)
    checked = 0
    while checked < 20:
        index = _random_index(rng)
        splitter = kind("3M", "1M", gap=GAPS[int(rng.integers(0, len(GAPS)))])
        try:
            folds = splitter.folds(index)
        except ValidationError:  # a short 4-hour sample
            continue
        checked += 1
        for k, (_, test) in enumerate(folds):
            assert splitter.folds(index[: test.stop])[: k + 1] == folds[: k + 1]


def test_calendar_years_tile_the_tail() -> None:
    """Two years of training, then one test window per calendar year."""
    index = _business_days(2609, start="2015-01-01")  # 2015-01-01 .. 2024-12-31
    folds = RollingSplit("2Y", "1Y").folds(index)
    years = [(index[te.start].year, index[te.stop - 1].year) for _, te in folds]
    assert years == [(y, y) for y in range(2017, 2025)]
    for _, te in folds:
        assert index[te.start].month == 1 and index[te.stop - 1].month == 12
    assert folds[-1][1].stop == len(index)
    assert all(a[1].stop == b[1].start for a, b in zip(folds, folds[1:], strict=False))
    train0 = folds[0][0]
    assert (index[train0.start].year, index[train0.stop - 1].year) == (2015, 2016)


def test_period_step_longer_than_test_leaves_holes() -> None:
    index = _business_days(800)
    folds = RollingSplit("1Y", "1M", step="3M").folds(index)
    for (_, a), (_, b) in zip(folds, folds[1:], strict=False):
        assert a.stop < b.start


def test_month_arithmetic_keeps_windows_contiguous() -> None:
    """Windows opening on the 31st stay contiguous (no day lost to month-end clipping)."""
    index = pd.date_range("2019-01-31", periods=900, freq="D", tz="UTC")
    folds = AnchoredSplit("1M", "1M").folds(index)
    assert all(a[1].stop == b[1].start for a, b in zip(folds, folds[1:], strict=False))
    assert folds[-1][1].stop == len(index)


def test_naive_index_works_for_periods() -> None:
    index = pd.date_range("2020-01-01", periods=400, freq="D")
    folds = RollingSplit("90D", "30D").folds(index)
    assert [te.stop - te.start for _, te in folds] == [30] * 10 + [10]  # 400 = 90 + 10 * 30 + 10


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"train": 0, "test": 5}, "positive"),
    ({"train": 10, "test": -1}, "positive"),
    ({"train": 1, "test": 5}, "at least 2 bars"),
    ({"train": 10, "test": 1}, "at least 2 bars"),
    ({"train": 10, "test": 5, "gap": -1}, "0 or more"),
    ({"train": 10, "test": 5, "step": 4}, "overlap"),
    ({"train": "1Y", "test": "3M", "step": "1M"}, "overlap"),
    ({"train": "1Y", "test": 20}, "both"),
    ({"train": 100, "test": 20, "step": "1M"}, "same kind"),
    ({"train": "1X", "test": "3M"}, "period units"),
    ({"train": "0D", "test": "3M"}, "positive"),
    ({"train": True, "test": 5}, "number of bars"),
    ({"train": 2.5, "test": 5}, "number of bars"),
])
def test_invalid_sizes(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        RollingSplit(**kwargs)


def test_too_little_data_names_what_a_fold_needs() -> None:
    with pytest.raises(ValidationError, match=r"too little data.*100 bars.*train=504 bars"):
        RollingSplit(504, 126).folds(_business_days(100))
    with pytest.raises(ValidationError, match="too little data"):
        AnchoredSplit("2Y", "6M").folds(_business_days(300))


def test_periods_need_a_sorted_datetime_index() -> None:
    with pytest.raises(ValidationError, match="DatetimeIndex"):
        RollingSplit("1Y", "1M").folds(pd.RangeIndex(500))
    with pytest.raises(ValidationError, match="timestamps"):
        RollingSplit("1Y", "1M").folds(1000)
    with pytest.raises(ValidationError, match="increasing"):
        RollingSplit("1Y", "1M").folds(_business_days(600)[::-1])


def test_parse_size_forms() -> None:
    assert parse_size("504", "train") == 504
    assert parse_size("2Y", "train") == pd.DateOffset(years=2)
    assert parse_size("1Q", "train") == pd.DateOffset(months=3)
    assert parse_size("12h", "train") == pd.Timedelta(hours=12)
    assert parse_size(pd.Timedelta(days=3), "gap", allow_zero=True) == pd.Timedelta(days=3)
    assert parse_size("0D", "gap", allow_zero=True) == 0
    assert parse_size(np.int64(7), "test") == 7


def test_splitters_are_frozen_and_hashable() -> None:
    splitter = RollingSplit(504, 126)
    assert splitter == RollingSplit(504, 126, step=126, gap=0)
    assert hash(splitter) == hash(RollingSplit(504, 126))
    with pytest.raises(AttributeError):
        splitter.train = 5  # type: ignore[misc]


@pytest.mark.parametrize("kind", KINDS)
def test_bar_windows_with_a_period_gap(kind: type[RollingSplit]) -> None:
    index = _business_days(1500)
    gap = pd.DateOffset(days=10)
    folds = kind(504, 126, gap="10D").folds(index)
    _check_common(folds, len(index), step_is_test=True)
    for train, test in folds:
        assert index[train.stop - 1] < index[test.start] - gap <= index[train.stop]
        assert train.stop - train.start == (504 if kind is RollingSplit else train.stop)
        assert train.stop - train.start >= 504
