"""What to serve: deployment.yaml files and single-model deployments, read into checked specs.

Every mistake is one InvalidInput line that names the file (or the model URI) and the field.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from slipway.errors import InvalidInput
from slipway.predlog._layout import check_name
from slipway.serving._spec import DeploymentSpec, default_name, load_deployments, parse_duration

if TYPE_CHECKING:
    from pathlib import Path

ISSUE_EXAMPLE = """\
name: churn
model: models:/churn@production
canary:
  model: models:/churn@candidate
  weight: 0.1
  rollback: {max_error_rate: 0.02, max_p95_ms: 150, window: 5m}
shadow: models:/churn@challenger
batching: {max_batch_size: 32, max_latency_ms: 5}
"""


@pytest.fixture
def write(tmp_path: Path):
    def write(text: str | bytes) -> Path:
        path = tmp_path / "deployment.yaml"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    return write


def _error(path: Path) -> str:
    with pytest.raises(InvalidInput) as info:
        load_deployments(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# ---------------------------------------------------------------------- file layouts
class TestLayouts:
    def test_one_mapping_is_one_deployment_with_the_defaults(self, write) -> None:
        (spec,) = load_deployments(write("name: churn\nmodel: models:/churn@production\n"))
        assert spec.name == "churn"
        assert spec.model == "models:/churn@production"
        assert spec.canary is None
        assert spec.shadow is None
        assert spec.ab is None
        assert spec.batching.max_batch_size == 64
        assert spec.batching.max_latency_ms == 5.0
        assert spec.timeout == 30.0
        assert spec.extra_columns == "drop"

    def test_a_list_a_deployments_key_and_several_documents_are_the_same_thing(self, write) -> None:
        texts = [
            "- name: a\n  model: m1\n- name: b\n  model: m2\n",
            "deployments:\n  - name: a\n    model: m1\n  - name: b\n    model: m2\n",
            "name: a\nmodel: m1\n---\nname: b\nmodel: m2\n",
            "---\nname: a\nmodel: m1\n---\n---\n- name: b\n  model: m2\n",  # empty documents are skipped
        ]
        for text in texts:
            specs = load_deployments(write(text))
            assert [(s.name, s.model) for s in specs] == [("a", "m1"), ("b", "m2")], text

    def test_a_deployments_key_may_hold_one_mapping(self, write) -> None:
        (spec,) = load_deployments(write("deployments:\n  name: a\n  model: m\n"))
        assert spec.name == "a"

    def test_the_issue_example(self, write) -> None:
        (spec,) = load_deployments(write(ISSUE_EXAMPLE))
        assert spec.name == "churn"
        assert spec.model == "models:/churn@production"
        assert spec.canary is not None
        assert spec.canary.model == "models:/churn@candidate"
        assert spec.canary.weight == 0.1
        rollback = spec.canary.rollback
        assert rollback is not None
        assert rollback.max_error_rate == 0.02
        assert rollback.max_p95_ms == 150
        assert rollback.window == 300.0
        assert rollback.min_requests == 20
        assert spec.shadow == "models:/churn@challenger"
        assert spec.batching.max_batch_size == 32
        assert spec.batching.max_latency_ms == 5

    def test_ab_with_a_header_key_and_weighted_arms(self, write) -> None:
        text = """\
name: pricing
ab:
  key: header:X-User-Id
  arms:
    a: {model: models:/pricing@champion, weight: 3}
    b: {model: models:/pricing@challenger}
"""
        (spec,) = load_deployments(write(text))
        assert spec.model is None
        assert spec.ab is not None
        assert spec.ab.key == "header:x-user-id"  # HTTP header names are case-insensitive
        assert {k: (a.model, a.weight) for k, a in spec.ab.arms.items()} == {
            "a": ("models:/pricing@champion", 3.0),
            "b": ("models:/pricing@challenger", 1.0),
        }

    def test_ab_with_a_field_key_keeps_the_input_name_as_written(self, write) -> None:
        text = "name: p\nab:\n  key: field:UserId\n  arms: {x: {model: m1}, y: {model: m2}}\n"
        (spec,) = load_deployments(write(text))
        assert spec.ab is not None
        assert spec.ab.key == "field:UserId"

    def test_a_spec_survives_the_trip_to_the_worker_processes(self, write) -> None:
        """The parent hands specs to its workers as JSON (model_dump) and they validate them again."""
        for text in (
            ISSUE_EXAMPLE,
            "name: p\nab:\n  key: header:X-U\n  arms: {x: {model: a}, y: {model: b}}\n",
        ):
            (spec,) = load_deployments(write(text))
            again = DeploymentSpec.model_validate(json.loads(json.dumps(spec.model_dump())))
            assert again == spec

    def test_yaml_anchors_and_merge_keys_work(self, write) -> None:
        text = """\
