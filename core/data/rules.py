"""The data-quality rules for canonical OHLCV frames, and their thresholds.

Each rule is a :class:`Rule`: a name, a one-line description, a severity (``error`` for bars
that cannot be right, ``warning`` for bars that are probably wrong) and a pure ``check``
function returning the violating bars' start times and an optional note (e.g. why it was
skipped). :data:`RULES` maps names to rules in report order. Thresholds live in
:class:`ValidationConfig`, which also switches rules off.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import pandas as pd

from core.errors import ValidationError

PRICES = ["Open", "High", "Low", "Close"]
CALENDAR_RULES: dict[str, str] = {
    "calendar_gaps": "No bar the trading calendar expects is missing",
    "unexpected_bars": "No bar falls outside the trading calendar (holiday, off-hours)",
}
"""Rules run only when the validator is given a calendar (see :mod:`core.data.gaps`)."""
OPT_IN = frozenset({"isolation_forest"})
"""Rules off unless named in :attr:`ValidationConfig.enabled`."""
MIN_OUTLIER_RETURNS = 10
"""Fewer returns than this and ``return_outliers`` is skipped with a note."""


@dataclass(frozen=True)
class ValidationConfig:
    """Thresholds of the rules, and which rules are switched on or off.

    Attributes
    ----------
    disabled
        Names of rules switched off.
    enabled
        Names of opt-in rules (:data:`OPT_IN`) switched on. ``isolation_forest`` is opt-in: it
        ranks bars rather than testing them and always flags about ``iforest_contamination`` of
        them, so with it a clean frame would never score 100. :meth:`enable` and
        :meth:`disable` return copies with rules switched on or off.
    ohlc_tolerance
        Relative slack of ``high_ge_open_close`` and ``low_le_open_close`` (rounding noise).
    split_ratios
        Price ratios ``previous close / next open`` of common splits: 2 (2:1), 3 (3:1), 1.5
        (3:2), 0.5 (1:2 reverse split), 0.1 (1:10 reverse split)...
    split_tolerance
        Relative distance to a split ratio that still counts as a match.
    max_jump
        Largest ``|ln(next open / previous close)|`` not flagged even without a ratio match.
    outlier_z
        Robust z-score (median/MAD of log close-to-close returns) above which a return is an
        outlier.
    iforest_contamination
        Share of bars the isolation forest flags.
    iforest_min_bars
        Fewer bars than this and ``isolation_forest`` is skipped with a note.
    iforest_random_state
        Seed of the isolation forest, so results are reproducible.
    """

    disabled: frozenset[str] = frozenset()
    enabled: frozenset[str] = frozenset()
    ohlc_tolerance: float = 1e-6
    split_ratios: tuple[float, ...] = (2.0, 3.0, 4.0, 5.0, 10.0, 1.5,
                                       0.5, 1 / 3, 0.25, 0.2, 0.1, 2 / 3)
    split_tolerance: float = 0.02
    max_jump: float = 0.5
    outlier_z: float = 6.0
    iforest_contamination: float = 0.01
    iforest_min_bars: int = 50
    iforest_random_state: int = 0

    def __post_init__(self) -> None:
        for name in ("disabled", "enabled"):
            names = getattr(self, name)
            if isinstance(names, str):
                raise ValidationError(f"{name} must be a collection of rule names, not one "
                                      "string.")
            object.__setattr__(self, name, frozenset(names))
            unknown = sorted(getattr(self, name) - set(rule_names()))
            if unknown:
                raise ValidationError(f"Unknown rule(s) {', '.join(unknown)} in {name}. Rules: "
                                      f"{', '.join(rule_names())}.")
        both = sorted(self.disabled & self.enabled)
        if both:
            raise ValidationError(f"Rule(s) {', '.join(both)} both enabled and disabled.")
        try:
            object.__setattr__(self, "split_ratios", tuple(float(r) for r in self.split_ratios))
        except (TypeError, ValueError):
            raise ValidationError(f"split_ratios must be numbers such as (2, 1.5, 0.5), not "
                                  f"{self.split_ratios!r}.") from None
        _check_range("ohlc_tolerance", self.ohlc_tolerance, 0.0, 0.5, low_open=False)
        _check_range("split_tolerance", self.split_tolerance, 0.0, 0.2)
        _check_range("max_jump", self.max_jump, 0.0, np.inf)
        _check_range("outlier_z", self.outlier_z, 0.0, np.inf)
        _check_range("iforest_contamination", self.iforest_contamination, 0.0, 0.5,
                     high_open=False)
        if not isinstance(self.iforest_min_bars, int) or self.iforest_min_bars < 10:
            raise ValidationError(
                f"iforest_min_bars must be a whole number of at least 10, not "
                f"{self.iforest_min_bars!r}.")
        bad = [r for r in self.split_ratios if not (r > 0 and np.isfinite(r))
               or abs(r - 1) <= 2 * self.split_tolerance]
        if bad:
            raise ValidationError(
                f"split_ratios must be positive and away from 1 (more than twice "
                f"split_tolerance), not {', '.join(f'{r:g}' for r in bad)}.")

    def is_on(self, name: str) -> bool:
        """True when rule ``name`` runs under this configuration."""
        if name in self.disabled:
            return False
        return name not in OPT_IN or name in self.enabled

    def enable(self, *names: str) -> ValidationConfig:
        """A copy with the rules ``names`` switched on."""
        return replace(self, disabled=self.disabled - frozenset(names),
                       enabled=self.enabled | frozenset(names))

    def disable(self, *names: str) -> ValidationConfig:
        """A copy with the rules ``names`` switched off."""
        return replace(self, disabled=self.disabled | frozenset(names),
                       enabled=self.enabled - frozenset(names))


class Finding(NamedTuple):
    """What a rule's check returns."""

    timestamps: pd.DatetimeIndex
    """Start times of the violating bars."""
    note: str = ""
    """Why the rule was skipped or how it judged, when worth saying."""


