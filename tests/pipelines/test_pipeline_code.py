"""What code a step's key covers: its source, what it calls in its module, local modules transitively."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import pytest
from tests.pipelines._project import Project, isolated_project

from slipway.pipelines._code import CodeScanner

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any

TRAIN = """
    import json
    import slipway
    from pkg.model import fit as fit_model

    THRESHOLD = 0.5

    def _clean(rows):
        return [r for r in rows if r > THRESHOLD]

    @slipway.step
    def prepare(rows):
        return _clean(rows)

    @slipway.step
    def train(rows):
        import pkg.report
        return json.dumps(fit_model(rows))

    @slipway.pipeline
    def pipeline():
        train(prepare([1, 2]))
"""
PACKAGE = {
    "pkg/__init__.py": "",
    "pkg/model.py": "from .linear import solve\n\ndef fit(rows):\n    return solve(rows)\n",
    "pkg/linear.py": "def solve(rows):\n    return sum(rows)\n",
    "pkg/report.py": "TITLE = 'report'\n",
    "pkg/unused.py": "X = 1\n",
}


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield from isolated_project(tmp_path)


def _components(project: Project, step: str) -> tuple[dict[str, str], dict[str, str]]:
    project.load()
    import train  # type: ignore[import-not-found]

    fn: Callable[..., Any] = getattr(train, step).fn
    return CodeScanner(project.folder).components(fn)


def _write_all(project: Project, train: str = TRAIN) -> None:
    project.write("train.py", train)
    for name, code in PACKAGE.items():
        project.write(name, code)


def test_a_step_covers_the_helpers_and_constants_it_uses_in_its_module(project: Project) -> None:
    _write_all(project)

    code, modules = _components(project, "prepare")

    assert set(code) == {"step", "_clean", "THRESHOLD"}
    assert modules == {}


def test_local_modules_are_followed_transitively_and_relative_imports_resolve(project: Project) -> None:
    _write_all(project)

    code, modules = _components(project, "train")

    assert set(code) == {"step"}  # fit_model is an import binding: its module is followed instead
    assert set(modules) == {"pkg/__init__.py", "pkg/model.py", "pkg/linear.py", "pkg/report.py"}


def test_editing_a_neighbour_changes_nothing_and_editing_a_helper_changes_only_its_entry(
    project: Project,
) -> None:
    _write_all(project)
    before = _components(project, "prepare")
    _write_all(project, TRAIN.replace("return json.dumps", "return 'x' + json.dumps"))
    neighbour = _components(project, "prepare")
    _write_all(project, TRAIN.replace("THRESHOLD = 0.5", "THRESHOLD = 0.7"))
    constant = _components(project, "prepare")

    assert neighbour == before
    assert {k for k in before[0] if before[0][k] != constant[0][k]} == {"THRESHOLD"}


def test_a_module_edit_changes_its_digest_and_a_comment_does_not(project: Project) -> None:
    _write_all(project)
    before = _components(project, "train")[1]
    project.write("pkg/linear.py", "# a comment\ndef solve(rows):\n    return sum(rows)  # same\n")
    comment = _components(project, "train")[1]
    project.write("pkg/linear.py", "def solve(rows):\n    return sum(rows) + 1\n")
    edited = _components(project, "train")[1]

    assert comment == before
    assert {k for k in before if before[k] != edited[k]} == {"pkg/linear.py"}


def test_packages_installed_in_a_virtualenv_inside_the_project_are_not_local(project: Project) -> None:
    site = project.folder / "venv" / "lib" / "site-packages"
    project.write("venv/lib/site-packages/vendored.py", "def helper():\n    return 1\n")
    project.write(".hidden/hidden.py", "def helper():\n    return 1\n")
    project.write(
        "train.py",
        """
        import slipway
        import vendored
        import hidden

        @slipway.step
        def use():
            return vendored.helper() + hidden.helper()

        @slipway.pipeline
        def pipeline():
            use()
        """,
    )
    sys.path[:0] = [str(site), str(project.folder / ".hidden")]

    assert _components(project, "use")[1] == {}
