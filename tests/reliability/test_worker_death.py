"""Nothing is lost or finished twice when a worker process or Redis dies."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from c3render.api import create_app
from c3render.settings import load_settings
from tests.support.servers import redis_server
from tests.support.service import service_env, wait_until, worker_process


def _runs(data_dir: str, job_id: str, kind: str) -> int:
    log = Path(data_dir) / "runs.log"
    return log.read_text().count(f"{kind} {job_id}") if log.exists() else 0


def _status(client: FlaskClient, job_id: str) -> dict:
    return client.get(f"/status/{job_id}").get_json()  # type: ignore[no-any-return]


def test_sigkilled_worker_job_reruns_elsewhere_and_succeeds_once(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str], tmp_path: Path
) -> None:
    data = settings_env["C3_DATA_DIR"]
    job_id = client.post("/csm", json={"text": "sleep:3"}).get_json()["id"]
    with worker_process(worker_env, log=tmp_path / "victim.log") as victim:
        wait_until(lambda: _runs(data, job_id, "start") == 1, 15)
        os.killpg(victim.pid, signal.SIGKILL)  # the supervisor and its engine process
        victim.wait()
    assert _status(client, job_id)["status"] == "running"
    killed_at = time.monotonic()
    with worker_process(worker_env, log=tmp_path / "rescuer.log"):
        wait_until(lambda: _runs(data, job_id, "start") == 2, 30)
        rerun_after = time.monotonic() - killed_at
        wait_until(lambda: _status(client, job_id)["status"] == "success", 30)
    doc = _status(client, job_id)
    assert doc["attempts"] == 2
    assert _runs(data, job_id, "done") == 1
    assert rerun_after < 15


def test_engine_process_dies_with_its_supervisor(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str], tmp_path: Path
) -> None:
    job_id = client.post("/csm", json={"text": "sleep:30"}).get_json()["id"]
    with worker_process(worker_env, log=tmp_path / "w.log") as supervisor:
        wait_until(lambda: _runs(settings_env["C3_DATA_DIR"], job_id, "start") == 1, 15)
        os.kill(supervisor.pid, signal.SIGKILL)  # only the supervisor, as the OOM killer would
        supervisor.wait()

        def group_gone() -> bool:
            try:
                os.killpg(supervisor.pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(group_gone, 10)  # no orphaned engine keeps running the job


def test_a_job_whose_workers_keep_dying_ends_failed_in_dead_letters(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    data = settings_env["C3_DATA_DIR"]
    env = dict(worker_env, C3_MAX_DELIVERIES="2")
    job_id = client.post("/csm", json={"text": "sleep:60"}).get_json()["id"]
    for attempt in (1, 2):
        with worker_process(env, log=tmp_path / f"w{attempt}.log") as process:
            wait_until(lambda n=attempt: _runs(data, job_id, "start") == n, 30)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with worker_process(env, log=tmp_path / "last.log"):
        wait_until(lambda: _status(client, job_id)["status"] == "failed", 30)
    doc = _status(client, job_id)
    assert doc["error"] == "the worker running this job died 2 times; giving up"
    dead = redis_client.xrange("c3:{csm}:dead")
    assert [fields["id"] for _, fields in dead] == [job_id]
    assert _runs(data, job_id, "start") == 2
    assert client.get("/").get_json()["queues"]["csm"] == {"queued": 0, "running": 0}


def test_redis_restart_mid_job_loses_nothing(settings_env: dict[str, str], tmp_path: Path) -> None:
    """A Redis with an append-only file restarts while a job runs; the job still ends once."""
    redis_dir = tmp_path / "aof-redis"
    with redis_server(redis_dir, appendonly=True) as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        env = service_env(
            settings_env, C3_REDIS_URL=url, C3_HEARTBEAT_SECONDS="0.5",
            C3_LIVENESS_SECONDS="1.5", C3_RECLAIM_IDLE_SECONDS="5",
            C3_ENGINES="csm=tests.fixtures.engines:scripted_csm",
        )
        client = create_app(load_settings(redis_url=url)).test_client()
        # the running job reports progress all through the outage
        job_id = client.post("/csm", json={"text": "progress:4"}).get_json()["id"]
        queued_id = client.post("/csm", json={"text": "ok"}).get_json()["id"]
        with worker_process(env, types="csm", log=tmp_path / "w.log"):
            wait_until(lambda: _runs(settings_env["C3_DATA_DIR"], job_id, "start"), 15)
            redis.Redis.from_url(url).shutdown(nosave=False)  # SHUTDOWN flushes the AOF
            time.sleep(1.0)
            restarted = subprocess.Popen(
                ["redis-server", "--port", port, "--bind", "127.0.0.1", "--dir", str(redis_dir),
                 "--appendonly", "yes", "--save", ""],
                stdout=subprocess.DEVNULL,
            )
            try:
                wait_until(lambda: _status(client, job_id).get("status") == "success", 40)
                wait_until(lambda: _status(client, queued_id).get("status") == "success", 40)
                # the worker never lost track of its job: nothing was reclaimed or run twice
                assert _status(client, job_id)["attempts"] == 1
                assert _status(client, queued_id)["attempts"] == 1
            finally:
                restarted.terminate()
                restarted.wait()
    assert _runs(settings_env["C3_DATA_DIR"], job_id, "done") == 1


@pytest.mark.parametrize("concurrency", [2])
def test_many_jobs_two_workers_each_ends_exactly_once(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str],
    tmp_path: Path, concurrency: int,
) -> None:
    ids = [client.post("/csm", json={"text": "ok"}).get_json()["id"] for _ in range(40)]
    with worker_process(worker_env, concurrency=concurrency, log=tmp_path / "a.log"), \
            worker_process(worker_env, concurrency=concurrency, log=tmp_path / "b.log"):
        wait_until(lambda: all(_status(client, i)["status"] == "success" for i in ids), 60, 0.5)
    data = settings_env["C3_DATA_DIR"]
    assert all(_runs(data, job_id, "done") == 1 for job_id in ids)


def test_redis_losing_its_data_is_noticed_and_the_running_job_says_so(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str],
    redis_client: redis.Redis, tmp_path: Path,
) -> None:
    """A restart without persistence, simulated by FLUSHALL: the running job is written back
    as failed with the reason instead of becoming a 404; the worker goes on serving."""
    job_id = client.post("/csm", json={"text": "sleep:3"}).get_json()["id"]
    with worker_process(worker_env, log=tmp_path / "w.log"):
        wait_until(lambda: _runs(settings_env["C3_DATA_DIR"], job_id, "start") == 1, 15)
        redis_client.flushall()
        doc = wait_until(lambda: client.get(f"/status/{job_id}").status_code == 200
                         and _status(client, job_id), 15)
        assert doc["status"] == "failed" and doc["error_type"] == "redis_lost"  # type: ignore[index]
        assert f"POST /job/{job_id}/retry" in doc["error"]  # type: ignore[index]
        assert client.post(f"/job/{job_id}/retry").get_json()["status"] == "queued"
        wait_until(lambda: _status(client, job_id)["status"] == "success", 30)
    assert "REDIS LOST ITS DATA" in (tmp_path / "w.log").read_text()


@pytest.mark.parametrize("then_sleep", [0, 30], ids=["job-ends-first", "slot-checks-first"])
def test_a_running_job_whose_record_vanished_is_written_back_before_the_heartbeat_looks(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str],
    tmp_path: Path, then_sleep: int,
) -> None:
    """Redis empties while the job runs, and the slot meets it first: the run ends (its
    result has nowhere to go) or the slot's check finds the record gone. Either way the job
    is written back as failed at once, not left a 404 for the heartbeat to miss (it looks
    every 20 s here, and by then the slot holds nothing)."""
    env = {**worker_env, "C3_HEARTBEAT_SECONDS": "20", "C3_LIVENESS_SECONDS": "40",
           "C3_RECLAIM_IDLE_SECONDS": "60", "FIXTURE_REDIS_URL": settings_env["C3_REDIS_URL"]}
    job_id = client.post("/csm", json={"text": f"forget:{then_sleep}"}).get_json()["id"]

    def ended() -> dict | None:  # one read per poll: the record vanishes between reads
        response = client.get(f"/status/{job_id}")
        doc = response.get_json() if response.status_code == 200 else {}
        return doc if doc.get("status") in ("failed", "success") else None

    with worker_process(env, log=tmp_path / "w.log"):
        doc = wait_until(ended, 10)
        assert doc["status"] == "failed" and doc["error_type"] == "redis_lost"  # type: ignore[index]
    assert "REDIS LOST ITS DATA" in (tmp_path / "w.log").read_text()


def test_a_job_survives_five_kills_of_every_worker(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """A rolling deploy or a preempted node is not evidence that the job is poison."""
    data = settings_env["C3_DATA_DIR"]
    job_id = client.post("/csm", json={"text": "sleep:2"}).get_json()["id"]
    for kill in range(1, 6):
        with worker_process(worker_env, log=tmp_path / f"w{kill}.log") as process:
            wait_until(lambda n=kill: _runs(data, job_id, "start") == n, 30)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with worker_process(worker_env, log=tmp_path / "last.log"):
        wait_until(lambda: _status(client, job_id)["status"] == "success", 30)
    doc = _status(client, job_id)
    assert doc["attempts"] == 6 and "error" not in doc
    assert _runs(data, job_id, "done") == 1
