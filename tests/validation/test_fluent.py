"""slipway.validate on the configured stores (the embedded default in the test's folder)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

import slipway
from slipway import _api
from slipway.errors import GateFailed

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.validation._models import Models


@pytest.fixture(autouse=True)
def _fresh() -> Iterator[None]:
    _api._reset_for_tests()
    yield
    _api._reset_for_tests()


def test_validate_records_on_the_default_stores_and_promote_reads_it(clf: Models, tmp_path: Path) -> None:
    from slipway.registry import Registry

    good = slipway.register_model(clf.folders["good"], "churn")
    bad = slipway.register_model(clf.folders["bad"], "churn")
    policy = tmp_path / "gate.yaml"
    policy.write_text("checks:\n  - {kind: metric, metric: roc_auc, min: 0.9}\n")
    passed = slipway.validate(f"models:/churn/{good.version}", clf.holdout, target="churned", policy=policy)
    failed = slipway.validate(
        "models:/churn/latest", clf.holdout, target="churned", policy=str(policy), reason="nightly"
    )
    assert (passed.passed, passed.recorded) == (True, True)
    assert (failed.passed, failed.version) == (False, bad.version)
    client = slipway.client()
    registry = Registry(client.store, client.blobs)
    registry.promote("churn", good.version, alias="production", actor="me")
    with pytest.raises(GateFailed):
        registry.promote("churn", bad.version, alias="production", actor="me")
    assert (tmp_path / ".slipway" / "cache" / "models").is_dir()
