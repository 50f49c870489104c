from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from slipway.config import Settings, load_settings
from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from pathlib import Path


def test_defaults_live_under_dot_slipway_in_the_project(tmp_path: Path) -> None:
    s = Settings.resolve(cwd=tmp_path)
    assert s.home == tmp_path / ".slipway"
    assert s.tracking_uri == f"sqlite:///{tmp_path / '.slipway' / 'slipway.db'}"
    assert s.artifact_uri == str(tmp_path / ".slipway" / "artifacts")


def test_arguments_beat_environment_beat_toml(tmp_path: Path) -> None:
    toml = {"tracking_uri": "sqlite:///from-toml.db", "dead_after": 50}
    env = {"SLIPWAY_TRACKING_URI": "postgresql://db/x", "SLIPWAY_DEAD_AFTER": "70", "PATH": "/bin"}
    s = Settings.resolve(toml=toml, environ=env, cwd=tmp_path)
    assert (s.tracking_uri, s.dead_after) == ("postgresql://db/x", 70.0)
    s = Settings.resolve(args={"tracking_uri": "sqlite:////abs.db"}, toml=toml, environ=env, cwd=tmp_path)
    assert s.tracking_uri == "sqlite:////abs.db"
    assert Settings.resolve(toml=toml, cwd=tmp_path).tracking_uri == f"sqlite:///{tmp_path / 'from-toml.db'}"


def test_a_team_server_also_serves_artifacts_unless_told_otherwise(tmp_path: Path) -> None:
    s = Settings.resolve(
        environ={"SLIPWAY_TRACKING_URI": "http://team:5000", "SLIPWAY_TOKEN": "t"}, cwd=tmp_path
    )
    assert s.artifact_uri == "http://team:5000"
    assert s.token == "t"
    assert "token" not in repr(s)  # a secret never lands in a log line


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"toml": {"colour": "red"}}, "slipway.toml: unknown setting 'colour'"),
        (
            {"environ": {"SLIPWAY_DEAD_AFTER": "soon"}},
            "environment: setting 'dead_after' = 'soon': expected a number",
        ),
        ({"args": {"flush_interval": -1}}, "expected a positive number"),
        (
            {"environ": {"SLIPWAY_DEAD_AFTER": "1"}},
            r"'dead_after' = 1: expected at least 3 x heartbeat_interval",
        ),
    ],
)
def test_bad_settings_name_the_source_and_the_setting(
    source: dict[str, object], message: str, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match=message):
        Settings.resolve(cwd=tmp_path, **source)  # type: ignore[arg-type]


def test_load_settings_reads_slipway_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "slipway.toml").write_text('[slipway]\nartifact_uri = "s3://bucket/prefix"\n')
    monkeypatch.setenv("SLIPWAY_HEARTBEAT_INTERVAL", "2")
    s = load_settings(cwd=tmp_path)
    assert s.artifact_uri == "s3://bucket/prefix"
    assert s.heartbeat_interval == 2.0
    (tmp_path / "slipway.toml").write_text("[slipway\n")
    with pytest.raises(InvalidInput, match=r"slipway\.toml: not valid TOML"):
        load_settings(cwd=tmp_path)


# ---------------------------------------------------------------- predlog_uri


def test_the_prediction_log_lives_beside_the_artifacts_by_default(tmp_path: Path) -> None:
    assert Settings.resolve(cwd=tmp_path).prediction_log_uri() == str(
        tmp_path / ".slipway" / "artifacts" / "predlog"
    )
    s = Settings.resolve(environ={"SLIPWAY_ARTIFACT_URI": "s3://bucket/prefix/"}, cwd=tmp_path)
    assert s.predlog_uri == "s3://bucket/prefix/predlog"


def test_predlog_uri_is_read_from_environment_and_toml(tmp_path: Path) -> None:
    s = Settings.resolve(toml={"predlog_uri": "logs"}, cwd=tmp_path)
    assert s.predlog_uri == str(tmp_path / "logs")  # a relative folder is made absolute now
    s = Settings.resolve(
        toml={"predlog_uri": "logs"}, environ={"SLIPWAY_PREDLOG_URI": "gs://b/predictions"}, cwd=tmp_path
    )
    assert s.prediction_log_uri() == "gs://b/predictions"


def test_with_a_team_server_the_prediction_log_needs_its_own_location(tmp_path: Path) -> None:
    s = Settings.resolve(environ={"SLIPWAY_TRACKING_URI": "http://team:5000"}, cwd=tmp_path)
    assert s.predlog_uri is None
    with pytest.raises(
        InvalidInput, match=r"team server \(http://team:5000\).*set SLIPWAY_PREDLOG_URI"
    ) as info:
        s.prediction_log_uri()
    assert "\n" not in str(info.value)
    env = {"SLIPWAY_TRACKING_URI": "http://team:5000", "SLIPWAY_PREDLOG_URI": "s3://bucket/predictions"}
    assert Settings.resolve(environ=env, cwd=tmp_path).prediction_log_uri() == "s3://bucket/predictions"


def test_a_team_server_cannot_hold_the_prediction_log(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"setting 'predlog_uri' = 'https://team': expected a folder"):
        Settings.resolve(args={"predlog_uri": "https://team"}, cwd=tmp_path)
