"""The metadata-store contract against a real `slipway server` process, through HttpMetadataStore."""

from __future__ import annotations

import statistics
import time
import uuid
from typing import TYPE_CHECKING

import pytest

from slipway.artifacts import open_blob_store
from slipway.core import Metric, RunStatus
from slipway.errors import InvalidInput, StoreUnavailable, Unauthorized
from slipway.store import MetadataStore, open_metadata_store
from slipway.store._http import HttpMetadataStore
from slipway.store._sql import SqlMetadataStore
from slipway.testing.store_contract import MetadataStoreContract

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

    from tests._team_server import TeamServer

pytestmark = pytest.mark.e2e


class TestHttp(MetadataStoreContract):
    @pytest.fixture
    def store(self, team_server: TeamServer) -> Iterator[MetadataStore]:
        s = HttpMetadataStore.connect(team_server.url, token=team_server.token)
        # The server's own database, opened as its operator would on the host (token admin).
        self.host = SqlMetadataStore.connect(team_server.store_url)
        self.blobs = open_blob_store(team_server.url, token=team_server.token)
        yield s
        s.close()
        self.host.close()
        self.blobs.close()  # type: ignore[attr-defined]  # the HTTP blob store has close(); the port does not

    def expected_actor(self, claimed: str) -> str:
        return "session"  # the server records its token's name, whatever the client claims

    def store_blobs(self, store: MetadataStore, contents: Sequence[bytes]) -> None:
        # The server records an artifact only for a blob it holds: upload, as a client does first.
        for data in contents:
            self.blobs.put_bytes(data)

    # Token admin is not exposed over HTTP (a token holder must not mint tokens): the contract's
    # token tests run here with admin on the host and verification through the server.

    def test_token_secret_is_returned_once_and_verifies(self, store: MetadataStore) -> None:
        info, secret = self.host.create_token(name=f"ci-{uuid.uuid4().hex}")

        assert store.verify_token(secret) == info
        with pytest.raises(InvalidInput, match="slipway token create"):
            store.create_token(name="remote")
        with pytest.raises(InvalidInput, match="slipway token create"):
            store.list_tokens()
        with pytest.raises(InvalidInput, match="slipway token create"):
            store.revoke_token(info.id)

    def test_wrong_secret_does_not_verify(self, store: MetadataStore) -> None:
        _, secret = self.host.create_token(name=f"ci-{uuid.uuid4().hex}")

        assert store.verify_token(secret + "x") is None
        assert store.verify_token("") is None
        assert store.verify_token("slw_" + uuid.uuid4().hex) is None

    def test_revoked_token_no_longer_verifies(self, store: MetadataStore) -> None:
        info, secret = self.host.create_token(name=f"ci-{uuid.uuid4().hex}")
        other, other_secret = self.host.create_token(name=f"ci-{uuid.uuid4().hex}")
        assert store.verify_token(secret) == info

        self.host.revoke_token(info.id)

        assert store.verify_token(secret) is None
        assert store.verify_token(other_secret) == other


def test_the_tracking_uri_selects_the_http_store(team_server: TeamServer) -> None:
    store = open_metadata_store(team_server.url, token=team_server.token)
    try:
        assert isinstance(store, HttpMetadataStore)
        assert store.get_experiment_by_name(f"absent-{uuid.uuid4().hex}") is None
    finally:
        store.close()


def test_without_a_token_calls_are_unauthorized(team_server: TeamServer) -> None:
    store = HttpMetadataStore.connect(team_server.url)
    try:
        with pytest.raises(Unauthorized, match="slipway token create"):
            store.list_experiments()
    finally:
        store.close()


def test_a_server_that_is_not_there_is_store_unavailable_naming_it() -> None:
    from tests._team_server import free_port

    url = f"http://127.0.0.1:{free_port()}"
    store = HttpMetadataStore.connect(url, token="x")
    try:
        with pytest.raises(StoreUnavailable, match=url.replace(".", r"\.")):
            store.list_experiments()
    finally:
        store.close()


