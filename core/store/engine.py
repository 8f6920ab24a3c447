"""Create a SQLAlchemy engine for any URL, with the SQLite settings the store relies on.

For SQLite every new connection gets ``journal_mode=WAL`` (readers never block the writer),
``synchronous=NORMAL`` (durable at each checkpoint, fast commits), ``busy_timeout=5000`` and
``foreign_keys=ON``. The driver's legacy transaction handling is replaced by an explicit ``BEGIN``
(the recipe from the SQLAlchemy SQLite docs) so that a transaction's reads and writes see one
snapshot and DDL in a migration is transactional. A connection whose execution options carry
``sqlite_begin="IMMEDIATE"`` takes the write lock at ``BEGIN``; repositories use this for
read-then-write transactions so they wait on ``busy_timeout`` instead of failing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import StaticPool

from core.errors import StoreError

log = logging.getLogger(__name__)

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)
_BEGIN_MODES = {"": "BEGIN", "DEFERRED": "BEGIN DEFERRED", "IMMEDIATE": "BEGIN IMMEDIATE"}
_URL_HELP = "use e.g. sqlite:///data/goldensignals.db or postgresql+psycopg://user:***@host/db"


def safe_url(url: URL | Engine) -> str:
    """The URL as text with its password replaced by ``***``.

    Parameters
    ----------
    url
        A parsed URL, or an engine whose URL to show.

    Returns
    -------
    str
        Text that is safe to log or show to a user.
    """
    if isinstance(url, Engine):
        url = url.url
    return url.render_as_string(hide_password=True)


def scrub(message: str, url: URL) -> str:
    """Remove ``url``'s password from ``message`` (drivers sometimes echo the DSN)."""
    if url.password:
        message = message.replace(str(url.password), "***")
    return message


def _is_memory_sqlite(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or "mode=memory" in str(url.query)


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory and ``file:`` URI databases."""
    if _is_memory_sqlite(url) or url.query.get("uri") in ("true", "1"):
        return None
    return Path(str(url.database)).expanduser()


def _make_parent(path: Path, shown: str) -> None:
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        reason = err.strerror or str(err)
        raise StoreError(
            f"Cannot create the folder {str(parent)!r} for the database {shown}: {reason}. "
            "Set GS_DATA_DIR or GS_DATABASE_URL to a writable location."
        ) from None
    if not parent.is_dir():
        raise StoreError(
            f"{str(parent)!r} is not a folder, so the database {shown} cannot be created there. "
            "Set GS_DATA_DIR or GS_DATABASE_URL to a writable location."
        )


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _on_begin)
        cursor = dbapi_conn.cursor()
        try:
            for pragma in SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = str(conn.get_execution_options().get("sqlite_begin", "")).upper()
        conn.exec_driver_sql(_BEGIN_MODES.get(mode, "BEGIN"))


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (exc.ArgumentError, ValueError, TypeError):
        raise StoreError(f"The database URL is not a valid SQLAlchemy URL; {_URL_HELP}.") from None


def _create(parsed: URL, shown: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if _is_memory_sqlite(parsed):
            # one shared connection, so every thread sees the same in-memory database (tests only)
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif (path := _sqlite_file(parsed)) is not None:
            _make_parent(path, shown)
    else:
        kwargs["pool_pre_ping"] = True
    try:
        return create_engine(parsed, **kwargs)
    except exc.NoSuchModuleError:
        raise StoreError(
            f"The database URL {shown} names an unknown database type "
            f"{parsed.drivername!r}; {_URL_HELP}."
        ) from None
    except ImportError as err:
        raise StoreError(
            f"The database driver for {shown} is not installed ({err.name or err}). "
            "Install it with pip (e.g. psycopg[binary] for PostgreSQL) or use a sqlite:/// URL."
        ) from None
    except (exc.ArgumentError, TypeError, ValueError) as err:
        raise StoreError(f"The database URL {shown} cannot be used: {scrub(str(err), parsed)}.") \
            from None


def _check(engine: Engine, parsed: URL, shown: str) -> None:
    try:
        with engine.connect() as conn:
            if parsed.get_backend_name() == "sqlite" and _sqlite_file(parsed) is not None:
                mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                if str(mode).lower() != "wal":
                    log.warning("SQLite database %s is in %s mode, not WAL", shown, mode)
    except exc.DBAPIError as err:
        engine.dispose()
        reason = scrub(str(err.orig), parsed)
        raise StoreError(
            f"Cannot open the database {shown}: {reason}. Check that the path or server is "
            "reachable and writable, or set GS_DATABASE_URL."
        ) from None


def open_engine(url: str) -> Engine:
    """Create an engine for ``url`` and check that it connects.

    Parameters
    ----------
    url
        Any SQLAlchemy URL. For a SQLite file the parent folder is created. ``sqlite://`` (in
        memory) shares one connection between threads and is meant for tests.

    Returns
    -------
    Engine
        A connected, ready engine; the caller disposes it.

    Raises
    ------
    StoreError
        The URL cannot be parsed, names an unknown database or a missing driver, the folder cannot
        be created or the database cannot be opened. The message never contains the password.
    """
    parsed = _parse(url)
    shown = safe_url(parsed)
    engine = _create(parsed, shown)
    if parsed.get_backend_name() == "sqlite":
        _install_sqlite_hooks(engine)
    _check(engine, parsed, shown)
    return engine


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction that takes the write lock up front on SQLite.

    Use it for read-then-write work: with a plain deferred ``BEGIN`` SQLite fails at once with
    "database is locked" when another connection wrote between the read and the write, whereas
    ``BEGIN IMMEDIATE`` waits on ``busy_timeout``. Other databases ignore the option.

    Yields
    ------
    Connection
        Commits when the block ends, rolls back if it raises.
    """
    with engine.connect() as conn:
        conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn
