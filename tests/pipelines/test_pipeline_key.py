"""Cache keys: canonical parameters, the key over components, and the phrases `why` explains with."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from slipway.errors import InvalidInput
from slipway.pipelines._key import Components, canonical, explain, package_changes

BASE = Components(
    code={"step": "s1", "_clean": "c1"},
    modules={"features.py": "m1"},
    params={"C": "0.5"},
    inputs={"data": "d1", "rows": "r1"},
    environment={"python": "3.11.7", "lock": "l1"},
    external={"orders": "etag-1"},
    labels={"data": "data.parquet", "rows": "rows (from load)"},
)


def test_canonical_json_sorts_keys_and_reads_numpy_scalars_and_tuples() -> None:
    assert canonical({"b": (1, 2), "a": np.float64(0.5), "c": np.int64(3)}, where="p") == (
        '{"a":0.5,"b":[1,2],"c":3}'
    )
    assert canonical(0.1, where="p") != canonical(0.1000000001, where="p")


@pytest.mark.parametrize("value", [{1: "a"}, {"a": {1, 2}}, b"bytes"])
def test_canonical_refuses_what_is_not_json(value: object) -> None:
    with pytest.raises(InvalidInput, match=r"^step s: parameter 'p'"):
        canonical(value, where="step s: parameter 'p'")


def test_the_key_is_the_content_and_not_the_labels() -> None:
    relabelled = dataclasses.replace(BASE, labels={"data": "elsewhere/data.parquet"})
    moved = dataclasses.replace(BASE, params={"C": "0.6"})

    assert relabelled.key() == BASE.key()
    assert moved.key() != BASE.key()
    assert Components.from_json(BASE.to_json()) == BASE


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"code": {"step": "s2", "_clean": "c1"}}, "the step's code changed"),
        ({"code": {"step": "s1", "_clean": "c2"}}, "_clean changed"),
        ({"modules": {"features.py": "m2"}}, "module features.py changed"),
        ({"modules": {"features.py": "m1", "utils.py": "u1"}}, "module utils.py added"),
        ({"params": {"C": "1.0"}}, "parameter C: 0.5 → 1.0"),
        ({"params": {}}, "parameter C removed"),
        ({"inputs": {"data": "d2", "rows": "r1"}}, "input data.parquet changed"),
        ({"inputs": {"data": "d1", "rows": "r2"}}, "input rows (from load) changed"),
        ({"environment": {"python": "3.12.1", "lock": "l2"}}, "environment changed: Python 3.11.7 → 3.12.1"),
        ({"external": {"orders": "etag-2"}}, "external orders: etag-1 → etag-2"),
    ],
)
def test_each_component_has_its_own_reason(change: dict[str, dict[str, str]], reason: str) -> None:
    assert explain(BASE, dataclasses.replace(BASE, **change)) == [reason]


def test_a_changed_lock_names_the_packages_that_moved() -> None:
    new = dataclasses.replace(BASE, environment={"python": "3.11.7", "lock": "l2"})
    old_lock = {"scikit-learn": "1.5.0", "numpy": "2.0.0", "numba": "0.60.0", "a": "1", "b": "1"}
    new_lock = {"scikit-learn": "1.5.1", "numpy": "2.0.0", "polars": "1.0", "a": "2", "b": "2"}

    changes = package_changes(old_lock, new_lock)

    assert changes == ["a 1 → 2", "b 1 → 2", "-numba 0.60.0", "+polars 1.0", "scikit-learn 1.5.0 → 1.5.1"]
    assert explain(BASE, new, environment=lambda: ["scikit-learn 1.5.0 → 1.5.1"]) == [
        "environment changed: scikit-learn 1.5.0 → 1.5.1"
    ]
    assert explain(BASE, new, environment=lambda: changes) == [
        "environment changed: a 1 → 2, b 1 → 2, -numba 0.60.0 (+2 more)"
    ]
