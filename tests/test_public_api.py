"""Each capability exposes one curated namespace; every public name is declared (STYLE §1)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import slipway

PUBLIC_PACKAGES = sorted(
    f"slipway.{info.name}"
    for info in pkgutil.iter_modules(slipway.__path__)
    if info.ispkg and not info.name.startswith("_")
)


def test_the_capabilities_of_the_foundation_exist() -> None:
    assert {
        "slipway.core",
        "slipway.store",
        "slipway.artifacts",
        "slipway.tracking",
        "slipway.server",
    } <= set(PUBLIC_PACKAGES)


@pytest.mark.parametrize("pkg", PUBLIC_PACKAGES)
def test_every_public_name_is_declared(pkg: str) -> None:
    mod = importlib.import_module(pkg)
    # pytest rewrites plugin packages and adds "@py_builtins"-style globals: not public names
    exposed = {n for n in vars(mod) if not n.startswith(("_", "@"))} - {"annotations"}
    submodules = {info.name for info in pkgutil.iter_modules(mod.__path__)}
    assert set(mod.__all__) == exposed - submodules


def test_top_level_names_are_the_fluent_api() -> None:
    import slipway._api

    assert set(slipway.__all__) - {"__version__", "step", "pipeline"} == set(slipway._api.__all__)
    for name in slipway._api.__all__:
        assert callable(getattr(slipway, name)), name
    assert isinstance(slipway.__version__, str)


def test_top_level_names_include_the_pipeline_decorators() -> None:
    import slipway.pipelines

    assert slipway.step is slipway.pipelines.step
    assert slipway.pipeline is slipway.pipelines.pipeline
