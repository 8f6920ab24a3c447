"""``gsig data check``: the data-quality report of a symbol's history or of an OHLCV file.

``gsig data check PATH_OR_SYMBOL [--interval 1d] [--start DATE] [--end DATE] [--rules R,...]
[--iforest] [--outlier-z Z] [--max-jump J] [--calendar NAME] [--fill POLICY] [--json]``

A symbol is loaded through the history service (its configured sources in order, the offline
simulator last; downloaded bars are cached in the store); a path is read as a CSV/Parquet file.
Then :func:`core.data.validate.validate` runs with the trading calendar of the symbol (or of the
file's name) and the interval, and the command prints the score, one line per rule, the calendar
gaps and the source or cache tier that served the bars; with ``--json`` it prints one JSON
object: :meth:`~core.data.validate.QualityReport.to_dict` plus ``history``, ``calendar``,
``interval``, ``anchor`` and ``fill``. The exit code is 0 whenever a report was made, whatever
its score, and 2 on bad input (one line on stderr, from :func:`core.cli.main`).

The steps (:func:`validation_config`, :func:`check_frame`, :func:`fill_frame`...) are shared with
the Data Quality page (pages/data_quality.py); they are pure apart from the loading and, for
the ``next_source`` policy, the next source's fetch.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from core.cli import end_exclusive
from core.data.calendars import EQUITY_CALENDAR, calendar_name, expected_index
from core.data.frames import INTERVALS, canonical
from core.data.gaps import POLICIES, Gap, fill_gaps
from core.data.rules import OPT_IN, rule_names
from core.data.validate import QualityReport, ValidationConfig, validate
from core.errors import GSError, ValidationError

__all__ = ["DEFAULT_DAYS", "DataCheck", "FillOutcome", "add_data_parser", "check_frame",
           "default_start", "detect_anchor", "detect_interval", "fill_frame", "format_report",
           "next_source", "resolve_calendar", "run_data", "served_label", "validation_config",
           "verdict", "when"]

SIMULATOR = "simulator"
DEFAULT_DAYS: dict[str, int] = {"1d": 730, "1h": 90, "15m": 30, "5m": 14, "1m": 5}
"""Days of history checked for a symbol when no start is given, per interval."""
NO_CALENDAR = "none"
"""``--calendar`` value that skips the calendar rules."""
TIERS: dict[str, str] = {
    "source": "fetched from the source now", "sql+source": "partly from the store, the rest "
    "fetched now", "memory": "from the memory cache", "redis": "from the Redis cache",
    "sql": "from the SQL store", "file": "read from the file", "upload": "uploaded file"}
"""How each ``served_by`` value of ``attrs["history"]`` reads for people."""
_VERDICTS = ((100.0, "clean: every rule passed"), (95.0, "good: minor issues"),
             (80.0, "fair: check the failing rules"), (50.0, "poor: clean it before use"),
             (0.0, "bad: do not use as is"))


@dataclass(frozen=True)
class DataCheck:
    """One validated frame and where it came from.

    Attributes
    ----------
    frame
        The canonical bars checked (not to be modified: it may be a cache tier's frame).
    report
        The validation report.
    history
        A copy of ``frame.attrs["history"]``: symbol, interval, served_by, sources, notes.
    interval, calendar, anchor
        What the calendar rules used (``calendar`` None: they were skipped).
    """

    frame: pd.DataFrame
    report: QualityReport
    history: dict[str, Any]
    interval: str
    calendar: str | None
    anchor: str

    @property
    def simulated(self) -> bool:
        """True when the offline simulator drew the bars."""
        return SIMULATOR in self.history.get("sources", [])

    def to_dict(self) -> dict[str, Any]:
        """The report's dict plus ``history`` (with ``simulated``), calendar, interval, anchor."""
        return {**self.report.to_dict(), "history": {**self.history, "simulated": self.simulated},
                "calendar": self.calendar, "interval": self.interval, "anchor": self.anchor}


@dataclass(frozen=True)
class FillOutcome:
    """What a fill policy did to a checked frame.

    Attributes
    ----------
    policy
        One of :data:`core.data.gaps.POLICIES`.
    frame
        The frame with its ``Filled`` column (None when the policy could not run).
    filled
        Number of bars the policy added.
    open_gaps
        Gaps still open afterwards.
    message
        One sentence for people saying what happened.
    source
        The source bars were taken from (``next_source`` only).
    score_after
        Quality score of the filled frame (same rules and calendar); None when nothing was
        filled.
    """

    policy: str
    frame: pd.DataFrame | None
    filled: int
    open_gaps: tuple[Gap, ...]
    message: str
    source: str | None = None
    score_after: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no bars)."""
        return {"policy": self.policy, "filled": self.filled, "source": self.source,
                "score_after": self.score_after,
                "open_gaps": [gap.to_dict() for gap in self.open_gaps],
                "message": self.message}


# ----------------------------------------------------------------------------- the steps


def verdict(score: float) -> str:
    """A few words on a 0-100 quality score."""
    return next(text for floor, text in _VERDICTS if score >= floor)


def validation_config(rules: Iterable[str] | None = None, *, iforest: bool = False,
                      outlier_z: float | None = None,
                      max_jump: float | None = None) -> ValidationConfig:
    """The validator's configuration for the rules to run and the two main thresholds.

    Parameters
    ----------
    rules
        Names of the rules to run (the others are switched off); None runs the default set
        (every rule but the opt-in ``isolation_forest``).
    iforest
        Also run ``isolation_forest``.
    outlier_z, max_jump
        Thresholds of ``return_outliers`` and ``split_jumps`` (defaults when None).

    Raises
    ------
    ValidationError
        For an unknown rule name (the message lists the rules) or a bad threshold.
    """
    config = ValidationConfig()
    if rules is not None:
        wanted = {name.strip() for name in rules if name.strip()}
        unknown = sorted(wanted - set(rule_names()))
        if unknown:
            raise ValidationError(f"Unknown rule(s) {', '.join(unknown)}. Rules: "
                                  f"{', '.join(rule_names())}.")
        config = ValidationConfig(disabled=frozenset(rule_names()) - wanted - OPT_IN,
                                  enabled=wanted & OPT_IN)
    if iforest:
        config = config.enable("isolation_forest")
    changes = {k: float(v) for k, v in (("outlier_z", outlier_z), ("max_jump", max_jump))
               if v is not None}
    return replace(config, **changes) if changes else config


def default_start(interval: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """Start of the default range of ``interval``: :data:`DEFAULT_DAYS` before today (UTC)."""
    today = (now if now is not None else pd.Timestamp.now(tz="UTC")).normalize()
    return today - pd.Timedelta(days=DEFAULT_DAYS.get(interval, 730))


def detect_interval(frame: pd.DataFrame) -> str | None:
    """The interval of :data:`~core.data.frames.INTERVALS` the bars are most often apart by."""
    if len(frame) < 2:
        return None
    steps = frame.index.to_series().diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    if steps.empty:
        return None
    common = steps.value_counts().idxmax()
    return next((name for name, length in INTERVALS.items() if length == common), None)


def resolve_calendar(choice: str | None, name: str) -> str | None:
    """The calendar to check against: ``auto`` (None) derives it from ``name``.

    Parameters
    ----------
    choice
        None or ``auto`` (from ``name``), ``none`` (no calendar) or a canonical
        exchange_calendars name (``XNYS``, ``24/7``, ``XLON``...).
    name
        The symbol, or a file's name stem (a crypto pair such as ``BTCUSDT`` gives ``24/7``;
        anything that is not a symbol the NYSE calendar).

    Raises
    ------
    ValidationError
        For a calendar name exchange_calendars does not know.
    """
    from core.symbols import is_valid_symbol

    if choice is None or choice.strip().lower() in ("", "auto"):
        stem = name.strip().upper()
        return calendar_name(stem) if is_valid_symbol(stem) else EQUITY_CALENDAR
    if choice.strip().lower() == NO_CALENDAR:
        return None
    if calendar_name(choice.strip()) != choice.strip():
        raise ValidationError(f"Unknown calendar '{choice}'. Use an exchange_calendars name "
                              "such as XNYS, XLON or 24/7, 'auto' or 'none'.")
    return choice.strip()


def detect_anchor(frame: pd.DataFrame, calendar: str | None, interval: str) -> str:
    """``open`` or ``clock``: the intraday bar alignment that matches more of the bars."""
    if calendar is None or interval == "1d" or len(frame) == 0:
        return "open"
    lo, hi = frame.index.min(), frame.index.max()
    hits = {anchor: int(frame.index.isin(expected_index(calendar, lo, hi, interval,
                                                        anchor=anchor)).sum())
            for anchor in ("open", "clock")}
    return "clock" if hits["clock"] > hits["open"] else "open"


def check_frame(frame: pd.DataFrame, config: ValidationConfig, *, interval: str,
                calendar: str | None, history: Mapping[str, Any] | None = None) -> DataCheck:
    """Validate ``frame`` against ``calendar`` at ``interval`` (alignment detected).

    ``history`` defaults to ``frame.attrs["history"]``; it is copied, never modified.
    """
    info = dict(history if history is not None else frame.attrs.get("history", {}))
    info["interval"] = info.get("interval") or interval
    anchor = detect_anchor(frame, calendar, interval)
    report = validate(frame, config, calendar=calendar,
                      interval=interval if calendar else None, anchor=anchor)  # type: ignore
    return DataCheck(frame, report, info, interval, calendar, anchor)


def next_source(check: DataCheck, names: Sequence[str]) -> tuple[str | None, str]:
    """The source after the one that served ``check``, in the symbol's ``names``; or why none.

    Simulated bars are never mixed into real history, so the simulator is no next source for
    bars a real source served.
    """
    served = [name for name in check.history.get("sources", []) if name in names]
    if check.history.get("served_by") in ("file", "upload"):
        return None, "A file has no next source to fill its gaps from."
    if served:
        current, guess = served[-1], ""
    else:
        real = [name for name in names if name != SIMULATOR]
        if not real:
            return None, "The symbol has no source besides the one that served it."
        current = real[0]
        guess = (f" (the cache does not record which source its bars came from; taking "
                 f"{current}, the symbol's first source)")
    following = list(names)[list(names).index(current) + 1:]
    if not following:
        return None, f"{current} is the last source of {check.history.get('symbol', '')}: " \
                     "there is no next source to fill from."
    if following[0] == SIMULATOR and current != SIMULATOR:
        return None, (f"The next source after {current} is the offline simulator; simulated "
                      f"bars are never mixed into real history{guess}.")
    return following[0], guess


def fill_frame(check: DataCheck, policy: str, *, sources: Mapping[str, Any] | None = None,
               names: Sequence[str] = (), config: ValidationConfig | None = None
               ) -> FillOutcome:
    """Apply fill ``policy`` to the calendar gaps of ``check``.

    Parameters
    ----------
    check
        A checked frame; its report's gaps are filled (none without a calendar).
    policy
        ``leave``, ``ffill`` or ``next_source``.
    sources
        The history sources by name (``HistoryService.sources``), for ``next_source``.
    names
        The symbol's source order (:func:`core.data.sources.registry.sources_for`), for
        ``next_source``.
    config
        The validation configuration, to score the filled frame as the original was.

    Raises
    ------
    ValidationError
        For an unknown policy.
    """
    if policy not in POLICIES:
        raise ValidationError(f"Unknown fill policy '{policy}'. Choose one of "
                              f"{', '.join(POLICIES)}.")
    gaps = list(check.report.gaps)
    missing = sum(gap.missing for gap in gaps)
    if check.calendar is None or not check.report.result("calendar_gaps").enabled:
        return FillOutcome(policy, None, 0, (), "No calendar gaps were looked for (no calendar, "
                                                "or the calendar_gaps rule is off).")
    if not gaps:
        return FillOutcome(policy, fill_gaps(check.frame, [], "leave").frame, 0, (),
                           "No calendar gap: nothing to fill.")
    if policy == "leave":
        return FillOutcome(policy, fill_gaps(check.frame, gaps, "leave").frame, 0, tuple(gaps),
                           f"{missing:,} missing bar(s) in {len(gaps):,} gap(s) left as they "
                           "are and flagged.")
    other, source, note = None, None, ""
    if policy == "next_source":
        other, source, note = _next_frame(check, sources or {}, names)
        if other is None:
            return FillOutcome(policy, None, 0, tuple(gaps), note, source)
    result = fill_gaps(check.frame, gaps, policy, other)
    added = len(result.frame) - len(check.frame)
    how = "forward filled (flat bars at the previous close, volume 0)" if policy == "ffill" \
        else f"filled from {source}"
    message = (f"{added:,} of {missing:,} missing bar(s) {how}; {len(result.gaps):,} gap(s) "
               f"still open.{note}")
    after = validate(result.frame, config, calendar=check.calendar, interval=check.interval,
                     anchor=check.anchor).score if added else None  # type: ignore[arg-type]
    return FillOutcome(policy, result.frame, added, tuple(result.gaps), message, source, after)


def _next_frame(check: DataCheck, sources: Mapping[str, Any], names: Sequence[str]
                ) -> tuple[pd.DataFrame | None, str | None, str]:
    """The next source's bars over the checked range, its name, and a note (or the reason)."""
    name, note = next_source(check, [n for n in names if n in sources])
    if name is None:
        return None, None, note
    start = check.frame.index[0]
    end = check.frame.index[-1] + INTERVALS[check.interval]
    try:
        frame = canonical(sources[name].fetch(check.history.get("symbol", ""), start, end,
                                              check.interval))
    except GSError as exc:
        return None, name, f"The next source, {name}, could not serve this range: {exc}"
    return frame, name, note


