"""The HTTP API against a real Redis: the contract's shapes, errors and additions."""

from __future__ import annotations

import uuid

import pytest
from flask.testing import FlaskClient

from c3render.api import create_app
from c3render.settings import load_settings

EXAMPLES = {
    "/csm": {"text": "Hello world"},
    "/portrait": {"image_url": "https://example.org/a.png", "audio_url": "https://example.org/a.mp3"},
    "/whisper": {"audio_url": "https://example.org/a.mp3"},
    "/analyze": {"image_url": "https://example.org/a.jpg"},
}


@pytest.mark.parametrize("path", list(EXAMPLES))
def test_submit_answers_id_and_queued(client: FlaskClient, path: str) -> None:
    response = client.post(path, json=EXAMPLES[path])
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"id", "status", "urls"}
    assert body["status"] == "queued"
    assert uuid.UUID(body["id"]).version == 4


def test_status_document_of_a_queued_job(client: FlaskClient) -> None:
    first = client.post("/csm", json={"text": "one"}).get_json()["id"]
    second = client.post("/csm", json={"text": "two"}).get_json()["id"]
    doc = client.get(f"/status/{second}").get_json()
    assert doc["id"] == second and doc["status"] == "queued"
    assert doc["type"] == "csm" and doc["attempts"] == 0 and doc["progress"] == 0
    assert doc["queue_position"] == 1
    assert client.get(f"/status/{first}").get_json()["queue_position"] == 0
    assert doc["created_at"].endswith("+00:00")


def test_result_of_unfinished_job_is_400(client: FlaskClient) -> None:
    job_id = client.post("/csm", json={"text": "x"}).get_json()["id"]
    response = client.get(f"/result/{job_id}")
    assert response.status_code == 400
    assert response.get_json() == {"error": "Job not completed", "status": "queued"}


def test_unknown_and_malformed_ids(client: FlaskClient) -> None:
    assert client.get(f"/status/{uuid.uuid4()}").status_code == 404
    assert client.get(f"/result/{uuid.uuid4()}").status_code == 404
    response = client.get("/status/not-a-uuid")
    assert response.status_code == 400 and "id" in response.get_json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"text": "a", "topk": 500}, "topk"),
        ({"text": "a", "temperature": "hot"}, "temperature"),
        ({"text": ""}, "text"),
        ({"text": "a", "voice": "clone"}, "reference_audio_url"),
        ({"text": "a", "complete_in": 10}, "complete_in"),
    ],
)
def test_invalid_fields_get_400_naming_the_field(
    client: FlaskClient, body: dict[str, object], field: str
) -> None:
    response = client.post("/csm", json=body)
    assert response.status_code == 400
    doc = response.get_json()
    assert field in doc["error"]
    assert field in doc["errors"]


def test_body_errors(client: FlaskClient) -> None:
    malformed = client.post("/csm", data="{nope", content_type="application/json")
    assert malformed.status_code == 400 and "JSON" in malformed.get_json()["error"]
    form = client.post("/csm", data={"text": "a"})
    assert form.status_code == 400 and "Content-Type" in form.get_json()["error"]
    array = client.post("/whisper", json=["audio_url"])
    assert array.status_code == 400 and "object" in array.get_json()["error"]
    big = client.post("/csm", json={"text": "a" * 2_000_000})
    assert big.status_code == 413 and "error" in big.get_json()


def test_wrong_method_and_unknown_path(client: FlaskClient) -> None:
    assert client.get("/csm").status_code == 405
    assert "error" in client.get("/csm").get_json()
    assert client.get("/nothing-here").status_code == 404


