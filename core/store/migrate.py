"""Run the store's Alembic migrations from code.

The migration scripts live in ``core/store/migrations`` next to this file, so they work from a
source checkout, an editable install and a wheel alike. No ``alembic.ini`` is read.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, exc

from core.errors import StoreError
from core.store.engine import safe_url, scrub, write_transaction

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the package's migrations.

    Parameters
    ----------
    connection
        When given, ``env.py`` migrates on this connection (``config.attributes["connection"]``).

    Returns
    -------
    Config
        A config usable with :mod:`alembic.command`.
    """
    cfg = Config()
    # ConfigParser interpolation: a literal % in the path must be doubled
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The newest revision shipped with the package.

    Returns
    -------
    str
        The revision id of the single head.
    """
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise StoreError(f"No migrations found in {MIGRATIONS_DIR}; reinstall GoldenSignals.")
    return head


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (``alembic upgrade head``) in one transaction.

    Running it on an up-to-date database does nothing.

    Parameters
    ----------
    engine
        Engine of the database to migrate.
    revision
        Target revision; ``"head"`` for the newest.

    Raises
    ------
    StoreError
        If a migration fails; the database is left at its previous revision where the database
        supports transactional DDL (SQLite and PostgreSQL do).
    """
    try:
        with write_transaction(engine) as conn:  # concurrent openers wait, then find it done
            command.upgrade(alembic_config(conn), revision)
    except exc.SQLAlchemyError as err:
        reason = scrub(str(getattr(err, "orig", None) or err), engine.url)
        raise StoreError(
            f"Could not migrate the database {safe_url(engine)} to revision {revision}: {reason}. "
            "Back up the file and check it was made by GoldenSignals."
        ) from err
    except CommandError as err:
        raise StoreError(
            f"The database {safe_url(engine)} has a schema this version of GoldenSignals does not "
            f"know ({err}). It was probably written by a newer version: upgrade GoldenSignals or "
            "point GS_DATABASE_URL at another database."
        ) from err


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at.

    Parameters
    ----------
    engine
        Engine of the database to inspect.

    Returns
    -------
    str or None
        The revision id, or None for a database that was never migrated.
    """
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except exc.SQLAlchemyError as err:
        reason = scrub(str(getattr(err, "orig", None) or err), engine.url)
        raise StoreError(f"Could not read the schema version of {safe_url(engine)}: {reason}.") \
            from err
