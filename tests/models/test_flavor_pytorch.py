"""The pytorch flavor: the conformance suite with real (small, CPU) networks, and what is specific to it.

The networks are defined in source written to a temporary folder and imported from there, as a user's
project code would be, so that the tests can show the code travelling with the model.
"""

from __future__ import annotations

import functools
import importlib
import json
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch
from tests.models._helpers import write_module

from slipway.errors import InvalidInput, MissingExtra
from slipway.models import SlipwayWarning, detect_flavor, load_model, read_manifest, save_model
from slipway.testing.flavor_contract import FlavorContract

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from slipway.models import Model

NETS = textwrap.dedent(
    """
    import torch
    from torch import nn


    class TabularNet(nn.Module):
        def __init__(self, n_in, hidden=16, n_out=1):
            super().__init__()
            self.n_in, self.hidden, self.n_out = n_in, hidden, n_out
            self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

        def forward(self, x):
            return self.net(x)


    class Classifier(TabularNet):
        def predict_proba(self, x):
            return torch.softmax(self.forward(x), dim=1)


    class Unstored(nn.Module):
        '''Keeps no attribute named after its constructor argument.'''

        def __init__(self, width):
            super().__init__()
            self.layer = nn.Linear(3, width)

        def forward(self, x):
            return self.layer(x)


    class Normed(nn.Module):
        def __init__(self, n_in):
            super().__init__()
            self.n_in = n_in
            self.net = nn.Sequential(nn.Linear(n_in, 4), nn.BatchNorm1d(4))

        def forward(self, x):
            return self.net(x)


    class Sized(nn.Module):
        '''Reads a value from a tensor while it is built, which PyTorch's meta device cannot do.'''

        def __init__(self, width):
            super().__init__()
            self.width = width
            self.register_buffer("size", torch.tensor(width))
            self.layer = nn.Linear(2, int(self.size.item()))

        def forward(self, x):
            return self.layer(x)


    class Embedder(nn.Module):
        def __init__(self, vocab, dim):
            super().__init__()
            self.vocab, self.dim = vocab, dim
            self.emb = nn.Embedding(vocab, dim)

        def forward(self, ids):
            return self.emb(ids).sum(dim=1)
    """
)


def float32_tolerance(actual: Any, expected: Any) -> None:
    """float32 arithmetic: the same weights on the same rows agree to about 1e-6 relative.

    A different batch composition may change the summation order inside a matrix product, so
    a few ulps (float32's epsilon is 1.2e-7) of tolerance are allowed, not bit equality.
    """
    a, e = np.asarray(actual), np.asarray(expected)
    assert a.shape == e.shape
    np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


@pytest.fixture
def nets(tmp_path: Path) -> Any:
    """The NETS source as a module of the project (not installed), under a name unique to the test."""
    return write_module(tmp_path / "src", f"nets_{tmp_path.name.replace('-', '_')}", NETS)


def standardized(X: np.ndarray) -> np.ndarray:
    out: np.ndarray = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    return out


def train(model: Any, X: np.ndarray, y: Any, loss: Any, steps: int = 40) -> Any:
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    inputs, target = torch.from_numpy(X), torch.as_tensor(y)
    for _ in range(steps):
        optimizer.zero_grad()
        loss(model(inputs), target).backward()
        optimizer.step()
    return model.eval()


@functools.cache
def cancer() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return standardized(X[:, :8]), y


@functools.cache
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    return standardized(X), ((y - y.mean()) / y.std()).astype(np.float32)


