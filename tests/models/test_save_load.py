"""save_model and load_model beyond the flavor contract: folders, errors, code, params, plug-ins."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from tests.models._helpers import BROKEN_SOURCE, write_module

from slipway.core import ColumnSpec, ParamSpec, Schema, Signature
from slipway.errors import AlreadyExists, IntegrityViolation, InvalidInput, MissingExtra, NotFound
from slipway.models import FlavorData, SlipwayWarning, _flavor, load_model, read_manifest, save_model
from slipway.testing.flavor_contract import FlavorContract

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def regressor() -> Any:
    from sklearn.linear_model import LinearRegression

    return LinearRegression().fit(pd.DataFrame({"x": [0.0, 1.0, 2.0]}), [0.0, 2.0, 4.0])


def test_a_non_empty_folder_is_never_overwritten(tmp_path: Path, regressor: Any) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "keep.txt").write_text("mine")
    with pytest.raises(AlreadyExists, match="already exists and is not empty"):
        save_model(regressor, tmp_path / "m")
    assert (tmp_path / "m" / "keep.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    save_model(regressor, tmp_path / "empty")
    assert (tmp_path / "empty" / "slipway.yaml").is_file()


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path) -> None:
    class Unpicklable:
        def __init__(self) -> None:
            self.fn = lambda x: x

        def predict(self, data: Any) -> Any:
            return data

    with pytest.raises((AttributeError, TypeError, pickle_error())):
        save_model(Unpicklable(), tmp_path / "m", flavor="pyfunc")
    assert list(tmp_path.iterdir()) == []


def pickle_error() -> type[Exception]:
    import pickle

    return pickle.PicklingError


def test_flavors_are_named_or_detected_with_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(
        MissingExtra,
        match=r"model flavor 'tensorflow' is not available \(known: [a-z, ]*sklearn, [a-z, ]*pyfunc",
    ):
        save_model(object(), tmp_path / "a", flavor="tensorflow")
    with pytest.raises(InvalidInput, match=r"cannot tell which flavor saves a builtins\.object"):
        save_model(object(), tmp_path / "b")


def test_metadata_must_be_json(tmp_path: Path, regressor: Any) -> None:
    with pytest.raises(InvalidInput, match="metadata: expected JSON-compatible"):
        save_model(regressor, tmp_path / "m", metadata={"when": object()})
    save_model(regressor, tmp_path / "n", metadata={"owner": "risk-team", "tags": ["a"]})
    assert read_manifest(tmp_path / "n").metadata == {"owner": "risk-team", "tags": ["a"]}


def test_without_example_there_is_no_signature_and_input_passes_through(
    tmp_path: Path, regressor: Any
) -> None:
    save_model(regressor, tmp_path / "m")
    model = load_model(tmp_path / "m")
    assert model.signature is None
    assert model.input_example is None
    np.testing.assert_allclose(model.predict([{"x": 3.0}]), [6.0])


def test_training_data_gives_the_signature_and_only_its_summary_is_stored(
    tmp_path: Path, regressor: Any
) -> None:
    train = pd.DataFrame({"x": np.linspace(0, 1, 1000)})
    manifest = save_model(regressor, tmp_path / "m", training_data=train)
    assert manifest.signature is not None
    assert manifest.signature.inputs.names == ("x",)
    assert manifest.input_example is None
    assert sorted(manifest.files) == ["model.pkl", "reference.parquet", "requirements.txt"]


def test_a_given_signature_is_used_as_is(tmp_path: Path, regressor: Any) -> None:
    sig = Signature(inputs=Schema(columns=(ColumnSpec(name="x", dtype="float32"),)))
    save_model(regressor, tmp_path / "m", signature=sig, input_example=pd.DataFrame({"x": [1.0]}))
    assert load_model(tmp_path / "m").signature == sig


def test_a_model_that_fails_on_its_own_example_is_not_saved(tmp_path: Path) -> None:
    module = write_module(tmp_path / "src", "broken_model", BROKEN_SOURCE)
    with pytest.raises(InvalidInput, match=r"could not predict on its input example \(ValueError: no\)"):
        save_model(
            module.Broken(),
            tmp_path / "m",
            input_example=pd.DataFrame({"x": [1.0]}),
            code_paths=[tmp_path / "src" / "broken_model.py"],
        )
    assert not (tmp_path / "m").exists()


def test_predict_proba_is_refused_by_name_when_missing(tmp_path: Path, regressor: Any) -> None:
    save_model(regressor, tmp_path / "m", input_example=pd.DataFrame({"x": [1.0]}))
    model = load_model(tmp_path / "m")
    with pytest.raises(InvalidInput, match="has no predict_proba; it offers predict"):
        model.predict_proba(pd.DataFrame({"x": [1.0]}))
    assert "LinearRegression" in repr(model) or "sklearn" in repr(model)


# ---------------------------------------------------------------------- integrity edge cases


def test_symbolic_links_are_refused(tmp_path: Path, regressor: Any) -> None:
    save_model(regressor, tmp_path / "m")
    (tmp_path / "m" / "link").symlink_to("/etc/hostname")
    with pytest.raises(IntegrityViolation, match="'link' is a symbolic link"):
        load_model(tmp_path / "m")


def test_a_planted_pycache_is_refused_and_loading_writes_none(tmp_path: Path) -> None:
    module = write_module(tmp_path / "src", "rules_pycache")
    save_model(module.ChurnRules(0.5), tmp_path / "m", code_paths=[tmp_path / "src" / "rules_pycache.py"])
    load_model(tmp_path / "m")
    assert not list((tmp_path / "m").rglob("__pycache__"))
    (tmp_path / "m" / "code" / "__pycache__").mkdir()
    (tmp_path / "m" / "code" / "__pycache__" / "rules_pycache.cpython-311.pyc").write_bytes(b"\x00")
    with pytest.raises(
        IntegrityViolation, match=r"'code/__pycache__/rules_pycache\.cpython-311\.pyc' is not listed"
    ):
        load_model(tmp_path / "m")


def test_a_manifest_digest_recorded_elsewhere_must_match(tmp_path: Path, regressor: Any) -> None:
    save_model(regressor, tmp_path / "m")
    digest = hashlib.sha256((tmp_path / "m" / "slipway.yaml").read_bytes()).hexdigest()
    load_model(tmp_path / "m", manifest_digest=digest)
    with pytest.raises(IntegrityViolation, match="differs from the one recorded"):
        load_model(tmp_path / "m", manifest_digest="0" * 64)


@pytest.mark.parametrize(
    ("uri", "error", "message"),
    [
        ("models:/churn@production", InvalidInput, r"use slipway.load_model\(\) \(or .*Registry.load\(\)\)"),
        ("models:/churn/3", InvalidInput, r"resolved by the model registry; use slipway.load_model\(\)"),
        ("runs:/abc/model", InvalidInput, "needs the tracking stores"),
        ("no/such/folder", NotFound, "does not exist"),
        ("s3://bucket/model", InvalidInput, "scheme 's3' is not supported"),
    ],
)
def test_unloadable_uris_say_why(uri: str, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        load_model(uri)


def test_a_folder_without_manifest_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="not a slipway model folder"):
        load_model(tmp_path)


def test_a_missing_framework_names_the_extra(
    tmp_path: Path, regressor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    save_model(regressor, tmp_path / "m")
    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn now raises ImportError
    with pytest.raises(MissingExtra, match=r"pip install 'slipway\[sklearn\]'"):
        load_model(tmp_path / "m")


# ---------------------------------------------------------------------- pyfunc specifics

_PARAMS_SOURCE = textwrap.dedent(
    """
    class Thresholded:
        def predict(self, df, params=None):
            t = (params or {}).get("threshold", 0.5)
            return (df["p"].to_numpy() > t).astype("int64")
    """
)


def test_params_are_checked_against_the_signature_and_passed(tmp_path: Path) -> None:
    module = write_module(tmp_path / "src", "thresholded_params", _PARAMS_SOURCE)
    example = pd.DataFrame({"p": [0.2, 0.6, 0.9]})
    sig = Signature(
        inputs=Schema(columns=(ColumnSpec(name="p", dtype="float64"),)),
        params=(ParamSpec(name="threshold", dtype="float64", default=0.5),),
    )
    save_model(
        module.Thresholded(),
        tmp_path / "m",
        signature=sig,
        input_example=example,
        code_paths=[tmp_path / "src" / "thresholded_params.py"],
    )
    model = load_model(tmp_path / "m")
    assert model.predict(example).tolist() == [0, 1, 1]
    assert model.predict(example, params={"threshold": 0.8}).tolist() == [0, 0, 1]
    with pytest.raises(InvalidInput, match=r"params \['treshold'\]: not in the signature"):
        model.predict(example, params={"treshold": 0.8})
    with pytest.raises(InvalidInput, match="param 'threshold': expected float64"):
        model.predict(example, params={"threshold": "high"})


def test_code_outside_code_paths_is_warned_about(tmp_path: Path) -> None:
    module = write_module(tmp_path / "src", "rules_not_shipped")
    with pytest.warns(
        SlipwayWarning, match="imports rules_not_shipped, which no installed distribution provides"
    ):
        save_model(module.ChurnRules(0.5), tmp_path / "m")


def test_a_main_class_needs_cloudpickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cls = type("InMain", (), {"predict": lambda self, d: d, "__module__": "__main__"})
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "cloudpickle" else real(n, *a)
    )
    with pytest.raises(InvalidInput, match=r"defined in __main__.*pass that file in code_paths"):
        save_model(cls(), tmp_path / "m")


def _run(code: str, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_pyfunc_code_travels_with_the_model_to_a_fresh_process(tmp_path: Path) -> None:
    module = write_module(tmp_path / "src", "travelling_rules")
    save_model(
        module.ChurnRules(0.6),
        tmp_path / "m",
        code_paths=[tmp_path / "src" / "travelling_rules.py"],
        input_example=pd.DataFrame({"tenure": [3], "tickets": [9]}),
    )
    (tmp_path / "src" / "travelling_rules.py").unlink()  # only the model's copy remains
    got = _run(
        f"""
        import json, sys
        from slipway.models import load_model
        m = load_model({str(tmp_path / "m")!r})
        print(json.dumps(m.predict([{{"tenure": 3, "tickets": 9}}, {{"tenure": 40, "tickets": 0}}]).tolist()))
        """,
        tmp_path,
    )
    assert json.loads(got) == [1, 0]


def test_a_notebook_class_is_saved_by_value_with_cloudpickle(tmp_path: Path) -> None:
    _run(
        f"""
        from slipway.models import save_model
        class Doubler:
            def predict(self, df):
                return df["x"].to_numpy() * 2
        import pandas as pd
        m = save_model(Doubler(), {str(tmp_path / "m")!r}, input_example=pd.DataFrame({{"x": [1.0]}}))
        print(m.options["serialization"], [r.split("==")[0] for r in m.requirements])
        """,
        tmp_path,
    )
    got = _run(
        f"""
        from slipway.models import load_model
        print(load_model({str(tmp_path / "m")!r}).predict({{"x": [1.5, 2.0]}}).tolist())
        """,
        tmp_path,
    )
    assert got == "[3.0, 4.0]"
    assert "cloudpickle" in " ".join(read_manifest(tmp_path / "m").requirements)


# ---------------------------------------------------------------------- a third-party flavor


@dataclass
class LinearRule:
    """A toy framework's model, stored as JSON (not a pickle)."""

    weights: list[float]

    def score(self, x: np.ndarray) -> Any:
        return x @ np.asarray(self.weights)