def served_label(history: Mapping[str, Any]) -> str:
    """Who served the bars, for people: ``simulator, fetched from the source now``."""
    tier = str(history.get("served_by", ""))
    sources = [s for s in history.get("sources", []) if s not in ("file",)]
    who = ", ".join(sources) if sources else ("" if tier in ("file", "upload") else
                                             "source not recorded by the cache")
    how = TIERS.get(tier, tier)
    return f"{who}, {how}" if who else how


# ----------------------------------------------------------------------------- the command


def add_data_parser(sub: Any) -> None:
    """Add ``data`` (with its ``check`` command) to ``sub``, the subparsers of ``gsig``."""
    data = sub.add_parser("data", help="historical data tools: data check",
                          description="Historical data tools.")
    commands = data.add_subparsers(dest="data_command", required=True)
    check = commands.add_parser(
        "check", help="validate a symbol's history or an OHLCV file and print its quality",
        description="Validate the history of a symbol (through the history service: its "
                    "sources, then the offline simulator) or a CSV/Parquet file, against the "
                    "trading calendar, and print the 0-100 quality score, each rule's result, "
                    "the calendar gaps and the source or cache tier that served the bars. "
                    "Exit code 0 with a report (whatever the score), 2 on bad input.")
    check.add_argument("target", metavar="PATH_OR_SYMBOL",
                       help="a .csv/.parquet file, or a symbol such as AAPL or BTCUSDT")
    check.add_argument("--interval", choices=list(INTERVALS),
                       help="bar interval (default 1d; a file's is detected from its bars)")
    check.add_argument("--start", help="first date (default for a symbol: "
                                       + ", ".join(f"{d} days for {i}"
                                                   for i, d in DEFAULT_DAYS.items()) + " back)")
    check.add_argument("--end", help="last date, included (default: now)")
    check.add_argument("--rules", nargs="+", metavar="RULE",
                       help="rules to run, space- or comma-separated (default: all but "
                            "isolation_forest): " + ", ".join(rule_names()))
    check.add_argument("--iforest", action="store_true",
                       help="also run the isolation_forest rule (opt-in)")
    check.add_argument("--outlier-z", type=float,
                       help="robust z-score above which a return is an outlier (default 6)")
    check.add_argument("--max-jump", type=float,
                       help="largest |ln(open / previous close)| not flagged (default 0.5)")
    check.add_argument("--calendar", default="auto",
                       help="trading calendar: auto (from the symbol or file name), none, or "
                            "an exchange_calendars name such as XNYS or 24/7")
    check.add_argument("--fill", choices=POLICIES, default="leave",
                       help="gap fill policy to try: leave (default), ffill or next_source")
    check.add_argument("--json", action="store_true",
                       help="print one JSON object instead of the text report")


