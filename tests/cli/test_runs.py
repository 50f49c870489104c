"""``slipway runs`` and ``slipway experiments`` against a store filled through the tracking client."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from slipway.artifacts import open_blob_store
from slipway.cli import main
from slipway.store import open_metadata_store
from slipway.tracking import TrackingClient

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def urls(tmp_path: Path) -> tuple[str, str]:
    return f"sqlite:///{tmp_path / 'cli.db'}", str(tmp_path / "blobs")


@pytest.fixture
def client(urls: tuple[str, str]) -> Iterator[TrackingClient]:
    store = open_metadata_store(urls[0])
    yield TrackingClient(store, open_blob_store(urls[1]), flush_interval=0.05)
    store.close()


@pytest.fixture
def runs(client: TrackingClient) -> list[str]:
    ids = []
    for c, auc in ((1.0, 0.85), (0.1, 0.93), (0.01, 0.97)):
        with client.start_run(experiment="churn", name=f"C={c}") as run:
            run.log_params({"C": c, "penalty": "l2"})
            run.log_metric("auc", auc)
            run.set_tag("team", "risk")
        ids.append(run.id)
    return ids


def cli(capsys: pytest.CaptureFixture[str], urls: tuple[str, str], *argv: str) -> tuple[int, str, str]:
    try:
        main([*argv, "--store", urls[0], "--artifacts", urls[1]])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(autouse=True)
def _wide(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "220")  # Rich tables keep ids whole


def test_list_filters_and_orders(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], runs: list[str]
) -> None:
    code, out, _ = cli(
        capsys,
        urls,
        "runs",
        "list",
        "--experiment",
        "churn",
        "--filter",
        "metrics.auc > 0.9",
        "--order-by",
        "metrics.auc desc",
    )
    assert code == 0
    assert "C=0.01" in out
    assert "C=0.1" in out
    assert "C=1.0" not in out
    assert out.index("0.97") < out.index("0.93")
    assert "metrics.auc" in out
    assert "FINISHED" in out

    code, out, _ = cli(
        capsys, urls, "runs", "list", "--json", "--order-by", "metrics.auc", "--max-results", "2"
    )
    page = json.loads(out)
    assert [r["metrics"]["auc"] for r in page["runs"]] == [0.85, 0.93]
    code, out, _ = cli(
        capsys,
        urls,
        "runs",
        "list",
        "--json",
        "--order-by",
        "metrics.auc",
        "--page-token",
        page["next_page_token"],
    )
    assert [r["metrics"]["auc"] for r in json.loads(out)["runs"]] == [0.97]


def test_show_a_run_by_prefix(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], runs: list[str]
) -> None:
    code, out, _ = cli(capsys, urls, "runs", "show", runs[0][:8])
    assert code == 0
    for text in (
        runs[0],
        "churn",
        "penalty",
        "l2",
        "auc",
        "0.85",
        "team",
        "slipway.python.version",
        "slipway/requirements.lock",
    ):
        assert text in out
    code, out, _ = cli(capsys, urls, "runs", "show", runs[0], "--json")
    shown = json.loads(out)
    assert shown["experiment"] == "churn"
    assert shown["params"]["C"] == "1.0"
    assert any(a["path"] == "slipway/requirements.lock" for a in shown["artifacts"])


def test_compare_names_the_changed_param_and_metric(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], runs: list[str]
) -> None:
    code, out, _ = cli(capsys, urls, "runs", "compare", runs[0], runs[2])
    assert code == 0
    assert "C" in out
    assert "1.0" in out
    assert "0.01" in out
    assert "auc" in out
    assert "+0.12" in out
    assert "penalty" not in out  # unchanged params are counted, not listed
    code, out, _ = cli(capsys, urls, "runs", "compare", runs[0], runs[2], "--json")
    diff = json.loads(out)
    assert diff["params"] == [{"key": "C", "a": "1.0", "b": "0.01"}]
    assert diff["metrics"][0]["delta"] == pytest.approx(0.12)


def test_compare_names_a_changed_package(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], client: TrackingClient
) -> None:
    ids = []
    for lock in (b"numpy==1.26.0\npandas==2.2.0\n", b"numpy==2.0.0\npandas==2.2.0\n"):
        with client.start_run(capture_environment=False) as run:
            run.log_bytes(lock, "slipway/requirements.lock")
        ids.append(run.id)
    code, out, _ = cli(capsys, urls, "runs", "compare", *ids)
    assert code == 0
    assert "numpy" in out
    assert "1.26.0" in out
    assert "2.0.0" in out
    assert "pandas" not in out


def test_errors_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], runs: list[str]
) -> None:
    code, _, err = cli(capsys, urls, "runs", "show", "0" * 32)
    assert code == 2
    assert "does not exist" in err or "not found" in err
    code, _, err = cli(capsys, urls, "runs", "list", "--experiment", "nope")
    assert code == 2
    assert "nope" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli(capsys, urls, "runs", "list", "--filter", "metrics.auc >")
    assert code == 2
    assert "filter" in err


def test_experiments_list_and_create(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], runs: list[str]
) -> None:
    code, out, _ = cli(capsys, urls, "experiments", "create", "fraud")
    assert code == 0
    assert "fraud" in out
    code, out, _ = cli(capsys, urls, "experiments", "list", "--json")
    assert {e["name"] for e in json.loads(out)} == {"churn", "fraud"}
    code, out, _ = cli(capsys, urls, "experiments", "list")
    assert "churn" in out
    assert "fraud" in out
    code, _, err = cli(capsys, urls, "experiments", "create", "fraud")
    assert code == 2
    assert "fraud" in err


def test_names_that_look_like_markup_print_as_themselves(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], client: TrackingClient
) -> None:
    with client.start_run(experiment="markup", name="[/data] run") as run:
        run.log_params({"path": "[red]x[/]"})
        run.set_tag("note", "[bold]")
    code, out, err = cli(capsys, urls, "runs", "list", "--experiment", "markup")
    assert (code, err) == (0, "")
    assert "[/data] run" in out
    code, out, err = cli(capsys, urls, "runs", "show", run.id)
    assert (code, err) == (0, "")
    assert "[red]x[/]" in out
    assert "[bold]" in out


def test_an_error_quoting_markup_is_still_one_line(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str]
) -> None:
    code, _out, err = cli(capsys, urls, "runs", "show", "[/x]")
    assert code == 2
    assert err.count("\n") == 1
    assert "[/x]" in err


def test_a_store_path_that_cannot_be_created_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "afile").write_text("not a folder")
    urls = (f"sqlite:///{tmp_path / 'afile' / 'sub' / 'x.db'}", str(tmp_path / "blobs"))
    code, _out, err = cli(capsys, urls, "runs", "list")
    assert code == 2
    assert err.count("\n") == 1
    assert "afile" in err
