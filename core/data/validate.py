"""Validating a canonical OHLCV frame: per-rule results and a 0-100 quality score.

:func:`validate` runs the rules of :mod:`core.data.rules` (and, given a calendar, the gap rules
of :mod:`core.data.gaps`) and returns a frozen :class:`QualityReport`. Pure: no I/O, no state.

Quality score
-------------
Each enabled rule that fails costs ``W * (1 + 9 * rate)`` points, where ``rate`` is its
violations divided by the bars it checked (the expected bars for ``calendar_gaps``, the frame's
bars otherwise), capped at 1, and ``W`` is :data:`SEVERITY_WEIGHTS` of its severity (error 10,
warning 2)::

    score = max(0, 100 - sum over failing rules of W * (1 + 9 * rate))

So a clean frame scores exactly 100; one bad bar costs at least 10 points for an error rule
and 2 for a warning rule; an error rule broken on every bar alone drives the score to 0, a
warning rule on every bar costs 20. Disabled and skipped rules cost nothing. The score is
rounded to two decimals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import exchange_calendars as xc
import pandas as pd

from core.data.calendars import Anchor, expected_index
from core.data.frames import OHLCV
from core.data.gaps import Gap, runs_of
from core.data.rules import CALENDAR_RULES, RULES, ValidationConfig
from core.errors import ValidationError

__all__ = ["SEVERITY_WEIGHTS", "QualityReport", "RuleResult", "ValidationConfig",
           "quality_score", "validate"]

SEVERITY_WEIGHTS: dict[str, float] = {"error": 10.0, "warning": 2.0}
"""Points a failing rule costs at least, by severity (see the module docstring)."""
CALENDAR_SEVERITY = "warning"
"""Severity of the calendar rules."""


@dataclass(frozen=True)
class RuleResult:
    """The outcome of one rule.

    Attributes
    ----------
    name, description, severity
        The rule's (severity ``error`` or ``warning``).
    enabled
        False when the configuration switched the rule off (it then passes with no violations).
    passed
        True when the rule found no violation.
    violations
        Number of violating bars (missing bars for ``calendar_gaps``).
    timestamps
        Start times of the violating (or missing) bars.
    checked
        Number of bars the rule looked at; the denominator of its violation rate.
    note
        Why the rule was skipped, or how it judged, when worth saying.
    """

    name: str
    description: str
    severity: str
    enabled: bool
    passed: bool
    violations: int
    timestamps: tuple[pd.Timestamp, ...]
    checked: int
    note: str = ""

    @property
    def rate(self) -> float:
        """Violations per checked bar, capped at 1 (0 when nothing was checked)."""
        return min(1.0, self.violations / self.checked) if self.checked else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; timestamps as ISO strings."""
        return {"name": self.name, "description": self.description, "severity": self.severity,
                "enabled": self.enabled, "passed": self.passed, "violations": self.violations,
                "timestamps": [_iso(t) for t in self.timestamps], "checked": self.checked,
                "note": self.note}


