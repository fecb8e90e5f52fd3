"""Live events: the per-job event stream written by the scripts, read as SSE, ?logs=1,
Prefer: wait and the submit answer's urls — against a real Redis and a real worker."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import redis
import sseclient
from flask.testing import FlaskClient

from c3render.api.schemas import CsmRequest
from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.queue.leases import Leases
from c3render.queue.store import JobStore
from c3render.settings import load_settings


class _Source:
    """A Flask streaming response as the byte stream sseclient reads."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def close(self) -> None:
        """Nothing to close."""


def _events(client: FlaskClient, job_id: str, **headers: str) -> list[tuple[str, str, Any]]:
    response = client.get(f"/events/{job_id}", headers=headers, buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    found = []
    for event in sseclient.SSEClient(_Source(response.iter_encoded())).events():
        found.append((event.id, event.event, json.loads(event.data)))
        if event.event == "result":
            break
    response.close()
    return found


def test_a_job_streams_status_progress_logs_and_its_result(
    client: FlaskClient, worker: object
) -> None:
    job_id = client.post("/csm", json={"text": "progress:1.5"}).get_json()["id"]
    events = _events(client, job_id)
    kinds = [kind for _, kind, _ in events]
    statuses = [data["status"] for _, kind, data in events if kind == "status"]
    assert statuses == ["queued", "running", "success"]
    progress = [data["progress"] for _, kind, data in events if kind == "progress"]
    assert len(progress) >= 2 and progress == sorted(progress)
    messages = [data["message"] for _, kind, data in events if kind == "log"]
    assert any("running the script" in m for m in messages)
    assert kinds[-1] == "result"
    result = events[-1][2]
    assert result["id"] == job_id and result["status"] == "success" and result["result_url"]
    assert all(event_id for event_id, kind, _ in events if kind not in ("result", "queue"))

    # resuming after the running event replays only what came later, then the result
    running_id = next(i for i, kind, d in events if kind == "status" and d["status"] == "running")
    resumed = _events(client, job_id, **{"Last-Event-ID": running_id})
    assert [d.get("status") for _, k, d in resumed if k == "status"] == ["success"]
    assert resumed[-1][1] == "result"
    # resuming after the end answers the result at once
    end_id = next(i for i, kind, d in events if kind == "status" and d["status"] == "success")
    assert [k for _, k, _ in _events(client, job_id, **{"Last-Event-ID": end_id})] == ["result"]


def test_status_logs_and_the_event_stream_expire_with_the_job(
    client: FlaskClient, worker: object, redis_client: redis.Redis
) -> None:
    job_id = client.post("/csm", json={"text": "ok"}).get_json()["id"]
    _events(client, job_id)
    doc = client.get(f"/status/{job_id}?logs=1").get_json()
    assert doc["status"] == "success"
    assert doc["logs"] and all(line["timestamp"].endswith("+00:00") for line in doc["logs"])
    assert any("running the script 'ok'" in line["message"] for line in doc["logs"])
    assert "logs" not in client.get(f"/status/{job_id}").get_json()
    job_ttl = redis_client.ttl(keys.job(JobType.CSM, job_id))
    events_ttl = redis_client.ttl(keys.events(JobType.CSM, job_id))
    assert job_ttl > 0 and abs(job_ttl - events_ttl) <= 1


def test_events_of_a_cancelled_queued_job(client: FlaskClient) -> None:
    job_id = client.post("/csm", json={"text": "ok"}).get_json()["id"]
    client.post(f"/job/{job_id}", json={"status": "cancelled"})
    events = _events(client, job_id)
    assert [d.get("status") for _, k, d in events] == ["queued", "cancelled", "cancelled"]
    assert events[1][2]["error"] == "cancelled by request"


def test_a_superseded_run_appends_no_event(
    settings_env: dict[str, str], redis_client: redis.Redis
) -> None:
    settings = load_settings()
    store, leases = JobStore(redis_client, settings), Leases(redis_client, settings)
    store.ensure_groups()
    job_id, _ = store.submit(JobType.CSM, CsmRequest(text="x"))
    entry = store.find(job_id).entry
    assert entry
    first = leases.start(JobType.CSM, job_id, entry, "worker-a")
    second = leases.start(JobType.CSM, job_id, entry, "worker-b")  # taken over: run 2
    assert first and second and second.run == first.run + 1
    stream = keys.events(JobType.CSM, job_id)
    before = redis_client.xlen(stream)
    assert not leases.append_logs(first, [(time.time(), "INFO", "late line of run 1")])
    leases.report_progress(first, 0.5)
    assert not leases.finish(first, JobStatus.SUCCESS, {})
    assert redis_client.xlen(stream) == before
    assert leases.append_logs(second, [(time.time(), "INFO", "line of run 2")])
    leases.report_progress(second, 0.5)
    assert not leases.finish(first, JobStatus.SUCCESS, {}, logs=[(time.time(), "INFO", "late")])
    assert leases.finish(second, JobStatus.SUCCESS, {}, logs=[(time.time(), "INFO", "last")])
    kinds = [fields["kind"] for _, fields in redis_client.xrange(stream)]
    assert kinds == ["status", "status", "status", "log", "progress", "log", "status"]
    messages = [json.loads(f["data"]).get("message") for _, f in redis_client.xrange(stream)]
    assert "late" not in messages and "late line of run 1" not in messages


def test_prefer_wait_answers_the_result_or_the_queued_answer(
    client: FlaskClient, worker: object
) -> None:
    done = client.post("/csm", json={"text": "ok"}, headers={"Prefer": "wait=20"}).get_json()
    assert done["status"] == "success" and done["result_url"]
    started = time.monotonic()
    slow = client.post("/csm", json={"text": "sleep:5"}, headers={"Prefer": "wait=1"})
    assert time.monotonic() - started < 4
    body = slow.get_json()
    assert body["status"] == "queued" or body["status"] == "running"
    assert set(body["urls"]) == {"status", "result", "cancel", "events"}
    assert body["urls"]["events"].endswith(f"/events/{body['id']}")
    bad = client.post("/csm", json={"text": "ok"}, headers={"Prefer": "wait=soon"})
    assert bad.status_code == 400 and "Prefer" in bad.get_json()["error"]


def test_webhook_events_start_progress_completed(client: FlaskClient, worker: object) -> None:
    from tests.support.http_peers import http_peer, respond
    from tests.support.service import wait_until

    with http_peer() as receiver:
        receiver.route("/hook", lambda handler: respond(handler, 200, b"ok"), method="POST")
        body = {"text": "progress:3", "notify_url": receiver.url("/hook"),
                "webhook_events": ["start", "progress", "completed"]}
        job_id = client.post("/csm", json=body).get_json()["id"]
        plain = client.post("/csm", json={"text": "ok", "notify_url": receiver.url("/hook")})
        plain_id = plain.get_json()["id"]

        def bodies() -> list[dict[str, Any]]:
            return [json.loads(seen.body) for seen in receiver.requests_to("/hook")]

        def ended() -> bool:
            return any(b["id"] == job_id and b["status"] == "success" for b in bodies())

        wait_until(ended, 30)
        wait_until(lambda: any(b["id"] == plain_id for b in bodies()), 30)  # it runs after
        mine = [b for b in bodies() if b["id"] == job_id]
        events = [b.get("event", "completed") for b in mine]
        assert events[0] == "start" and events[-1] == "completed"
        progress = [b["progress"] for b in mine if b.get("event") == "progress"]
        assert 1 <= len(progress) <= 5  # 3 s of progress reported every 0.5 s, sent once a second
        plain_calls = [b for b in bodies() if b["id"] == plain_id]
        assert len(plain_calls) == 1 and "event" not in plain_calls[0]  # old clients: one call
    bad = client.post("/csm", json={"text": "ok", "webhook_events": ["finish"]})
    assert bad.status_code == 400 and "webhook_events" in bad.get_json()["error"]


def test_a_stream_whose_job_expires_ends_with_gone(
    client: FlaskClient, redis_client: redis.Redis
) -> None:
    job_id = client.post("/csm", json={"text": "ok"}).get_json()["id"]
    response = client.get(f"/events/{job_id}", buffered=False)
    events = sseclient.SSEClient(_Source(response.iter_encoded())).events()
    first = {event.event: json.loads(event.data) for event in (next(events), next(events))}
    assert set(first) == {"queue", "status"}
    # the queue event carries the ETA as /status does: none yet, no csm job has finished
    assert first["queue"]["queue_position"] == 0 and first["queue"]["eta"] is None
    assert "no finished csm job" in first["queue"]["eta_reason"]
    redis_client.delete(keys.job(JobType.CSM, job_id))  # as if its retention ran out
    kinds = [event.event for event in events]
    assert kinds[-1] == "gone"
    response.close()
