"""US equity session times (09:30-16:00 America/New_York, Monday to Friday; holidays ignored)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
OPEN, CLOSE = time(9, 30), time(16, 0)


def _session_on(day: datetime) -> tuple[float, float]:
    start = datetime.combine(day.date(), OPEN, NEW_YORK)
    end = datetime.combine(day.date(), CLOSE, NEW_YORK)
    return start.timestamp(), end.timestamp()


def is_open(epoch: float) -> bool:
    """True when the US equity session is open at ``epoch`` (UTC seconds)."""
    local = datetime.fromtimestamp(epoch, NEW_YORK)
    if local.weekday() >= 5:
        return False
    start, end = _session_on(local)
    return start <= epoch < end


def session_bounds(epoch: float) -> tuple[float, float]:
    """(open, close) epochs of the session in force at ``epoch``, or of the next one."""
    local = datetime.fromtimestamp(epoch, NEW_YORK)
    for _ in range(8):
        if local.weekday() < 5:
            start, end = _session_on(local)
            if epoch < end:
                return start, end
        local = datetime.combine(local.date() + timedelta(days=1), time(0, 0), NEW_YORK)
    raise AssertionError("unreachable: a weekday always comes within 8 days")