def run_data(args: argparse.Namespace) -> int:
    """Run ``gsig data check`` for parsed ``args``; returns the exit code (GSError propagates)."""
    from core.backtest.io import looks_like_path
    from core.config import load_settings
    from core.data.history import build_service, load_history
    from core.data.sources.registry import sources_for

    rules = None if args.rules is None else [r for item in args.rules for r in item.split(",")]
    config = validation_config(rules, iforest=args.iforest, outlier_z=args.outlier_z,
                               max_jump=args.max_jump)
    target, end = args.target.strip(), end_exclusive(args.end)
    if looks_like_path(target):
        frame = load_history(target, args.start, end)
        interval = args.interval or detect_interval(frame) or "1d"
        names: list[str] = []
        service = None
    else:
        settings = load_settings()
        service = build_service(settings)
        interval = args.interval or "1d"
        start = args.start or default_start(interval)
        try:
            frame = load_history(target, start, end, interval, service=service)
        finally:
            service.close()
        names = sources_for(frame.attrs["history"]["symbol"], settings)
    calendar = resolve_calendar(args.calendar, frame.attrs["history"]["symbol"])
    check = check_frame(frame, config, interval=interval, calendar=calendar)
    fill = fill_frame(check, args.fill, sources=service.sources if service else None,
                      names=names, config=config)
    if args.json:
        print(json.dumps({**check.to_dict(), "fill": fill.to_dict()}, allow_nan=False))
    else:
        print(format_report(check, fill))
    return 0


