"""Processes registering through the registry at once get distinct, consecutive versions."""

from __future__ import annotations

import multiprocessing
from typing import TYPE_CHECKING

import pytest
from tests.registry._helpers import register_at_once

if TYPE_CHECKING:
    from pathlib import Path

    from slipway.models import ModelInfo
    from slipway.registry import Registry

pytestmark = pytest.mark.slow

PROCESSES = 8


def test_processes_registering_at_once_get_versions_one_to_n(
    registry: Registry, logged: ModelInfo, tmp_path: Path
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    args = (f"sqlite:///{tmp_path / 'slipway.db'}", str(tmp_path / "artifacts"), logged.uri, "churn")
    workers = [
        context.Process(target=register_at_once, args=(*args, barrier, results)) for _ in range(PROCESSES)
    ]
    for w in workers:
        w.start()
    got = [results.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(timeout=60)
    assert sorted(got) == list(range(1, PROCESSES + 1)), got
    versions = registry.list_versions("churn")
    assert [(v.version, v.lineage["previous_version"]) for v in versions][-2:] == [(2, 1), (1, None)]
    assert all(v.manifest_digest == logged.manifest_digest for v in versions)
