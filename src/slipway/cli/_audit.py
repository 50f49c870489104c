"""``slipway audit``: filter the append-only audit log; show it as a table or export JSON lines or CSV."""

import datetime
import itertools
import sys
from enum import Enum
from pathlib import Path  # noqa: TC003  (Typer reads the option annotations at run time)
from typing import TYPE_CHECKING, Annotated

import typer

from slipway.cli._main import app
from slipway.cli._models import open_registry, table
from slipway.cli._runs import ArtifactsOption, StoreOption, console

if TYPE_CHECKING:
    from slipway.core import AuditEvent


class Format(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


def parse_time(text: str | None, option: str) -> int | None:
    """An ISO 8601 date or time as milliseconds since the epoch; a time without a zone is UTC."""
    if text is None:
        return None
    from slipway.errors import InvalidInput

    try:
        moment = datetime.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{option} {text!r}: expected an ISO 8601 date or time, e.g. 2026-11-24 or 2026-11-24T10:45:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp() * 1000)


@app.command("audit")
def audit(
    model: Annotated[str | None, typer.Option("--model", "-m", help="only this model")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="register, alias.set, alias.delete, promote, override, …")
    ] = None,
    alias: Annotated[str | None, typer.Option("--alias", help="only moves of this alias")] = None,
    by: Annotated[str | None, typer.Option("--actor", help="only events by this actor")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="ISO date/time (UTC unless a zone is given)")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="ISO date/time, exclusive")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="table, jsonl or csv")] = Format.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="write to this file")] = None,
    store: StoreOption = None,
    artifacts: ArtifactsOption = None,
) -> None:
    """The audit log, oldest first: registrations, alias moves, promotions, overrides, rollbacks."""
    from slipway.registry import write_audit

    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    if fmt is Format.table and output is not None:
        from slipway.errors import InvalidInput

        raise InvalidInput("--output needs --format jsonl or csv")
    with open_registry(store, artifacts) as registry:
        found = registry.audit(model=model, action=action, alias=alias, actor=by, since=start, until=end)
        # The registry checks its filters on the first read: read the first event before any output
        # exists, so that a bad filter leaves no file behind.
        first = next(found, None)
        events = found if first is None else itertools.chain([first], found)
        if fmt is Format.table:
            _print(list(events))
            return
        if output is None:
            count = write_audit(events, sys.stdout, format=fmt.value)
            return
        tmp = output.with_name(f".{output.name}.tmp")
        try:
            with tmp.open("w", encoding="utf-8", newline="") as f:
                count = write_audit(events, f, format=fmt.value)
            tmp.replace(output)
        except BaseException:  # a store error on a later page, Ctrl-C, a full disk: no half a file
            tmp.unlink(missing_ok=True)
            raise
    console().print(f"wrote {count} event(s) to {output}")


def _print(events: "list[AuditEvent]") -> None:
    from slipway.registry import iso_utc

    out = console()
    if not events:
        out.print("no audit events match")
        return
    listing = table("", "id", "time (UTC)", "actor", "action", "model", "version", "alias", "was", "reason")
    for e in events:
        listing.add_row(
            str(e.id),
            iso_utc(e.at)[:19],
            e.actor or "-",
            e.action.value,
            e.model,
            "-" if e.version is None else str(e.version),
            e.alias or "-",
            "-" if e.previous_version is None else str(e.previous_version),
            e.reason or "-",
        )
    out.print(listing)
