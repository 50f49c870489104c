"""The conformance suite every model flavor must pass (STYLE §10), run with the real framework.

Subclass :class:`FlavorContract` in a ``Test…`` class and provide three fixtures:

- ``model``: a fitted model of the flavor;
- ``example``: input it accepts (a DataFrame or an ndarray of a few rows);
- ``expected``: what the model itself returns for ``example``.

Optionally override ``save_kwargs`` (extra arguments for ``save_model``, e.g. ``code_paths``), set
``flavor_name`` to check detection, and override ``assert_same`` for a tolerance::

    class TestMyFlavor(FlavorContract):
        flavor_name = "myflavor"

        @pytest.fixture
        def model(self):
            return train_something()

        @pytest.fixture
        def example(self):
            return make_rows()

        @pytest.fixture
        def expected(self, model, example):
            return model.predict(example)
"""

from __future__ import annotations

import importlib.metadata
import pickle
import re
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest

from slipway.errors import EnvironmentMismatch, IntegrityViolation, InvalidInput
from slipway.models import (
    MANIFEST_FILE,
    EnvironmentMismatchWarning,
    Model,
    detect_flavor,
    infer_schema,
    load_model,
    read_manifest,
    save_model,
)
from slipway.models._manifest import write_manifest
from slipway.models._requirements import normalize, public_version

__all__ = ["FlavorContract"]


