"""Whether a stored gate result lets a version take an alias: the rule every store applies in ``promote``.

A gate result (see :mod:`slipway.validation`) passes an alias when its ``passed`` is true and it is
not stale. It is stale when its policy compared against a champion (``policy.document.compare``)
and either compared against another alias, or the champion it compared with
(``champion.version``, None when the alias had no holder) is no longer the alias's holder. A policy
with no ``compare`` section compared with nothing, so it cannot go stale this way.
"""

from __future__ import annotations

from typing import Any

__all__ = ["gate_refusal", "gate_snapshot_state"]


def _failed_checks(gate: dict[str, Any]) -> list[str]:
    checks = gate.get("checks")
    out: list[str] = []
    if isinstance(checks, list):
        for i, check in enumerate(checks):
            if isinstance(check, dict) and check.get("passed") is False:
                out.append(str(check.get("name") or f"check {i + 1}"))
    return out


def _compared_alias(gate: dict[str, Any]) -> tuple[bool, Any]:
    """(whether the policy compared with a champion, the alias it compared against)."""
    policy = gate.get("policy")
    document = policy.get("document") if isinstance(policy, dict) else None
    compare = document.get("compare") if isinstance(document, dict) else None
    if not isinstance(compare, dict):
        return False, None
    return True, compare.get("alias")


def gate_refusal(
    gate: dict[str, Any] | None, *, name: str, version: int, alias: str, holder: int | None
) -> str | None:
    """Why ``gate`` does not let ``name`` version ``version`` take ``alias`` (held by ``holder``), or None."""
    where = f"models:/{name}/{version} cannot take alias {alias!r}"
    override = 'or override with --force --reason "…"'
    if gate is None:
        return f"{where}: no gate result: run `slipway validate models:/{name}/{version} …` first, {override}"
    if gate.get("passed") is not True:
        failed = _failed_checks(gate)
        what = f"failed checks: {', '.join(failed)}" if failed else "its gate did not pass"
        return f"{where}: {what}; fix and validate again, {override}"
    compared, compared_alias = _compared_alias(gate)
    if not compared:
        return None
    if compared_alias != alias:
        return (
            f"{where}: stale gate result: it compared against alias {compared_alias!r}, not {alias!r}; "
            f"validate again with `compare.alias: {alias}`, {override}"
        )
    champion = gate.get("champion")
    against = champion.get("version") if isinstance(champion, dict) else None
    if against != holder:
        return (
            f"{where}: stale gate result: validated against {_v(against)}, the alias is now held by "
            f"{_v(holder)}; validate again, {override}"
        )
    return None


def gate_snapshot_state(gate: dict[str, Any] | None, refusal: str | None) -> str:
    """How an event describes the gate it moved an alias on: passed, failed, stale or none."""
    if gate is None:
        return "none"
    if refusal is None:
        return "passed"
    return "failed" if gate.get("passed") is not True else "stale"


def _v(version: object) -> str:
    return "no holder" if version is None else f"version {version}"