- &base
  name: a
  model: m1
  timeout: 10s
- <<: *base
  name: b
"""
        a, b = load_deployments(write(text))
        assert (b.name, b.model, b.timeout) == ("b", "m1", 10.0)
        assert a.name == "a"


# ---------------------------------------------------------------------- durations
class TestDurations:
    @pytest.mark.parametrize(
        ("value", "seconds"),
        [
            (90, 90.0),
            (1.5, 1.5),
            ("90", 90.0),
            ("90s", 90.0),
            ("5m", 300.0),
            ("250ms", 0.25),
            ("1h", 3600.0),
            ("1.5h", 5400.0),
            (" 5 m ", 300.0),
        ],
    )
    def test_numbers_are_seconds_and_units_are_ms_s_m_h(self, value: object, seconds: float) -> None:
        assert parse_duration(value) == seconds

    @pytest.mark.parametrize(
        ("value", "says"),
        [
            (0, "positive"),
            ("0s", "positive"),
            (-1, "positive"),
            (float("nan"), "finite"),
            (float("inf"), "finite"),
            ("-5s", "such as"),
            ("5d", "such as"),
            ("5M", "such as"),
            ("1e3", "such as"),
            ("soon", "such as"),
            ("", "such as"),
            (None, "such as"),
            (True, "such as"),
            ([5], "such as"),
        ],
    )
    def test_bad_durations_name_the_field(self, value: object, says: str) -> None:
        with pytest.raises(InvalidInput, match=r"^canary\.rollback\.window: ") as info:
            parse_duration(value, where="canary.rollback.window")
        assert says in str(info.value)

    @pytest.mark.parametrize(
        ("text", "field"),
        [
            ("timeout: -1", "timeout"),
            ("timeout: .inf", "timeout"),
            ("poll_interval: abc", "poll_interval"),
            ("canary: {model: b, rollback: {window: soon}}", "canary.rollback.window"),
        ],
    )
    def test_a_bad_duration_in_a_file_names_the_field_once(self, write, text: str, field: str) -> None:
        message = _error(write(f"name: a\nmodel: m\n{text}\n"))
        assert f"deployment 1 (a): {field}: expected" in message
        assert "duration:" not in message  # not "timeout: duration: …"

    def test_durations_in_a_file(self, write) -> None:
        text = (
            "name: a\nmodel: m\ntimeout: 250ms\npoll_interval: 1h\n"
            "canary: {model: b, rollback: {window: 90}}\n"
        )
        (spec,) = load_deployments(write(text))
        assert spec.timeout == 0.25
        assert spec.poll_interval == 3600.0
        assert spec.canary is not None
        assert spec.canary.rollback is not None
        assert spec.canary.rollback.window == 90.0


# ---------------------------------------------------------------------- errors
class TestErrors:
    @pytest.mark.parametrize(
        ("text", "names"),
        [
            ("name: a\nmodel: m\nbatching: {max_batch_sise: 8}\n", "batching.max_batch_sise: unknown key"),
            ("name: a\nmodel: m\nreplicas: 2\n", "replicas: unknown key"),
            ("name: a\nmodel: m\ncanary: {model: b, weight: -0.1}\n", "canary.weight"),
            ("name: a\nmodel: m\ncanary: {model: b, weight: 1.5}\n", "canary.weight"),
            ("name: a\nmodel: m\ncanary: {model: b, weight: true}\n", "canary.weight"),
            ("name: a\nmodel: m\ncanary: {weight: 0.5}\n", "canary.model"),
            ("name: a\nmodel: m\ncanary: {model: b, rollback: {max_error_rate: 2}}\n", "max_error_rate"),
            ("name: a\nmodel: m\ncanary: {model: b, rollback: {max_p95_ms: 0}}\n", "max_p95_ms"),
            ("name: a\nmodel: m\ncanary: 3\n", "canary: expected a mapping"),
            ("name: a\nmodel: m\nbatching: {max_batch_size: 0}\n", "batching.max_batch_size"),
            ("name: a\nmodel: m\nbatching: {max_batch_size: '8'}\n", "batching.max_batch_size"),
            ("name: a\nmodel: m\nbatching: {max_batch_size: 8.5}\n", "batching.max_batch_size"),
            ("name: a\nmodel: m\nbatching: {max_latency_ms: -1}\n", "batching.max_latency_ms"),
            ("name: a\nmodel: m\nmax_queue: 0\n", "max_queue"),
            ("name: a\nmodel: m\nextra_columns: keep\n", "extra_columns"),
            ("name: a\nmodel: m\nlog_predictions: 'yes'\n", "log_predictions"),
            ("name: a\nmodel: ''\n", "model"),
            ("name: a\nmodel: 3\n", "model"),
            ("name: a\nmodel: m\nshadow: ''\n", "shadow"),
            ("model: m\n", "name: Field required"),
            ("name: 'has space'\nmodel: m\n", "name: deployment name 'has space': expected 1-128 letters"),
            ("name: a\n", "expected either 'model' or 'ab'"),
            (
                "name: a\nmodel: m\nab: {key: 'header:X', arms: {x: {model: m1}, y: {model: m2}}}\n",
                "expected either 'model' or 'ab'",
            ),
            (
                "name: a\ncanary: {model: b}\nab: {key: 'header:X', arms: {x: {model: m}, y: {model: n}}}",
                "'canary' and 'ab' cannot be combined",
            ),
            ("name: a\nab: {key: 'cookie:X', arms: {x: {model: m1}, y: {model: m2}}}\n", "ab.key"),
            ("name: a\nab: {key: 'header:', arms: {x: {model: m1}, y: {model: m2}}}\n", "ab.key"),
            ("name: a\nab: {key: 'field:u', arms: {x: {model: m1}}}\n", "ab.arms: expected at least two"),
            (
                "name: a\nab: {key: 'field:u', arms: {x: {model: m1, weight: 0}, y: {model: m2}}}\n",
                "ab.arms.x.weight",
            ),
            (
                "name: a\nab: {key: 'field:u', arms: {canary: {model: m1}, y: {model: m2}}}\n",
                "arm name 'canary'",
            ),
            ("name: a\nab: {key: 'field:u', arms: {x: {model: m1}, y: {}}}\n", "ab.arms.y.model"),
        ],
    )
    def test_every_mistake_names_the_file_and_the_field(self, write, text: str, names: str) -> None:
        message = _error(write(text))
        assert names in message
        assert "deployment 1" in message

    def test_the_deployment_is_named_by_position_and_name(self, write) -> None:
        message = _error(write("- name: ok\n  model: m\n- name: churn\n  model: m\n  timeout: x\n"))
        assert "deployment 2 (churn): timeout:" in message

    def test_duplicate_names(self, write) -> None:
        message = _error(write("- name: a\n  model: m1\n- name: a\n  model: m2\n"))
        assert "deployment name 'a' appears twice" in message

    def test_a_key_given_twice_is_refused_with_its_line(self, write) -> None:
        """PyYAML would keep the last value; the second `model:` is more likely a mistake."""
        message = _error(write("name: a\nmodel: m1\ntimeout: 5s\nmodel: m2\n"))
        assert "line 4" in message
        assert "'model' appears twice" in message

    @pytest.mark.parametrize(
        ("text", "line", "problem"),
        [
            ("name: a\nmodel: [m\n", 3, "expected ','"),
            ("name: a\n  model: m\n", 2, "mapping values are not allowed"),
            ("name: a\n\tmodel: m\n", 2, "'\\t'"),
        ],
    )
    def test_bad_yaml_names_its_line(self, write, text: str, line: int, problem: str) -> None:
        message = _error(write(text))
        assert f"not valid YAML at line {line}" in message
        assert problem in message

    @pytest.mark.parametrize(
        ("text", "names"),
        [
            ("", "no deployment in it"),
            ("# only a comment\n", "no deployment in it"),
            ("deployments: []\n", "no deployment in it"),
            ("deployments:\n", "deployments: expected a list of deployments, got nothing"),
            ("deployments: 3\n", "deployments: expected a list of deployments, got int"),
            (
                "deployments: []\nname: a\n",
                "deployments: expected it alone at the top level, got also 'name'",
            ),
            ("just words\n", "deployment 1: deployment: expected a mapping of keys to values, got a string"),
            ("- name: a\n  model: m\n- 3\n", "deployment 2: deployment: expected a mapping"),
            (
                "- - name: a\n    model: m\n",
                "deployment 1: deployment: expected a mapping of keys to values, got a list",
            ),
        ],
    )
    def test_the_top_level_shape_is_checked(self, write, text: str, names: str) -> None:
        assert names in _error(write(text))

    def test_a_missing_file(self, tmp_path: Path) -> None:
        assert "no such deployment file" in _error(tmp_path / "nope.yaml")

    def test_a_folder(self, tmp_path: Path) -> None:
        assert "cannot read it" in _error(tmp_path)

    def test_a_file_that_is_not_utf8(self, write) -> None:
        assert "not UTF-8 text" in _error(write(b"name: \xff\xfe\n"))


# ---------------------------------------------------------------------- one model
class TestSingle:
    def test_named_after_the_model(self) -> None:
        spec = DeploymentSpec.single("models:/churn@production")
        assert spec.name == "churn"
        assert spec.model == "models:/churn@production"

    def test_a_name_and_options(self) -> None:
        spec = DeploymentSpec.single(
            "models:/churn/3", name="c2", batching={"max_batch_size": 8}, extra_columns="reject"
        )
        assert (spec.name, spec.batching.max_batch_size, spec.extra_columns) == ("c2", 8, "reject")

    def test_errors_name_the_model_uri_and_the_field(self) -> None:
        with pytest.raises(InvalidInput, match=r"^model models:/churn@production: timeout: expected"):
            DeploymentSpec.single("models:/churn@production", timeout="zz")
        bad_name = r"^model m: name: deployment name 'no spaces please': expected 1-128 letters"
        with pytest.raises(InvalidInput, match=bad_name):
            DeploymentSpec.single("m", name="no spaces please")
        with pytest.raises(InvalidInput, match=r"^model m: batching\.max_batch_sise: unknown key$"):
            DeploymentSpec.single("m", batching={"max_batch_sise": 8})


class TestNames:
    """One name rule (slipway.core.validate_deployment_name) for the file, the server and the log."""

    @pytest.mark.parametrize("name", ["churn\n", "churn\r", "\nchurn", "churn\x00"])
    def test_a_control_character_anywhere_is_refused(self, name: str) -> None:
        with pytest.raises(InvalidInput, match=r"^model m: name: deployment name .*: expected 1-128 letters"):
            DeploymentSpec.single("m", name=name)

    def test_a_trailing_newline_in_the_file_is_refused(self, write) -> None:
        message = _error(write('name: "churn\\n"\nmodel: m\n'))
        assert "name: deployment name 'churn\\n': expected 1-128 letters" in message

    def test_a_trailing_newline_in_an_arm_name_is_refused(self, write) -> None:
        text = 'name: a\nab: {key: "field:u", arms: {"x\\n": {model: m1}, y: {model: m2}}}\n'
        assert "ab.arms: arm name 'x\\n': expected 1-128 letters" in _error(write(text))

    def test_a_folder_name_with_a_newline_is_no_default_name(self) -> None:
        assert default_name("models:/churn\n@production") == "model"
        assert default_name("runs:/0123abcd/churn\n") == "model"

    @given(st.one_of(st.from_regex(r"[A-Za-z0-9_.\-\n ]{0,130}", fullmatch=True), st.text(max_size=130)))
    def test_the_spec_and_the_prediction_log_agree_on_every_name(self, name: str) -> None:
        try:
            DeploymentSpec.model_validate({"name": name, "model": "m"})
            spec_ok = True
        except ValidationError:
            spec_ok = False
        try:
            check_name("deployment", name)
            log_ok = True
        except InvalidInput:
            log_ok = False
        assert spec_ok == log_ok


class TestDefaultName:
    @pytest.mark.parametrize(
        ("uri", "name"),
        [
            ("models:/churn@production", "churn"),
            ("models:/churn/3", "churn"),
            ("models:/churn", "churn"),
            ("models:/My.Model_1@x", "My.Model_1"),
            ("runs:/0123abcd/model", "model"),
            ("runs:/0123abcd/classifier", "classifier"),
            ("runs:/0123abcd/nested/ranker/", "ranker"),
            ("runs:/0123abcd", "model"),
            # not deployment names: a fallback rather than a name the server refuses
            ("models:/", "model"),
            ("models:/@production", "model"),
            ("runs:/0123abcd/my model", "model"),
        ],
    )
    def test_registry_and_run_uris(self, uri: str, name: str) -> None:
        assert default_name(uri) == name

    def test_folders(self, tmp_path: Path) -> None:
        folder = tmp_path / "iris-v2"
        folder.mkdir()
        assert default_name(str(folder)) == "iris-v2"
        assert default_name(str(folder) + "/") == "iris-v2"
        assert default_name(f"file://{folder}") == "iris-v2"
        assert default_name("./iris-v2") == "iris-v2"  # relative to the working folder (tmp_path)
        assert default_name(".") == tmp_path.name
        assert default_name(str(tmp_path / "has space")) == "model"
