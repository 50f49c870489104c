"""The Typer app and the one place that turns errors into one line and exit code 2.

Each command group lives in its own module and registers itself on ``app`` when imported; the
imports below are the whole list. Heavy libraries are imported inside the commands, so that
``slipway --help`` stays fast.
"""

from __future__ import annotations

import sys

import typer

from slipway.errors import SlipwayError

#: The exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
_INTERRUPTED = 130

app = typer.Typer(
    name="slipway",
    help="Track, register, serve and monitor models: from a notebook to production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """slipway: from a notebook to production, and healthy there."""


def _register_groups() -> None:
    # Each module adds its commands to `app`; order here is the order in --help.
    from slipway.cli import (  # noqa: F401
        _audit,
        _data,
        _db,
        _experiments,
        _models,
        _monitor,
        _pipeline,
        _predictions,
        _promote,
        _report,
        _reproduce,
        _runs,
        _score,
        _serve,
        _server,
        _sweep,
        _tokens,
        _validate,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script; exit code 2 for any error a user can fix."""
    _register_groups()
    try:
        # Without standalone mode click returns a typer.Exit's code instead of raising it.
        code = app(args=argv, standalone_mode=False)
    except SlipwayError as exc:
        _fail(str(exc))
    except FileNotFoundError as exc:
        _fail(f"{exc.filename}: no such file")
    except OSError as exc:  # a folder we may not write, a full disk: the file and the reason, one line
        where = f"{exc.filename}: " if exc.filename else ""
        _fail(f"{where}{exc.strerror or exc}")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("aborted", code=_INTERRUPTED)
    except typer.TyperException as exc:  # usage errors (missing argument, bad option) from Typer's click
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:  # pragma: no cover - every TyperException Typer raises today has show()
            _fail(str(exc))
        sys.exit(2)
    if code == _INTERRUPTED:  # Typer turns a Ctrl-C into Exit(130) and, here, returns its code
        _fail("interrupted", code=_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, *, code: int = 2) -> None:
    from rich.console import Console
    from rich.markup import escape

    # The message often quotes user input ("run '[x]' not found"): escape it, never parse it.
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)