def run(model: Any, rows: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        out: np.ndarray = model(torch.tensor(np.asarray(rows, dtype=np.float32))).numpy()
    return out


class TestClassifierOnFrame(FlavorContract):
    """A module with predict_proba, its class found in project code and copied into code/."""

    flavor_name = "pytorch"

    def assert_same(self, actual: Any, expected: Any) -> None:
        float32_tolerance(actual, expected)

    @pytest.fixture
    def model(self, nets: Any) -> Any:
        X, y = cancer()
        torch.manual_seed(0)
        return train(nets.Classifier(8, hidden=12, n_out=2), X, y, torch.nn.CrossEntropyLoss())

    @pytest.fixture
    def example(self) -> Any:
        import pandas as pd

        X, _ = cancer()
        return pd.DataFrame(X[[0, 19, 200, 400]].astype(np.float64), columns=[f"f{i}" for i in range(8)])

    @pytest.fixture
    def expected(self, model: Any, example: pd.DataFrame) -> Any:
        return run(model, example.to_numpy())

    def test_probabilities_come_from_the_modules_predict_proba(
        self, loaded: Model, model: Any, example: pd.DataFrame
    ) -> None:
        with torch.no_grad():
            want = model.predict_proba(torch.tensor(example.to_numpy(dtype=np.float32))).numpy()
        float32_tolerance(loaded.predict_proba(example), want)
        assert loaded.methods == ("predict", "predict_proba")
        assert isinstance(loaded.raw, torch.nn.Module)
        assert not loaded.raw.training

    def test_weights_class_and_arguments_are_recorded_and_the_code_travels(
        self, saved: Path, nets: Any
    ) -> None:
        manifest = read_manifest(saved)
        assert manifest.data == ("state_dict.pt",)
        assert manifest.options["class"] == f"{nets.__name__}:Classifier"
        assert manifest.options["init"] == {"n_in": 8, "hidden": 12, "n_out": 2}
        assert manifest.code == "code"
        assert f"code/{nets.__name__}.py" in manifest.files
        assert any(r.startswith("torch==") and "+" not in r for r in manifest.requirements)
        state = torch.load(saved / "state_dict.pt", weights_only=True)  # tensors only: no pickle of code
        assert set(state) == {"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"}

    def test_loads_in_a_fresh_process_from_the_code_it_carries(
        self, saved: Path, nets: Any, example: pd.DataFrame, expected: Any, tmp_path: Path
    ) -> None:
        source = tmp_path / "src" / f"{nets.__name__}.py"
        source.unlink()  # the project's copy is gone: only the model's code/ can provide the class
        script = textwrap.dedent(
            f"""
            import json, sys
            from slipway.models import load_model
            model = load_model({str(saved)!r})
            rows = json.loads(sys.stdin.read())
            print(json.dumps({{
                "file": sys.modules[{nets.__name__!r}].__file__,
                "predict": model.predict(rows).tolist(),
            }}))
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps(example.to_dict("records")),
            capture_output=True,
            text=True,
            cwd=tmp_path,
            check=True,
        )
        got = json.loads(out.stdout)
        assert got["file"].startswith(str(saved / "code"))
        float32_tolerance(np.array(got["predict"], dtype=np.float32), expected)


class TestRegressorOnArrays(FlavorContract):
    flavor_name = "pytorch"

    def assert_same(self, actual: Any, expected: Any) -> None:
        float32_tolerance(actual, expected)

    @pytest.fixture
    def model(self, nets: Any) -> Any:
        X, y = diabetes()
        torch.manual_seed(0)
        return train(nets.TabularNet(10), X, y[:, None], torch.nn.MSELoss())

    @pytest.fixture
    def save_kwargs(self, nets: Any) -> dict[str, Any]:
        return {"code_paths": [nets.__file__]}  # given explicitly: not copied a second time

    @pytest.fixture
    def example(self) -> Any:
        return diabetes()[0][:5]

    @pytest.fixture
    def expected(self, model: Any, example: np.ndarray) -> Any:
        return run(model, example)

    def test_code_paths_given_are_not_copied_twice(self, saved: Path, nets: Any) -> None:
        assert [f for f in read_manifest(saved).files if f.startswith("code/")] == [
            f"code/{nets.__name__}.py"
        ]


@functools.cache
def exported() -> tuple[Any, Any]:
    """A trained regressor and its ExportedProgram with a dynamic batch (export takes about a second)."""
    X, y = diabetes()
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(10, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    train(net, X, y[:, None], torch.nn.MSELoss())
    program = torch.export.export(
        net, (torch.from_numpy(X[:4]),), dynamic_shapes=({0: torch.export.Dim("batch")},)
    )
    return net, program


class TestExportedProgram(FlavorContract):
    """torch.export: the graph and its weights in one file, no code needed."""

    flavor_name = "pytorch"

    def assert_same(self, actual: Any, expected: Any) -> None:
        float32_tolerance(actual, expected)

    @pytest.fixture
    def model(self) -> Any:
        return exported()[1]

    @pytest.fixture
    def example(self) -> Any:
        return diabetes()[0][:3]

    @pytest.fixture
    def expected(self, example: np.ndarray) -> Any:
        return run(exported()[0], example)

    def test_saved_with_torch_export_and_no_code(self, saved: Path) -> None:
        manifest = read_manifest(saved)
        assert manifest.data == ("model.pt2",)
        assert manifest.options["format"] == "torch.export"
        assert manifest.code is None


# ---------------------------------------------------------------------- constructor arguments


def test_unstored_constructor_arguments_are_asked_for(nets: Any, tmp_path: Path) -> None:
    model = nets.Unstored(5)
    with pytest.raises(InvalidInput, match=r"Unstored has no attribute 'width'.*flavor_options=\{'init'"):
        save_model(model, tmp_path / "a")
    with pytest.raises(
        InvalidInput, match=r"does not rebuild this module: its weights differ at layer\.bias"
    ):
        save_model(model, tmp_path / "b", flavor_options={"init": {"width": 6}})
    save_model(model, tmp_path / "c", flavor_options={"init": {"width": 5}})
    rows = np.ones((2, 3), dtype=np.float32)
    float32_tolerance(load_model(tmp_path / "c").predict(rows), run(model, rows))


def test_a_constructor_that_needs_real_tensors_is_checked_on_the_cpu(nets: Any, tmp_path: Path) -> None:
    model = nets.Sized(3)
    save_model(model, tmp_path / "m")
    rows = np.ones((2, 2), dtype=np.float32)
    float32_tolerance(load_model(tmp_path / "m").predict(rows), run(model, rows))


def test_unknown_flavor_options_are_named(nets: Any, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"unknown flavor_options \['hidden'\]"):
        save_model(nets.TabularNet(3), tmp_path / "m", flavor_options={"hidden": 3})


def test_index_inputs_with_input_dtype_int64(nets: Any, tmp_path: Path) -> None:
    model = nets.Embedder(20, 4).eval()
    ids = np.array([[1, 2, 3], [4, 5, 19]], dtype=np.int64)
    save_model(model, tmp_path / "m", input_example=ids, flavor_options={"input_dtype": "int64"})
    with torch.no_grad():
        want = model(torch.from_numpy(ids)).numpy()
    float32_tolerance(load_model(tmp_path / "m").predict(ids), want)


def test_saving_a_training_module_neither_switches_its_mode_nor_moves_its_statistics(
    nets: Any, tmp_path: Path
) -> None:
    model = nets.Normed(3)
    model.train()
    before = model.net[1].running_mean.clone()
    example = np.arange(12, dtype=np.float32).reshape(4, 3)
    save_model(model, tmp_path / "m", input_example=example)
    assert model.training
    assert torch.equal(model.net[1].running_mean, before)


def test_a_class_in_a_project_package_ships_the_package(tmp_path: Path) -> None:
    name = f"proj_{tmp_path.name.replace('-', '_')}"
    package = tmp_path / "src" / name
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "models" / "__init__.py").write_text("")
    (package / "models" / "nets.py").write_text(NETS)
    sys.path.insert(0, str(tmp_path / "src"))
    try:
        nets = importlib.import_module(f"{name}.models.nets")
    finally:
        sys.path.remove(str(tmp_path / "src"))
    manifest = save_model(nets.TabularNet(2, hidden=3), tmp_path / "m")
    assert manifest.options["class"] == f"{name}.models.nets:TabularNet"
    assert {f"code/{name}/__init__.py", f"code/{name}/models/nets.py"} <= set(manifest.files)


def test_a_class_defined_in_a_function_is_refused(tmp_path: Path) -> None:
    class Local(torch.nn.Module):
        def forward(self, x: Any) -> Any:
            return x

    with pytest.raises(InvalidInput, match="move it into a module"):
        save_model(Local(), tmp_path / "m")


def test_torchscript_is_refused_as_deprecated(nets: Any, tmp_path: Path) -> None:
    with pytest.warns(DeprecationWarning, match="torch.jit.script"):
        scripted = torch.jit.script(nets.TabularNet(2))
    assert detect_flavor(scripted).name == "pytorch"
    with pytest.raises(InvalidInput, match="TorchScript is deprecated"):
        save_model(scripted, tmp_path / "m")


def test_a_class_whose_code_did_not_travel_says_so(
    nets: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from slipway.models.flavors import pytorch

    monkeypatch.setattr(pytorch, "_project_code", lambda module: ())  # as if it were installed
    with pytest.warns(SlipwayWarning, match=rf"imports {nets.__name__}, which no installed distribution"):
        save_model(nets.TabularNet(2), tmp_path / "m")
    monkeypatch.delitem(sys.modules, nets.__name__)
    with pytest.raises(InvalidInput, match=rf"module '{nets.__name__}' is neither in the model's code/ nor"):
        load_model(tmp_path / "m")


def test_a_missing_torch_names_the_extra(nets: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save_model(nets.TabularNet(2), tmp_path / "m")
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtra, match=r"pip install 'slipway\[torch\]'"):
        load_model(tmp_path / "m")
