"""Building each node's key components, and deciding whether an earlier execution can stand in for it.

Shared by the runner (which then runs or reuses) and by ``show``/``why`` (which only say what a run
would do), so that what they report is what a run does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import platform
from typing import TYPE_CHECKING, Any

from slipway.core import now_ms
from slipway.errors import InvalidInput, SlipwayError
from slipway.pipelines._code import CodeScanner
from slipway.pipelines._files import FileHasher
from slipway.pipelines._key import Components, canonical

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from slipway.artifacts import BlobStore
    from slipway.pipelines._graph import Graph, Node
    from slipway.pipelines._records import Execution, Records
    from slipway.pipelines._values import OutputRef

__all__ = ["ComponentBuilder"]


class ComponentBuilder:
    """Key components of a graph's nodes: the static part up front, inputs once upstream is known.

    Args:
        graph: the pipeline as built.
        stat_cache: the file-hash stat cache (None: in memory only).
    """

    def __init__(self, graph: Graph, *, stat_cache: Path | None) -> None:
        self.graph = graph
        self.scanner = CodeScanner(graph.folder)
        self.hasher = FileHasher(stat_cache)
        self._static: dict[str, Components] = {}
        self._environment: dict[str, str] | None = None

    def prepare(self) -> None:
        """Everything but upstream outputs, for every node: a missing file fails here, before any run."""
        for node in self.graph.nodes.values():
            self.static(node)

    def static(self, node: Node) -> Components:
        if node.name in self._static:
            return self._static[node.name]
        code, modules = self.scanner.components(node.step.fn)
        where = f"step {node.name}"
        files = {
            arg: self.hasher.digest(path, where=f"{where}: input {arg!r}") for arg, path in node.files.items()
        }
        found = Components(
            code=code,
            modules=modules,
            params={arg: canonical(v, where=f"{where}: parameter {arg!r}") for arg, v in node.params.items()},
            inputs=files,
            environment=self.environment(),
            external={name: _fingerprint(node, name, source) for name, source in node.step.external.items()},
            labels={arg: str(path) for arg, path in node.files.items()},
        )
        self._static[node.name] = found
        return found

    def full(
        self,
        node: Node,
        upstream: Mapping[str, Mapping[str, OutputRef]],
        *,
        unknown: Mapping[str, str] | None = None,
    ) -> Components:
        """The node's components given its upstream steps' outputs (step -> output name -> ref).

        An input whose step is not in ``upstream`` (it has yet to run) takes its digest from
        ``unknown``, by argument: ``show`` passes the last execution's, so it is not reported.
        """
        base = self.static(node)
        inputs = dict(base.inputs)
        labels = dict(base.labels)
        for arg, handle in node.inputs.items():
            outputs = upstream.get(handle.node)
            inputs[arg] = (
                outputs[handle.output].digest if outputs is not None else (unknown or {}).get(arg, "")
            )
            labels[arg] = f"{arg} (from {handle.node})"
        return dataclasses.replace(base, inputs=inputs, labels=labels)

    def environment(self) -> dict[str, str]:
        """The interpreter and the package lock (read once per process by the tracking capture)."""
        if self._environment is None:
            from slipway.tracking._environment import package_lock

            self._environment = {
                "python": platform.python_version(),
                "lock": hashlib.sha256(package_lock()).hexdigest(),
            }
        return self._environment


def reusable(
    node: Node,
    key: str,
    *,
    records: Records,
    blobs: BlobStore,
    use_cache: bool = True,
    resumed: Mapping[str, Execution] | None = None,
) -> Execution | None:
    """An earlier execution whose outputs stand in for running ``node`` now, or None.

    A step finished in the run being resumed is reused even when ``always_run``; otherwise any
    earlier successful execution with the same key, unless the step is ``always_run``, the
    execution is older than ``expires_after``, or one of its outputs is gone from the store.
    """
    prior = (resumed or {}).get(node.name)
    if prior is not None and prior.key == key and _stored(prior, blobs):
        return prior
    if not use_cache or node.step.always_run:
        return None
    expires = node.step.expires_after
    found = records.hit(key, newer_than=None if expires is None else now_ms() - int(expires * 1000))
    return found if found is not None and _stored(found, blobs) else None


def _stored(execution: Execution, blobs: BlobStore) -> bool:
    return all(blobs.stored_size(o.digest) == o.size for o in execution.outputs)


def _fingerprint(node: Node, name: str, source: Any) -> str:
    value = source
    if callable(source):
        try:
            value = source()
        except SlipwayError:
            raise
        except Exception as exc:
            raise InvalidInput(
                f"step {node.name}: external {name!r}: computing its fingerprint failed: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
    return value if isinstance(value, str) else canonical(value, where=f"step {node.name}: external {name!r}")
