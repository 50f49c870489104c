"""``slipway models``: register versions, list and show them, move aliases, tag, describe, lineage, cards.

Every command that changes state records the local user as its actor (a team server replaces it
with the name of the token that authenticated the call) and takes ``--reason``, kept in the audit log.
"""

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from slipway.cli._main import app
from slipway.cli._runs import ArtifactsOption, JsonOption, StoreOption, console, when

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from slipway.core import ModelVersion, RegisteredModel
    from slipway.registry import Registry, VersionLineage

models_app = typer.Typer(
    name="models", help="Register model versions; aliases, tags, lineage.", no_args_is_help=True
)
alias_app = typer.Typer(name="alias", help="Point an alias at a version, or delete it.", no_args_is_help=True)
models_app.add_typer(alias_app)
app.add_typer(models_app)

ReasonOption = Annotated[str, typer.Option("--reason", help="why: kept in the audit log")]
NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="the registered model's name")]
VersionArgument = Annotated[int, typer.Argument(metavar="VERSION", help="a version number", min=1)]


class _Session:
    """The registry over the stores the options (or the settings) name; closes both stores."""

    def __init__(self, store: str | None, artifacts: str | None) -> None:
        self._store = store
        self._artifacts = artifacts

    def __enter__(self) -> "Registry":
        from slipway.artifacts import open_blob_store
        from slipway.cli._context import metadata_store, settings
        from slipway.registry import Registry

        s = settings(tracking_uri=self._store, artifact_uri=self._artifacts)
        self._registry = Registry(metadata_store(s), open_blob_store(s.artifact_uri, token=s.token))
        return self._registry

    def __exit__(self, *exc: object) -> None:
        try:
            self._registry.store.close()
        finally:
            close = getattr(self._registry.blobs, "close", None)
            if callable(close):
                close()


def open_registry(store: str | None, artifacts: str | None) -> _Session:
    return _Session(store, artifacts)


def actor() -> str:
    """The local user; a team server records its token's name instead."""
    from slipway.tracking import local_user

    return local_user() or "unknown"


def table(title: str, *columns: str) -> "Table":
    from rich.table import Table

    out = Table(title=title or None, title_justify="left", title_style="bold")
    for col in columns:
        out.add_column(col, overflow="fold")
    return out


def version_dict(mv: "ModelVersion") -> dict[str, Any]:
    out = dataclasses.asdict(mv)
    out["aliases"] = sorted(mv.aliases)
    return out


def gate_text(gate: dict[str, Any] | None) -> str:
    if gate is None:
        return "-"
    return "passed" if gate.get("passed") is True else "failed"


