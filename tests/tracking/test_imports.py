"""Tracking imports its heavy libraries inside the functions that need them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = {"pandas", "numpy", "pyarrow", "sklearn", "matplotlib", "sqlalchemy", "fsspec", "typer", "rich"}


def test_importing_tracking_and_the_fluent_api_stays_light() -> None:
    code = "import slipway.tracking, slipway._api, sys; print(' '.join(sys.modules))"
    loaded = {
        m.split(".")[0] for m in subprocess.check_output([sys.executable, "-c", code], text=True).split()
    }
    assert not loaded & HEAVY
