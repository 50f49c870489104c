"""The SQL store: the conformance suite on SQLite and PostgreSQL, plus what only SQL stores promise."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa

from slipway.core import ArtifactEntry, Metric, Monitor, MonitorResult
from slipway.errors import InvalidInput, MissingExtra, SchemaOutOfDate, StoreUnavailable
from slipway.store import MetadataStore, open_metadata_store
from slipway.store._sql import SCHEMA_REVISION, SqlMetadataStore, current, upgrade
from slipway.store._sql._engine import normalize_url
from slipway.testing.store_contract import MetadataStoreContract, new_experiment

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class TestSqlite(MetadataStoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[MetadataStore]:
        s = SqlMetadataStore.connect(f"sqlite:///{tmp_path / 'slipway.db'}")
        yield s
        s.close()


@pytest.mark.postgres
class TestPostgres(MetadataStoreContract):
    @pytest.fixture
    def store(self, postgres_url: str) -> Iterator[MetadataStore]:
        s = SqlMetadataStore.connect(postgres_url)
        yield s
        s.close()


# ---------------------------------------------------------------------- SQLite specifics


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SqlMetadataStore.connect(f"sqlite:///{path}")
    store.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    engine = store._engine
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    engine.dispose()


def test_the_default_creates_its_folder_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "home" / ".slipway" / "slipway.db"
    store = open_metadata_store(f"sqlite:///{path}", token=None)
    assert path.is_file()
    store.close()
    assert current(f"sqlite:///{path}") == SCHEMA_REVISION


def test_an_empty_sqlite_file_gets_the_schema(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    SqlMetadataStore.connect(f"sqlite:///{path}").close()
    assert current(f"sqlite:///{path}") == SCHEMA_REVISION


def test_a_foreign_sqlite_database_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(SchemaOutOfDate, match="slipway db upgrade --store"):
        SqlMetadataStore.connect(f"sqlite:///{path}")
    with sqlite3.connect(path) as raw:
        tables = {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"notes"}


def test_an_older_sqlite_schema_is_out_of_date(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    SqlMetadataStore.connect(f"sqlite:///{path}").close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(SchemaOutOfDate, match="schema revision 0000"):
        SqlMetadataStore.connect(f"sqlite:///{path}")


def test_upgrade_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'u.db'}"
    assert current(url) is None
    assert upgrade(url) == SCHEMA_REVISION
    assert upgrade(url) == SCHEMA_REVISION
    assert current(url) == SCHEMA_REVISION
    SqlMetadataStore.connect(url).close()


def test_the_migrations_build_exactly_the_tables_the_code_uses(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from slipway.store._sql._tables import metadata

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert diff == []


def test_the_schema_revision_is_the_alembic_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from slipway.store._sql._engine import _MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_sqlite_store_is_usable_from_a_background_thread(tmp_path: Path) -> None:
    import threading

    store = SqlMetadataStore.connect(f"sqlite:///{tmp_path / 't.db'}")
    run = store.create_run(experiment_id=new_experiment(store).id)
    done = threading.Event()

    def writer() -> None:
        for step in range(200):
            store.log_batch(run.id, metrics=[Metric(key="loss", value=1 / (step + 1), step=step)])
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    while not done.is_set():
        store.get_run(run.id)
        store.search_runs(experiment_ids=[run.experiment_id], order_by="metrics.loss")
    thread.join()
    assert len(store.get_metric_history(run.id, "loss")) == 200
    store.close()


# ---------------------------------------------------------------------- URLs and failures


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///x.db", "sqlite:///x.db"),
        ("postgresql://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ],
)
def test_urls_are_normalised(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://u@h/db", "no-scheme"])
def test_other_urls_are_invalid(url: str) -> None:
    with pytest.raises(InvalidInput):
        SqlMetadataStore.connect(url)


def test_unknown_options_are_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="pool"):
        SqlMetadataStore.connect(f"sqlite:///{tmp_path / 'o.db'}", pool=3)


def test_unreachable_postgres_is_store_unavailable_without_the_password() -> None:
    url = "postgresql://slipway:s3cret@127.0.0.1:1/nowhere?connect_timeout=2"
    with pytest.raises(StoreUnavailable) as info:
        SqlMetadataStore.connect(url)
    message = str(info.value)
    assert "s3cret" not in message
    assert "127.0.0.1:1" in message
    assert "\n" not in message


def test_missing_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "psycopg" else real(name, *a)
    )
    with pytest.raises(MissingExtra, match=r"slipway\[postgres\]"):
        SqlMetadataStore.connect("postgresql://u@127.0.0.1/db")


# ---------------------------------------------------------------------- PostgreSQL specifics


@pytest.mark.postgres
def test_postgres_without_schema_is_out_of_date_and_upgrade_fixes_it(empty_postgres_url: str) -> None:
    url = empty_postgres_url
    with pytest.raises(SchemaOutOfDate, match="run `slipway db upgrade --store postgresql"):
        SqlMetadataStore.connect(url)
    assert current(url) is None
    assert upgrade(url) == SCHEMA_REVISION
    assert upgrade(url) == SCHEMA_REVISION  # idempotent
    store = SqlMetadataStore.connect(url)
    assert new_experiment(store).id
    store.close()


@pytest.mark.postgres
def test_the_migrations_match_the_tables_on_postgres(postgres_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from slipway.store._sql._tables import metadata

    engine = sa.create_engine(normalize_url(postgres_url))
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert diff == []


# ---------------------------------------------------------------------- schema revisions


def _migrate_to(url: str, revision: str) -> None:
    from slipway.store._sql._engine import WRITE, create_engine, run_upgrade

    engine = create_engine(url)
    with engine.connect() as connection:
        connection.execution_options(**{WRITE: True})
        with connection.begin():
            run_upgrade(connection, revision=revision)
            connection.exec_driver_sql(
                "INSERT INTO experiments (id, name, created_at) VALUES ('e0001', 'kept', 1)"
            )
    engine.dispose()


def _check_old_schema_is_out_of_date_and_upgrades(url: str, revision: str) -> None:
    _migrate_to(url, revision)
    assert current(url) == revision
    with pytest.raises(SchemaOutOfDate, match=rf"schema revision {revision}.*slipway db upgrade"):
        SqlMetadataStore.connect(url)

    assert upgrade(url) == SCHEMA_REVISION == "0004"

    store = SqlMetadataStore.connect(url)
    exp = store.get_experiment_by_name("kept")
    assert exp is not None
    run = store.create_run(experiment_id=exp.id)
    for _ in range(2):  # 0002: applied batches
        store.log_batch(run.id, metrics=[Metric(key="m", value=1.0)], batch_id="once")
    assert len(store.get_metric_history(run.id, "m")) == 1
    for _ in range(2):  # 0003: the registry
        store.create_model_version(
            name="churn",
            source=f"runs:/{run.id}/model",
            manifest_digest="d" * 64,
            files=[ArtifactEntry(path="slipway.yaml", digest="d" * 64, size=1)],
            actor="ada",
        )
    store.set_alias(name="churn", alias="production", version=2, actor="ada")
    assert store.get_version_by_alias("churn", "production").version == 2
    assert len(store.search_audit(model="churn").items) == 3
    # 0004: monitoring
    store.create_monitor(
        Monitor(name="churn-drift", deployment="churn", reference="models:/churn@production", window="1h")
    )
    for _ in range(2):
        store.record_monitor_result(
            MonitorResult(monitor="churn-drift", window_start=0, window_end=3_600_000)
        )
    assert store.get_monitor("churn-drift").cursor == 3_600_000
    assert len(store.list_monitor_results("churn-drift")) == 1
    store.close()


@pytest.mark.parametrize("revision", ["0001", "0002", "0003"])
def test_an_older_sqlite_database_is_out_of_date_and_upgrades(tmp_path: Path, revision: str) -> None:
    _check_old_schema_is_out_of_date_and_upgrades(f"sqlite:///{tmp_path / 'old.db'}", revision)


@pytest.mark.postgres
@pytest.mark.parametrize("revision", ["0001", "0002", "0003"])
def test_an_older_postgres_database_is_out_of_date_and_upgrades(
    empty_postgres_url: str, revision: str
) -> None:
    _check_old_schema_is_out_of_date_and_upgrades(empty_postgres_url, revision)
