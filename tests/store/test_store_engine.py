"""open_engine: SQLite pragmas, folders, and errors a user can act on."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import make_url

from core.errors import StoreError
from core.store import Store, open_engine
from core.store.engine import scrub


def test_sqlite_file_is_in_wal_mode_with_pragmas_on_every_connection(store: Store) -> None:
    store.engine.dispose()  # the pragmas must come from the connect hook, not a one-off
    with store.engine.connect() as a, store.engine.connect() as b:
        for conn in (a, b):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_parent_folders_are_created(tmp_path) -> None:
    path = tmp_path / "a" / "b" / "gs.db"
    engine = open_engine(f"sqlite:///{path}")
    engine.dispose()
    assert path.is_file()


def test_transactions_are_snapshots(store: Store) -> None:
    """A read inside a transaction opens it (no legacy sqlite3 autocommit of SELECT)."""
    with store.engine.connect() as reader:
        with reader.begin():
            first = reader.exec_driver_sql("SELECT count(*) FROM settings").scalar()
            store.settings.set("k", 1)  # another connection commits meanwhile
            again = reader.exec_driver_sql("SELECT count(*) FROM settings").scalar()
    assert first == again == 0
    assert store.settings.get("k") == 1


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://gsuser:S3cretPw@localhost:1/gs",
        "nosuchdb://gsuser:S3cretPw@localhost/gs",
        "mysql+nosuchdriver://gsuser:S3cretPw@localhost/gs",
        "sqlite://gsuser:S3cretPw@localhost/gs.db",
    ],
)
def test_bad_url_gives_store_error_without_password(url: str) -> None:
    with pytest.raises(StoreError) as info:
        open_engine(url)
    message = str(info.value)
    assert "S3cretPw" not in message
    assert "localhost" in message  # the user sees which database is meant
    assert info.value.__cause__ is None or "S3cretPw" not in str(info.value.__cause__)


def test_unparseable_url_gives_store_error() -> None:
    with pytest.raises(StoreError, match="not a valid SQLAlchemy URL"):
        open_engine("definitely not a url:S3cretPw")


def test_unwritable_folder_gives_store_error(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="GS_DATA_DIR or GS_DATABASE_URL") as info:
        open_engine(f"sqlite:///{blocker / 'sub' / 'gs.db'}")
    assert str(blocker) in str(info.value)


def test_unopenable_database_gives_store_error(tmp_path) -> None:
    folder = tmp_path / "i_am_a_folder.db"
    folder.mkdir()
    with pytest.raises(StoreError, match="Cannot open the database"):
        Store.open(f"sqlite:///{folder}")


def test_scrub_removes_the_password_from_driver_messages() -> None:
    url = make_url("postgresql://u:S3cretPw@db/x")
    assert scrub("connect failed for u:S3cretPw@db", url) == "connect failed for u:***@db"


def test_in_memory_store_is_shared_between_threads(make_ticks) -> None:
    with Store.open("sqlite://") as store:
        worker = threading.Thread(target=store.ticks.insert_many, args=(make_ticks(n=4),))
        worker.start()
        worker.join()
        assert store.ticks.count() == 4
