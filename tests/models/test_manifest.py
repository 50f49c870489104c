"""The manifest: YAML that round-trips, closed by a digest that catches any edit."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.core import ColumnSpec, Schema, Signature, TensorSpec
from slipway.errors import IntegrityViolation, InvalidInput
from slipway.models import DatasetRef, Lineage, Manifest
from slipway.models._manifest import parse_manifest, render_manifest

_text = st.text(st.characters(codec="utf-8"), max_size=20)
_paths = st.lists(
    st.from_regex(r"[A-Za-z0-9_\-]{1,8}(\.[a-z]{1,4})?", fullmatch=True), min_size=1, max_size=3
).map("/".join)
_digests = st.binary(min_size=1, max_size=8).map(lambda b: hashlib.sha256(b).hexdigest())
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_signatures = st.none() | st.builds(
    lambda names, dtype: Signature(
        inputs=Schema(columns=tuple(ColumnSpec(name=n, dtype=dtype) for n in names)),
        outputs=Schema(tensor=TensorSpec(dtype="float64", shape=(-1,))),
    ),
    st.lists(_text.filter(bool), min_size=1, max_size=4, unique=True),
    st.sampled_from(["int64", "float32", "string", "bool"]),
)
_lineages = st.none() | st.builds(
    Lineage,
    run_id=st.none() | st.from_regex(r"[0-9a-f]{32}", fullmatch=True),
    datasets=st.lists(st.builds(DatasetRef, digest=_digests, name=_text, role=_text), max_size=3).map(tuple),
    git_commit=st.none() | st.from_regex(r"[0-9a-f]{40}", fullmatch=True),
)
_manifests = st.builds(
    Manifest,
    flavor=st.sampled_from(["sklearn", "pyfunc", "third_party"]),
    options=st.dictionaries(_text, _json, max_size=4),
    data=st.lists(_paths, max_size=2).map(tuple),
    files=st.dictionaries(_paths, _digests, max_size=4),
    python_version=st.sampled_from(["3.10.14", "3.11.7", "3.12.1"]),
    requirements=st.lists(
        st.from_regex(r"[a-z][a-z0-9\-]{0,10}==[0-9]\.[0-9]{1,2}", fullmatch=True), max_size=4
    ).map(tuple),
    slipway_version=st.just("0.1.0"),
    created_at=st.just("2026-01-01T00:00:00.000Z"),
    signature=_signatures,
    input_example=st.none() | st.just("input_example.json"),
    code=st.none() | st.just("code"),
    lineage=_lineages,
    metadata=st.dictionaries(_text, _json, max_size=3),
)


@given(_manifests)
def test_a_manifest_round_trips_through_its_bytes(manifest: Manifest) -> None:
    assert parse_manifest(render_manifest(manifest)) == manifest


def _one() -> Manifest:
    return Manifest(
        flavor="sklearn",
        options={"file": "model.pkl"},
        data=("model.pkl",),
        files={"model.pkl": hashlib.sha256(b"m").hexdigest()},
        python_version="3.11.7",
        requirements=("scikit-learn==1.5.0",),
        slipway_version="0.1.0",
        created_at="2026-01-01T00:00:00.000Z",
    )


def test_any_edit_is_an_integrity_violation() -> None:
    data = render_manifest(_one())
    with pytest.raises(IntegrityViolation, match="was changed after it was written"):
        parse_manifest(data.replace(b"scikit-learn==1.5.0", b"scikit-learn==1.6.0"))
    with pytest.raises(IntegrityViolation, match="its last line must be 'manifest_digest"):
        parse_manifest(data.rsplit(b"manifest_digest", 1)[0])


def test_a_newer_format_is_refused_with_what_to_do() -> None:
    data = render_manifest(replace(_one(), format_version=99))
    with pytest.raises(
        InvalidInput, match=r"format_version 99 was written by a newer slipway .* upgrade slipway"
    ):
        parse_manifest(data)


@pytest.mark.parametrize("bad", ["../outside.pkl", "/etc/passwd", "a/./b"])
def test_file_names_cannot_leave_the_folder(bad: str) -> None:
    data = render_manifest(replace(_one(), files={bad: hashlib.sha256(b"x").hexdigest()}))
    with pytest.raises(InvalidInput, match=re.escape(repr(bad))):
        parse_manifest(data)


def test_the_manifest_is_yaml_a_person_can_read() -> None:
    text = render_manifest(_one()).decode()
    assert text.startswith("format_version: 1\nflavor:\n  name: sklearn\n")
    assert "- scikit-learn==1.5.0" in text
