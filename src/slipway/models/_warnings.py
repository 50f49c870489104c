"""Warnings the model layer gives: all are ``SlipwayWarning``, a ``UserWarning``."""

from __future__ import annotations

__all__ = ["EnvironmentMismatchWarning", "SlipwayWarning"]


class SlipwayWarning(UserWarning):
    """Something a user should know about that does not stop the call."""


class EnvironmentMismatchWarning(SlipwayWarning):
    """A loaded model recorded requirements this environment does not satisfy (``strict_env=False``)."""
