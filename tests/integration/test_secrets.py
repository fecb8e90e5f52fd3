"""No secret the service is given ever shows in what it prints or answers.

The real API server (granian) and a worker run with every kind of secret configured — a
Redis password, named API keys, FLASK_SECRET_KEY, a webhook secret, S3 credentials — and
an internal ComfyUI URL. Jobs succeed, fail, crash into internal errors, meet refused
webhooks and an unreachable ComfyUI; then everything both processes printed and every
document they answered is searched for each secret.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from c3render.api import create_app
from c3render.settings import load_settings
from tests.support.http_peers import http_peer, respond
from tests.support.media import png_bytes, wav_bytes
from tests.support.servers import free_port, wait_for_port
from tests.support.service import FIXTURE_ENGINES, service_env, worker_process

COMFY_HOST = "comfy-render-node.internal.invalid"
WORKFLOW = {
    "1": {"class_type": "LoadImage", "inputs": {"image": "{{image}}"}},
    "2": {"class_type": "LoadAudio", "inputs": {"audio": "{{audio}}"}},
    "3": {"class_type": "VHS_VideoCombine", "inputs": {"images": ["1", 0], "audio": ["2", 0]}},
}
PNG = png_bytes()  # a real image: the ComfyUI engine fits it to 1280x720 before uploading


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A redis-server that demands a password; (URL with the password, the password)."""
    password = "redis-pw-" + secrets.token_hex(12)
    port = free_port()
    process = subprocess.Popen(
        [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind",
         "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password,
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"redis://:{password}@127.0.0.1:{port}/0", password
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def given(password_redis: tuple[str, str], tmp_path: Path) -> dict[str, str]:
    """The secrets handed to the service, by name."""
    url, password = password_redis
    return {
        "redis_url": url, "redis_password": password,
        "api_key": "apikey-" + secrets.token_urlsafe(24),
        "flask_secret_key": secrets.token_hex(32),
        "webhook_secret": "whsec_" + secrets.token_hex(24),
        "s3_access_key_id": "AKIA" + secrets.token_hex(8).upper(),
        "s3_secret_access_key": secrets.token_urlsafe(30),
    }


def _env(given: dict[str, str], tmp_path: Path, port: int) -> dict[str, str]:
    workflow = tmp_path / "workflow.json"
    workflow.write_text(json.dumps(WORKFLOW))
    return service_env(
        {}, C3_REDIS_URL=given["redis_url"], C3_DATA_DIR=str(tmp_path / "data"),
        FLASK_SECRET_KEY=given["flask_secret_key"], C3_API_KEYS=f"ui:{given['api_key']}",
        C3_WEBHOOK_SECRET=given["webhook_secret"], C3_S3_ACCESS_KEY_ID=given["s3_access_key_id"],
        C3_S3_SECRET_ACCESS_KEY=given["s3_secret_access_key"], C3_STORAGE="local",
        C3_FETCH_ALLOW="127.0.0.1", C3_WEBHOOK_ALLOW="", API_HOST="127.0.0.1",
        API_PORT=str(port), C3_API_WORKERS="1", C3_ENGINES=FIXTURE_ENGINES,
        C3_PORTRAIT_ENGINE="comfyui", C3_COMFYUI_URL=f"http://{COMFY_HOST}:8188/",
        C3_COMFYUI_WORKFLOW=str(workflow), C3_HEARTBEAT_SECONDS="0.5",
    )


def _wait_end(base: str, auth: dict[str, str], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        doc: dict[str, Any] = requests.get(f"{base}/status/{job_id}", headers=auth).json()
        if doc["status"] not in ("queued", "running") and (
                not doc.get("webhook") or doc["webhook"].get("next_attempt_at") is None):
            return doc
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not end")


def _exercise(base: str, auth: dict[str, str], inputs: str) -> list[str]:
    """Use the service in many ways; every answer's text."""
    seen: list[str] = []

    def keep(answer: requests.Response) -> requests.Response:
        seen.append(json.dumps(dict(answer.headers)) + answer.text)
        return answer

    keep(requests.get(f"{base}/"))
    keep(requests.post(f"{base}/csm", json={"text": "x"}, headers={"X-C3-RENDER-KEY": "wrong"}))
    keep(requests.post(f"{base}/csm", json={"text": ""}, headers=auth))
    jobs = [
        keep(requests.post(f"{base}/csm", json={"text": "ok"}, headers=auth)),
        keep(requests.post(f"{base}/csm", json={"text": "fail:the voice broke"}, headers=auth)),
        keep(requests.post(f"{base}/csm", json={"text": "boom"}, headers=auth)),
        keep(requests.post(f"{base}/csm", headers=auth,
                           json={"text": "ok", "notify_url": "http://127.0.0.1:9/hook"})),
        keep(requests.post(f"{base}/portrait", headers=auth, json={
            "image_url": f"{inputs}/face.png", "audio_url": f"{inputs}/voice.wav"})),
        keep(requests.post(f"{base}/analyze", headers=auth,
                           json={"image_url": "http://10.1.2.3/x.png"})),
    ]
    ids = [answer.json()["id"] for answer in jobs]
    for job_id in ids:
        seen.append(json.dumps(_wait_end(base, auth, job_id)))
        keep(requests.get(f"{base}/result/{job_id}", headers=auth))
    keep(requests.get(f"{base}/jobs", headers=auth))
    keep(requests.post(f"{base}/uploads", data=wav_bytes(), headers=auth))
    return seen


def test_no_secret_in_any_output(given: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = _env(given, tmp_path, port)
    api_log = tmp_path / "api.log"
    with api_log.open("wb") as out, http_peer() as peer:
        peer.route("/face.png", lambda h: respond(h, 200, PNG))
        peer.route("/voice.wav", lambda h: respond(h, 200, wav_bytes()))
        api = subprocess.Popen([sys.executable, "-m", "c3render.cli", "api"], env=env,
                               stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            with worker_process(env, types="csm,portrait,analyze",
                                log=tmp_path / "worker.log") as worker:
                wait_for_port(port, 30)
                base = f"http://127.0.0.1:{port}"
                seen = _exercise(base, {"X-C3-RENDER-KEY": given["api_key"]}, peer.url(""))
                health = requests.get(f"{base}/")
                worker.send_signal(signal.SIGTERM)
                worker.wait(timeout=30)
        finally:
            api.send_signal(signal.SIGTERM)
            api.wait(timeout=30)
    printed = api_log.read_text() + (tmp_path / "worker.log").read_text()
    answered = "\n".join(seen)
    for name, secret in given.items():
        if name == "redis_url":
            continue  # its password is checked on its own
        assert secret not in printed, f"{name} was printed"
        assert secret not in answered, f"{name} was answered"
    assert ":***@" in printed  # the Redis URL is shown, redacted
    assert COMFY_HOST not in answered  # internal URLs stay in the worker's log
    assert "10.1.2.3" not in answered  # the guard does not echo addresses
    assert health.headers["Server"] == "c3-render"  # granian's banner is replaced
    assert "ComfyUI cannot be reached (details are in the worker's log)" in answered
    assert "internal error in the csm engine" in answered
    results = re.findall(r'"result_url": ?"([^"]+)"', answered)
    assert results and all(re.search(r"/speech-[\w-]{16}\.wav\?", url) for url in results)


def test_engine_processes_get_no_secrets_they_do_not_need(
    given: dict[str, str], tmp_path: Path,
) -> None:
    env = _env(given, tmp_path, free_port())
    env.update(C3_ENGINES="analyze=tests.fixtures.introspect:create_engine",
               C3_ENGINE_MEMORY_MB="6000")
    settings = load_settings(redis_url=given["redis_url"], data_dir=tmp_path / "data",
                             api_keys=[f"ui:{given['api_key']}"], fetch_allow=["127.0.0.1"],
                             flask_secret_key=given["flask_secret_key"])
    client = create_app(settings).test_client()
    auth = {"X-C3-RENDER-KEY": given["api_key"]}
    with http_peer() as peer, worker_process(env, types="analyze", log=tmp_path / "w.log"):
        peer.route("/face.png", lambda h: respond(h, 200, PNG))
        job_id = client.post("/analyze", json={"image_url": peer.url("/face.png")},
                             headers=auth).get_json()["id"]
        deadline = time.monotonic() + 60
        while (doc := client.get(f"/status/{job_id}", headers=auth).get_json())["status"] in (
                "queued", "running"):
            assert time.monotonic() < deadline, "the job did not run"
            time.sleep(0.2)
        assert doc["status"] == "success", doc
        found = json.loads(client.get(f"/result/{job_id}", headers=auth).get_json()["text"])
    dump = json.dumps(found["environment"])
    for name in ("api_key", "redis_password", "webhook_secret", "s3_access_key_id",
                 "s3_secret_access_key", "flask_secret_key"):
        assert given[name] not in dump, f"{name} is in the engine's environment"
    assert found["api_keys"] == [] and found["webhook_secret"] is None
    assert given["redis_password"] not in found["redis_dsn"]
    assert found["secret_key"] == given["flask_secret_key"]  # local links must still verify
    assert found["rlimit_as"] == 6000 * 1024 * 1024