def test_cancel_a_queued_job_takes_it_off_the_queue(client: FlaskClient) -> None:
    job_id = client.post("/csm", json={"text": "x"}).get_json()["id"]
    response = client.post(f"/job/{job_id}", json={"status": "cancelled"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    health = client.get("/").get_json()
    assert health["queues"]["csm"] == {"queued": 0, "running": 0}
    again = client.post(f"/job/{job_id}", json={"status": "failed"})
    assert again.status_code == 409
    result = client.get(f"/result/{job_id}").get_json()
    assert result["status"] == "cancelled" and result["error"] == "cancelled by request"


def test_control_marks_failed_with_error(client: FlaskClient) -> None:
    job_id = client.post("/whisper", json=EXAMPLES["/whisper"]).get_json()["id"]
    client.post(f"/job/{job_id}", json={"status": "failed", "error": "operator said so"})
    doc = client.get(f"/status/{job_id}").get_json()
    assert doc["status"] == "failed" and doc["error"] == "operator said so"
    bad = client.post(f"/job/{job_id}", json={"status": "success"})
    assert bad.status_code == 400 and "status" in bad.get_json()["error"]


def test_idempotency_key_returns_the_same_job(client: FlaskClient) -> None:
    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/csm", json={"text": "x"}, headers=headers).get_json()["id"]
    second = client.post("/csm", json={"text": "x"}, headers=headers).get_json()["id"]
    other = client.post("/csm", json={"text": "x"}).get_json()["id"]
    assert first == second != other


def test_jobs_listing_filters(client: FlaskClient) -> None:
    ids = [client.post("/csm", json={"text": str(i)}).get_json()["id"] for i in range(3)]
    client.post("/analyze", json=EXAMPLES["/analyze"])
    client.post(f"/job/{ids[0]}", json={"status": "cancelled"})
    listed = client.get("/jobs?type=csm").get_json()["jobs"]
    assert [job["id"] for job in listed] == ids[::-1]
    cancelled = client.get("/jobs?status=cancelled").get_json()["jobs"]
    assert [job["id"] for job in cancelled] == [ids[0]]
    assert len(client.get("/jobs?limit=2").get_json()["jobs"]) == 2
    assert client.get("/jobs?type=video").status_code == 400
    assert client.get("/jobs?limit=0").status_code == 400


def test_expired_queued_job_reads_as_timed_out(client: FlaskClient, redis_client: object) -> None:
    job_id = client.post("/csm", json={"text": "x", "complete_in": 60}).get_json()["id"]
    redis_client.hset(f"c3:{{csm}}:job:{job_id}", "deadline", "1")  # type: ignore[attr-defined]
    listed = client.get("/jobs?status=queued").get_json()["jobs"]
    assert listed == []
    doc = client.get(f"/status/{job_id}").get_json()
    assert doc["status"] == "timed_out"
    assert "complete_in" in doc["error"]


def test_health_reports_redis_queues_workers(client: FlaskClient) -> None:
    doc = client.get("/").get_json()
    assert doc["status"] == "ok" and doc["redis"] == "ok"
    assert set(doc["queues"]) == {"csm", "portrait", "whisper", "analyze"}
    assert doc["workers"] == 0 and doc["running"] == 0 and doc["serving"] == {}


def test_api_keys(settings_env: dict[str, str], redis_client: object) -> None:
    client = create_app(load_settings(api_keys=["s3cret", "other"])).test_client()
    assert client.get("/").status_code == 200
    denied = client.post("/csm", json={"text": "x"})
    assert denied.status_code == 401 and "API key" in denied.get_json()["error"]
    assert client.post("/csm", json={"text": "x"}, headers={"X-C3-RENDER-KEY": "wrong"}).status_code == 401
    assert client.post("/csm", json={"text": "x"}, headers={"X-C3-RENDER-KEY": "s3cret"}).status_code == 200
    bearer = {"Authorization": "Bearer other"}
    assert client.post("/csm", json={"text": "x"}, headers=bearer).status_code == 200
    assert client.get(f"/status/{uuid.uuid4()}").status_code == 401


def test_cors_preflight_and_headers(settings_env: dict[str, str], redis_client: object) -> None:
    settings = load_settings(api_keys=["k"], cors_origins=["https://ui.example.org"])
    client = create_app(settings).test_client()
    origin = {"Origin": "https://ui.example.org"}
    preflight = client.options(
        "/csm",
        headers={**origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "X-C3-RENDER-KEY, Content-Type"},
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://ui.example.org"
    assert "x-c3-render-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    response = client.get("/", headers=origin)
    assert response.headers["Access-Control-Allow-Origin"] == "https://ui.example.org"
    stranger = client.get("/", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


def test_redis_down_is_503_not_500(settings_env: dict[str, str]) -> None:
    client = create_app(load_settings(redis_url="redis://127.0.0.1:1/0")).test_client()
    assert client.get("/").status_code == 503
    response = client.post("/csm", json={"text": "x"})
    assert response.status_code == 503 and "Redis" in response.get_json()["error"]


def test_openapi_document_describes_every_endpoint(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    for path in ("/csm", "/portrait", "/whisper", "/analyze", "/status/{job_id}",
                 "/result/{job_id}", "/job/{job_id}", "/jobs", "/uploads", "/"):
        assert path in doc["paths"]
    csm = doc["paths"]["/csm"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert csm["properties"]["topk"]["maximum"] == 100


def test_retry_of_an_unknown_or_unfinished_job(client) -> None:
    assert client.post(f"/job/{uuid.uuid4()}/retry").status_code == 404
    job_id = client.post("/csm", json={"text": "hi"}).get_json()["id"]
    refused = client.post(f"/job/{job_id}/retry")
    assert refused.status_code == 409 and "only failed or timed_out" in refused.get_json()["error"]
    client.post(f"/job/{job_id}", json={"status": "failed", "error": "by hand"})
    doc = client.post(f"/job/{job_id}/retry").get_json()
    assert doc["status"] == "queued" and "error" not in doc and doc["queue_position"] == 0


def test_a_cancelled_job_says_so_in_error_type(client) -> None:
    job_id = client.post("/csm", json={"text": "hi"}).get_json()["id"]
    doc = client.post(f"/job/{job_id}", json={"status": "cancelled"}).get_json()
    assert doc["status"] == "cancelled" and doc["error_type"] == "cancelled"


def test_a_full_queue_answers_429_with_retry_after(settings_env, redis_client) -> None:
    client = create_app(load_settings(max_queued=1)).test_client()
    assert client.post("/csm", json={"text": "one"}).status_code == 200
    full = client.post("/csm", json={"text": "two"})
    assert full.status_code == 429 and int(full.headers["Retry-After"]) > 0
    assert "queue is full" in full.get_json()["error"]
    assert client.get("/jobs").get_json()["jobs"][0]["status"] == "queued"


def test_the_originals_default_deadlines_are_honoured(settings_env, redis_client, monkeypatch) -> None:
    monkeypatch.setenv("DEFAULT_MAX_TIME", "300")
    monkeypatch.setenv("DEFAULT_COMPLETE_IN", "900")
    client = create_app(load_settings()).test_client()
    job_id = client.post("/csm", json={"text": "hi"}).get_json()["id"]
    data = redis_client.hgetall(f"c3:{{csm}}:job:{job_id}")
    assert data["max_time"] == "300"
    assert float(data["deadline"]) - float(data["created_at"]) == pytest.approx(900)
    explicit = client.post("/csm", json={"text": "hi", "max_time": 600}).get_json()["id"]
    assert redis_client.hget(f"c3:{{csm}}:job:{explicit}", "max_time") == "600"


def test_named_voices_are_listed_and_checked_at_submit(settings_env, redis_client, tmp_path) -> None:
    folder = tmp_path / "voices"
    folder.mkdir()
    (folder / "alice.wav").write_bytes(b"RIFF")
    (folder / "alice.txt").write_text("Hello, this is Alice.")
    client = create_app(load_settings(voices_dir=folder)).test_client()
    listed = client.get("/voices").get_json()["voices"]
    assert [v["name"] for v in listed] == ["conversational_a", "conversational_b", "alice"]
    assert listed[2] == {"name": "alice", "kind": "named", "text": "Hello, this is Alice."}
    assert client.post("/csm", json={"text": "x", "voice": "alice"}).status_code == 200
    unknown = client.post("/csm", json={"text": "x", "voice": "robot"})
    assert unknown.status_code == 400 and unknown.get_json()["error"].startswith("voice: no voice named 'robot'")
    turns = [{"speaker": "alice", "text": "Hi."}, {"speaker": "bob", "text": "Hey."}]
    refused = client.post("/csm", json={"conversation": turns})
    assert refused.status_code == 400 and "conversation.1.speaker" in refused.get_json()["error"]
    bare = create_app(load_settings()).test_client()
    assert "no C3_VOICES_DIR" in bare.post("/csm", json={"text": "x", "voice": "alice"}).get_json()["error"]
    assert [v["name"] for v in bare.get("/voices").get_json()["voices"]] == ["conversational_a", "conversational_b"]
