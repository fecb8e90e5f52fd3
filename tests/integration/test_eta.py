"""The ETA of /status against a real Redis and a real worker (scripted fixture engines)."""

from __future__ import annotations

from flask.testing import FlaskClient

from c3render.job import JobType
from c3render.queue import keys
from tests.support.service import wait_until


def _submit(client: FlaskClient, text: str) -> str:
    return str(client.post("/csm", json={"text": text}).get_json()["id"])


def _status(client: FlaskClient, job_id: str) -> dict:
    return client.get(f"/status/{job_id}").get_json()  # type: ignore[no-any-return]


def test_a_queued_job_gets_a_sensible_eta_after_a_few_runs(
    client: FlaskClient, worker: object, redis_client: object
) -> None:
    # before any run finished there is nothing to learn from: no ETA, and the reason
    first = _submit(client, "sleep:0.4")
    early = _status(client, first)
    assert early["eta"] is None and "no finished csm job(s)" in early["eta_reason"]
    finished = [first] + [_submit(client, "sleep:0.4") for _ in range(4)]
    for job_id in finished:
        wait_until(lambda job_id=job_id: _status(client, job_id)["status"] == "success", 30)
    samples = redis_client.lrange(keys.eta_samples(JobType.CSM), 0, -1)  # type: ignore[attr-defined]
    assert len(samples) == 5
    assert all(float(s.split()[0]) == len("sleep:0.4") and float(s.split()[1]) >= 0.4
               for s in samples)
    done = _status(client, first)
    assert "eta" not in done and "eta_reason" not in done  # only queued or running jobs

    running = _submit(client, "sleep:2.0")  # the worker's one slot is busy with it
    wait_until(lambda: _status(client, running)["status"] == "running", 15)
    queued = [_submit(client, "sleep:0.4") for _ in range(2)]
    doc = _status(client, queued[1])
    assert doc["status"] == "queued" and doc["queue_position"] == 1
    eta = doc["eta"]
    basis = eta["basis"]
    assert basis["samples"] == 5 and basis["sized_samples"] == 5 and basis["size"] == 9
    assert basis["workers"] == 1 and basis["slots"] == 1 and basis["jobs_ahead"] == 1
    assert basis["running"] == 1
    # behind the running job and one 0.4 s job, then its own 0.4 s run
    assert 0.4 <= eta["start_in_s"] <= 5 and eta["finish_in_s"] >= eta["start_in_s"] + 0.3
    now = _status(client, running)
    assert now["eta"]["start_in_s"] == 0 and now["eta"]["finish_in_s"] >= 0
    assert now["eta"]["basis"]["elapsed_s"] > 0


def test_no_live_worker_no_eta(client: FlaskClient, redis_client: object) -> None:
    redis_client.lpush(keys.eta_samples(JobType.CSM), "5 1.0", "5 1.1", "5 0.9")  # type: ignore[attr-defined]
    doc = _status(client, _submit(client, "ok"))
    assert doc["eta"] is None and doc["eta_reason"] == "no live worker serves csm jobs"
