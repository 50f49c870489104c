"""``validate``: run a policy's checks on a registered version and record the result on it.

The order keeps the stores clean: the policy is parsed, the data read and its target checked, and
both models loaded before any check runs; the challenger's predictions come next, and a target whose
values are not among a classifier's classes (text labels for a model of integer classes, say) is
bad input, not a failed gate; the result is recorded only after every check ran. Bad
input at any step (a typo in the policy, a missing column, a metric the model cannot produce) is an
InvalidInput and records nothing. A failing gate is a result: it is recorded, and ``promote`` refuses
the version until a later result passes.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.errors import AliasNotFound, InvalidInput
from slipway.validation._checks import run_check
from slipway.validation._context import Candidate, Context, task_of
from slipway.validation._policy import policy_from

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd

    from slipway.core import ModelVersion
    from slipway.registry import Registry
    from slipway.validation._policy import Policy
    from slipway.validation._result import CheckResult

__all__ = ["GateResult", "validate"]


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    """What a gate found for one version: every check, the data, the policy and the champion.

    ``to_dict()`` is what is recorded on the version (``ModelVersion.gate``) and in the audit log.

    .. versionadded:: 0.1
    """

    passed: bool
    model: str
    version: int
    checks: tuple[CheckResult, ...]
    task: str
    data: dict[str, Any]
    policy: dict[str, Any]
    champion: dict[str, Any] | None
    champion_note: str = ""
    started_at: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    recorded: bool = False

    @property
    def uri(self) -> str:
        return f"models:/{self.model}/{self.version}"

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "model": self.model,
            "version": self.version,
            "task": self.task,
            "checks": [c.to_dict() for c in self.checks],
            "data": self.data,
            "policy": self.policy,
            "champion": self.champion,
            "champion_note": self.champion_note,
            "started_at": self.started_at,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def validate(
    model_uri: str,
    data: pd.DataFrame | str | os.PathLike[str],
    *,
    target: str,
    policy: Policy | Mapping[str, Any] | str | os.PathLike[str],
    registry: Registry,
    cache_dir: str | os.PathLike[str],
    actor: str,
    reason: str = "",
    record: bool = True,
) -> GateResult:
    """Run ``policy``'s checks on the version ``model_uri`` names, scored on ``data``, and record it.

    Args:
        model_uri: ``models:/NAME/VERSION`` (or ``@ALIAS``, ``/latest``): the challenger.
        data: a DataFrame, or the path of a Parquet or CSV file, holding the features and ``target``.
        target: the column holding the true labels or values.
        policy: a :class:`Policy`, a mapping in the ``gate.yaml`` format, or the path of the file.
        registry: where the versions (challenger and champion) live and the result is recorded.
        cache_dir: where downloaded models are kept.
        actor: who ran the gate (recorded in the audit log).
        reason: why (recorded in the audit log).
        record: False to run the gate without recording its result.

    .. versionadded:: 0.1
    """
    from slipway.registry import iso_utc

    started = time.perf_counter()
    started_at = iso_utc(int(time.time() * 1000))
    rules = policy_from(policy if not isinstance(policy, os.PathLike) else Path(policy))
    frame, source = _read(data)
    if target not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:20])) + (" …" if len(frame.columns) > 20 else "")
        raise InvalidInput(f"{source}: no target column {target!r} (columns: {shown})")
    if len(frame) == 0:
        raise InvalidInput(f"{source}: no rows; expected the data to score the model on")
    y = frame[target]
    if y.isna().any():
        raise InvalidInput(
            f"{source}: target column {target!r} has {int(y.isna().sum())} missing values; "
            "expected a label or value on every row"
        )
    digest = _digest(frame)
    features = frame.drop(columns=[target])
    read_ms = _ms(started)

    loading = time.perf_counter()
    version = registry.resolve(model_uri)
    model = registry.load(version, cache_dir=cache_dir)
    task = task_of(model, rules.task)
    challenger = Candidate(version=version, model=model, task=task, pos_label=rules.pos_label)
    champion, note = _champion(registry, version, rules, cache_dir=cache_dir, task=task)
    load_ms = _ms(loading)

    ctx = Context(
        data=frame.reset_index(drop=True),
        features=features.reset_index(drop=True),
        target=y.to_numpy(),
        challenger=challenger,
        champion=champion,
        champion_note=note,
        task=task,
        source=source,
        target_name=target,
    )
    scoring = time.perf_counter()
    try:
        challenger.predictions(ctx.features)
    except InvalidInput as exc:
        raise InvalidInput(f"{source}: {challenger.uri} cannot score this data: {exc}") from None
    ctx.predictions(challenger)  # the target's values are among its classes, or InvalidInput
    predict_ms = _ms(scoring)

    checking = time.perf_counter()
    results: list[CheckResult] = []
    for i, check in enumerate(rules.checks):
        try:
            results.append(run_check(check, ctx))
        except InvalidInput as exc:
            raise InvalidInput(f"{rules.source}: checks[{i}] ({check.kind} {check.name!r}): {exc}") from None
    result = GateResult(
        passed=all(r.passed for r in results),
        model=version.name,
        version=version.version,
        checks=tuple(results),
        task=task,
        data={
            "source": source,
            "digest": digest,
            "rows": len(frame),
            "columns": len(frame.columns),
            "target": target,
        },
        policy={"source": rules.source, "digest": rules.digest, "document": rules.to_dict()},
        champion=None
        if champion is None
        else {"alias": rules.compare_alias, "version": champion.version.version},
        champion_note=note,
        started_at=started_at,
        timings={
            "read_data_ms": read_ms,
            "load_models_ms": load_ms,
            "predict_ms": predict_ms,
            "checks_ms": _ms(checking),
            "total_ms": _ms(started),
        },
    )
    if not record:
        return result
    registry.store.record_gate_result(
        version.name, version.version, result.to_dict(), actor=actor, reason=reason
    )
    return dataclasses.replace(result, recorded=True)


def _champion(
    registry: Registry, version: ModelVersion, rules: Policy, *, cache_dir: str | os.PathLike[str], task: Any
) -> tuple[Candidate | None, str]:
    alias = rules.compare_alias
    if alias is None:
        return None, "the policy compares with no champion (no `compare.alias`)"
    try:
        held = registry.store.get_version_by_alias(version.name, alias)
    except AliasNotFound:
        return None, f"alias {alias!r} of model {version.name!r} has no holder, so there is no champion"
    model = registry.load(held, cache_dir=cache_dir)
    note = f"champion: {alias} -> version {held.version}"
    if held.version == version.version:
        note += " (the challenger itself)"
    return Candidate(version=held, model=model, task=task, pos_label=rules.pos_label), note


def _read(data: object) -> tuple[pd.DataFrame, str]:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data, "data"
    if not isinstance(data, (str, os.PathLike)):
        raise InvalidInput(
            "data: expected a pandas DataFrame or the path of a Parquet or CSV file, "
            f"got {type(data).__name__}"
        )
    path = Path(data)
    name = str(data)
    if not path.exists():
        raise InvalidInput(f"data file {name!r}: no such file")
    suffixes = "".join(path.suffixes).lower()
    try:
        if path.is_dir() or suffixes.endswith((".parquet", ".pq")):
            return pd.read_parquet(path), name
        if suffixes.endswith((".csv", ".csv.gz", ".csv.bz2", ".csv.zip")):
            return pd.read_csv(path), name
    except (ValueError, OSError) as exc:  # pyarrow's and pandas' parse errors are ValueError/OSError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"data file {name!r}: cannot be read: {first}") from None
    raise InvalidInput(f"data file {name!r}: expected a .parquet or .csv file, or a Parquet folder")


def _digest(frame: pd.DataFrame) -> str:
    """The same content digest ``log_dataset`` records, so a result names the dataset in the lineage."""
    from slipway.tracking import fingerprint

    return fingerprint(frame, top_k=1, bins=1).digest


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
