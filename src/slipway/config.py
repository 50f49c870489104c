"""Settings: declared once here, resolved once at the edges (CLI, Python API, server), passed down.

Precedence: explicit arguments > ``SLIPWAY_*`` environment > ``slipway.toml`` in the project folder >
defaults. Services below the edges receive plain values (a URI, a path), never a Settings object.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.errors import InvalidInput

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Settings", "load_settings"]

_ENV_PREFIX = "SLIPWAY_"
_DEFAULT_HOME = Path(".slipway")
_BEATS_BEFORE_DEAD = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Where metadata and artifacts live, and how runs are watched.

    Attributes:
        home: the embedded default's folder.
        tracking_uri: ``sqlite:///…``, ``postgresql://…`` or ``http(s)://`` (a team server).
        artifact_uri: a folder, an fsspec URL (``s3://bucket/prefix``) or, with a team server, its URL.
        token: bearer token for a team server.
        heartbeat_interval: seconds between a live run's heartbeats.
        dead_after: seconds without a heartbeat after which a RUNNING run is marked DIED.
        flush_interval: seconds between background metric flushes.
        predlog_uri: where the prediction log is written and read (a folder or an fsspec URL);
            ``<artifact_uri>/predlog`` by default, None when the artifacts are on a team server
            (which holds blobs only). Read it through :meth:`prediction_log_uri`.
    """

    home: Path = Path(".slipway")
    tracking_uri: str = "sqlite:///.slipway/slipway.db"
    artifact_uri: str = ".slipway/artifacts"
    token: str | None = field(default=None, repr=False)
    heartbeat_interval: float = 10.0
    dead_after: float = 60.0
    flush_interval: float = 0.5
    predlog_uri: str | None = None

    def prediction_log_uri(self) -> str:
        """Where the prediction log lives; a one-line error when nothing says where.

        .. versionadded:: 0.1
        """
        if self.predlog_uri is None:
            raise InvalidInput(
                f"the prediction log needs a location: the artifacts are on a team server "
                f"({self.artifact_uri}), which holds blobs only; set SLIPWAY_PREDLOG_URI (or predlog_uri "
                "in slipway.toml) to a folder or an object-store URL, e.g. s3://bucket/predictions"
            )
        return self.predlog_uri

    @classmethod
    def resolve(
        cls,
        *,
        args: Mapping[str, object] | None = None,
        environ: Mapping[str, str] | None = None,
        toml: Mapping[str, object] | None = None,
        cwd: Path | None = None,
    ) -> Settings:
        """A pure function of its inputs; relative paths are made absolute against ``cwd``."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        env = {
            k[len(_ENV_PREFIX) :].lower(): v for k, v in (environ or {}).items() if k.startswith(_ENV_PREFIX)
        }
        for source_name, source in (
            ("slipway.toml", toml or {}),
            ("environment", env),
            ("arguments", args or {}),
        ):
            for key, raw in source.items():
                if key not in names:
                    if source_name == "environment":
                        continue  # other SLIPWAY_* variables belong to other tools (tests, benchmarks)
                    raise InvalidInput(
                        f"{source_name}: unknown setting {key!r}; expected one of {', '.join(names)}"
                    )
                if raw is None:
                    continue
                values[key] = _coerce(key, raw, source_name)
        base = cwd or Path(".")
        home = Path(values.get("home", _DEFAULT_HOME))
        if not home.is_absolute():
            home = (base / home).resolve()
        values["home"] = home
        if "tracking_uri" not in values:
            values["tracking_uri"] = f"sqlite:///{home / 'slipway.db'}"
        elif values["tracking_uri"].startswith("sqlite:///") and not values["tracking_uri"].startswith(
            "sqlite:////"
        ):
            rel = values["tracking_uri"][len("sqlite:///") :]
            if rel and rel != ":memory:":
                values["tracking_uri"] = f"sqlite:///{(base / rel).resolve()}"
        if "artifact_uri" not in values:
            uri = values["tracking_uri"]
            values["artifact_uri"] = (
                uri if uri.startswith(("http://", "https://")) else str(home / "artifacts")
            )
        elif "://" not in values["artifact_uri"] and not Path(values["artifact_uri"]).is_absolute():
            values["artifact_uri"] = str((base / values["artifact_uri"]).resolve())
        values["predlog_uri"] = _predlog_uri(values.get("predlog_uri"), values["artifact_uri"], base)
        settings = cls(**values)
        if settings.dead_after < _BEATS_BEFORE_DEAD * settings.heartbeat_interval:
            # Shorter, and a live run that misses one beat under load would be marked DIED.
            raise InvalidInput(
                f"setting 'dead_after' = {settings.dead_after:g}: expected at least {_BEATS_BEFORE_DEAD} x "
                f"heartbeat_interval ({_BEATS_BEFORE_DEAD * settings.heartbeat_interval:g} seconds)"
            )
        return settings


def _predlog_uri(given: str | None, artifact_uri: str, base: Path) -> str | None:
    """The prediction log's location: as given (a relative folder made absolute), else beside the blobs."""
    if given is not None:
        if given.startswith(("http://", "https://")):
            raise InvalidInput(
                f"setting 'predlog_uri' = {given!r}: expected a folder or an object-store URL "
                "(s3://, gs://, file://); a team server holds blobs only"
            )
        return given if "://" in given or Path(given).is_absolute() else str((base / given).resolve())
    if artifact_uri.startswith(("http://", "https://")):
        return None  # prediction_log_uri() says what to set when something needs it
    if "://" in artifact_uri:
        return f"{artifact_uri.rstrip('/')}/predlog"
    return str(Path(artifact_uri) / "predlog")


def _coerce(key: str, raw: object, source: str) -> Any:
    if key in ("heartbeat_interval", "dead_after", "flush_interval"):
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidInput(f"{source}: setting {key!r} = {raw!r}: expected a number of seconds") from None
        if value <= 0:
            raise InvalidInput(f"{source}: setting {key!r} = {raw!r}: expected a positive number of seconds")
        return value
    if not isinstance(raw, (str, Path)):
        raise InvalidInput(f"{source}: setting {key!r} = {raw!r}: expected a string")
    return Path(raw) if key == "home" else str(raw)


def _read_toml(path: Path) -> Mapping[str, object]:
    if not path.is_file():
        return {}
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML ({exc})") from None
    section = data.get("slipway", data)
    if not isinstance(section, dict):
        raise InvalidInput(f"{path}: expected a [slipway] table")
    return section


def load_settings(args: Mapping[str, object] | None = None, *, cwd: Path | None = None) -> Settings:
    """The edge's one call: read the real environment and ``slipway.toml``, then resolve."""
    base = cwd or Path.cwd()
    return Settings.resolve(args=args, environ=os.environ, toml=_read_toml(base / "slipway.toml"), cwd=base)
