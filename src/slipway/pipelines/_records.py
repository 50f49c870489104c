"""Executions in the metadata store: what a pipeline run and its step runs record, and how they are found.

No table of its own: a pipeline run is a tracked run tagged ``slipway.pipeline.name``; each step is
a nested run tagged with its cache key, its status (``ran`` or ``cached``) and its outputs, with the
key's components as the artifact ``slipway/cache_key.json`` and the outputs as artifacts
``outputs/<name>.<ext>``. A cache lookup is a run search on the key tag (any earlier successful
execution, newest first), answered by the run rows alone: no artifact is read on a hit.

A step reused from the cache still gets its nested run (status ``cached``, tag
``slipway.step.cached_from``, the same output artifacts by digest, nothing copied), so the lineage
of every pipeline run is complete; only executions (``ran``) answer lookups, so an expiry counts
from when the step really ran.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slipway.core import ArtifactEntry, RunStatus, now_ms
from slipway.pipelines._key import Components
from slipway.pipelines._values import OutputRef

if TYPE_CHECKING:
    from slipway.core import Run
    from slipway.tracking import TrackingClient

__all__ = ["Execution", "Records"]

PIPELINE_TAG = "slipway.pipeline.name"
STEP_TAG = "slipway.step.name"
STEP_PIPELINE_TAG = "slipway.step.pipeline"
KEY_TAG = "slipway.step.key"
STATUS_TAG = "slipway.step.status"  # ran | cached
OUTPUTS_TAG = "slipway.step.outputs"  # JSON list of OutputRef dicts
FROM_TAG = "slipway.step.cached_from"
COMPONENTS_ARTIFACT = "slipway/cache_key.json"
TRACEBACK_ARTIFACT = "slipway/traceback.txt"
_UNFINISHED = ("FAILED", "KILLED", "DIED", "RUNNING")


@dataclass(frozen=True, slots=True, kw_only=True)
class Execution:
    """A step run that finished: where its outputs are and when it ended."""

    run_id: str
    key: str
    outputs: tuple[OutputRef, ...]
    end_time: int | None
    parent_run_id: str | None
    cached: bool

    @classmethod
    def from_run(cls, run: Run) -> Execution:
        raw = json.loads(run.tags.get(OUTPUTS_TAG, "[]"))
        return cls(
            run_id=run.id,
            key=run.tags.get(KEY_TAG, ""),
            outputs=tuple(OutputRef.from_dict(o) for o in raw),
            end_time=run.end_time,
            parent_run_id=run.parent_run_id,
            cached=run.tags.get(STATUS_TAG) == "cached",
        )


class Records:
    """The queries and writes of pipeline runs, over one tracking client."""

    def __init__(self, client: TrackingClient) -> None:
        self.client = client
        self.store = client.store

    # ---------------------------------------------------------------- lookups
    def hit(self, key: str, *, newer_than: int | None = None) -> Execution | None:
        """The newest successful execution with this key (ended after ``newer_than`` ms, if given)."""
        clauses = [
            f"tags.`{KEY_TAG}` = '{key}'",
            f"tags.`{STATUS_TAG}` = 'ran'",
            "attributes.status = 'FINISHED'",
        ]
        if newer_than is not None:
            clauses.append(f"attributes.end_time >= {newer_than}")
        page = self.store.search_runs(filter=" and ".join(clauses), max_results=1)
        return Execution.from_run(page.items[0]) if page.items else None

    def latest(self, pipeline: str, step: str) -> Execution | None:
        """The newest finished record of this step of this pipeline, executed or reused."""
        page = self.store.search_runs(
            filter=(
                f"tags.`{STEP_PIPELINE_TAG}` = {_quote(pipeline)} and tags.`{STEP_TAG}` = {_quote(step)} "
                "and attributes.status = 'FINISHED'"
            ),
            max_results=1,
        )
        return Execution.from_run(page.items[0]) if page.items else None

    def resumable(self, pipeline: str) -> tuple[str | None, dict[str, Execution]]:
        """The last run of ``pipeline`` if it did not finish, and its finished steps by name."""
        page = self.store.search_runs(filter=f"tags.`{PIPELINE_TAG}` = {_quote(pipeline)}", max_results=1)
        if not page.items or page.items[0].status.value not in _UNFINISHED:
            return None, {}
        last = page.items[0]
        done: dict[str, Execution] = {}
        token: str | None = None
        while True:
            steps = self.store.search_runs(
                filter=f"attributes.parent_run_id = '{last.id}' and attributes.status = 'FINISHED'",
                max_results=500,
                page_token=token,
            )
            for run in steps.items:
                name = run.tags.get(STEP_TAG)
                if name and KEY_TAG in run.tags:
                    done.setdefault(name, Execution.from_run(run))
            token = steps.next_token
            if not token:
                return last.id, done

    def end_running(self, parent_run_id: str, *, status: RunStatus) -> None:
        """End every step run of a pipeline run that is still RUNNING (its process is leaving them)."""
        page = self.store.search_runs(
            filter=f"attributes.parent_run_id = '{parent_run_id}' and attributes.status = 'RUNNING'",
            max_results=500,
        )
        for run in page.items:
            self.store.end_run(run.id, status=status, end_time=now_ms())

    def components(self, run_id: str) -> Components | None:
        from slipway.errors import ArtifactNotFound

        try:
            return Components.from_json(self.client.read_artifact(run_id, COMPONENTS_ARTIFACT))
        except ArtifactNotFound:
            return None

    # ---------------------------------------------------------------- writes
    def step_tags(self, *, pipeline: str, step: str, key: str, status: str) -> dict[str, str]:
        return {STEP_PIPELINE_TAG: pipeline, STEP_TAG: step, KEY_TAG: key, STATUS_TAG: status}

    def record_cached(
        self,
        *,
        parent_run_id: str,
        experiment_id: str,
        pipeline: str,
        step: str,
        key: str,
        params: dict[str, str],
        execution: Execution,
        components_entry: ArtifactEntry | None,
    ) -> str:
        """A finished nested run saying "reused ``execution``": three writes, no blob copied."""
        tags = self.step_tags(pipeline=pipeline, step=step, key=key, status="cached")
        tags[FROM_TAG] = execution.run_id
        tags[OUTPUTS_TAG] = outputs_tag(execution.outputs)
        start = now_ms()
        run = self.store.create_run(
            experiment_id=experiment_id, name=step, parent_run_id=parent_run_id, tags=tags, start_time=start
        )
        if params:
            self.store.log_batch(run.id, params=params)
        entries = [ArtifactEntry(path=o.artifact, digest=o.digest, size=o.size) for o in execution.outputs]
        if components_entry is not None:
            entries.append(components_entry)
        if entries:
            self.store.record_artifacts(run.id, entries)
        self.store.end_run(run.id, status=RunStatus.FINISHED, end_time=start)
        return run.id


def outputs_tag(outputs: tuple[OutputRef, ...] | list[OutputRef]) -> str:
    return json.dumps([o.to_dict() for o in outputs], separators=(",", ":"))


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