def test_small_calls_on_a_kept_alive_connection_do_not_stall(team_server: TeamServer) -> None:
    """FIELD-NOTES: a server that leaves TCP_NODELAY off makes every such call wait ~44 ms.

    That stall is a floor under every call, while a busy CI machine only slows some of them: so
    the fastest quarter of the calls, after a warm-up, must stay well under 40 ms.
    """
    store = HttpMetadataStore.connect(team_server.url, token=team_server.token)
    try:
        exp = store.create_experiment(name=f"latency-{uuid.uuid4().hex}")
        run = store.create_run(experiment_id=exp.id)
        took = []
        for step in range(60):
            t0 = time.perf_counter()
            store.log_batch(run.id, metrics=[Metric(key="loss", value=1.0, step=step)])
            took.append(time.perf_counter() - t0)
    finally:
        store.close()

    took = took[10:]  # the first calls open the connection and warm up the server's code paths
    fastest_quarter = statistics.quantiles(took, n=4)[0]
    assert fastest_quarter < 0.035, (
        f"25th percentile {fastest_quarter * 1000:.1f} ms, "
        f"median {statistics.median(took) * 1000:.1f} ms over {len(took)} kept-alive calls"
    )


# ---------------------------------------------------------------------- marking runs DIED


def test_a_client_cannot_mark_a_live_run_dead(team_server: TeamServer) -> None:
    store = HttpMetadataStore.connect(team_server.url, token=team_server.token)
    try:
        exp = store.create_experiment(name=f"dead-{uuid.uuid4().hex}")
        live = store.create_run(experiment_id=exp.id)
        store.heartbeat(live.id)
        silent = store.create_run(experiment_id=exp.id, start_time=10)

        dead = store.mark_dead_runs(heartbeat_before=2**62)  # "everything is dead", says the client

        assert silent.id in dead
        assert live.id not in dead
        assert store.get_run(live.id).status is RunStatus.RUNNING
    finally:
        store.close()


@pytest.mark.parametrize(("dead_after", "marked"), [(60.0, False), (3600.0, False), (30.0, True)])
def test_the_server_holds_clients_to_its_dead_after(tmp_path: Path, dead_after: float, marked: bool) -> None:
    import asyncio

    import httpx

    from slipway.artifacts import open_blob_store
    from slipway.server import create_app

    sql = SqlMetadataStore.connect(f"sqlite:///{tmp_path / 'm.db'}")
    app = create_app(
        store=sql, blobs=open_blob_store(str(tmp_path / "blobs")), auth=False, dead_after=dead_after
    )

    async def mark_dead(cutoff: int) -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app/api/v1") as client:
            answer = await client.post("/runs/mark-dead", json={"heartbeat_before": cutoff})
        answer.raise_for_status()
        return list(answer.json()["run_ids"])

    try:
        run = sql.create_run(experiment_id=sql.create_experiment(name="e").id)
        sql.heartbeat(run.id, at=int(time.time() * 1000) - 45_000)  # silent for 45 s

        dead = asyncio.run(mark_dead(2**62))  # "everything is dead", says the client

        assert (run.id in dead) is marked
        assert (sql.get_run(run.id).status is RunStatus.DIED) is marked
    finally:
        sql.close()


@pytest.mark.parametrize("dead_after", [-1.0, float("nan"), float("inf")])
def test_dead_after_must_be_a_finite_number_of_seconds(tmp_path: Path, dead_after: float) -> None:
    from slipway.artifacts import open_blob_store
    from slipway.server import create_app

    sql = SqlMetadataStore.connect(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        with pytest.raises(InvalidInput, match="dead_after"):
            create_app(store=sql, blobs=open_blob_store(str(tmp_path / "b")), dead_after=dead_after)
    finally:
        sql.close()