def when(stamp: pd.Timestamp, interval: str = "1d") -> str:
    """A bar time for people: the date alone for a daily bar at midnight."""
    if interval == "1d" and stamp == stamp.normalize():
        return str(stamp.date())
    return stamp.strftime("%Y-%m-%d %H:%M")


def _rule_line(result: Any, interval: str) -> str:
    if not result.enabled:
        status = "off "
    elif result.note.startswith("skipped"):
        status = "skip"
    else:
        status = "pass" if result.passed else "FAIL"
    counts = f"{result.violations:>7,} of {result.checked:<7,}" if result.enabled else " " * 18
    first = ", ".join(when(t, interval) for t in result.timestamps[:3])
    more = f" (+{result.violations - 3:,} more)" if result.violations > 3 else ""
    tail = f"  first: {first}{more}" if first else ""
    note = f"  [{result.note}]" if result.note and not first else ""
    return f"  {status}  {result.severity:<7}  {result.name:<28} {counts}{tail}{note}".rstrip()


def format_report(check: DataCheck, fill: FillOutcome | None = None) -> str:
    """The text report of ``gsig data check``."""
    report, info, frame = check.report, check.history, check.frame
    step = check.interval
    span = (f"{when(frame.index[0], step)} to {when(frame.index[-1], step)}" if len(frame)
            else "no bars")
    lines = [f"gsig data check: {info.get('symbol', '')} ({check.interval}), "
             f"{report.bars:,} bars, {span}",
             f"served by: {served_label(info)}"]
    if check.simulated:
        lines.append("NOTE: SIMULATED history drawn by the offline market simulator; not real "
                     "prices.")
    lines += [f"note: {note}" for note in info.get("notes", [])]
    lines.append(f"calendar: {check.calendar or 'none (calendar rules skipped)'}"
                 + (f", intraday bars aligned on the {check.anchor}" if check.calendar
                    and check.interval != "1d" else ""))
    lines.append(f"score: {report.score:.2f} / 100 ({verdict(report.score)})")
    lines.append("rules:")
    lines += [_rule_line(result, step) for result in report.results]
    if check.calendar is None:
        lines.append("gaps: not checked (no calendar)")
    else:
        missing = sum(gap.missing for gap in report.gaps)
        lines.append(f"gaps: {len(report.gaps):,} ({missing:,} missing bars)")
        lines += [f"  {when(gap.start, step)} to {when(gap.end, step)}  {gap.missing:,} bar(s)"
                  for gap in report.gaps[:20]]
        if len(report.gaps) > 20:
            lines.append(f"  ... and {len(report.gaps) - 20:,} more gaps (see --json)")
    if fill is not None and fill.policy != "leave":
        lines.append(f"fill ({fill.policy}): {fill.message}")
        if fill.score_after is not None:
            lines.append(f"score after filling: {fill.score_after:.2f} / 100")
    return "\n".join(lines)

