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


def _step_using(name: str, top: str) -> str:
    """train.py with ``top`` at the top level and one step, ``use``, that reads ``name``."""
    return f"""
import slipway

{top}

@slipway.step
def use():
    return {name}

@slipway.pipeline
def pipeline():
    use()
"""


@pytest.mark.parametrize(
    ("name", "before", "after"),
    [
        ("FACTORS", "FACTORS = [1, 2]\nFACTORS.append(3)", "FACTORS = [1, 2]\nFACTORS.append(30)"),
        ("OFFSET", "OFFSET = 10\nOFFSET += 1", "OFFSET = 1000\nOFFSET += 1"),
        ("CONFIG", "CONFIG = {}\nCONFIG['a'] = 1", "CONFIG = {}\nCONFIG['a'] = 2"),
        ("CONFIG", "class CONFIG:\n    a = 1\nCONFIG.a = 2", "class CONFIG:\n    a = 1\nCONFIG.a = 3"),
        (
            "LIMIT",
            "import os\nif os.sep == '/':\n    LIMIT = 1\nelse:\n    LIMIT = 2",
            "import os\nif os.sep == '/':\n    LIMIT = 10\nelse:\n    LIMIT = 2",
        ),
        (
            "LIMIT",
            "import os\nif os.sep == '/':\n    LIMIT = 1",
            "import os\nif os.sep == '\\\\':\n    LIMIT = 1",
        ),
        (
            "RATE",
            "try:\n    RATE = 0.1\nexcept ImportError:\n    RATE = 0.2",
            "try:\n    RATE = 0.1\nexcept ImportError:\n    RATE = 0.3",
        ),
        ("WORDS", "with open(__file__) as f:\n    WORDS = 1", "with open(__file__) as f:\n    WORDS = 2"),
        (
            "TOTAL",
            "TOTAL = 0\nfor i in range(3):\n    TOTAL += i",
            "TOTAL = 0\nfor i in range(4):\n    TOTAL += i",
        ),
    ],
    ids=["method-call", "augmented", "item", "attribute", "if-body", "if-test", "try", "with", "for"],
)
def test_every_top_level_statement_that_binds_or_changes_a_used_name_is_in_its_key(
    project: Project, name: str, before: str, after: str
) -> None:
    project.write("train.py", _step_using(name, before))
    old, _ = _components(project, "use")
    project.write("train.py", _step_using(name, after))
    new, _ = _components(project, "use")

    assert {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)} == {name}


def test_a_statement_that_changes_another_name_leaves_the_key_alone(project: Project) -> None:
    project.write("train.py", _step_using("FACTORS", "FACTORS = [1]\nOTHER = [1]\nOTHER.append(2)"))
    old = _components(project, "use")
    project.write("train.py", _step_using("FACTORS", "FACTORS = [1]\nOTHER = [1]\nOTHER.append(3)"))

    assert _components(project, "use") == old


def test_a_star_import_makes_the_whole_file_and_the_module_it_imports_part_of_the_key(
    project: Project,
) -> None:
    project.write("features.py", "SCALE = 2\n")
    project.write("train.py", _step_using("SCALE", "from features import *"))
    code, modules = _components(project, "use")
    project.write("features.py", "SCALE = 3\n")
    edited = _components(project, "use")[1]

    assert set(modules) == {"train.py", "features.py"}
    assert {k for k in modules if modules[k] != edited[k]} == {"features.py"}
    assert set(code) == {"step"}


@pytest.mark.parametrize(
    "dynamic",
    [
        "globals()['LIMIT'] = 3",
        "exec('LIMIT = 3')",
        "def _set():\n    global LIMIT\n    LIMIT = 3\n\n_set()",
        "import sys\nsetattr(sys.modules[__name__], 'LIMIT', 3)",
    ],
    ids=["globals", "exec", "global", "sys.modules"],
)
def test_a_binding_that_reading_cannot_attribute_makes_the_whole_file_part_of_the_key(
    project: Project, dynamic: str
) -> None:
    project.write("train.py", _step_using("LIMIT", f"LIMIT = 1\n{dynamic}\nUNUSED = 1"))
    before = _components(project, "use")[1]
    project.write("train.py", _step_using("LIMIT", f"LIMIT = 1\n{dynamic}\nUNUSED = 2"))
    after = _components(project, "use")[1]

    assert set(before) == {"train.py"}
    assert before != after