class JsonFlavor:
    name = "toyjson"
    extra: str | None = None

    def detect(self, obj: object) -> bool:
        return isinstance(obj, LinearRule)

    def save(self, obj: object, folder: Path) -> FlavorData:
        assert isinstance(obj, LinearRule)
        (folder / "weights.json").write_text(json.dumps(obj.weights))
        return FlavorData(options={"file": "weights.json"}, data=("weights.json",))

    def load(self, folder: Path, options: Any) -> object:
        return LinearRule(json.loads((folder / options["file"]).read_text()))

    def requirements(self, obj: object) -> list[str]:
        return ["numpy"]

    def methods(self, model: Any, options: Any) -> dict[str, Any]:
        return {"predict": model.score}


class _EntryPoint:
    def __init__(self, flavor: Any) -> None:
        self.flavor = flavor

    def load(self) -> Any:
        return self.flavor


class TestThirdPartyFlavor(FlavorContract):
    """A flavor registered through the slipway.flavors entry point passes the same suite."""

    flavor_name = "toyjson"

    @pytest.fixture(autouse=True)
    def _registered(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_flavor, "_entry_points", {"toyjson": _EntryPoint(JsonFlavor())})
        monkeypatch.setattr(_flavor, "_loaded", {})

    @pytest.fixture
    def model(self) -> Any:
        return LinearRule([0.5, -1.0, 2.0])

    @pytest.fixture
    def example(self) -> Any:
        return np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]])

    @pytest.fixture
    def expected(self, model: Any, example: Any) -> Any:
        return model.score(example)


def test_an_estimator_gets_the_container_it_was_fitted_on(tmp_path: Path, regressor: Any) -> None:
    # fitted on a DataFrame, saved with an array example: scikit-learn must not warn about names
    save_model(regressor, tmp_path / "m", input_example=np.array([[1.0], [2.0]]))
    model = load_model(tmp_path / "m")
    assert model.signature is not None
    assert model.signature.inputs.tensor is not None
    np.testing.assert_allclose(model.predict(np.array([[3.0]])), [6.0])


def test_a_loaded_model_predicts_from_many_threads(tmp_path: Path, regressor: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    save_model(regressor, tmp_path / "m", input_example=pd.DataFrame({"x": [1.0]}))
    model = load_model(tmp_path / "m")  # its enforcement is compiled on the first predict
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: model.predict([{"x": float(i)}])[0], range(200)))
    np.testing.assert_allclose(results, [2.0 * i for i in range(200)], atol=1e-9)


def test_flavor_options_are_refused_by_a_flavor_that_takes_none(tmp_path: Path, regressor: Any) -> None:
    with pytest.raises(InvalidInput, match="the sklearn flavor takes no options"):
        save_model(regressor, tmp_path / "m", flavor_options={"init": {}})
    assert not (tmp_path / "m").exists()
