"""Artifact paths: normalised, relative, and never a way out of the run's folder."""

from __future__ import annotations

from pathlib import PurePosixPath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.core import validate_artifact_path
from slipway.errors import InvalidInput


@pytest.mark.parametrize(
    ("path", "normalised"),
    [
        ("model.pkl", "model.pkl"),
        ("model/weights.bin", "model/weights.bin"),
        ("./model//weights.bin", "model/weights.bin"),
        ("model/./weights.bin/", "model/weights.bin"),
        ("a..b/..c", "a..b/..c"),  # dots inside a name are only a name
        ("reports/2024-01-01 run #3.html", "reports/2024-01-01 run #3.html"),
    ],
)
def test_relative_paths_are_accepted_and_normalised(path: str, normalised: str) -> None:
    assert validate_artifact_path(path) == normalised


@pytest.mark.parametrize(
    "path",
    [
        "",
        ".",
        "./",
        "..",
        "../secrets",
        "model/../../secrets",
        "model/..",
        "/etc/passwd",
        "//server/share",
        "~/.ssh/id_rsa",
        "./~",
        "./~/x",
        "./C:/x",
        "C:/Windows",
        "c:model",
        "model\\..\\..\\secrets",
        "model\\weights.bin",
        "model\x00.bin",
    ],
)
def test_traversal_absolute_and_odd_paths_are_refused(path: str) -> None:
    with pytest.raises(InvalidInput, match="artifact path"):
        validate_artifact_path(path)


@pytest.mark.parametrize("value", [None, 3, b"model.pkl"])
def test_non_strings_are_refused(value: object) -> None:
    with pytest.raises(InvalidInput):
        validate_artifact_path(value)  # type: ignore[arg-type]


_PARTS = st.sampled_from(["", ".", "..", "a", "b.txt", "~", "C:", "\\", "\x00", "..a", " "])


@given(st.one_of(st.text(), st.lists(_PARTS, max_size=6).map("/".join)))
def test_any_accepted_path_is_relative_without_parent_parts(path: str) -> None:
    try:
        normalised = validate_artifact_path(path)
    except InvalidInput:
        return
    parts = PurePosixPath(normalised).parts

    assert not PurePosixPath(normalised).is_absolute()
    assert parts
    assert ".." not in parts
    assert "." not in parts
    assert "\\" not in normalised
    assert "\x00" not in normalised
    assert not normalised.startswith("~")
    assert validate_artifact_path(normalised) == normalised  # normalising is idempotent


def test_values_have_one_limit_and_no_nul() -> None:
    from slipway.core import MAX_VALUE_LENGTH, validate_value

    assert validate_value("param", "lr", "v" * MAX_VALUE_LENGTH) == "v" * MAX_VALUE_LENGTH
    with pytest.raises(InvalidInput, match=rf"param 'lr': value of {MAX_VALUE_LENGTH + 1} characters"):
        validate_value("param", "lr", "v" * (MAX_VALUE_LENGTH + 1))
    with pytest.raises(InvalidInput, match="NUL"):
        validate_value("tag", "t", "a\x00b")
    with pytest.raises(InvalidInput, match="expected a string value, got int"):
        validate_value("tag", "t", 3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- deployment names
@pytest.mark.parametrize("name", ["churn", "a", "9lives", "churn-v2.1_b", "A" * 128])
def test_deployment_names_are_accepted_as_given(name: str) -> None:
    from slipway.core import validate_deployment_name

    assert validate_deployment_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "churn\n",  # re.match with ^...$ let a trailing newline through
        "\nchurn",
        "churn\r",
        "has space",
        "-churn",
        ".hidden",
        "_x",
        "a/b",
        "../x",
        "deployment=x",
        "A" * 129,
        "chürn",
        None,
        3,
    ],
)
def test_anything_else_is_refused_with_the_kind_in_one_line(name: object) -> None:
    from slipway.core import validate_deployment_name

    with pytest.raises(InvalidInput, match=r"^variant .*: expected 1-128 letters") as info:
        validate_deployment_name(name, kind="variant")
    assert "\n" not in str(info.value)


def test_a_long_refused_name_is_shown_shortened() -> None:
    from slipway.core import validate_deployment_name

    with pytest.raises(InvalidInput) as info:
        validate_deployment_name("x y" * 10_000)
    assert str(info.value).startswith("deployment name 'x yx y")
    assert len(str(info.value)) < 200
