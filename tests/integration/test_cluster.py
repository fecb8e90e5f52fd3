"""The whole service on a real 3-master Redis Cluster (auto-detected, no setting needed)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from redis.cluster import RedisCluster

from c3render.api import create_app
from c3render.api.schemas import CsmRequest, WhisperRequest
from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.queue.chains import Chains
from c3render.queue.connection import connect
from c3render.queue.leases import Leases
from c3render.queue.reading import Reader
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import JobStore
from c3render.settings import load_settings
from tests.support.servers import redis_cluster
from tests.support.service import (
    FIXTURE_ENGINES,
    service_env,
    wait_until,
    worker_process,
)


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of one node of a real Redis Cluster started for this module."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as url:
        yield url


@pytest.fixture
def cluster_env(
    settings_env: dict[str, str], cluster_url: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The test environment pointed at the (flushed) cluster."""
    monkeypatch.setenv("C3_REDIS_URL", cluster_url)
    RedisCluster.from_url(cluster_url).flushall(target_nodes=RedisCluster.ALL_NODES)
    return dict(settings_env, C3_REDIS_URL=cluster_url)


@pytest.fixture
def cluster_app(cluster_env: dict[str, str]) -> Flask:
    return create_app(load_settings())


@pytest.fixture
def api(cluster_app: Flask) -> FlaskClient:
    return cluster_app.test_client()


@pytest.fixture
def cluster_worker_env(cluster_env: dict[str, str]) -> dict[str, str]:
    return service_env(
        cluster_env, C3_ENGINES=FIXTURE_ENGINES, C3_HEARTBEAT_SECONDS="0.5",
        C3_LIVENESS_SECONDS="1.5", C3_RECLAIM_IDLE_SECONDS="5",
        C3_RETRY_BACKOFF_SECONDS="0.2",
    )


def _status(api: FlaskClient, job_id: str) -> dict:
    return api.get(f"/status/{job_id}").get_json()  # type: ignore[no-any-return]


def _wait(api: FlaskClient, job_id: str, wanted: str, timeout: float = 30) -> dict:
    return wait_until(  # type: ignore[return-value]
        lambda: (doc := _status(api, job_id))["status"] == wanted and doc, timeout
    )


def test_a_cluster_node_is_detected(cluster_env: dict[str, str]) -> None:
    assert isinstance(connect(load_settings()), RedisCluster)


def test_jobs_of_every_queue_run_list_and_end_on_a_cluster(
    api: FlaskClient, cluster_worker_env: dict[str, str], tmp_path: Path
) -> None:
    waiting = api.post("/csm", json={"text": "sleep:30"}).get_json()["id"]
    assert _status(api, waiting)["queue_position"] == 0
    assert api.post(f"/job/{waiting}", json={"status": "cancelled"}).status_code == 200
    with worker_process(cluster_worker_env, log=tmp_path / "worker.log"):
        speech = api.post("/csm", json={"text": "ok"}).get_json()["id"]
        picture = api.post("/analyze", json={"image_url": "http://127.0.0.1:1/x.png"}).get_json()
        assert _wait(api, speech, "success")["attempts"] == 1
        failed = _wait(api, picture["id"], "failed", 60)
        assert "image_url" in failed["error"] and failed["error_type"] == "input"
        assert api.get(f"/result/{speech}").get_json()["result_url"]
        health = api.get("/").get_json()
        assert health["status"] == "ok" and health["workers"] == 1  # counts only (no ids)
        retried = api.post(f"/job/{picture['id']}/retry").get_json()
        assert retried["status"] in ("queued", "running")  # a worker may take it at once
        _wait(api, picture["id"], "failed", 60)
    listed = api.get("/jobs?limit=10").get_json()["jobs"]
    assert {doc["id"] for doc in listed} == {waiting, speech, picture["id"]}
    assert _status(api, waiting)["status"] == "cancelled"


def test_a_killed_workers_job_runs_again_on_a_cluster(
    api: FlaskClient, cluster_worker_env: dict[str, str], cluster_env: dict[str, str],
    tmp_path: Path,
) -> None:
    runs = Path(cluster_env["C3_DATA_DIR"]) / "runs.log"
    job_id = api.post("/csm", json={"text": "sleep:2"}).get_json()["id"]
    with worker_process(cluster_worker_env, log=tmp_path / "victim.log") as victim:
        wait_until(lambda: runs.exists() and f"start {job_id}" in runs.read_text(), 20)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
    with worker_process(cluster_worker_env, log=tmp_path / "rescuer.log"):
        doc = _wait(api, job_id, "success", 30)
    assert doc["attempts"] == 2 and runs.read_text().count(f"done {job_id}") == 1


