"""GET /metrics against a real Redis and worker, read back with prometheus_client's own
text parser (what Prometheus would scrape)."""

from __future__ import annotations

import time

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from tests.support.http_peers import http_peer, respond
from tests.support.service import wait_until


def _scrape(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_count_jobs_durations_queues_workers_and_webhooks(
    client: FlaskClient, worker: object
) -> None:
    with http_peer() as receiver:
        receiver.route("/hook", lambda handler: respond(handler, 200, b"ok"), method="POST")
        ok = client.post("/csm", json={"text": "sleep:0.3", "notify_url": receiver.url("/hook")})
        failed = client.post("/csm", json={"text": "fail:nope"}).get_json()["id"]
        for job_id in (ok.get_json()["id"], failed):
            wait_until(lambda: client.get(f"/status/{job_id}").get_json()["status"] != "queued"
                       and client.get(f"/status/{job_id}").get_json()["status"] != "running", 30)
        wait_until(lambda: receiver.requests_to("/hook"), 20)
        waiting = client.post("/whisper", json={"audio_url": "https://example.org/a.mp3"})
        cancelled = client.post("/csm", json={"text": "sleep:30"}).get_json()["id"]
        ended = client.post(f"/job/{cancelled}", json={"status": "cancelled"}).get_json()
        runs = 3 if ended["started_at"] else 2  # a run ended by the cancel counts too
        assert waiting.status_code == 200
        time.sleep(0.05)
        wait_until(lambda: _scrape(client).get(
            ("c3_webhook_deliveries_total",
             (("event", "completed"), ("outcome", "delivered"), ("type", "csm")))), 10)
        samples = _scrape(client)

    def value(name: str, **labels: str) -> float:
        return samples[(name, tuple(sorted(labels.items())))]

    assert value("c3_jobs_submitted_total", type="csm") == 3
    assert value("c3_jobs_submitted_total", type="whisper") == 1
    assert value("c3_jobs_ended_total", type="csm", status="success") == 1
    assert value("c3_jobs_ended_total", type="csm", status="failed") == 1
    assert value("c3_jobs_ended_total", type="csm", status="cancelled") == 1
    assert value("c3_job_run_seconds_count", type="csm") == runs
    assert value("c3_job_run_seconds_bucket", type="csm", le="+Inf") == runs
    assert value("c3_job_run_seconds_bucket", type="csm", le="0.1") <= runs - 1  # one slept 0.3 s
    assert value("c3_job_run_seconds_sum", type="csm") >= 0.3
    assert value("c3_job_queue_wait_seconds_count", type="csm") == runs
    assert value("c3_queue_depth", type="whisper", state="queued") == 1
    assert value("c3_queue_oldest_age_seconds", type="whisper") > 0
    assert value("c3_queue_oldest_age_seconds", type="csm") == 0
    assert value("c3_workers_live", type="csm") == 1
    assert value("c3_workers_live", type="whisper") == 0
