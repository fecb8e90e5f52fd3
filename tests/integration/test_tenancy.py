"""Tenancy: named keys, per-key isolation, rate limits and quotas, upload ownership."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from c3render.api import create_app
from c3render.job import JobType
from c3render.queue import keys
from c3render.settings import load_settings
from tests.support.media import wav_bytes

ALICE = {"X-C3-RENDER-KEY": "alice-key-0123456789"}
BOB = {"Authorization": "Bearer bob-key-9876543210"}
KEYS = ["alice:alice-key-0123456789", "bob:bob-key-9876543210"]
WAV = wav_bytes()


def make_app(**overrides: Any) -> Flask:
    return create_app(load_settings(api_keys=KEYS, **overrides))


@pytest.fixture
def isolated(settings_env: dict[str, str], redis_client: redis.Redis) -> FlaskClient:
    return make_app(key_isolation=True).test_client()


def submit(client: FlaskClient, headers: dict[str, str], **body: Any) -> str:
    answer = client.post("/csm", json={"text": "hello", **body}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return str(answer.get_json()["id"])


def upload(client: FlaskClient, headers: dict[str, str]) -> dict[str, Any]:
    answer = client.post("/uploads", data=WAV, headers=headers)
    assert answer.status_code == 201, answer.get_json()
    return dict(answer.get_json())


def test_jobs_record_the_key_name_never_the_key(isolated: FlaskClient,
                                                redis_client: redis.Redis) -> None:
    job_id = submit(isolated, ALICE)
    stored = redis_client.hgetall(keys.job(JobType.CSM, job_id))
    assert stored["owner"] == "alice"
    assert not any("alice-key" in str(value) for value in stored.values())


def test_with_isolation_other_keys_see_404(isolated: FlaskClient) -> None:
    job_id = submit(isolated, ALICE)
    for path in (f"/status/{job_id}", f"/result/{job_id}"):
        assert isolated.get(path, headers=BOB).status_code == 404
        assert isolated.get(path, headers=ALICE).status_code in (200, 400)
    cancel = {"status": "cancelled", "remove_data": True}
    assert isolated.post(f"/job/{job_id}", json=cancel, headers=BOB).status_code == 404
    assert [job["id"] for job in isolated.get("/jobs", headers=BOB).get_json()["jobs"]] == []
    listed = isolated.get("/jobs", headers=ALICE).get_json()["jobs"]
    assert [job["id"] for job in listed] == [job_id]
    assert isolated.post(f"/job/{job_id}", json=cancel, headers=ALICE).status_code == 200
    assert isolated.get(f"/status/{job_id}", headers=ALICE).get_json()["status"] == "cancelled"


def test_without_isolation_every_key_sees_every_job(settings_env: dict[str, str],
                                                    redis_client: redis.Redis) -> None:
    client = make_app().test_client()
    job_id = submit(client, ALICE)
    assert client.get(f"/status/{job_id}", headers=BOB).status_code == 200
    assert len(client.get("/jobs", headers=BOB).get_json()["jobs"]) == 1


def test_idempotency_keys_are_scoped_by_key(isolated: FlaskClient) -> None:
    same = {"Idempotency-Key": "order-1"}
    first = submit(isolated, {**ALICE, **same})
    assert submit(isolated, {**ALICE, **same}) == first
    assert submit(isolated, {**BOB, **same}) != first


def test_rate_limit_answers_429_with_retry_after(settings_env: dict[str, str],
                                                 redis_client: redis.Redis,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    client = make_app(submits_per_minute=2).test_client()
    submit(client, ALICE)
    submit(client, ALICE)
    with caplog.at_level(logging.INFO):
        refused = client.post("/csm", json={"text": "x"}, headers=ALICE)
    assert "key 'alice' is over its submit rate limit" in caplog.text  # the name, not the key
    assert "alice-key" not in caplog.text
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "'alice'" in refused.get_json()["error"] and "alice-key" not in refused.get_data(True)
    submit(client, BOB)  # each key has its own window


def test_unfinished_jobs_quota(settings_env: dict[str, str], redis_client: redis.Redis) -> None:
    client = make_app(max_queued_jobs=2).test_client()
    first = submit(client, ALICE)
    submit(client, ALICE)
    refused = client.post("/csm", json={"text": "x"}, headers=ALICE)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "C3_MAX_QUEUED_JOBS" in refused.get_json()["error"]
    submit(client, BOB)
    client.post(f"/job/{first}", json={"status": "cancelled"}, headers=ALICE)
    submit(client, ALICE)  # an ended job frees its place


def test_upload_bytes_quota(settings_env: dict[str, str], redis_client: redis.Redis) -> None:
    client = make_app(max_upload_bytes=len(WAV) + 100).test_client()
    upload(client, ALICE)
    refused = client.post("/uploads", data=WAV, headers=ALICE)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "C3_MAX_UPLOAD_BYTES" in refused.get_json()["error"]
    upload(client, BOB)


def test_uploads_belong_to_their_key(isolated: FlaskClient, redis_client: redis.Redis) -> None:
    mine = upload(isolated, ALICE)
    assert redis_client.hget(keys.upload(mine["id"]), "owner") == "alice"
    body = {"audio_url": mine["url"]}
    refused = isolated.post("/whisper", json=body, headers=BOB)
    assert refused.status_code == 400 and "another API key" in refused.get_json()["error"]
    assert isolated.post("/whisper", json=body, headers=ALICE).status_code == 200


def _upload_exists(app: Flask, upload_id: str) -> bool:
    storage = app.extensions["c3render"].storage
    return any((storage.root / "uploads" / upload_id).glob("*"))


def test_remove_data_keeps_uploads_that_others_still_read(settings_env: dict[str, str],
                                                          redis_client: redis.Redis) -> None:
    app = make_app()
    client = app.test_client()
    shared = upload(client, ALICE)
    body = {"audio_url": shared["url"]}
    first = client.post("/whisper", json=body, headers=ALICE).get_json()["id"]
    second = client.post("/whisper", json=body, headers=ALICE).get_json()["id"]
    bobs = client.post("/whisper", json=body, headers=BOB).get_json()["id"]
    remove = {"status": "cancelled", "remove_data": True}
    client.post(f"/job/{bobs}", json=remove, headers=BOB)
    client.post(f"/job/{first}", json=remove, headers=ALICE)
    assert _upload_exists(app, shared["id"])  # the second job still reads it
    client.post(f"/job/{second}", json=remove, headers=ALICE)
    assert not _upload_exists(app, shared["id"])  # the last of its own key's jobs removed it


def test_remove_data_never_deletes_another_keys_upload(settings_env: dict[str, str],
                                                       redis_client: redis.Redis) -> None:
    app = make_app()
    client = app.test_client()
    alices = upload(client, ALICE)
    bobs = client.post("/whisper", json={"audio_url": alices["url"]}, headers=BOB).get_json()
    client.post(f"/job/{bobs['id']}", json={"status": "cancelled", "remove_data": True},
                headers=BOB)
    assert _upload_exists(app, alices["id"])


def test_a_chained_job_reads_only_its_own_keys_jobs(isolated: FlaskClient) -> None:
    alices = submit(isolated, ALICE)
    refused = isolated.post("/whisper", json={"audio_url": f"job:{alices}"}, headers=BOB)
    assert refused.status_code == 400 and refused.get_json()["error"].startswith("audio_url:")
    assert alices in refused.get_json()["error"]  # as for a job that does not exist
    accepted = isolated.post("/whisper", json={"audio_url": f"job:{alices}"}, headers=ALICE)
    assert accepted.status_code == 200


def test_openai_routes_count_against_the_keys_quota(
    settings_env: dict[str, str], redis_client: redis.Redis
) -> None:
    client = make_app(max_queued_jobs=1).test_client()
    submit(client, ALICE)
    refused = client.post("/v1/audio/speech", json={"model": "tts-1", "input": "Hi.",
                                                     "voice": "alloy"}, headers=ALICE)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "C3_MAX_QUEUED_JOBS" in refused.get_json()["error"]["message"]  # OpenAI's shape
    upload = client.post("/v1/audio/transcriptions", data={"file": (io.BytesIO(WAV), "a.wav"),
                                                           "model": "whisper-1"}, headers=ALICE)
    assert upload.status_code == 429
