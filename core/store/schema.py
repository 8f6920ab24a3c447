"""SQLAlchemy 2 declarative models of the store, and the time encoding they use.

Times are stored as ``BIGINT`` UTC epoch microseconds (``ts_us``, ``start_us``, ``updated_us``):
exact, sortable, identical on SQLite and PostgreSQL, and free of driver time-zone handling.
:func:`datetime_to_us` and :func:`us_to_datetime` convert both ways without rounding.

Every change to these models needs an Alembic revision in ``core/store/migrations/versions``; a test
compares the models with the migrated schema.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Double, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.errors import ValidationError
from core.timeframes import from_epoch_us, to_epoch_us

SYMBOL_LEN = 64
SOURCE_LEN = 64
TIMEFRAME_LEN = 8
SETTING_KEY_LEN = 200

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an ``INTEGER PRIMARY KEY`` (the rowid alias), not a ``BIGINT`` one.
_ID_TYPE = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Declarative base; its metadata names constraints so Alembic can alter them on SQLite."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TickRow(Base):
    """One stored trade print (see :class:`core.models.Tick`)."""

    __tablename__ = "ticks"
    __table_args__ = (Index("ix_ticks_symbol_ts_us", "symbol", "ts_us"),)

    id: Mapped[int] = mapped_column(_ID_TYPE, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    ts_us: Mapped[int] = mapped_column(BigInteger)
    price: Mapped[float] = mapped_column(Double)
    size: Mapped[float] = mapped_column(Double)
    bid: Mapped[float | None] = mapped_column(Double, nullable=True)
    ask: Mapped[float | None] = mapped_column(Double, nullable=True)
    source: Mapped[str] = mapped_column(String(SOURCE_LEN), default="")


class BarRow(Base):
    """One stored OHLCV candle (see :class:`core.models.Bar`), keyed by symbol, timeframe, start."""

    __tablename__ = "bars"

    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN), primary_key=True)
    timeframe: Mapped[str] = mapped_column(String(TIMEFRAME_LEN), primary_key=True)
    start_us: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    open: Mapped[float] = mapped_column(Double)
    high: Mapped[float] = mapped_column(Double)
    low: Mapped[float] = mapped_column(Double)
    close: Mapped[float] = mapped_column(Double)
    volume: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(SOURCE_LEN), default="")


class SettingRow(Base):
    """One user setting: a JSON document under a key."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(SETTING_KEY_LEN), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_us: Mapped[int] = mapped_column(BigInteger)


class RunRow(Base):
    """One stored backtest: what was asked (config) and what came out (stats, trades, equity)."""

    __tablename__ = "backtest_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_us: Mapped[int] = mapped_column(BigInteger, index=True)
    title: Mapped[str] = mapped_column(String(200))
    strategy: Mapped[str] = mapped_column(String(64))
    config: Mapped[str] = mapped_column(Text)
    stats: Mapped[str] = mapped_column(Text)
    trades: Mapped[str] = mapped_column(Text)
    equity: Mapped[str] = mapped_column(Text)


class HistoryBarRow(Base):
    """One downloaded history bar (core/data), keyed by symbol, interval and start.

    Kept apart from :class:`BarRow` (candles the live hub builds from ticks): these come from a
    history source (``source``) and are replaced when a re-fetch disagrees (newest wins).
    """

    __tablename__ = "history_bars"

    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN), primary_key=True)
    interval: Mapped[str] = mapped_column(String(TIMEFRAME_LEN), primary_key=True)
    start_us: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    open: Mapped[float] = mapped_column(Double)
    high: Mapped[float] = mapped_column(Double)
    low: Mapped[float] = mapped_column(Double)
    close: Mapped[float] = mapped_column(Double)
    volume: Mapped[float] = mapped_column(Double)
    source: Mapped[str] = mapped_column(String(SOURCE_LEN))
    fetched_us: Mapped[int] = mapped_column(BigInteger)


class HistoryRangeRow(Base):
    """A time range of a symbol's history that has been fetched: no need to ask a source again.

    ``[start_us, end_us)``; ranges of one symbol and interval are merged when they touch.
    """

    __tablename__ = "history_ranges"

    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN), primary_key=True)
    interval: Mapped[str] = mapped_column(String(TIMEFRAME_LEN), primary_key=True)
    start_us: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    end_us: Mapped[int] = mapped_column(BigInteger)
    fetched_us: Mapped[int] = mapped_column(BigInteger)


ticks_table = TickRow.__table__
runs_table = RunRow.__table__
bars_table = BarRow.__table__
settings_table = SettingRow.__table__
history_bars_table = HistoryBarRow.__table__
history_ranges_table = HistoryRangeRow.__table__


def datetime_to_us(ts: datetime, what: str = "time") -> int:
    """Convert a tz-aware datetime to integer UTC epoch microseconds, exactly.

    Parameters
    ----------
    ts
        A tz-aware :class:`~datetime.datetime` (any zone).
    what
        Name of the value, used in the error message.

    Returns
    -------
    int
        Microseconds since 1970-01-01T00:00:00Z.

    Raises
    ------
    ValidationError
        If ``ts`` is not a datetime or has no time zone.
    """
    if not isinstance(ts, datetime):
        raise ValidationError(f"{what} must be a datetime, got {type(ts).__name__}.")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValidationError(f"{what} {ts.isoformat()} has no time zone; use UTC.")
    return to_epoch_us(ts)


def us_to_datetime(us: int) -> datetime:
    """Convert UTC epoch microseconds back to a tz-aware UTC datetime.

    Parameters
    ----------
    us
        Microseconds since the epoch, as stored.

    Returns
    -------
    datetime
        A datetime whose ``tzinfo`` is :data:`datetime.timezone.utc`.
    """
    return from_epoch_us(us)