@dataclass(frozen=True)
class QualityReport:
    """Everything :func:`validate` found.

    Attributes
    ----------
    score
        Quality score from 0 to 100 (see the module docstring).
    bars
        Number of bars validated.
    results
        One result per rule, disabled ones included, in report order.
    gaps
        Calendar gaps (empty unless a calendar was given).
    """

    score: float
    bars: int
    results: tuple[RuleResult, ...]
    gaps: tuple[Gap, ...] = ()

    @property
    def passed(self) -> bool:
        """True when no enabled rule failed."""
        return all(result.passed for result in self.results)

    @property
    def failed(self) -> tuple[RuleResult, ...]:
        """The results of the enabled rules that failed."""
        return tuple(result for result in self.results if not result.passed)

    def result(self, name: str) -> RuleResult:
        """The result of rule ``name``.

        Raises
        ------
        ValidationError
            If the report has no rule of that name.
        """
        for result in self.results:
            if result.name == name:
                return result
        raise ValidationError(f"The report has no rule '{name}'.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form of the report; timestamps as ISO strings."""
        return {"score": self.score, "bars": self.bars, "passed": self.passed,
                "rules": [result.to_dict() for result in self.results],
                "gaps": [gap.to_dict() for gap in self.gaps]}


def validate(frame: pd.DataFrame, config: ValidationConfig | None = None, *,
             calendar: str | xc.ExchangeCalendar | None = None, interval: str | None = None,
             anchor: Anchor = "open") -> QualityReport:
    """Run every enabled rule on ``frame`` and score it.

    Parameters
    ----------
    frame
        A canonical OHLCV frame (:mod:`core.data.frames`); not modified.
    config
        Thresholds and disabled rules; :class:`ValidationConfig` defaults when None.
    calendar
        A symbol, calendar name or calendar. When given, ``calendar_gaps`` (expected bars
        missing between the first and the last bar) and ``unexpected_bars`` also run.
    interval
        The frame's interval; required with ``calendar``.
    anchor
        Intraday bar alignment, as in :func:`core.data.calendars.expected_index`.

    Returns
    -------
    QualityReport

    Raises
    ------
    ValidationError
        If ``frame`` lacks a DatetimeIndex or an OHLCV column, or ``calendar`` comes without
        ``interval``.
    """
    config = config or ValidationConfig()
    _check_shape(frame)
    results = [_run(name, frame, config) for name in RULES]
    gaps: list[Gap] = []
    if calendar is None:
        results += [_skipped(name, config, "skipped: no calendar given") for name in
                    CALENDAR_RULES]
    else:
        if interval is None:
            raise ValidationError("Give the frame's interval to check it against a calendar.")
        calendar_results, gaps = _calendar_results(frame, config, calendar, interval, anchor)
        results += calendar_results
    return QualityReport(quality_score(results), len(frame), tuple(results), tuple(gaps))


def quality_score(results: list[RuleResult] | tuple[RuleResult, ...]) -> float:
    """The 0-100 score of rule results (formula in the module docstring)."""
    penalty = sum(SEVERITY_WEIGHTS[result.severity] * (1 + 9 * result.rate)
                  for result in results if result.enabled and not result.passed)
    return round(max(0.0, 100.0 - penalty), 2)


def _run(name: str, frame: pd.DataFrame, config: ValidationConfig) -> RuleResult:
    rule = RULES[name]
    if not config.is_on(name):
        return _skipped(name, config, "disabled" if name in config.disabled else
                        "off: opt-in rule, see ValidationConfig.enabled")
    found = rule.check(frame, config)
    return RuleResult(name, rule.description, rule.severity, True, len(found.timestamps) == 0,
                      len(found.timestamps), tuple(found.timestamps), len(frame), found.note)


def _calendar_results(frame: pd.DataFrame, config: ValidationConfig,
                      calendar: str | xc.ExchangeCalendar, interval: str,
                      anchor: Anchor) -> tuple[list[RuleResult], list[Gap]]:
    """Results of ``calendar_gaps`` and ``unexpected_bars``, and the gaps."""
    if len(frame) == 0:
        expected = pd.DatetimeIndex([], tz="UTC")
    else:
        expected = expected_index(calendar, frame.index.min(), frame.index.max(), interval,
                                  anchor=anchor)
    missing = ~expected.isin(frame.index)
    unexpected = frame.index[~frame.index.isin(expected)]
    results = []
    for name, stamps, checked in (("calendar_gaps", expected[missing], len(expected)),
                                  ("unexpected_bars", unexpected, len(frame))):
        if not config.is_on(name):
            results.append(_skipped(name, config, "disabled"))
        else:
            results.append(RuleResult(name, CALENDAR_RULES[name], CALENDAR_SEVERITY, True,
                                      len(stamps) == 0, len(stamps), tuple(stamps), checked))
    gaps = runs_of(expected, missing) if config.is_on("calendar_gaps") else []
    return results, gaps


def _skipped(name: str, config: ValidationConfig, note: str) -> RuleResult:
    if name in RULES:
        description, severity = RULES[name].description, RULES[name].severity
    else:
        description, severity = CALENDAR_RULES[name], CALENDAR_SEVERITY
    return RuleResult(name, description, severity, config.is_on(name), True, 0, (), 0, note)


def _check_shape(frame: pd.DataFrame) -> None:
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise ValidationError("Validation needs a DatetimeIndex of bar start times; pass the "
                              "frame through core.data.frames.canonical first.")
    missing = [name for name in OHLCV if name not in frame.columns]
    if missing:
        raise ValidationError(f"Validation needs column(s) {', '.join(missing)}; pass the frame "
                              "through core.data.frames.canonical first.")


def _iso(stamp: pd.Timestamp) -> str | None:
    return None if pd.isna(stamp) else stamp.isoformat()