def _pairs(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            from slipway.errors import InvalidInput

            raise InvalidInput(f"tag {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def _resolve_source(registry: "Registry", source: str) -> str:
    """``runs:/PREFIX/path`` with a run id shortened as tables show it, made whole."""
    if not source.startswith("runs:/"):
        return source
    from slipway.core import RunModelUri, parse_model_uri
    from slipway.tracking import TrackingClient

    ref = parse_model_uri(source)
    assert isinstance(ref, RunModelUri)
    run_id = TrackingClient(registry.store, registry.blobs).resolve_run_id(ref.run_id)
    return str(RunModelUri(run_id=run_id, path=ref.path))


@models_app.command("register")
def register(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="runs:/RUN/PATH or a model folder")],
    name: NameArgument,
    description: Annotated[str, typer.Option("--description", "-d", help="what this version is")] = "",
    tag: Annotated[list[str] | None, typer.Option("--tag", "-t", help="KEY=VALUE; repeatable")] = None,
    reason: ReasonOption = "",
    as_json: JsonOption = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Register the next version of NAME from a run's model or a local model folder."""
    tags = _pairs(tag or [])
    with open_registry(store, artifacts) as registry:
        mv = registry.register(
            _resolve_source(registry, source),
            name,
            description=description,
            tags=tags,
            actor=actor(),
            reason=reason,
        )
    if as_json:
        typer.echo(json.dumps(version_dict(mv)))
        return
    console().print(
        f"registered {mv.name} version {mv.version} from {mv.source} "
        f"(manifest sha256:{mv.manifest_digest[:16]}…); load it as models:/{mv.name}/{mv.version}"
    )


@models_app.command("list")
def list_(as_json: JsonOption = False, store: StoreOption = None, artifacts: ArtifactsOption = None) -> None:
    """List registered models with their latest version and aliases."""
    with open_registry(store, artifacts) as registry:
        models = registry.list_models()
    if as_json:
        typer.echo(json.dumps({"models": [dataclasses.asdict(m) for m in models]}))
        return
    out = console()
    if not models:
        out.print("no registered models yet")
        return
    listing = table("", "name", "latest", "aliases", "created", "description")
    for m in models:
        listing.add_row(
            m.name,
            "-" if m.latest_version is None else str(m.latest_version),
            _aliases(m.aliases),
            when(m.created_at),
            m.description or "-",
        )
    out.print(listing)


def _aliases(aliases: dict[str, int]) -> str:
    return ", ".join(f"{a}→{v}" for a, v in sorted(aliases.items())) or "-"


@models_app.command("show")
def show(
    name: NameArgument,
    version: Annotated[
        int | None, typer.Argument(metavar="[VERSION]", help="a version number", min=1)
    ] = None,
    as_json: JsonOption = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Show a model and its versions, or one version: source, digest, run, aliases, tags, gate."""
    with open_registry(store, artifacts) as registry:
        if version is None:
            model = registry.get_model(name)
            versions = registry.list_versions(name)
        else:
            mv = registry.get_version(name, version)
    if version is None:
        if as_json:
            typer.echo(
                json.dumps({**dataclasses.asdict(model), "versions": [version_dict(v) for v in versions]})
            )
            return
        _print_model(console(), model, versions)
        return
    if as_json:
        typer.echo(json.dumps(version_dict(mv)))
        return
    _print_version(console(), mv)


def _print_model(out: "Console", model: "RegisteredModel", versions: "list[ModelVersion]") -> None:
    about = table(f"model {model.name}", "attribute", "value")
    about.add_row("description", model.description or "-")
    about.add_row("created", when(model.created_at))
    about.add_row("latest version", "-" if model.latest_version is None else str(model.latest_version))
    about.add_row("aliases", _aliases(model.aliases))
    for key, value in sorted(model.tags.items()):
        about.add_row(f"tag {key}", value)
    out.print(about)
    if not versions:
        return
    listing = table("versions", "version", "created", "aliases", "gate", "run", "creator", "source")
    for v in versions:
        listing.add_row(
            str(v.version),
            when(v.created_at),
            ", ".join(sorted(v.aliases)) or "-",
            gate_text(v.gate),
            (v.run_id or "-")[:12],
            v.creator or "-",
            v.source,
        )
    out.print(listing)


def _print_version(out: "Console", mv: "ModelVersion") -> None:
    about = table(f"{mv.name} version {mv.version}", "attribute", "value")
    for key, value in (
        ("uri", f"models:/{mv.name}/{mv.version}"),
        ("source", mv.source),
        ("manifest digest", f"sha256:{mv.manifest_digest}"),
        ("run", mv.run_id or "-"),
        ("created", when(mv.created_at)),
        ("creator", mv.creator or "-"),
        ("aliases", ", ".join(sorted(mv.aliases)) or "-"),
        ("description", mv.description or "-"),
        ("gate", gate_text(mv.gate)),
        ("flavor", str(mv.lineage.get("flavor") or "-")),
        ("previous version", str(mv.lineage.get("previous_version") or "-")),
    ):
        about.add_row(key, value)
    for k, v in sorted(mv.tags.items()):
        about.add_row(f"tag {k}", v)
    out.print(about)
    checks = (mv.gate or {}).get("checks")
    if isinstance(checks, list) and checks:
        gate = table("gate checks", "check", "result", "details")
        for c in checks:
            if isinstance(c, dict):
                rest = {k: v for k, v in c.items() if k not in ("name", "passed")}
                passed = "passed" if c.get("passed") is True else "failed"
                gate.add_row(str(c.get("name", "?")), passed, json.dumps(rest) if rest else "")
        out.print(gate)


@alias_app.command("set")
def alias_set(
    name: NameArgument,
    alias: Annotated[str, typer.Argument(metavar="ALIAS", help="e.g. production, champion")],
    version: VersionArgument,
    reason: ReasonOption = "",
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Point ALIAS at VERSION (by hand, without the gate: see `slipway promote`)."""
    with open_registry(store, artifacts) as registry:
        event = registry.set_alias(name, alias, version, actor=actor(), reason=reason)
    was = "" if event.previous_version is None else f" (was version {event.previous_version})"
    console().print(f"{name}@{alias} -> version {version}{was}")


@alias_app.command("delete")
def alias_delete(
    name: NameArgument,
    alias: Annotated[str, typer.Argument(metavar="ALIAS", help="the alias to delete")],
    reason: ReasonOption = "",
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Delete ALIAS; the version it pointed at stays registered."""
    with open_registry(store, artifacts) as registry:
        event = registry.delete_alias(name, alias, actor=actor(), reason=reason)
    console().print(f"deleted {name}@{alias} (was version {event.previous_version})")


@models_app.command("tag")
def tag(
    name: NameArgument,
    version: VersionArgument,
    tags: Annotated[list[str] | None, typer.Argument(metavar="KEY=VALUE...", help="tags to set")] = None,
    delete: Annotated[
        list[str] | None, typer.Option("--delete", help="a tag key to delete; repeatable")
    ] = None,
    reason: ReasonOption = "",
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Set (KEY=VALUE) or delete (--delete KEY) tags on a version."""
    changes: dict[str, str | None] = {**_pairs(tags or []), **dict.fromkeys(delete or [])}
    if not changes:
        from slipway.errors import InvalidInput

        raise InvalidInput("models tag: give at least one KEY=VALUE or --delete KEY")
    with open_registry(store, artifacts) as registry:
        registry.set_tags(name, version, changes, actor=actor(), reason=reason)
    console().print(f"{name} version {version}: {len(changes)} tag(s) changed")


@models_app.command("describe")
def describe(
    name: NameArgument,
    description: Annotated[str, typer.Argument(metavar="TEXT", help="the new description")],
    version: Annotated[
        int | None, typer.Option("--version", "-v", help="describe this version", min=1)
    ] = None,
    reason: ReasonOption = "",
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Set the description of a model, or of one version (--version)."""
    with open_registry(store, artifacts) as registry:
        registry.describe(name, description, version=version, actor=actor(), reason=reason)
    console().print(f"described {name}" + ("" if version is None else f" version {version}"))


@models_app.command("lineage")
def lineage(
    name: NameArgument,
    version: VersionArgument,
    as_json: JsonOption = False,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Where a version came from: run, datasets, code commit, and the versions it replaced."""
    with open_registry(store, artifacts) as registry:
        found = registry.lineage(name, version)
    if as_json:
        typer.echo(json.dumps(found.to_dict()))
        return
    _print_lineage(console(), found)


def _print_lineage(out: "Console", found: "VersionLineage") -> None:
    about = table(f"lineage of {found.name} version {found.version}", "link", "value")
    commit = found.git_commit or "-"
    if found.git_commit and found.git_dirty is not None:
        commit += " (uncommitted changes)" if found.git_dirty else " (clean)"
    for key, value in (
        ("source", found.source),
        ("manifest digest", f"sha256:{found.manifest_digest}"),
        ("run", found.run_id or "-"),
        ("code commit", commit),
        ("registered after", "-" if found.previous_version is None else f"version {found.previous_version}"),
    ):
        about.add_row(key, value)
    out.print(about)
    if found.datasets:
        sets = table("datasets", "name", "role", "digest")
        for d in found.datasets:
            sets.add_row(d.name or "-", d.role or "-", d.digest)
        out.print(sets)
    if found.alias_changes:
        from slipway.registry import iso_utc

        moves = table("alias history", "time (UTC)", "alias", "change", "by", "reason")
        for c in found.alias_changes:
            if c.took:
                change = f"took it from {_of(c.other)} ({c.action.value})"
            elif c.other is None:
                change = f"lost it ({c.action.value})"
            else:
                change = f"gave it to version {c.other} ({c.action.value})"
            moves.add_row(iso_utc(c.at), c.alias, change, c.actor or "-", c.reason or "-")
        out.print(moves)


def _of(version: int | None) -> str:
    return "nobody" if version is None else f"version {version}"


@models_app.command("card")
def card(
    name: NameArgument,
    version: VersionArgument,
    purpose: Annotated[
        str | None, typer.Option("--purpose", help="what the model is for; stored on the version")
    ] = None,
    owner: Annotated[
        str | None, typer.Option("--owner", help="who answers for it; stored on the version")
    ] = None,
    limits: Annotated[
        str | None, typer.Option("--limits", help="known limits, in words; stored on the version")
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="folder for NAME-vVERSION.md and .html")
    ] = Path("model-cards"),
    reason: ReasonOption = "",
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """Write the model card of a version as Markdown and self-contained HTML.

    --purpose, --owner and --limits are stored as the version's slipway.card.* tags (audited), so
    the next card keeps them; a version without them takes those of the newest earlier version.
    An empty value ("") deletes the version's own and leaves the field empty on this card, even
    when an earlier version has one.
    """
    with open_registry(store, artifacts) as registry:
        registry.get_version(name, version)  # an unknown version fails before anything is stored
        registry.set_card_fields(
            name, version, purpose=purpose, owner=owner, limits=limits, actor=actor(), reason=reason
        )
        # given texts win over inherited ones, so "" clears a field instead of falling back to it
        found = registry.card(name, version, purpose=purpose, owner=owner, limits=limits)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, text in ((".md", found.to_markdown()), (".html", found.to_html())):
        path = output / f"{found.file_stem}{suffix}"
        _write_atomically(path, text)
        written.append(str(path))
    console().print(f"model card of {found.uri}: {', '.join(written)}")


def _write_atomically(path: Path, text: str) -> None:
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
