"""Alembic environment for the GoldenSignals store.

:func:`core.store.migrate.upgrade` passes an open connection in ``config.attributes["connection"]``
and this file migrates on it. Run from the command line (for ``alembic revision --autogenerate``),
it connects to ``sqlalchemy.url`` from the ini file, or to the app's ``GS_DATABASE_URL`` / data dir.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from core.store.schema import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from core.config import load_settings

    return load_settings().effective_database_url


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def run_migrations_offline() -> None:
    """Emit the SQL of the migrations instead of running them (``alembic upgrade --sql``)."""
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the given connection, or on a new engine for ``sqlalchemy.url``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    from core.store.engine import open_engine

    engine = open_engine(_url())
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
