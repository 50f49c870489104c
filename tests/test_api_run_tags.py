"""SLIPWAY_RUN_TAGS: tags every fluent run of the process gets (how `slipway reproduce` marks its re-run)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import slipway
from slipway import _api
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _fresh_api() -> Iterator[None]:
    _api._reset_for_tests()
    yield
    _api._reset_for_tests()


def test_every_run_gets_the_tags_nested_and_implicit_ones_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLIPWAY_RUN_TAGS", '{"slipway.reproduces": "churn/5", "team": "risk"}')
    with slipway.start_run(experiment="e") as outer, slipway.start_run() as inner:
        pass
    for run in (outer, inner):
        tags = slipway.get_run(run.id).tags
        assert tags["slipway.reproduces"] == "churn/5"
        assert tags["team"] == "risk"


@pytest.mark.parametrize(
    "value",
    ['{"slipway.git.commit": "abc"}', "not json", '["a"]', '{"a": 1}'],
)
def test_bad_values_are_refused_before_a_run_starts(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SLIPWAY_RUN_TAGS", value)
    with pytest.raises(InvalidInput, match="SLIPWAY_RUN_TAGS"):
        slipway.start_run(experiment="e")
    assert slipway.active_run() is None
    assert slipway.search_runs().items == []


def test_without_the_variable_nothing_is_added() -> None:
    with slipway.start_run(experiment="e") as run:
        pass
    assert "slipway.reproduces" not in slipway.get_run(run.id).tags
