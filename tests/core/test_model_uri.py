"""Model URIs: runs:/, models:/ and local paths parse into values and print back the same."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slipway.core import LocalModelUri, RegistryModelUri, RunModelUri, parse_model_uri
from slipway.errors import InvalidInput

_run_ids = st.from_regex(r"[A-Za-z0-9_\-]{1,64}", fullmatch=True)
_segments = st.from_regex(r"[A-Za-z0-9_.\-]{1,10}", fullmatch=True).filter(lambda s: s not in (".", ".."))
_paths = st.lists(_segments, min_size=1, max_size=4).map("/".join)
_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,30}", fullmatch=True)
_aliases = st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,20}", fullmatch=True).filter(
    lambda a: not (a[0] in "vV" and a[1:].isdigit() and len(a) > 1)
)
_uris = st.one_of(
    st.builds(lambda r, p: RunModelUri(run_id=r, path=p), _run_ids, _paths),
    st.builds(lambda n, v: RegistryModelUri(name=n, version=v), _names, st.integers(1, 10**6)),
    st.builds(lambda n, a: RegistryModelUri(name=n, alias=a), _names, _aliases),
    st.builds(lambda p: LocalModelUri(path=p), _paths),
)


@given(_uris)
def test_parse_inverts_str(uri: RunModelUri | RegistryModelUri | LocalModelUri) -> None:
    assert parse_model_uri(str(uri)) == uri


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("runs:/0123abcd/model", RunModelUri(run_id="0123abcd", path="model")),
        ("runs:/0123abcd/nested/model/", RunModelUri(run_id="0123abcd", path="nested/model")),
        ("models:/churn/5", RegistryModelUri(name="churn", version=5)),
        ("models:/churn@production", RegistryModelUri(name="churn", alias="production")),
        ("./models/churn", LocalModelUri(path="./models/churn")),
        ("/abs/model", LocalModelUri(path="/abs/model")),
        ("file:///abs/model", LocalModelUri(path="/abs/model")),
        ("C:/models/churn", LocalModelUri(path="C:/models/churn")),
    ],
)
def test_each_form_parses(text: str, parsed: object) -> None:
    assert parse_model_uri(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected runs:/"),
        ("runs:/", "expected runs:/RUN_ID/PATH"),
        ("runs:/abc", "expected runs:/RUN_ID/PATH"),
        ("runs://abc/model", "expected runs:/RUN_ID/PATH"),
        ("runs:/abc/../../etc", "'..'"),
        ("runs:/a b/model", "expected runs:/RUN_ID/PATH"),
        ("models:/churn", "models:/NAME/VERSION"),
        ("models:/churn/0", "whole number from 1"),
        ("models:/churn/01", "whole number from 1"),
        ("models:/churn/latest", "whole number from 1"),
        ("models:/churn@v3", "reads as a version"),
        ("models:/churn@", "alias ''"),
        ("models:/chu/rn@prod", "model name"),
        ("models:/-x/1", "model name"),
        ("s3://bucket/model", "scheme 's3' is not supported"),
        ("file://relative", "file:///absolute/path"),
    ],
)
def test_malformed_uris_say_what_was_expected(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_model_uri(text)


def test_a_registry_uri_has_exactly_one_of_version_and_alias() -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        RegistryModelUri(name="churn", version=1, alias="prod")
