"""Pinned requirements from declared distributions and pickled modules; the environment check."""

from __future__ import annotations

import importlib.metadata
import pickle

import pytest

from slipway.models import Mismatch, check_environment
from slipway.models._pickling import modules_in_pickle
from slipway.models._requirements import distributions_for_modules, installed_version, pin


def test_pin_uses_installed_versions_and_keeps_given_specifiers() -> None:
    numpy = importlib.metadata.version("numpy")
    assert pin(["NumPy", "scikit_learn>=1.0", "not-installed-slipway-test"]) == [
        "not-installed-slipway-test",
        f"numpy=={numpy}",
        "scikit-learn>=1.0",
    ]


def test_modules_map_to_distributions_skipping_the_standard_library() -> None:
    dists, unknown = distributions_for_modules(
        ["sklearn.linear_model", "numpy", "collections", "json", "yaml"]
    )
    assert dists == {"scikit-learn", "numpy", "pyyaml"}
    assert unknown == set()
    _, unknown = distributions_for_modules(["surely_not_a_module_here"])
    assert unknown == {"surely_not_a_module_here"}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_the_modules_a_pickle_imports_are_read_from_its_bytes(protocol: int) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    model = Pipeline([("s", StandardScaler()), ("m", LogisticRegression())]).fit([[0.0], [1.0]], [0, 1])
    modules = modules_in_pickle(pickle.dumps(model, protocol=protocol))
    assert {"sklearn.pipeline", "sklearn.preprocessing._data", "sklearn.linear_model._logistic"} <= modules
    assert any(m.startswith("numpy") for m in modules)


def test_matching_environment_has_no_mismatch() -> None:
    numpy = importlib.metadata.version("numpy")
    assert check_environment([f"numpy=={numpy}", "pandas", "scipy>=0.1"]) == []


def test_every_mismatch_is_named_with_both_versions() -> None:
    found = check_environment(
        ["scikit-learn==1.0.0", "numpy==2.0.0", "ghost==1.2", "# comment", "tool>=3"],
        python_version="3.9.1",
        installed={"scikit-learn": "1.5.2", "numpy": "2.0.0", "ghost": None, "tool": None},
        current_python="3.11.7",
    )
    assert found == [
        Mismatch(package="python", recorded="3.9.1", installed="3.11.7"),
        Mismatch(package="scikit-learn", recorded="1.0.0", installed="1.5.2"),
        Mismatch(package="ghost", recorded="1.2", installed=None),
        Mismatch(package="tool", recorded=">=3", installed=None),
    ]
    assert [str(m) for m in found[:3]] == [
        "python 3.9.1 recorded, 3.11.7 installed",
        "scikit-learn 1.0.0 recorded, 1.5.2 installed",
        "ghost 1.2 recorded, not installed",
    ]


def test_python_patch_releases_do_not_count() -> None:
    assert check_environment([], python_version="3.11.2", current_python="3.11.9") == []


def test_a_local_build_is_pinned_by_its_public_version_and_matches_it() -> None:
    # torch installs as 2.13.0+cpu; no index serves that name, and PEP 440's ==2.13.0 matches it.
    assert check_environment(["torch==2.13.0"], installed={"torch": "2.13.0+cpu"}) == []
    assert check_environment(["torch==2.13.0+cpu"], installed={"torch": "2.13.0+cpu"}) == []
    assert check_environment(["torch==2.13.0+cu121"], installed={"torch": "2.13.0+cpu"}) == [
        Mismatch(package="torch", recorded="2.13.0+cu121", installed="2.13.0+cpu")
    ]
    assert check_environment(["torch==2.12.0"], installed={"torch": "2.13.0+cpu"}) == [
        Mismatch(package="torch", recorded="2.12.0", installed="2.13.0+cpu")
    ]
    torch = installed_version("torch")
    if torch is not None and "+" in torch:
        assert pin(["torch"]) == [f"torch=={torch.partition('+')[0]}"]
