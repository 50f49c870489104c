"""`slipway models card`: Markdown and HTML files, stored purpose/owner/limits, bad input in one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from slipway.artifacts import open_blob_store
from slipway.cli import main
from slipway.store import open_metadata_store
from slipway.tracking import TrackingClient

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.models import ModelInfo


@pytest.fixture
def urls(tmp_path: Path) -> tuple[str, str]:
    return f"sqlite:///{tmp_path / 'cli.db'}", str(tmp_path / "blobs")


@pytest.fixture
def client(urls: tuple[str, str]) -> Iterator[TrackingClient]:
    store = open_metadata_store(urls[0])
    yield TrackingClient(store, open_blob_store(urls[1]), flush_interval=0.05)
    store.close()


@pytest.fixture
def logged(client: TrackingClient) -> ModelInfo:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    X, y = make_classification(n_samples=200, n_features=4, random_state=1)
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    with client.start_run(experiment="churn") as run:
        run.log_metric("auc", 0.91)
        run.log_dataset(frame, name="train", role="training")
        info = run.log_model(LogisticRegression().fit(frame, y), "model", input_example=frame.head(2))
    return info


def cli(capsys: pytest.CaptureFixture[str], urls: tuple[str, str], *argv: str) -> tuple[int, str, str]:
    try:
        main([*argv, "--store", urls[0], "--artifacts", urls[1]])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_card_writes_markdown_and_html_and_keeps_what_it_was_told(
    capsys: pytest.CaptureFixture[str], urls: tuple[str, str], logged: ModelInfo, tmp_path: Path
) -> None:
    assert cli(capsys, urls, "models", "register", logged.uri, "churn")[0] == 0
    code, out, err = cli(capsys, urls, "models", "card", "churn", "1",
                         "--purpose", "Rank customers by churn risk", "--owner", "risk-team",
                         "--limits", "Trained on 2025 data only")  # fmt: skip
    assert code == 0, err
    md, page = tmp_path / "model-cards" / "churn-v1.md", tmp_path / "model-cards" / "churn-v1.html"
    assert str(md) in out.replace("\n", "") or "churn-v1.md" in out
    assert "Rank customers by churn risk" in md.read_text()
    assert "risk-team" in page.read_text()
    assert "| auc | 0.91 |" in md.read_text()
    assert "Trained on 2025 data only" in md.read_text()

    # a second card, of the next version, with no options: the texts carry over, said so
    assert cli(capsys, urls, "models", "register", logged.uri, "churn")[0] == 0
    code, out, err = cli(capsys, urls, "models", "card", "churn", "2", "--output", str(tmp_path / "cards"))
    assert code == 0, err
    text = (tmp_path / "cards" / "churn-v2.md").read_text()
    assert "Rank customers by churn risk (set on version 1)" in text
    assert not list((tmp_path / "cards").glob(".*.tmp"))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("models", "card", "nope", "1"), "'nope'"),
        (("models", "card", "churn", "7", "--purpose", "x"), "7"),
    ],
)
def test_bad_input_is_one_line_with_exit_2(
    capsys: pytest.CaptureFixture[str],
    urls: tuple[str, str],
    logged: ModelInfo,
    tmp_path: Path,
    argv: tuple[str, ...],
    needle: str,
) -> None:
    assert cli(capsys, urls, "models", "register", logged.uri, "churn")[0] == 0
    code, _, err = cli(capsys, urls, *argv)
    assert code == 2
    assert err.startswith("error:")
    assert err.count("\n") == 1
    assert needle in err
    assert not (tmp_path / "model-cards").exists()


@pytest.mark.parametrize(("option", "text"), [("--purpose", "Rank customers"), ("--owner", "risk-team"),
                                              ("--limits", "Trained on 2025 data only")])  # fmt: skip
def test_an_empty_value_clears_a_text_an_earlier_version_set(
    capsys: pytest.CaptureFixture[str],
    urls: tuple[str, str],
    logged: ModelInfo,
    tmp_path: Path,
    option: str,
    text: str,
) -> None:
    for _ in range(2):
        assert cli(capsys, urls, "models", "register", logged.uri, "churn")[0] == 0
    assert cli(capsys, urls, "models", "card", "churn", "1", option, text)[0] == 0
    code, _, err = cli(capsys, urls, "models", "card", "churn", "2", option, "")
    assert code == 0, err
    md = (tmp_path / "model-cards" / "churn-v2.md").read_text()
    page = (tmp_path / "model-cards" / "churn-v2.html").read_text()
    assert text not in md
    assert text not in page
    assert option in md  # the field shows as not given, naming the option that sets it
    code, _, err = cli(capsys, urls, "models", "card", "churn", "2")  # the next card keeps it cleared
    assert code == 0, err
    assert text not in (tmp_path / "model-cards" / "churn-v2.md").read_text()