class _Touch:
    """Unpickling this creates a file: proof of whether a pickle was ever loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (Path.touch, (self.marker,))


class FlavorContract:
    """Save, load, verify and predict: what every flavor guarantees."""

    flavor_name: ClassVar[str | None] = None

    @pytest.fixture
    def save_kwargs(self) -> dict[str, Any]:
        return {}

    def assert_same(self, actual: Any, expected: Any) -> None:
        import numpy as np
        import pandas as pd

        if isinstance(expected, pd.DataFrame):
            pd.testing.assert_frame_equal(actual, expected, check_dtype=False)
            return
        a, e = np.asarray(actual), np.asarray(expected)
        assert a.shape == e.shape
        if e.dtype.kind in "fc":
            np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-9)
        else:
            np.testing.assert_array_equal(a, e)

    @pytest.fixture
    def saved(self, model: Any, example: Any, save_kwargs: dict[str, Any], tmp_path: Path) -> Path:
        folder = tmp_path / "model"
        save_model(model, folder, input_example=example, **save_kwargs)
        return folder

    @pytest.fixture
    def loaded(self, saved: Path) -> Model:
        return load_model(saved)

    # ------------------------------------------------------------------ round trip
    def test_flavor_is_detected(self, model: Any) -> None:
        if self.flavor_name is not None:
            assert detect_flavor(model).name == self.flavor_name

    def test_round_trip_gives_the_same_predictions(self, loaded: Model, example: Any, expected: Any) -> None:
        self.assert_same(loaded.predict(example), expected)

    def test_signature_is_inferred_from_the_example(self, loaded: Model, example: Any) -> None:
        import pandas as pd

        sig = loaded.signature
        assert sig is not None
        assert sig.outputs is not None
        if isinstance(example, pd.DataFrame):
            assert sig.inputs.names == tuple(str(c) for c in example.columns)
        else:
            assert sig.inputs.tensor is not None
            assert sig.inputs.tensor.shape == (-1, *example.shape[1:])

    def test_input_example_round_trips(self, loaded: Model, example: Any) -> None:
        import numpy as np
        import pandas as pd

        got = loaded.input_example
        if isinstance(example, pd.DataFrame):
            # the same values, and the same types as the signature sees them (a category reads
            # back as strings: the signature has no category type)
            assert infer_schema(got) == infer_schema(example)
            assert list(got.columns) == list(example.columns)
            for column in example.columns:
                assert got[column].tolist() == example[column].tolist(), column
        else:
            np.testing.assert_array_equal(got, example)
            assert got.dtype == example.dtype

    def test_predict_on_dataframe_ndarray_and_records_agree(
        self, loaded: Model, example: Any, expected: Any
    ) -> None:
        import pandas as pd

        if isinstance(example, pd.DataFrame):
            forms = [example, example.to_numpy(), example.to_dict("records")]
        else:
            forms = [example, example.tolist(), pd.DataFrame(example.reshape(len(example), -1))]
            if example.ndim != 2:
                forms.pop()
        for form in forms:
            self.assert_same(loaded.predict(form), expected)

    def test_predict_proba_is_offered_or_refused_clearly(self, loaded: Model, example: Any) -> None:
        if "predict_proba" in loaded.methods:
            proba = loaded.predict_proba(example)
            assert len(proba) == len(example)
        else:
            with pytest.raises(InvalidInput, match="has no predict_proba"):
                loaded.predict_proba(example)

    # ------------------------------------------------------------------ enforcement
    def test_a_missing_column_or_wrong_shape_is_named(self, loaded: Model, example: Any) -> None:
        import numpy as np
        import pandas as pd

        if isinstance(example, pd.DataFrame):
            first = str(example.columns[0])
            with pytest.raises(InvalidInput, match=re.escape(f"column '{first}' is missing")):
                loaded.predict(example.drop(columns=[example.columns[0]]))
        else:
            wrong = np.zeros((len(example), *[d + 1 for d in example.shape[1:]]), dtype=example.dtype)
            with pytest.raises(InvalidInput, match="expected shape"):
                loaded.predict(wrong)

    def test_extra_columns_are_dropped_or_rejected(
        self, saved: Path, loaded: Model, example: Any, expected: Any
    ) -> None:
        import pandas as pd

        if not isinstance(example, pd.DataFrame):
            pytest.skip("a tensor input has no columns")
        wider = example.assign(__unexpected__=1.0)
        self.assert_same(loaded.predict(wider), expected)
        strict = load_model(saved, extra_columns="reject")
        with pytest.raises(InvalidInput, match="__unexpected__"):
            strict.predict(wider)

    # ------------------------------------------------------------------ integrity
    def test_every_file_is_listed_with_its_digest(self, saved: Path) -> None:
        manifest = read_manifest(saved)
        on_disk = {p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()}
        assert set(manifest.files) == on_disk - {MANIFEST_FILE}
        assert set(manifest.data) <= set(manifest.files)

    def test_a_tampered_file_is_refused_before_it_is_unpickled(self, saved: Path, tmp_path: Path) -> None:
        # The payload is real: loading it elsewhere does create its marker file.
        probe = tmp_path / "probe"
        pickle.loads(pickle.dumps(_Touch(probe)))  # the point of the test
        assert probe.exists()

        marker = tmp_path / "unpickled"
        target = read_manifest(saved).data[0]
        (saved / target).write_bytes(pickle.dumps(_Touch(marker)))
        with pytest.raises(IntegrityViolation, match=re.escape(f"'{target}'")):
            load_model(saved)
        assert not marker.exists()

    def test_an_unlisted_or_missing_file_is_refused(self, saved: Path) -> None:
        (saved / "sneaky.py").write_text("print('hi')\n")
        with pytest.raises(IntegrityViolation, match=r"'sneaky\.py' is not listed"):
            load_model(saved)
        (saved / "sneaky.py").unlink()
        (saved / "requirements.txt").unlink()
        with pytest.raises(IntegrityViolation, match=r"'requirements\.txt' listed in the manifest is mis"):
            load_model(saved)

    def test_an_edited_manifest_is_refused(self, saved: Path) -> None:
        path = saved / MANIFEST_FILE
        path.write_bytes(path.read_bytes().replace(b"python_version: ", b"python_version: 9", 1))
        with pytest.raises(IntegrityViolation, match="was changed after it was written"):
            load_model(saved)

    # ------------------------------------------------------------------ environment
    def test_requirements_are_pinned_to_installed_versions(self, saved: Path, model: Any) -> None:
        manifest = read_manifest(saved)
        assert manifest.requirements
        lines = (saved / "requirements.txt").read_text().split()
        assert lines == list(manifest.requirements)
        for line in manifest.requirements:
            name, _, version = line.partition("==")
            assert version == public_version(importlib.metadata.version(name)), line
        declared = {normalize(n) for n in detect_flavor(model).requirements(model)}
        pinned = {line.partition("==")[0] for line in manifest.requirements}
        assert declared <= pinned

    def test_an_environment_mismatch_names_each_package(self, saved: Path) -> None:
        manifest = read_manifest(saved)
        name, _, version = manifest.requirements[0].partition("==")
        edited = (f"{name}==0.0.1", *manifest.requirements[1:], "no-such-dist-slipway-test==1.0")
        write_manifest(saved, replace(manifest, requirements=edited))

        with pytest.warns(EnvironmentMismatchWarning) as caught:
            model = load_model(saved)
        message = str(caught[0].message)
        assert f"{name} 0.0.1 recorded, {version} installed" in message
        assert "no-such-dist-slipway-test 1.0 recorded, not installed" in message
        assert {m.package for m in model.environment} == {name, "no-such-dist-slipway-test"}
        with pytest.raises(EnvironmentMismatch, match=re.escape(f"{name} 0.0.1 recorded")):
            load_model(saved, strict_env=True)

    def test_a_matching_environment_loads_without_warnings(self, saved: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = load_model(saved)
        assert model.environment == []
