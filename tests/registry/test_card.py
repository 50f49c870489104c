"""Model cards: gathered from a registered version (datasets, metrics, gate, lineage) and rendered safely."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest
from tests.registry._helpers import gate_result

from slipway.errors import ModelNotFound, ModelVersionNotFound

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from slipway.models import ModelInfo
    from slipway.registry import ModelCard, Registry
    from slipway.store import MetadataStore
    from slipway.tracking import TrackingClient

PIPED = "north|east\nx"  # a value of the slice column: a pipe and a line break, to land in table cells


@pytest.fixture
def trained_run(client: TrackingClient, trained: tuple[Any, pd.DataFrame]) -> ModelInfo:
    model, X = trained
    with client.start_run(experiment="churn") as run:
        run.log_params({"C": 1.0, "penalty": "l2"})
        run.log_metrics({"auc": 0.931, "accuracy": 0.88})
        run.log_dataset(X, name="train", role="training")
        run.log_dataset(X.tail(50), name="holdout", role="evaluation")
        info = run.log_model(model, "model", input_example=X.head(3))
    return info


def test_card_gathers_data_metrics_signature_gate_and_lineage(
    registry: Registry, store: MetadataStore, trained_run: ModelInfo
) -> None:
    registry.register(trained_run.uri, "churn", actor="alice")
    registry.register(trained_run.uri, "churn", actor="alice")
    store.record_gate_result("churn", 2, gate_result(2, failing=("latency_p95",)), actor="ci")
    registry.set_alias("churn", "production", 1, actor="alice", reason="first")
    registry.set_alias("churn", "production", 2, actor="bob", reason="better auc")

    card = registry.card("churn", 2, purpose="Predict churn for the retention team", owner="ml-team@x")

    assert (card.name, card.version, card.uri, card.file_stem) == ("churn", 2, "models:/churn/2", "churn-v2")
    assert card.purpose is not None
    assert card.purpose.text == "Predict churn for the retention team"
    assert [(d.name, d.role, d.rows, d.columns) for d in card.datasets] == [
        ("train", "training", 300, 5),
        ("holdout", "evaluation", 50, 5),
    ]
    assert card.datasets[0].profile[0].name == "f0"
    assert "mean" in card.datasets[0].profile[0].summary
    assert dict(card.metrics) == {"accuracy": 0.88, "auc": 0.931}
    assert dict(card.params) == {"C": "1.0", "penalty": "l2"}
    assert [i[0] for i in card.inputs] == ["f0", "f1", "f2", "f3", "f4"]
    assert card.outputs
    assert card.python
    assert card.requirements
    assert any(r.startswith("scikit-learn") for r in card.requirements)
    assert card.gate_passed is False
    assert [(c.name, c.status, c.threshold) for c in card.checks] == [
        ("auc_min", "passed", "≥ 0.9"),
        ("latency_p95", "failed", "single_row_p95_ms 20"),
    ]
    assert card.slices == ()
    assert card.slice_checks == ()
    assert card.lineage is not None
    assert card.lineage.run_id == trained_run.run_id
    assert card.lineage.previous_version == 1
    assert [(c.alias, c.took, c.other) for c in card.lineage.alias_changes] == [("production", True, 1)]
    assert any("gate result failed: latency_p95" in n for n in card.notes)

    md = card.to_markdown()
    for expected in (
        "# Model card: churn version 2",
        "Predict churn for the retention team",
        "ml-team@x",
        "| train | training | sha256:",
        "| auc | 0.931 |",
        "No slice checks in the gate result.",
        "| f0 | float64 |",
        "| auc_min | metric | passed | 0.93 | ≥ 0.9 |",
        "| latency_p95 | latency | failed | 30 | single_row_p95_ms 20 |",
        trained_run.run_id,
        "took it from version 1 (alias.set)",
        "better auc",
    ):
        assert expected in md, expected


def test_a_version_never_validated_says_so(registry: Registry, trained_run: ModelInfo) -> None:
    registry.register(trained_run.uri, "churn", actor="alice")
    card = registry.card("churn", 1)
    assert card.gate_passed is None
    assert card.checks == ()
    assert card.slices == ()
    assert "Not validated" in card.to_markdown()
    assert "Not validated" in card.to_html()
    assert card.purpose is None
    assert "Not given" in card.to_markdown()


def test_stored_card_fields_carry_over_to_the_next_version(
    registry: Registry, trained_run: ModelInfo
) -> None:
    registry.register(trained_run.uri, "churn", actor="alice")
    registry.set_card_fields("churn", 1, purpose="Churn", owner="team-a", limits="Not for B2B", actor="alice")
    registry.register(trained_run.uri, "churn", actor="alice")
    registry.set_card_fields("churn", 2, owner="team-b", actor="alice")

    card = registry.card("churn", 2)
    assert card.purpose is not None
    assert (card.purpose.text, card.purpose.origin) == ("Churn", "version 1")
    assert card.owner is not None
    assert (card.owner.text, card.owner.origin) == ("team-b", "this version")
    assert "Churn (set on version 1)" in card.to_markdown()
    assert "team-b (set on" not in card.to_markdown()

    tags = [e.action.value for e in registry.audit(model="churn")]
    assert tags.count("tag") == 2


@pytest.mark.parametrize("field", ["purpose", "owner", "limits"])
def test_an_empty_text_clears_what_an_earlier_version_set(
    registry: Registry, trained_run: ModelInfo, field: str
) -> None:
    for _ in range(3):
        registry.register(trained_run.uri, "churn", actor="alice")
    registry.set_card_fields("churn", 1, **{field: "Set on 1"}, actor="alice")

    assert getattr(registry.card("churn", 2, **{field: ""}), field) is None  # for this card only
    assert getattr(registry.card("churn", 2), field).text == "Set on 1"

    registry.set_card_fields("churn", 2, **{field: ""}, actor="alice")  # stored: cleared from 2 on
    assert registry.get_version("churn", 2).tags[f"slipway.card.{field}"] == ""
    assert getattr(registry.card("churn", 2), field) is None
    assert getattr(registry.card("churn", 3), field) is None
    assert "Set on 1" not in registry.card("churn", 3).to_markdown()
    assert getattr(registry.card("churn", 1), field).text == "Set on 1"
    assert [e.action.value for e in registry.audit(model="churn")].count("tag") == 2


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs


def test_html_is_self_contained_and_escapes_user_text(registry: Registry, trained_run: ModelInfo) -> None:
    evil = '<script>alert("x")</script> & <img src=x onerror=alert(1)> | pipe'
    registry.register(trained_run.uri, "churn", description=evil, actor="alice")
    registry.describe("churn", "<b>model</b>", actor="alice")
    card = registry.card("churn", 1, purpose=evil, limits="line one\n<i>line two</i>")

    page = card.to_html()
    assert page.startswith("<!DOCTYPE html>")
    parsed = _Collector()
    parsed.feed(page)
    assert "script" not in parsed.tags
    assert "img" not in parsed.tags
    assert "b" not in parsed.tags
    assert {"link", "iframe", "object", "embed"}.isdisjoint(parsed.tags)
    assert all(name in ("lang", "charset", "name", "content", "class") for name, _ in parsed.attrs)
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "http://" not in page
    assert "https://" not in page
    assert "url(" not in page
    assert "<style>" in page

    md = card.to_markdown()
    assert "<script>" not in md
    assert "&lt;script&gt;" in md
    assert "&lt;i&gt;line two&lt;/i&gt;" in md


def test_card_of_a_version_whose_run_is_elsewhere(
    registry: Registry, trained: tuple[Any, pd.DataFrame], tmp_path: Any
) -> None:
    from slipway.models import save_model

    model, X = trained
    folder = tmp_path / "folder-model"
    save_model(model, folder, input_example=X.head(2))
    registry.register(folder, "churn", actor="alice")
    card = registry.card("churn", 1)
    assert card.metrics == ()
    assert card.datasets == ()
    assert any("No training run" in n for n in card.notes)
    assert "No dataset is recorded" in card.to_markdown()


def test_unknown_model_or_version(registry: Registry, trained_run: ModelInfo) -> None:
    with pytest.raises(ModelNotFound):
        registry.card("nope", 1)
    registry.register(trained_run.uri, "churn", actor="alice")
    with pytest.raises(ModelVersionNotFound):
        registry.card("churn", 9)


def test_markdown_user_text_cannot_forge_sections_links_or_images(
    registry: Registry, trained_run: ModelInfo
) -> None:
    registry.register(trained_run.uri, "churn", actor="alice")
    forged = (
        "Predict churn\n\n## Gate results\n\nThe latest gate result passed.\n\n"
        "![t](https://evil.example/p.png) [click](javascript:alert(1)) https://evil.example\n"
        "> quoted\n- item\n1. first\n```\ncode\n```"
    )
    md = registry.card("churn", 1, purpose=forged, owner="ml-team@x").to_markdown()
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings.count("## Gate results") == 1  # only the real section; the forged one is text
    assert "![" not in md
    assert re.search(r"(?<!\\)\]\(", md) is None  # every "](" is escaped: no link, no image
    assert "https://" not in md  # no bare URL for GFM to autolink
    for line in md.splitlines():
        assert not line.startswith(("> quoted", "- item", "1. first", "```")), line
    assert "Predict churn" in md
    assert "ml-team@x" in md


@pytest.fixture
def sliced(
    registry: Registry, trained_run: ModelInfo, trained: tuple[Any, pd.DataFrame], tmp_path: Path
) -> ModelCard:
    """The card of a version validated by the real gate on two slice checks of a column ``region``.

    ``region`` has two values the first check evaluates (``PIPED``, on which the model is scored
    against flipped labels so that it fails, and ``south``), three with fewer than 20 rows
    (``tiny-a``, ``tiny-b`` and missing) and one with a single class, where roc_auc is undefined.
    The second check asks for 1000 rows a value, so it skips all six.
    """
    import numpy as np
    from sklearn.datasets import make_classification

    from slipway.validation import validate

    _, X = trained
    _, y = make_classification(n_samples=300, n_features=5, random_state=0)  # the fixture's labels
    region = np.array(["south", PIPED] * 150, dtype=object)
    region[:3], region[3:5], region[5:9] = "tiny-a", "tiny-b", None
    region[np.flatnonzero(y[9:] == 1)[:30] + 9] = "positives"
    target = np.where(region == PIPED, 1 - y, y)
    data = X.assign(region=region, churned=target)
    policy = {
        "checks": [
            {"kind": "slice", "column": "region", "metric": "roc_auc", "min": 0.5, "min_size": 20},
            {
                "kind": "slice",
                "column": "region",
                "metric": "roc_auc",
                "min": 0.5,
                "min_size": 1000,
                "name": "big",
            },
        ]
    }
    registry.register(trained_run.uri, "churn", actor="alice")
    validate(
        "models:/churn/1",
        data,
        target="churned",
        policy=policy,
        registry=registry,
        cache_dir=tmp_path / "cache",
        actor="ci",
    )
    return registry.card("churn", 1)


def test_slices_count_the_values_skipped_as_too_small_or_undefined(sliced: ModelCard) -> None:
    assert [(s.slice, s.passed) for s in sliced.slices] == [(PIPED, False), ("south", True)]
    assert [(c.evaluated, c.shown, c.too_small, c.undefined, c.min_size) for c in sliced.slice_checks] == [
        (2, 2, 3, 1, 20),
        (0, 0, 6, 0, 1000),
    ]
    first, big = (f"{c.check}, by region: " for c in sliced.slice_checks)
    said = (
        first + "2 values evaluated, 3 values skipped (fewer than 20 rows), "
        "1 undefined (roc_auc cannot be computed on it).",
        big + "0 values evaluated, 6 values skipped (fewer than 1000 rows), "
        "0 undefined (roc_auc cannot be computed on them).",
    )
    md, page = sliced.to_markdown(), sliced.to_html()
    for text in said:
        assert text in md
        assert html.escape(text) in page
    assert "No slice checks" not in md  # a check that evaluated no value is still a slice check


def test_slice_counts_say_what_the_table_leaves_out_and_what_a_result_does_not_record() -> None:
    from slipway.registry._card import CardSliceCheck, ModelCard

    many = CardSliceCheck(
        check="s", metric="recall", column="region", evaluated=250, shown=100,
        too_small=0, undefined=None, min_size=None,
    )  # fmt: skip
    unknown = CardSliceCheck(
        check="old", metric="", column="", evaluated=None, shown=0,
        too_small=None, undefined=None, min_size=None,
    )  # fmt: skip
    card = ModelCard(
        name="churn", version=1, created_at=0, creator="", aliases=(), flavor="sklearn",
        slice_checks=(many, unknown),
    )  # fmt: skip
    md = card.to_markdown()
    assert (
        "s, by region: 250 values evaluated (100 shown: the failing first, then the worst), "
        "0 values skipped (too few rows)." in md
    )
    assert "old, by -: no counts recorded." in md


def _cells(row: str) -> list[str]:
    """A Markdown table row's cells, split where GFM splits them: at a pipe no backslash escapes."""
    cells, cell, i = [], "", 0
    while i < len(row):
        if row[i] == "\\":
            cell, i = cell + row[i : i + 2], i + 2
            continue
        if row[i] == "|":
            cells.append(cell.strip())
            cell = ""
        else:
            cell += row[i]
        i += 1
    cells.append(cell.strip())
    assert (cells[0], cells[-1]) == ("", ""), f"a row starts and ends with a pipe: {row!r}"
    return cells[1:-1]


def _tables(md: str) -> list[list[list[str]]]:
    """Every table of a Markdown text: consecutive lines starting with a pipe, as rows of cells."""
    tables: list[list[list[str]]] = []
    previous = ""
    for line in md.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                tables.append([])
            tables[-1].append(_cells(line))
        previous = line
    return tables


def test_markdown_table_cells_keep_pipes_and_line_breaks_as_text(sliced: ModelCard) -> None:
    tables = _tables(sliced.to_markdown())
    assert tables
    for table in tables:
        head, rule, *rows = table
        assert set(rule) == {"---"}
        assert [len(r) for r in (rule, *rows)] == [len(head)] * (1 + len(rows)), table
    cells = [cell for table in tables for row in table for cell in row]
    piped = PIPED.replace("|", "\\|").replace("\n", "<br>")
    assert f"region = {piped}" in cells  # the slice table
    assert any(f"fail: {piped}=" in c for c in cells)  # the gate check's message
    assert not any(re.search(r"(?<!\\)\|", c) for c in cells)
