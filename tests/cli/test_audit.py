"""`slipway audit --output`: a bad filter or a failure while writing leaves no file, finished or not."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from slipway.artifacts import open_blob_store
from slipway.cli import main
from slipway.errors import InvalidInput
from slipway.registry import Registry
from slipway.store import open_metadata_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def urls(tmp_path: Path) -> tuple[str, str]:
    """A store holding two registrations of a small model (two audit events)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from slipway.models import save_model

    frame = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0]})
    save_model(LogisticRegression().fit(frame, [0, 0, 1, 1]), tmp_path / "model", input_example=frame)
    db, blobs = f"sqlite:///{tmp_path / 'cli.db'}", str(tmp_path / "blobs")
    store = open_metadata_store(db)
    registry = Registry(store, open_blob_store(blobs))
    for _ in range(2):
        registry.register(tmp_path / "model", "churn", actor="ci")
    store.close()
    return db, blobs


def cli(capsys: pytest.CaptureFixture[str], urls: tuple[str, str], *argv: str) -> tuple[int, str, str]:
    try:
        main([*argv, "--store", urls[0], "--artifacts", urls[1]])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def leftovers(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix in (".csv", ".jsonl")
    )


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_a_bad_filter_leaves_no_file(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], tmp_path: Path, fmt: str
) -> None:
    code, out, err = cli(capsys, urls, "audit", "--action", "nope", "--format", fmt, "--output", f"exp.{fmt}")
    assert (code, out) == (2, "")
    assert err.startswith("error: audit action 'nope': expected one of register,")
    assert err.count("\n") == 1
    assert leftovers(tmp_path) == []


def test_a_failure_on_a_later_page_removes_the_partial_file_and_keeps_the_old_one(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "exp.csv").write_text("the previous export\n")
    real = Registry.audit

    def failing(self: Registry, **filters: Any) -> Iterator[Any]:
        events = real(self, **filters)
        yield next(events)
        raise InvalidInput("the store went away")

    monkeypatch.setattr(Registry, "audit", failing)
    code, _, err = cli(capsys, urls, "audit", "--format", "csv", "--output", "exp.csv")
    assert code == 2
    assert err == "error: the store went away\n"
    assert leftovers(tmp_path) == ["exp.csv"]
    assert (tmp_path / "exp.csv").read_text() == "the previous export\n"


def test_an_export_replaces_the_file_and_leaves_nothing_else(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], tmp_path: Path
) -> None:
    (tmp_path / "exp.jsonl").write_text("old\n")
    code, out, _ = cli(capsys, urls, "audit", "--format", "jsonl", "--output", "exp.jsonl")
    assert code == 0
    assert "wrote 2 event(s) to exp.jsonl" in out
    assert leftovers(tmp_path) == ["exp.jsonl"]
    assert len((tmp_path / "exp.jsonl").read_text().splitlines()) == 2
    code, out, _ = cli(capsys, urls, "audit", "--model", "nobody", "--format", "csv", "--output", "none.csv")
    assert code == 0
    assert "wrote 0 event(s)" in out
    assert (tmp_path / "none.csv").read_text().startswith("id,time,at,")
