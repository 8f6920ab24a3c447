"""Candle timeframes: names, lengths in seconds, and bucket arithmetic (UTC epoch aligned)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.errors import ValidationError

TIMEFRAMES: dict[str, int] = {
    "1s": 1,
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3_600,
    "1d": 86_400,
}
PANDAS_RULES: dict[str, str] = {
    "1s": "1s", "1m": "1min", "5m": "5min", "15m": "15min", "1h": "1h", "1d": "1D",
}


def timeframe_seconds(timeframe: str) -> int:
    """Length of ``timeframe`` in seconds; raises ValidationError for an unknown name."""
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        names = ", ".join(TIMEFRAMES)
        raise ValidationError(f"Unknown timeframe '{timeframe}'. Choose one of {names}.") from None


def bucket_start(epoch_seconds: float, seconds: int) -> int:
    """Start (epoch seconds) of the ``seconds``-long bucket holding ``epoch_seconds``."""
    return int(epoch_seconds // seconds) * seconds


def utc_from_epoch(epoch: float) -> datetime:
    """Epoch seconds to a tz-aware UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


def to_epoch_us(ts: datetime) -> int:
    """Exact UTC epoch microseconds of a tz-aware datetime (the wire and storage format)."""
    return (ts - EPOCH) // ONE_MICROSECOND


def from_epoch_us(us: int) -> datetime:
    """Epoch microseconds back to a tz-aware UTC datetime, exactly."""
    return EPOCH + timedelta(microseconds=us)
