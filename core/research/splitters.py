"""Walk-forward splitters: (train, test) index ranges over a time-ordered index.

A splitter never copies data: :meth:`RollingSplit.split` yields pairs of ``slice`` objects
(integer positions, ``stop`` exclusive) and the caller slices, ``data.iloc[train]``.

Sizes are bar counts (``int``) or calendar periods (``"365D"``, ``"26W"``, ``"3M"``, ``"1Q"``,
``"2Y"``, ``"12h"``, ``"30min"``, or a ``pandas.DateOffset`` / ``Timedelta``). ``"M"``, ``"Q"``
and ``"Y"`` mean calendar months, quarters and years counted from a timestamp
(``DateOffset(months=3)``), never month or year *ends*.

Layout
------
Folds are laid out from the start of the data:

- the first training window is the first ``train`` bars (or the bars in
  ``[first bar, first bar + train)``), then ``gap`` is skipped, and the first test window opens;
- each later test window opens ``step`` after the previous one (``step`` defaults to ``test``, so
  consecutive test windows are contiguous and together tile the tail of the data, from the first
  test bar to the last bar); the last test window is cut at the last bar and kept when it holds at
  least two bars;
- the training window of a fold ends ``gap`` before its test window opens and holds the ``train``
  bars (or the ``train`` period) before that point (:class:`RollingSplit`), or every bar from the
  first one (:class:`AnchoredSplit`, an expanding window whose first fold has ``train``).

No look-ahead: a period is turned into bars with the timestamps at or before the boundary it is
measured from (a training window of ``"2Y"`` ending at ``t`` holds the bars stamped in
``[t - 2 years, t)``); nothing about the bars after a test window (their count, spacing or values)
moves its boundaries or those of any earlier fold. Test windows never overlap: ``step`` shorter than
``test`` is rejected, since overlapping out-of-sample windows would count bars twice in a stitched
equity curve.

A period window can hold fewer bars than another of the same length (holidays, a hole in the data);
a fold whose test or training window holds fewer than two bars is skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sized
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from core.errors import ValidationError

__all__ = ["AnchoredSplit", "RollingSplit", "Size", "Splitter", "parse_size"]

Size = int | str | pd.offsets.BaseOffset | pd.Timedelta
"""A window length: a number of bars or a calendar period."""
Period = pd.offsets.BaseOffset | pd.Timedelta

MIN_BARS = 2
"""Fewest bars in a training or test window (one return needs two prices)."""

_PERIOD = re.compile(r"^\s*(\d+)\s*([A-Za-z]+)\s*$")
_UNITS: dict[str, str] = {
    "d": "days", "day": "days", "days": "days",
    "w": "weeks", "wk": "weeks", "week": "weeks", "weeks": "weeks",
    "m": "months", "me": "months", "ms": "months", "mo": "months", "month": "months",
    "months": "months",
    "q": "quarters", "qe": "quarters", "qs": "quarters", "quarter": "quarters",
    "quarters": "quarters",
    "y": "years", "a": "years", "ye": "years", "ys": "years", "year": "years",
    "years": "years",
    "h": "hours", "hour": "hours", "hours": "hours",
    "min": "minutes", "t": "minutes", "minute": "minutes", "minutes": "minutes",
}
_REFERENCES = (pd.Timestamp("2001-01-31", tz="UTC"), pd.Timestamp("2004-02-29", tz="UTC"),
               pd.Timestamp("2010-06-30 12:00", tz="UTC"))
_EXAMPLES = "a number of bars such as 504, or a period such as '365D', '3M' or '2Y'"


def parse_size(value: Any, name: str, *, allow_zero: bool = False) -> int | Period:
    """Read a window length: a number of bars or a calendar period.

    Parameters
    ----------
    value : int, str, pandas.DateOffset or pandas.Timedelta
        ``504`` (bars), ``"504"`` (bars), ``"365D"``, ``"26W"``, ``"3M"``, ``"1Q"``, ``"2Y"``,
        ``"12h"``, ``"30min"``, or an offset or timedelta.
    name : str
        The argument's name, for messages.
    allow_zero : bool
        Accept 0 (a gap may be empty).

    Returns
    -------
    int or pandas.DateOffset or pandas.Timedelta
        Bars as ``int``; a period as ``pandas.DateOffset`` (calendar units) or ``Timedelta``.

    Raises
    ------
    ValidationError
        On anything else, or a size that is negative (or zero when not allowed).
    """
    if isinstance(value, str):
        text = value.strip()
        value = int(text) if text.isdigit() else _parse_period(text, name)
    elif isinstance(value, timedelta | np.timedelta64):
        value = pd.Timedelta(value)
    elif isinstance(value, np.integer):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | pd.offsets.BaseOffset | pd.Timedelta):
        raise ValidationError(f"{name} must be {_EXAMPLES} (got {value!r}).")
    if isinstance(value, int):
        if value < 0 or (value == 0 and not allow_zero):
            least = "0 or more" if allow_zero else "a positive number of bars"
            raise ValidationError(f"{name} must be {least} (got {value}).")
        return value
    if not all(ref + value > ref for ref in _REFERENCES):
        if allow_zero and all(ref + value == ref for ref in _REFERENCES):
            return 0
        raise ValidationError(f"{name} must be a positive period (got {value!r}).")
    return value


def _parse_period(text: str, name: str) -> Period:
    match = _PERIOD.match(text)
    unit = _UNITS.get(match.group(2).lower()) if match else None
    if match is None or unit is None:
        raise ValidationError(f"{name} must be {_EXAMPLES} (got {text!r}); period units are "
                              "D, W, M, Q, Y, h and min.")
    count = int(match.group(1))
    if unit == "quarters":
        return pd.DateOffset(months=3 * count)
    if unit in ("hours", "minutes"):
        return pd.Timedelta(**{unit: count})
    return pd.DateOffset(**{unit: count})


def _is_bars(size: int | Period) -> bool:
    return isinstance(size, int)


class Splitter(Protocol):
    """What walk-forward analysis needs of a splitter."""

    def split(self, index: Any) -> Iterator[tuple[slice, slice]]:
        """Yield ``(train, test)`` slices of integer positions over ``index``."""
        ...


@dataclass(frozen=True)
class RollingSplit:
    """Rolling walk-forward windows: a training window of fixed length slides with the tests.

    Parameters
    ----------
    train : int or str or pandas.DateOffset or pandas.Timedelta
        Training window: bars (``504``) or a period (``"2Y"``).
    test : int or str or pandas.DateOffset or pandas.Timedelta
        Test (out-of-sample) window, of the same kind as ``train``.
    step : same kind as ``test``, optional
        Distance between consecutive test windows' starts; ``test`` by default (contiguous test
        windows). Shorter than ``test`` is rejected (overlapping test windows).
    gap : int or period, default 0
        Bars (or a period) left out between the end of training and the start of testing, e.g.
        to let a label horizon or a slow indicator clear the boundary.

    Raises
    ------
    ValidationError
        On a non-positive or malformed size, ``train`` and ``test`` of different kinds, or a
        ``step`` shorter than ``test``.

    Examples
    --------
    >>> import pandas as pd
    >>> index = pd.date_range("2020-01-01", periods=10, freq="D", tz="UTC")
    >>> [(tr.start, tr.stop, te.start, te.stop) for tr, te in RollingSplit(4, 3).split(index)]
    [(0, 4, 4, 7), (3, 7, 7, 10)]
    """

    train: Size
    test: Size
    step: Size | None = None
    gap: Size = 0
    anchored: ClassVar[bool] = False

    def __post_init__(self) -> None:
        train = parse_size(self.train, "train")
        test = parse_size(self.test, "test")
        if _is_bars(train) != _is_bars(test):
            raise ValidationError("train and test must both be numbers of bars or both periods "
                                  f"(got train={self.train!r}, test={self.test!r}).")
        step = test if self.step is None else parse_size(self.step, "step")
        if _is_bars(step) != _is_bars(test):
            raise ValidationError(f"step must be of the same kind as test (got step="
                                  f"{self.step!r}, test={self.test!r}).")
        gap = parse_size(self.gap, "gap", allow_zero=True)
        if _is_bars(train) and (train < MIN_BARS or test < MIN_BARS):
            raise ValidationError(f"train and test must hold at least {MIN_BARS} bars each "
                                  f"(got train={train}, test={test}).")
        if _shorter(step, test):
            raise ValidationError(f"step ({self.step!r}) must not be shorter than test "
                                  f"({self.test!r}): test windows would overlap.")
        for field, value in (("train", train), ("test", test), ("step", step), ("gap", gap)):
            object.__setattr__(self, field, value)

    # ------------------------------------------------------------------ public

    def split(self, index: Any) -> Iterator[tuple[slice, slice]]:
        """Yield the folds over ``index``.

        Parameters
        ----------
        index : pandas.DatetimeIndex, pandas.DataFrame, pandas.Series or int
            The bars' timestamps (a frame's or series' index is used); with bar-count sizes and
            a bar-count gap, any index or a number of bars will do.

        Yields
        ------
        tuple of slice
            ``(train, test)`` integer positions; ``train.stop + gap <= test.start``.

        Raises
        ------
        ValidationError
            If the index is not increasing (periods need sorted timestamps) or holds too few
            bars for one fold.
        """
        folds = self.folds(index)
        yield from folds

    def folds(self, index: Any) -> list[tuple[slice, slice]]:
        """All folds over ``index`` as a list (see :meth:`split`)."""
        n, times = self._index(index)
        if _is_bars(self.test):
            folds = self._bar_folds(n, times)
        else:
            folds = self._period_folds(n, times)
        if not folds:
            raise ValidationError(self._too_short(n, times))
        for (_, first), (_, second) in zip(folds, folds[1:], strict=False):
            if first.stop > second.start:  # a calendar step shorter than test on these dates
                raise ValidationError(f"step ({self.step!r}) is shorter than test "
                                      f"({self.test!r}) on this data: test windows overlap.")
        return folds

    def n_folds(self, index: Any) -> int:
        """Number of folds over ``index``."""
        return len(self.folds(index))

    # ------------------------------------------------------------------ internals

    def _index(self, index: Any) -> tuple[int, pd.DatetimeIndex | None]:
        if isinstance(index, pd.DataFrame | pd.Series):
            index = index.index
        needs_times = not (_is_bars(self.test) and _is_bars(self.gap))
        if isinstance(index, int | np.integer) and not isinstance(index, bool):
            if needs_times:
                raise ValidationError("periods need the bars' timestamps: pass the "
                                      "DatetimeIndex, not a number of bars.")
            return int(index), None
        if not isinstance(index, Sized):
            raise ValidationError(f"split needs an index or a number of bars, got "
                                  f"{type(index).__name__}.")
        if not needs_times:
            return len(index), None
        if not isinstance(index, pd.DatetimeIndex):
            raise ValidationError(f"periods need a DatetimeIndex, got {type(index).__name__}.")
        if index.hasnans or not index.is_monotonic_increasing or not index.is_unique:
            raise ValidationError("the index must be strictly increasing timestamps without "
                                  "missing values to be split by period.")
        return len(index), index

    def _train_start(self, train_end: int, end_time: pd.Timestamp | None,
                     times: pd.DatetimeIndex | None) -> int:
        if self.anchored:
            return 0
        if _is_bars(self.train):
            return train_end - self.train
        return int(times.searchsorted(end_time - self.train, side="left"))

    def _train_end(self, start: int, start_time: pd.Timestamp | None,
                   times: pd.DatetimeIndex | None) -> tuple[int, pd.Timestamp | None]:
        """End (exclusive) of the training window of a test opening at ``start``, and its time."""
        if _is_bars(self.gap):
            end = start - self.gap
            if times is None:
                return end, None
            return end, start_time if self.gap == 0 else times[end]
        end_time = start_time - self.gap
        return int(times.searchsorted(end_time, side="left")), end_time

    def _bar_folds(self, n: int, times: pd.DatetimeIndex | None) -> list[tuple[slice, slice]]:
        if _is_bars(self.gap):
            first = self.train + self.gap
        elif self.train < n:
            first = int(times.searchsorted(times[self.train] + self.gap, side="left"))
        else:
            first = n
        folds = []
        for start in range(first, n, self.step):
            stop = min(start + self.test, n)
            start_time = None if times is None else times[start]
            train_end, end_time = self._train_end(start, start_time, times)
            train = slice(self._train_start(train_end, end_time, times), train_end)
            if stop - start >= MIN_BARS:
                folds.append((train, slice(start, stop)))
        return folds

    def _period_folds(self, n: int, times: pd.DatetimeIndex) -> list[tuple[slice, slice]]:
        first = self._first_test_time(n, times)
        if first is None:
            return []
        folds = []
        k = 0
        while True:
            opens = first + self.step * k
            start = int(times.searchsorted(opens, side="left"))
            if start >= n:
                return folds
            closes = first + self.step * (k + 1) if self.step == self.test else opens + self.test
            stop = int(times.searchsorted(closes, side="left"))
            train_end, end_time = self._train_end(start, opens, times)
            train = slice(self._train_start(train_end, end_time, times), train_end)
            if stop - start >= MIN_BARS and train_end - train.start >= MIN_BARS:
                folds.append((train, slice(start, stop)))
            k += 1

    def _first_test_time(self, n: int, times: pd.DatetimeIndex) -> pd.Timestamp | None:
        """When the first test window opens (period sizes): after one full train and the gap."""
        train_ends = times[0] + self.train
        if not _is_bars(self.gap):
            return train_ends + self.gap
        if self.gap == 0:
            return train_ends
        first = int(times.searchsorted(train_ends, side="left")) + self.gap
        return times[first] if first < n else None

    def _too_short(self, n: int, times: pd.DatetimeIndex | None) -> str:
        span = "" if times is None or n == 0 else f" ({times[0]} to {times[-1]})"
        kind = "an anchored" if self.anchored else "a rolling"
        return (f"too little data for one walk-forward fold: {n:,} bars{span}; {kind} fold "
                f"needs train={_show(self.train)}, then gap={_show(self.gap)}, then at least "
                f"{MIN_BARS} test bars. Load more history or shorten train/test.")


@dataclass(frozen=True)
class AnchoredSplit(RollingSplit):
    """Anchored (expanding) walk-forward windows: every training window starts at the first bar.

    The first fold trains on ``train`` (bars or period); each later fold trains on everything
    before its test window (less ``gap``). Test windows are laid out as in :class:`RollingSplit`.

    Parameters
    ----------
    train : int or str or pandas.DateOffset or pandas.Timedelta
        The first (shortest) training window.
    test, step, gap
        As in :class:`RollingSplit`.

    Examples
    --------
    >>> import pandas as pd
    >>> index = pd.date_range("2020-01-01", periods=10, freq="D", tz="UTC")
    >>> [(tr.start, tr.stop, te.start, te.stop) for tr, te in AnchoredSplit(4, 3).split(index)]
    [(0, 4, 4, 7), (0, 7, 7, 10)]
    """

    anchored: ClassVar[bool] = True


def _shorter(step: int | Period, test: int | Period) -> bool:
    if _is_bars(test):
        return step < test
    return any(ref + step < ref + test for ref in _REFERENCES)


def _show(size: int | Period) -> str:
    if _is_bars(size):
        return f"{size} bars"
    if isinstance(size, pd.Timedelta):
        return str(size)
    kwds = getattr(size, "kwds", {})
    return ", ".join(f"{v} {k}" for k, v in kwds.items()) or repr(size)
