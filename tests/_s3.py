"""An S3-compatible server (moto) on 127.0.0.1, started once per session as a real process.

The fixtures are imported by the conftest.py of each test folder that reads or writes ``s3://``.
"""

from __future__ import annotations

import sys
import uuid
from typing import TYPE_CHECKING

import pytest
from tests._team_server import free_port, serving

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

BUCKET = "slipway-test"
KEY = SECRET = "testing"  # moto accepts any credentials; these only have to be present


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The endpoint URL of a moto server holding an empty bucket ``BUCKET``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("moto") / "server.log"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with serving(argv, ready=url, log=log, timeout=30):
        import s3fs

        fs = s3fs.S3FileSystem(
            key=KEY, secret=SECRET, client_kwargs={"endpoint_url": url}, skip_instance_cache=True
        )
        fs.mkdir(BUCKET)
        yield url


@pytest.fixture
def s3_prefix(s3_endpoint: str) -> str:
    """A fresh ``s3://`` prefix in the test bucket, so tests never see each other's blobs."""
    return f"s3://{BUCKET}/t-{uuid.uuid4().hex}"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Dummy credentials, and nothing from the developer's own AWS setup."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import s3fs

    # A cached filesystem would keep the endpoint and credentials of an earlier test.
    s3fs.S3FileSystem.clear_instance_cache()