def test_fair_share_takes_keys_in_turn_on_a_cluster(cluster_env: dict[str, str]) -> None:
    settings = load_settings()
    client = connect(settings)
    store = JobStore(client, settings)
    store.ensure_groups()
    flood = [store.submit(JobType.CSM, CsmRequest(text="a"), owner="flood")[0] for _ in range(4)]
    single = store.submit(JobType.CSM, CsmRequest(text="a", priority="high"), owner="single")[0]
    assert store.queue_position(store.find(single)) in (0, 1)
    reader = Reader(client, settings, WorkerRegistry(client))
    taken = [reader.read((JobType.CSM,), "w1", 10) for _ in range(5)]
    ids = [d.job_id for d in taken if d is not None]
    assert sorted(ids) == sorted(flood + [single]) and ids.index(single) <= 1
    assert reader.read((JobType.CSM,), "w1", 10) is None


def test_a_finish_and_a_take_in_other_hash_slots_on_a_cluster(
    cluster_env: dict[str, str]
) -> None:
    settings = load_settings()
    client = connect(settings)
    store = JobStore(client, settings)
    store.ensure_groups()
    leases, reader = Leases(client, settings), Reader(client, settings, WorkerRegistry(client))
    store.submit(JobType.CSM, CsmRequest(text="a"))
    delivery = reader.read((JobType.CSM,), "w1", 10, start=True)
    claim = leases.start_delivery(delivery, "w1") if delivery else None
    assert claim is not None
    audio = WhisperRequest(audio_url="https://example.com/a.wav")
    whisper_id, _ = store.submit(JobType.WHISPER, audio)
    # the rotation's next type is /whisper, whose keys live in another slot than /csm's
    # (redis-py pipelines no script on a cluster: there the two calls go one after the other)
    reply, taken = reader.finish_then_take(
        leases.finish_call(claim, JobStatus.SUCCESS, {"text": "ok"}),
        (JobType.WHISPER, JobType.CSM), "w1")
    assert leases.finished(claim, reply) and store.find(claim.job.id).status is JobStatus.SUCCESS
    assert taken is not None and taken.job_id == whisper_id
    assert store.find(whisper_id).status is JobStatus.RUNNING


def test_a_chain_across_hash_slots_on_a_cluster(
    api: FlaskClient, cluster_worker_env: dict[str, str], tmp_path: Path
) -> None:
    speech = api.post("/csm", json={"text": "sleep:1"}).get_json()["id"]
    heard = api.post("/whisper", json={"audio_url": f"job:{speech}"}).get_json()["id"]
    doomed = api.post("/csm", json={"text": "sleep:30"}).get_json()["id"]
    orphan = api.post("/whisper", json={"audio_url": f"job:{doomed}"}).get_json()["id"]
    assert _status(api, heard)["waiting_for"] == [speech]
    api.post(f"/job/{doomed}", json={"status": "cancelled"})
    assert doomed in _status(api, orphan)["error"]
    client = connect(load_settings())
    client.zadd(keys.waiting(JobType.WHISPER), {heard: 0})  # due for its re-check now
    assert Chains(client, 3600).sweep() == 1  # housekeeping's pipeline spans the slots
    assert _status(api, heard)["waiting_for"] == [speech]  # re-linked, still waiting
    env = dict(cluster_worker_env, C3_ENGINES=cluster_worker_env["C3_ENGINES"]
               + ",whisper=tests.fixtures.engines:scripted_whisper")
    with worker_process(env, types="csm,whisper", log=tmp_path / "worker.log"):
        _wait(api, heard, "success")
    assert api.get(f"/result/{heard}").get_json()["text"] == "heard 0.10 s"


def test_the_eta_on_a_cluster(
    api: FlaskClient, cluster_worker_env: dict[str, str], tmp_path: Path
) -> None:
    with worker_process(cluster_worker_env, log=tmp_path / "worker.log"):
        for _ in range(3):
            _wait(api, api.post("/csm", json={"text": "sleep:0.2"}).get_json()["id"], "success")
        running = api.post("/csm", json={"text": "sleep:2"}).get_json()["id"]
        _wait(api, running, "running")
        queued = _status(api, api.post("/csm", json={"text": "sleep:0.2"}).get_json()["id"])
        assert queued["eta"]["basis"]["samples"] == 3 and queued["eta"]["basis"]["workers"] == 1
        assert 0 < queued["eta"]["start_in_s"] < queued["eta"]["finish_in_s"] < 30
        assert _status(api, running)["eta"]["start_in_s"] == 0
