"""`import slipway` and `slipway --help` must stay light (STYLE §4; MLflow's heavy import is the trap)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = {
    "sqlalchemy",
    "alembic",
    "fsspec",
    "starlette",
    "fastapi",
    "uvicorn",
    "httpx",
    "pydantic",
    "pyarrow",
    "pandas",
    "numpy",
    "scipy",
    "sklearn",
    "torch",
    "matplotlib",
    "xgboost",
    "lightgbm",
    "onnx",
    "onnxruntime",
}


def _loaded_after(code: str) -> set[str]:
    out = subprocess.check_output(
        [sys.executable, "-c", code + "; import sys; print(' '.join(sys.modules))"], text=True
    )
    return {name.split(".")[0] for name in out.split()}


def test_import_slipway_loads_no_heavy_library() -> None:
    assert not _loaded_after("import slipway") & HEAVY


def test_public_names_resolve_without_importing_backends() -> None:
    # Touching the fluent API must not pull in a database driver or dataframe library either.
    assert not _loaded_after("import slipway; slipway.start_run; slipway.log_metric") & HEAVY


def test_finding_a_flavor_imports_no_framework() -> None:
    # Every built-in flavor module is imported and asked to detect the object; none may import its
    # framework to answer (a model of a framework that is not imported cannot exist).
    code = (
        "import slipway.models as m\n"
        "class P:\n"
        "    def predict(self, x): return x\n"
        "assert m.detect_flavor(P()).name == 'pyfunc'\n"
        "[m.get_flavor(n) for n in m.flavor_names()]"
    )
    assert not _loaded_after(code) & HEAVY


@pytest.mark.parametrize("argv", [["--help"], ["runs", "--help"]])
def test_cli_help_loads_no_heavy_library(argv: list[str]) -> None:
    code = "\n".join(
        [
            f"import sys; sys.argv = ['slipway', *{argv!r}]",
            "try:",
            "    from slipway.cli import main; main()",
            "except SystemExit: pass",
        ]
    )
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('MODULES', ' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    loaded = {name.split(".")[0] for name in out.split("MODULES", 1)[1].split()}
    # Typer (0.29) coerces parameters through pydantic itself, so pydantic is allowed here only.
    assert not loaded & (HEAVY - {"pydantic"})
