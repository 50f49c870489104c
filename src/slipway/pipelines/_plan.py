"""What a run would do, without running: each step cached or to run, and why (``show`` and ``why``).

A step whose upstream step will run cannot know its input digests yet; it is reported as running
because of that upstream, together with whatever else changed that is already known (its code, a
parameter). An ``always_run`` upstream is the exception: it runs every time, and what matters
below it is whether its output changes, which only the run can tell. So the steps below it are
planned with its last outputs, and one whose key then matches is ``cached if unchanged``
("cached if champion's output is unchanged"), not "will run". Reasons compare the step's
components now with those of its most recent finished record in this pipeline: "module
features.py changed", "parameter C: 0.5 → 1.0".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from slipway.core import now_ms
from slipway.errors import ArtifactNotFound, NotFound
from slipway.pipelines._components import ComponentBuilder, reusable
from slipway.pipelines._key import Components, explain, package_changes
from slipway.pipelines._records import Records
from slipway.pipelines._runner import STAT_CACHE, Session

if TYPE_CHECKING:
    from collections.abc import Mapping

    from slipway.config import Settings
    from slipway.pipelines._graph import Graph, Node, Pipeline
    from slipway.pipelines._records import Execution
    from slipway.pipelines._values import OutputRef

__all__ = ["StepPlan", "plan", "why"]

CACHED = "cached"
WILL_RUN = "will run"
CONDITIONAL = "cached if unchanged"  # cached if its always_run upstream steps give what they gave


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPlan:
    """One step as a run would treat it now: ``cached``, ``will run`` or ``cached if unchanged``.

    ``cached`` reuses ``cached_from``; ``cached if unchanged`` does if the ``always_run`` steps
    above it give what they gave last time.

    .. versionadded:: 0.1
    """

    name: str
    upstream: tuple[str, ...]
    state: str
    reasons: tuple[str, ...]
    cached_from: str | None = None
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "upstream": list(self.upstream),
            "state": self.state,
            "reasons": list(self.reasons),
            "cached_from": self.cached_from,
            "key": self.key,
        }


def plan(
    pipeline: Pipeline, *, params: Mapping[str, Any] | None = None, settings: Settings | None = None
) -> list[StepPlan]:
    """Every step of ``pipeline``, in running order, with its cache state and the reasons for it.

    ``settings``: where the runs are, as the caller resolved them (default: the fluent API's).

    .. versionadded:: 0.1
    """
    graph = pipeline.build(params)
    session = Session(settings)
    builder = ComponentBuilder(graph, stat_cache=session.settings.home / STAT_CACHE)
    builder.prepare()
    try:
        planner = _Planner(graph, builder, Records(session.client()))
        plans = [planner.step(node) for node in graph.nodes.values()]
    finally:
        session.close()
    builder.hasher.save()
    return plans


def why(
    pipeline: Pipeline,
    step: str,
    *,
    params: Mapping[str, Any] | None = None,
    settings: Settings | None = None,
) -> StepPlan:
    """Whether ``step`` would run now and why: what changed since its most recent execution.

    .. versionadded:: 0.1
    """
    plans = plan(pipeline, params=params, settings=settings)
    for p in plans:
        if p.name == step:
            return p
    raise NotFound(f"pipeline {pipeline.name}: no step {step!r} (steps: {', '.join(p.name for p in plans)})")


class _Planner:
    def __init__(self, graph: Graph, builder: ComponentBuilder, records: Records) -> None:
        self.graph = graph
        self.builder = builder
        self.records = records
        self.blobs = records.client.blobs
        self.plans: dict[str, StepPlan] = {}
        self.outputs: dict[str, dict[str, OutputRef]] = {}  # known, or assumed (see ``assumed``)
        self.assumed: dict[str, frozenset[str]] = {}  # step -> the always_run steps its outputs assume

    def step(self, node: Node) -> StepPlan:
        waiting = [u for u in node.upstream if u not in self.outputs]
        if waiting:
            found = self._waiting(node, waiting)
        else:
            components = self.builder.full(node, {u: self.outputs[u] for u in node.upstream})
            key = components.key()
            hit = reusable(node, key, records=self.records, blobs=self.blobs)
            assumes = frozenset().union(*(self.assumed.get(u, frozenset()) for u in node.upstream))
            if hit is not None:
                self.outputs[node.name] = {o.name: o for o in hit.outputs}
                same = f"same key as run {hit.run_id[:8]}, {_ago(hit.end_time)}"
                if assumes:
                    self.assumed[node.name] = assumes
                found = StepPlan(
                    name=node.name,
                    upstream=node.upstream,
                    state=CONDITIONAL if assumes else CACHED,
                    reasons=(f"{_if_unchanged(assumes)} ({same})" if assumes else same,),
                    cached_from=hit.run_id,
                    key=key,
                )
            else:
                found = StepPlan(
                    name=node.name,
                    upstream=node.upstream,
                    state=WILL_RUN,
                    reasons=tuple(self._miss(node, key, components)),
                    key=key,
                )
                if node.step.always_run:
                    self._assume_last(node)
        self.plans[node.name] = found
        return found

    def _assume_last(self, node: Node) -> None:
        """Plan what is below an always_run step with its last outputs: only the run knows its next ones."""
        latest = self.records.latest(self.graph.name, node.name)
        if latest is not None:
            self.outputs[node.name] = {o.name: o for o in latest.outputs}
            self.assumed[node.name] = frozenset({node.name})

    def _waiting(self, node: Node, waiting: list[str]) -> StepPlan:
        """Upstream steps will run: the inputs they feed are unknown; the rest can still be compared."""
        reasons = [f"upstream {u} will run" for u in waiting]
        latest = self.records.latest(self.graph.name, node.name)
        old = self.records.components(latest.run_id) if latest is not None else None
        if latest is not None and old is not None:
            ready = {u: self.outputs[u] for u in node.upstream if u not in waiting}
            known = self.builder.full(node, ready, unknown=old.inputs)
            reasons += explain(old, known, environment=lambda: self._packages(latest))
        return StepPlan(name=node.name, upstream=node.upstream, state=WILL_RUN, reasons=tuple(reasons))

    def _miss(self, node: Node, key: str, components: Components) -> list[str]:
        if node.step.always_run:
            return ["always_run: it runs every time"]
        if node.step.expires_after is not None:
            expired = self.records.hit(key)
            if expired is not None:
                limit = f"{node.step.expires_after:g} s"
                return [f"expired: it ran {_ago(expired.end_time)}, expires_after is {limit}"]
        latest = self.records.latest(self.graph.name, node.name)
        if latest is None:
            return ["it never ran"]
        old = self.records.components(latest.run_id)
        if old is None:
            return [f"run {latest.run_id[:8]} recorded no key components"]
        reasons = explain(old, components, environment=lambda: self._packages(latest))
        if reasons:
            return reasons
        if latest.key == key:
            return [f"the outputs of run {latest.run_id[:8]} are no longer in the artifact store"]
        return [f"no finished execution has key {key[:12]}"]

    def _packages(self, execution: Execution) -> list[str]:
        """Package changes since ``execution``, from the lock its pipeline run captured."""
        from slipway.tracking import LOCK_ARTIFACT
        from slipway.tracking._environment import package_lock, parse_lock

        if execution.parent_run_id is None:
            return []
        try:
            old = self.records.client.read_artifact(execution.parent_run_id, LOCK_ARTIFACT).decode()
        except ArtifactNotFound:
            return []
        return package_changes(parse_lock(old), parse_lock(package_lock().decode()))


def _if_unchanged(steps: frozenset[str]) -> str:
    if len(steps) == 1:
        return f"cached if {next(iter(steps))}'s output is unchanged"
    return f"cached if the outputs of {', '.join(sorted(steps))} are unchanged"


def _ago(end_time: int | None) -> str:
    if end_time is None:
        return "unfinished"
    seconds = max(0, (now_ms() - end_time) // 1000)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"
