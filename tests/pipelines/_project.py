"""A pipeline project in a test's folder: its files, loading its pipeline, and leaving no trace.

Each test writes ``train.py`` (and the modules it imports) into its own folder and loads the
pipeline as the CLI does (``load_target``), which puts the folder on ``sys.path`` and the modules in
``sys.modules``. Both are restored afterwards, so the next test's ``features.py`` is its own.
"""

from __future__ import annotations

import sys
import textwrap
from typing import TYPE_CHECKING

from slipway import _api
from slipway.pipelines import Pipeline, load_target

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from slipway.core import Run
    from slipway.tracking import TrackingClient

# The example project: load -> featurize -> train -> report, with features.py importing helpers.py.
EXAMPLE_PIPELINE = """
    from pathlib import Path

    import slipway
    from features import build

    @slipway.step
    def load(path: Path):
        return [int(x) for x in path.read_text().split()]

    @slipway.step
    def featurize(rows):
        return build(rows)

    @slipway.step
    def train(features, C: float = 1.0):
        if C < 0:
            raise ValueError(f"C must be positive, got {C}")
        return {"weights": [f * C for f in features]}

    @slipway.step
    def report(model, rows):
        return sum(model["weights"]) + len(rows)

    @slipway.pipeline
    def pipeline(data: Path = Path("data.txt"), C: float = 1.0):
        rows = load(data)
        model = train(featurize(rows), C=C)
        report(model, rows)
"""
EXAMPLE_FEATURES = """
    from helpers import scale

    def build(rows):
        return [scale(r) for r in rows]
"""
EXAMPLE_HELPERS = """
    def scale(x):
        return x * 2
"""


class Project:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def write(self, name: str, code: str) -> Path:
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(code))
        return path

    def write_example(self) -> None:
        self.write("train.py", EXAMPLE_PIPELINE)
        self.write("features.py", EXAMPLE_FEATURES)
        self.write("helpers.py", EXAMPLE_HELPERS)
        self.write("data.txt", "1 2 3\n")

    def load(self, file: str = "train.py", name: str = "pipeline") -> Pipeline:
        """The pipeline, from the file as it is now (a module imported by an earlier load is dropped)."""
        forget_modules_below(self.folder)
        found = load_target(f"{self.folder / file}:{name}")
        assert isinstance(found, Pipeline)
        return found

    @property
    def client(self) -> TrackingClient:
        return _api.client()

    def children(self, run_id: str) -> list[Run]:
        page = self.client.search_runs(filter=f"attributes.parent_run_id = '{run_id}'", max_results=100)
        return sorted(page.items, key=lambda r: r.start_time)


def forget_modules_below(folder: Path) -> None:
    root = str(folder.resolve())
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(root):
            del sys.modules[name]


def isolated_project(folder: Path) -> Iterator[Project]:
    """Body of each test module's ``project`` fixture: fresh API client, sys.path and modules restored."""
    path = list(sys.path)
    _api._reset_for_tests()
    try:
        yield Project(folder)
    finally:
        _api._reset_for_tests()
        forget_modules_below(folder)
        sys.path[:] = path
