"""The ``slipway`` command: the composition root that resolves settings and wires the stores."""

from slipway.cli._main import app, main

__all__ = ["app", "main"]
