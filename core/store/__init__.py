"""Persistence: ticks, bars and settings in SQLite (WAL) by default, any SQLAlchemy URL by choice.

``Store.open(url)`` connects, migrates the schema to the newest Alembic revision and hands out one
repository per table. Live ticks go through :class:`TickWriter`, a background thread that batches
writes and compacts old ticks into 1-minute bars.

Examples
--------
>>> store = Store.open("sqlite://")
>>> store.settings.set("watchlist", ["AAPL", "MSFT"])
>>> store.settings.get("watchlist")
['AAPL', 'MSFT']
>>> store.close()
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from core.store.engine import open_engine, safe_url
from core.store.migrate import current_revision, upgrade
from core.store.repositories import BarRepository, SettingsRepository, TickRepository
from core.store.retention import CompactionResult, compact_ticks
from core.store.writer import TickWriter, WriterStats

__all__ = [
    "BarRepository", "CompactionResult", "SettingsRepository", "Store", "TickRepository",
    "TickWriter", "WriterStats", "compact_ticks", "current_revision", "open_engine", "upgrade",
]


from core.store.runs import RunRepository  # noqa: E402


class Store:
    """One database: its engine and a repository per table.

    Build it with :meth:`open`; the constructor takes an engine whose schema is already current.

    Parameters
    ----------
    engine
        Engine of a migrated database.

    Attributes
    ----------
    engine : Engine
        The SQLAlchemy engine.
    ticks : TickRepository
        Raw trade prints.
    bars : BarRepository
        OHLCV candles (compacted ticks and stored history).
    settings : SettingsRepository
        JSON settings by key.
    runs : RunRepository
        Stored backtest runs.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ticks = TickRepository(engine)
        self.bars = BarRepository(engine)
        self.settings = SettingsRepository(engine)
        self.runs = RunRepository(engine)

    @classmethod
    def open(cls, url: str) -> Store:
        """Connect to ``url`` and migrate its schema to the newest revision.

        Parameters
        ----------
        url
            Any SQLAlchemy URL, e.g. ``Settings.effective_database_url``.

        Returns
        -------
        Store
            A ready store; call :meth:`close` when done.

        Raises
        ------
        StoreError
            If the database cannot be opened or migrated (the message has no password).
        """
        engine = open_engine(url)
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @property
    def url(self) -> str:
        """The database URL with its password hidden."""
        return safe_url(self.engine)

    def compact(self, older_than: datetime) -> CompactionResult:
        """Fold ticks older than ``older_than`` into 1m bars (see :func:`compact_ticks`)."""
        return compact_ticks(self.engine, older_than)

    def close(self) -> None:
        """Close every pooled connection; the store must not be used afterwards."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

