"""Model cards: gathered from a registered version (datasets, metrics, gate, lineage) and rendered safely."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import TYPE_CHECKING, Any

import pytest

from slipway.errors import ModelNotFound, ModelVersionNotFound

if TYPE_CHECKING:
    import pandas as pd

    from slipway.models import ModelInfo
    from slipway.registry import Registry
    from slipway.store import MetadataStore
    from slipway.tracking import TrackingClient

GATE = {
    "passed": False,
    "model": "churn",
    "version": 1,
    "started_at": "2026-11-24T10:45:17.123Z",
    "checks": [
        {
            "name": "auc_min",
            "kind": "metric",
            "passed": True,
            "skipped": False,
            "value": 0.931,
            "threshold": {"min": 0.9},
            "message": "auc 0.931 >= 0.9",
        },
        {
            "name": "slice:region:recall",
            "kind": "slice",
            "passed": False,
            "skipped": False,
            "value": 0.41,
            "threshold": {"min": 0.7, "min_size": 50},
            "message": "recall: 1 of 2 slices of 'region' fail: south=0.41",
            "details": {
                "metric": "recall",
                "column": "region",
                "slices": [
                    {"slice": "south", "rows": 80, "value": 0.41, "passed": False},
                    {"slice": "north", "rows": 120, "value": 0.83, "passed": True},
                ],
            },
        },
    ],
}


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
    store.record_gate_result("churn", 2, GATE, actor="ci")
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
        ("slice:region:recall", "failed", "≥ 0.7, min_size 50"),
    ]
    assert [(s.slice, s.rows, s.passed) for s in card.slices] == [("south", 80, False), ("north", 120, True)]
    assert card.lineage is not None
    assert card.lineage.run_id == trained_run.run_id
    assert card.lineage.previous_version == 1
    assert [(c.alias, c.took, c.other) for c in card.lineage.alias_changes] == [("production", True, 1)]
    assert any("gate result failed: slice:region:recall" in n for n in card.notes)

    md = card.to_markdown()
    for expected in (
        "# Model card: churn version 2",
        "Predict churn for the retention team",
        "ml-team@x",
        "| train | training | sha256:",
        "| auc | 0.931 |",
        "| region = south | 80 | recall 0.41 | failed |",
        "| f0 | float64 |",
        "| auc_min | metric | passed | 0.931 | ≥ 0.9 |",
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

    registry.set_card_fields("churn", 2, limits="", actor="alice")  # empty deletes the version's own tag
    assert registry.get_version("churn", 2).tags.get("slipway.card.limits") is None
    tags = [e.action.value for e in registry.audit(model="churn")]
    assert tags.count("tag") == 3


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
    table_rows = [line for line in md.splitlines() if line.startswith("| ")]
    assert all(re.search(r"(?<!\\)\|.*pipe", r) is None or "\\| pipe" in r for r in table_rows)


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
