"""``GET /stream/{id}`` against a real Redis and a real worker running the scripted engine,
whose ``stream:N`` script emits audio pieces and holds after the first until the test lets
it go: the first piece provably reaches the client while the job is still running."""

from __future__ import annotations

import time
from pathlib import Path

import redis
from flask.testing import FlaskClient

from c3render.api import create_app
from c3render.job import JobType
from c3render.queue import keys
from c3render.settings import load_settings
from tests.support.service import wait_until, worker_process

PIECE_BYTES = 12000
"""One scripted piece: 0.25 s at 16 kHz, streamed as 16-bit PCM at 24 kHz."""


def _status(client: FlaskClient, job_id: str) -> str:
    return str(client.get(f"/status/{job_id}").get_json()["status"])


def _read(client: FlaskClient, path: str) -> bytes:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data()


def test_pieces_arrive_while_the_job_runs_and_a_reconnect_resumes(
    client: FlaskClient, worker: object, settings_env: dict[str, str]
) -> None:
    job_id = client.post("/csm", json={"text": "stream:3"}).get_json()["id"]
    response = client.get(f"/stream/{job_id}?format=pcm", buffered=False)
    assert response.status_code == 200 and response.mimetype == "audio/pcm"
    assert response.headers["X-Stream-Run"] == "1" and "Content-Length" not in response.headers
    first = next(response.iter_encoded())
    # the engine holds after its first piece: the job cannot have ended
    assert abs(len(first) - PIECE_BYTES) <= 64 and _status(client, job_id) == "running"
    response.close()  # the client goes away mid-stream

    (Path(settings_env["C3_DATA_DIR"]) / f"release-{job_id}").touch()
    rest = _read(client, f"/stream/{job_id}?format=pcm&offset={len(first)}")
    whole = _read(client, f"/stream/{job_id}?format=pcm")
    assert first + rest == whole
    assert abs(len(whole) - 3 * PIECE_BYTES) <= 4  # the resampler's tail came with the last piece
    # the stream ended with the last piece, before the result was stored: the job ends next
    wait_until(lambda: _status(client, job_id) == "success")

    # mp3 (the job's own format) and wav: the same bytes at every read, so offsets line up
    mp3 = _read(client, f"/stream/{job_id}")
    assert mp3[:2] in (b"\xff\xf3", b"\xff\xfb", b"\xff\xf2")  # MPEG audio frames, no tag
    assert _read(client, f"/stream/{job_id}?offset=1000") == mp3[1000:]
    wav = _read(client, f"/stream/{job_id}?format=wav")
    assert wav[:4] == b"RIFF" and wav[44:] == whole


def test_a_job_that_fails_mid_stream_ends_the_body_and_then_answers_409(
    client: FlaskClient, worker: object
) -> None:
    job_id = client.post("/csm", json={"text": "streamfail:2"}).get_json()["id"]
    short = _read(client, f"/stream/{job_id}?format=pcm")
    assert PIECE_BYTES <= len(short) <= 2 * PIECE_BYTES  # two pieces (no tail: no last piece)
    wait_until(lambda: _status(client, job_id) == "failed")
    again = client.get(f"/stream/{job_id}")
    assert again.status_code == 409 and "scripted failure" in again.get_json()["error"]


def test_a_retried_job_streams_only_its_new_run(
    client: FlaskClient, worker: object, redis_client: redis.Redis
) -> None:
    job_id = client.post("/csm", json={"text": "streamcrash:2"}).get_json()["id"]
    wait_until(lambda: _status(client, job_id) == "success", timeout=30)
    assert redis_client.exists(keys.audio(JobType.CSM, job_id, 1))  # the lost run's pieces
    response = client.get(f"/stream/{job_id}?format=pcm")
    assert response.headers["X-Stream-Run"] == "2"
    assert abs(len(response.get_data()) - 3 * PIECE_BYTES) <= 4  # run 2's three, not five
    stale = client.get(f"/stream/{job_id}?format=pcm&offset=100&run=1")  # a resume of run 1
    assert stale.status_code == 409 and "run 2" in stale.get_json()["error"]
    assert client.get(f"/stream/{job_id}?format=pcm&offset=100&run=2").status_code == 200


def test_a_run_over_the_size_cap_is_cut(
    client: FlaskClient, worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(worker_env, C3_STREAM_MAX_BYTES=str(PIECE_BYTES + PIECE_BYTES // 2))
    with worker_process(env, log=tmp_path / "capped.log"):
        job_id = client.post("/csm", json={"text": "streamfail:3"}).get_json()["id"]
        body = _read(client, f"/stream/{job_id}?format=pcm")
    assert abs(len(body) - PIECE_BYTES) <= 64  # the second piece passed the cap


def test_a_queued_job_is_waited_for_then_504(settings_env: dict[str, str],
                                             redis_client: redis.Redis) -> None:
    client = create_app(load_settings(stream_wait_seconds=0.5)).test_client()
    job_id = client.post("/csm", json={"text": "ok"}).get_json()["id"]  # no worker runs
    started = time.monotonic()
    response = client.get(f"/stream/{job_id}")
    assert response.status_code == 504 and job_id in response.get_json()["error"]
    assert time.monotonic() - started >= 0.5


def test_bad_requests_name_the_field(client: FlaskClient, redis_client: redis.Redis) -> None:
    job_id = client.post("/csm", json={"text": "ok"}).get_json()["id"]
    wrong_format = client.get(f"/stream/{job_id}?format=ogg")
    assert wrong_format.status_code == 400 and "format" in wrong_format.get_json()["error"]
    wrong_offset = client.get(f"/stream/{job_id}?offset=-1")
    assert wrong_offset.status_code == 400 and "offset" in wrong_offset.get_json()["error"]
    assert client.get("/stream/00000000-0000-4000-8000-000000000000").status_code == 404
    assert client.get("/stream/nope").status_code == 400
    image = client.post("/analyze", json={"image_url": "https://example.org/a.png"})
    not_speech = client.get(f"/stream/{image.get_json()['id']}")
    assert not_speech.status_code == 400 and "only /csm" in not_speech.get_json()["error"]
