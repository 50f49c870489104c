"""``slipway promote`` and ``slipway rollback``: move an alias by the gate, or back by the audit log."""

from typing import Annotated

import typer

from slipway.cli._main import app
from slipway.cli._models import NameArgument, ReasonOption, VersionArgument, actor, open_registry
from slipway.cli._runs import ArtifactsOption, StoreOption, console

AliasOption = Annotated[str, typer.Option("--alias", "-a", help="the alias to move, e.g. production")]


@app.command("promote")
def promote(
    name: NameArgument,
    version: VersionArgument,
    alias: AliasOption,
    force: Annotated[
        bool, typer.Option("--force", help="move it although the gate did not pass (needs --reason)")
    ] = False,
    reason: ReasonOption = "",
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Point ALIAS at VERSION if its latest gate result passed; --force --reason overrides, audited."""
    with open_registry(store, artifacts) as registry:
        event = registry.promote(name, version, alias=alias, actor=actor(), force=force, reason=reason)
    was = "" if event.previous_version is None else f" (was version {event.previous_version})"
    how = (
        "OVERRIDE of the gate, recorded in the audit log"
        if event.action.value == "override"
        else "gate passed"
    )
    console().print(f"{name}@{alias} -> version {version}{was}: {how}")


@app.command("rollback")
def rollback(
    name: NameArgument,
    alias: AliasOption,
    reason: ReasonOption = "",
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Move ALIAS back to its previous holder, as the audit log records it; again to go further back."""
    with open_registry(store, artifacts) as registry:
        event = registry.rollback(name, alias=alias, actor=actor(), reason=reason)
    console().print(
        f"{name}@{alias} -> version {event.version} (rolled back from version {event.previous_version})"
    )
