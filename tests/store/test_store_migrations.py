"""Schema creation and Alembic migrations."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from core.errors import StoreError
from core.store import Store, current_revision, open_engine, upgrade
from core.store.migrate import MIGRATIONS_DIR, head_revision
from core.store.schema import Base


def test_open_creates_tables_and_stamps_head(store: Store) -> None:
    insp = inspect(store.engine)
    assert {"ticks", "bars", "settings", "backtest_runs", "history_bars", "history_ranges",
            "alembic_version"} <= set(
        insp.get_table_names())
    assert head_revision() == "0003"
    assert current_revision(store.engine) == head_revision()
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [
            "0003"
        ]
    assert [ix["column_names"] for ix in insp.get_indexes("ticks")] == [["symbol", "ts_us"]]
    assert insp.get_pk_constraint("bars")["constrained_columns"] == [
        "symbol", "timeframe", "start_us"
    ]
    assert insp.get_pk_constraint("settings")["constrained_columns"] == ["key"]


def test_migrations_match_the_models(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_twice_is_a_no_op(store: Store, make_ticks) -> None:
    store.ticks.insert_many(make_ticks(n=5))
    store.settings.set("theme", "dark")
    with store.engine.connect() as conn:
        before = conn.execute(text("SELECT type, name, sql FROM sqlite_master")).all()
    upgrade(store.engine)
    upgrade(store.engine)
    with store.engine.connect() as conn:
        after = conn.execute(text("SELECT type, name, sql FROM sqlite_master")).all()
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    assert after == before
    assert versions == ["0003"]
    assert store.ticks.count() == 5
    assert store.settings.get("theme") == "dark"


def test_reopening_keeps_data(db_url: str, make_ticks) -> None:
    with Store.open(db_url) as first:
        first.ticks.insert_many(make_ticks(n=3))
    with Store.open(db_url) as second:
        assert second.ticks.count() == 3
        assert current_revision(second.engine) == "0003"


def test_fresh_database_has_no_revision(tmp_path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == "0003"
    finally:
        engine.dispose()


def test_failed_migration_leaves_no_partial_schema(tmp_path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'clash.db'}")
    try:
        with engine.begin() as conn:  # a foreign "bars" table makes 0001 fail half-way
            conn.execute(text("CREATE TABLE bars (x INTEGER)"))
        with pytest.raises(StoreError, match="Could not migrate"):
            upgrade(engine)
        names = set(inspect(engine).get_table_names())
        assert names == {"bars"}  # "ticks" (created before the failure) was rolled back
        assert current_revision(engine) is None
    finally:
        engine.dispose()


def test_database_from_a_newer_version_is_reported(db_url: str) -> None:
    Store.open(db_url).close()
    engine = open_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="newer version"):
        Store.open(db_url)


def test_migration_scripts_ship_inside_the_package() -> None:
    assert MIGRATIONS_DIR.parent.name == "store"
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()


def test_concurrent_opens_of_a_new_database_all_succeed(db_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        try:
            barrier.wait()
            Store.open(db_url).close()
        except BaseException as err:  # noqa: BLE001 - collected and asserted below
            errors.append(err)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store.open(db_url) as store:
        assert current_revision(store.engine) == "0003"


def test_a_database_from_the_first_release_is_migrated_and_keeps_its_data(tmp_path,
                                                                          make_ticks) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = open_engine(url)
    upgrade(engine, revision="0001")  # as the first release left it
    from core.store.repositories import SettingsRepository, TickRepository
    TickRepository(engine).insert_many(make_ticks(n=4))
    SettingsRepository(engine).set("watchlist", ["AAPL"])
    assert "backtest_runs" not in inspect(engine).get_table_names()
    engine.dispose()
    with Store.open(url) as store:  # opening migrates to head
        assert current_revision(store.engine) == "0003"
        assert store.ticks.count() == 4 and store.settings.get("watchlist") == ["AAPL"]
        assert store.runs.list() == []
