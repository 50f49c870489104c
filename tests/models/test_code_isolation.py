"""Two models whose code/ folders hold a module of the same name each run their own code."""

from __future__ import annotations

import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pandas as pd
from tests.models._helpers import write_module

from slipway.models import load_model, save_model

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def _source(value: int) -> str:
    return textwrap.dedent(
        f"""
        import numpy as np


        class Constant:
            def predict(self, df):
                return np.full(len(df), {value}, dtype="int64")
        """
    )


def _save(tmp_path: Path, version: str, value: int) -> Path:
    sys.modules.pop("mymod", None)
    module = write_module(tmp_path / f"src_{version}", "mymod", _source(value))
    folder = tmp_path / version
    save_model(
        module.Constant(),
        folder,
        code_paths=[tmp_path / f"src_{version}" / "mymod.py"],
        input_example=pd.DataFrame({"x": [1]}),
    )
    return folder


def test_champion_and_challenger_each_predict_with_their_own_code(tmp_path: Path) -> None:
    v1 = _save(tmp_path, "v1", 1)
    v2 = _save(tmp_path, "v2", 2)
    try:
        m1 = load_model(v1)
        m2 = load_model(v2)
        assert m1.predict({"x": [5]}).tolist() == [1]
        assert m2.predict({"x": [5]}).tolist() == [2]
        again = load_model(v1)  # loading v1 after v2 runs v1's code again, not v2's
        assert again.predict({"x": [5]}).tolist() == [1]
        assert m2.predict({"x": [5]}).tolist() == [2]
    finally:
        sys.modules.pop("mymod", None)
        for folder in (v1, v2):
            entry = str((folder / "code").resolve())
            while entry in sys.path:
                sys.path.remove(entry)


def test_a_package_and_its_submodules_are_replaced_too(tmp_path: Path) -> None:
    folders = []
    for version, value in (("p1", 10), ("p2", 20)):
        for key in [k for k in sys.modules if k == "mypkg" or k.startswith("mypkg.")]:
            del sys.modules[key]
        pkg = tmp_path / f"src_{version}" / "mypkg"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text("from mypkg.impl import Constant\n")
        (pkg / "impl.py").write_text(_source(value))
        sys.path.insert(0, str(tmp_path / f"src_{version}"))
        try:
            import mypkg  # type: ignore[import-not-found]

            folder = tmp_path / version
            save_model(
                mypkg.Constant(),
                folder,
                code_paths=[pkg],
                input_example=pd.DataFrame({"x": [1]}),
            )
        finally:
            sys.path.remove(str(tmp_path / f"src_{version}"))
        folders.append(folder)
    try:
        got = [load_model(f).predict({"x": [0]}).tolist() for f in folders]
        assert got == [[10], [20]]
    finally:
        for key in [k for k in sys.modules if k == "mypkg" or k.startswith("mypkg.")]:
            del sys.modules[key]
        for folder in folders:
            entry = str((folder / "code").resolve())
            while entry in sys.path:
                sys.path.remove(entry)


def test_concurrent_loads_never_write_bytecode_into_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading
    import time

    from slipway.models import _model

    folder = _save(tmp_path, "v1", 1)
    sys.modules.pop("mymod", None)
    real = _model.get_flavor  # type: ignore[attr-defined]
    seen: list[bool] = []

    class Slow:
        def __init__(self, flavor: Any) -> None:
            self._flavor = flavor

        def load(self, path: Path, options: Any) -> Any:
            seen.append(sys.dont_write_bytecode)
            time.sleep(0.05)
            out = self._flavor.load(path, options)
            time.sleep(0.05)
            seen.append(sys.dont_write_bytecode)  # another load finishing must not switch it back on
            return out

        def __getattr__(self, name: str) -> Any:
            return getattr(self._flavor, name)

    monkeypatch.setattr(_model, "get_flavor", lambda name: Slow(real(name)))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    errors: list[BaseException] = []

    def load() -> None:
        try:
            load_model(folder)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=load) for _ in range(4)]
    try:
        for t in threads:
            t.start()
            time.sleep(0.01)
        for t in threads:
            t.join()
        assert errors == []
        assert seen == [True] * 8
        assert sys.dont_write_bytecode is False
        assert not list((folder / "code").rglob("__pycache__"))
    finally:
        sys.modules.pop("mymod", None)
        entry = str((folder / "code").resolve())
        while entry in sys.path:
            sys.path.remove(entry)
