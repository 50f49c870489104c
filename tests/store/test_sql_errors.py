"""Bad URLs, bad files and bad numbers: one-line slipway errors naming the thing, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy.exc as sa_exc

from slipway.core import ATTRIBUTES, Comparison, Metric, RunFilter
from slipway.errors import InvalidInput, StoreUnavailable
from slipway.store import open_metadata_store
from slipway.store._sql import SqlMetadataStore, current, upgrade
from slipway.store._sql._errors import translated
from slipway.store._sql._search import _ATTRIBUTE_COLUMNS, plan
from slipway.testing.store_contract import new_experiment


def _one_line(exc: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(exc.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


def test_a_file_that_is_not_a_database_is_invalid_input_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "notadb.db"
    path.write_bytes(b"this is a text file, not a database; " * 200)
    url = f"sqlite:///{path}"

    for attempt in (lambda: open_metadata_store(url), lambda: current(url), lambda: upgrade(url)):
        with pytest.raises(InvalidInput) as info:
            attempt()
        message = _one_line(info)
        assert str(path) in message
        assert "not a SQLite database" in message
    assert path.read_bytes().startswith(b"this is a text file")  # untouched


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://ada:s3cret@[bad",
        "postgresql://ada:s3cret@host:notaport/db",
        "http://host:notaport",
    ],
)
def test_a_uri_that_does_not_parse_is_invalid_input_without_the_password(uri: str) -> None:
    with pytest.raises(InvalidInput) as info:
        open_metadata_store(uri)
    message = _one_line(info)
    assert "s3cret" not in message
    assert "store URI" in message
    assert ("ada:***@" in message) == ("ada:" in uri)


@pytest.mark.parametrize("call", [SqlMetadataStore.connect, current, upgrade])
def test_the_sql_entry_points_refuse_a_bad_port_without_the_password(call: object) -> None:
    with pytest.raises(InvalidInput) as info:
        call("postgresql://ada:s3cret@host:notaport/db")  # type: ignore[operator]
    assert "s3cret" not in _one_line(info)


def test_a_sqlite_folder_that_cannot_be_created_is_invalid_input_naming_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    with pytest.raises(InvalidInput) as info:
        open_metadata_store(f"sqlite:///{blocker / 'sub' / 'slipway.db'}")
    message = _one_line(info)
    assert str(blocker / "sub") in message
    assert "cannot create the folder" in message


def test_a_permission_error_creating_the_folder_is_invalid_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may run as root, whom a read-only folder does not stop: simulate the refusal.
    def refuse(self: Path, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(InvalidInput) as info:
        SqlMetadataStore.connect(f"sqlite:///{tmp_path / 'locked' / 'slipway.db'}")
    message = _one_line(info)
    assert "Permission denied" in message
    assert str(tmp_path / "locked") in message


def test_other_database_errors_are_one_line_slipway_errors() -> None:
    url = "postgresql://ada:s3cret@db.example/slipway"
    refused = sa_exc.ProgrammingError("SELECT 1", {}, Exception("permission denied for table runs\nDETAIL"))
    with pytest.raises(StoreUnavailable) as info, translated(url):
        raise refused
    assert "permission denied for table runs" in _one_line(info)
    assert "s3cret" not in str(info.value)

    with pytest.raises(InvalidInput, match="64 bits") as too_big, translated(url):
        raise OverflowError("Python int too large to convert to SQLite INTEGER")
    _one_line(too_big)


def test_every_filterable_attribute_has_a_column() -> None:
    assert set(_ATTRIBUTE_COLUMNS) == set(ATTRIBUTES)


def test_a_hand_built_filter_beyond_64_bits_still_compiles_and_runs(tmp_path: Path) -> None:
    """The parser refuses it; a filter built in code must not crash the SQLite driver either."""
    store = SqlMetadataStore.connect(f"sqlite:///{tmp_path / 'f.db'}")
    exp = new_experiment(store)
    run = store.create_run(experiment_id=exp.id, start_time=1_000)
    store.log_batch(run.id, metrics=[Metric(key="m", value=1.0)])

    def matches(*clauses: Comparison) -> int:
        search = plan(experiment_ids=[exp.id], run_filter=RunFilter(clauses=clauses), order_by=())
        with store._engine.connect() as connection:
            return len(connection.execute(search.parts[0]).all())

    try:
        assert matches(Comparison(kind="attribute", key="start_time", op=">", value=1e19)) == 0
        assert matches(Comparison(kind="attribute", key="start_time", op="<", value=1e19)) == 1
        assert matches(Comparison(kind="attribute", key="start_time", op="in", value=(1e19, 1000.0))) == 1
        assert matches(Comparison(kind="metric", key="m", op="<", value=1e19)) == 1
        assert matches(Comparison(kind="metric", key="m", op="=", value=1.0)) == 1
    finally:
        store.close()