@dataclass(frozen=True)
class Rule:
    """A named data-quality rule."""

    name: str
    description: str
    severity: str
    check: Callable[[pd.DataFrame, ValidationConfig], Finding]


def high_ge_open_close(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Bars whose High is below max(Open, Close) beyond the tolerance."""
    top = frame[["Open", "Close"]].max(axis=1)
    return _flag(frame, frame["High"] < top * (1 - config.ohlc_tolerance))


def low_le_open_close(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Bars whose Low is above min(Open, Close) beyond the tolerance."""
    bottom = frame[["Open", "Close"]].min(axis=1)
    return _flag(frame, frame["Low"] > bottom * (1 + config.ohlc_tolerance))


def positive_prices(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Bars with a price at or below zero."""
    return _flag(frame, (frame[PRICES] <= 0).any(axis=1))


def non_negative_volume(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Bars with a negative volume."""
    return _flag(frame, frame["Volume"] < 0)


def no_nan(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Bars with a missing (NaN) price or volume."""
    return _flag(frame, frame[PRICES + ["Volume"]].isna().any(axis=1))


def increasing_unique_timestamps(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Bars not strictly after the bar before them (duplicates, out of order, missing time)."""
    stamps = frame.index.asi8
    bad = np.zeros(len(stamps), dtype=bool)
    bad[1:] = stamps[1:] <= stamps[:-1]
    return _flag(frame, bad | frame.index.isna())


def no_duplicate_bars(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Observed bars repeating the previous bar's five values exactly (a stale repeat)."""
    values = frame[PRICES + ["Volume"]]
    same = (values == values.shift()).all(axis=1)
    if "Filled" in frame.columns:
        same &= ~frame["Filled"].astype(bool)
    return _flag(frame, same)


def split_jumps(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Bars whose open jumps from the previous close by a split ratio or beyond ``max_jump``."""
    ratio = (frame["Close"].shift() / frame["Open"]).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        jump = np.abs(np.log(ratio))
        matches = [np.abs(ratio / r - 1) <= config.split_tolerance for r in config.split_ratios]
    split_like = np.logical_or.reduce(matches) if matches else np.zeros(len(ratio), bool)
    return _flag(frame, split_like | (jump > config.max_jump))


def return_outliers(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Bars whose log close-to-close return has a robust z-score above ``outlier_z``.

    z = |r - median(r)| / (1.4826 MAD); when MAD is 0 (mostly flat prices) the mean absolute
    deviation times 1.2533 stands in (Iglewicz and Hoaglin's modified z-score).
    """
    returns = _log_returns(frame["Close"])
    valid = returns.dropna()
    if len(valid) < MIN_OUTLIER_RETURNS:
        return Finding(frame.index[:0], f"skipped: not enough bars ({len(frame)}; needs "
                                        f"{MIN_OUTLIER_RETURNS + 1})")
    deviation = (valid - valid.median()).abs()
    scale = 1.4826 * deviation.median()
    if scale == 0:
        scale = 1.2533 * deviation.mean()
    if scale == 0:
        return Finding(frame.index[:0], "no return varies")
    z = (returns - valid.median()).abs() / scale
    return _flag(frame, (z > config.outlier_z).to_numpy())


def isolation_forest(frame: pd.DataFrame, config: ValidationConfig) -> Finding:
    """Bars an IsolationForest isolates quickly on (return, range, log volume change).

    Features per bar: log close-to-close return, (High - Low) / Close, and
    ln((1 + volume) / (1 + previous volume)). Skipped below ``iforest_min_bars`` bars.
    """
    from sklearn.ensemble import IsolationForest

    features = pd.DataFrame({
        "return": _log_returns(frame["Close"]),
        "range": (frame["High"] - frame["Low"]) / frame["Close"],
        "volume": _log_returns(frame["Volume"].clip(lower=0) + 1.0),
    }, index=frame.index).replace([np.inf, -np.inf], np.nan)
    rows = features.notna().all(axis=1).to_numpy()
    if rows.sum() < config.iforest_min_bars:
        return Finding(frame.index[:0], f"skipped: not enough bars ({int(rows.sum())} usable; "
                                        f"needs {config.iforest_min_bars})")
    model = IsolationForest(contamination=config.iforest_contamination,
                            random_state=config.iforest_random_state)
    labels = model.fit_predict(features.to_numpy()[rows])
    bad = np.zeros(len(frame), dtype=bool)
    bad[np.flatnonzero(rows)[labels == -1]] = True
    return _flag(frame, bad, f"contamination {config.iforest_contamination:g}")


RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule("high_ge_open_close", "High is at least max(Open, Close)", "error", high_ge_open_close),
    Rule("low_le_open_close", "Low is at most min(Open, Close)", "error", low_le_open_close),
    Rule("positive_prices", "Every price is above zero", "error", positive_prices),
    Rule("non_negative_volume", "Volume is not negative", "error", non_negative_volume),
    Rule("no_nan", "No price or volume is missing (NaN)", "error", no_nan),
    Rule("increasing_unique_timestamps", "Bar times strictly increase (no duplicates)",
         "error", increasing_unique_timestamps),
    Rule("no_duplicate_bars", "No bar repeats the previous bar exactly (stale data)",
         "warning", no_duplicate_bars),
    Rule("split_jumps", "No close-to-next-open jump looks like an unadjusted split",
         "warning", split_jumps),
    Rule("return_outliers", "No log return is a robust-z outlier (median/MAD)", "warning",
         return_outliers),
    Rule("isolation_forest", "No bar is isolated by an IsolationForest on return, range and "
         "volume change", "warning", isolation_forest),
)}
"""The frame rules, by name, in report order."""


def rule_names() -> tuple[str, ...]:
    """Every rule name: the frame rules, then the calendar rules."""
    return (*RULES, *CALENDAR_RULES)


def _flag(frame: pd.DataFrame, mask: Iterable[bool], note: str = "") -> Finding:
    return Finding(frame.index[np.asarray(mask, dtype=bool)], note)


def _log_returns(values: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(values.where(values > 0)).diff()


def _check_range(name: str, value: float, low: float, high: float, *, low_open: bool = True,
                 high_open: bool = True) -> None:
    """ValidationError unless ``value`` is a number between ``low`` and ``high``.

    The ends are excluded unless ``low_open`` / ``high_open`` is False.
    """
    number = isinstance(value, int | float) and not isinstance(value, bool) \
        and not math.isnan(value)
    above = number and (value > low if low_open else value >= low)
    below = number and (value < high if high_open else value <= high)
    if not (above and below):
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValidationError(f"{name} must be a number in {left}{low:g}, {high:g}{right}, "
                              f"not {value!r}.")
