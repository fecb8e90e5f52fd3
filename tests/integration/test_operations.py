"""Operations: JSON log lines with the job id (a real worker, engine process and API
server), and X-Forwarded-* honoured only from a trusted proxy (C3_TRUST_PROXY)."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from c3render.api import create_app
from c3render.job import JobType
from c3render.queue import keys
from c3render.settings import load_settings
from c3render.settings.logs import configure_logging
from tests.support.servers import free_port, wait_for_port
from tests.support.service import service_env, wait_until, worker_process

FIELDS = {"time", "level", "logger", "message", "process", "pid"}


def _json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` parsed as one JSON object (a line that is not fails the test)."""
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    parsed = []
    for line in lines:
        record = json.loads(line)
        assert isinstance(record, dict) and FIELDS <= set(record), line
        parsed.append(record)
    return parsed


def test_a_worker_logs_json_lines_naming_the_job(
    worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(worker_env, C3_LOG_FORMAT="json")
    log = tmp_path / "worker.log"
    client = create_app(load_settings()).test_client()
    with worker_process(env, log=log) as worker:
        ok = client.post("/csm", json={"text": "ok"}).get_json()["id"]
        bad = client.post("/csm", json={"text": "fail:the voice broke"}).get_json()["id"]
        raw = client.post("/csm", json={"text": "native:delegate created"}).get_json()["id"]
        for job_id in (ok, bad, raw):
            wait_until(lambda j=job_id: client.get(f"/status/{j}").get_json()["status"]
                       in ("success", "failed"), 30)
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    records = _json_lines(log.read_text())
    assert {r["process"] for r in records} == {"worker", "engine"}
    for job_id in (ok, bad):
        mentioning = [r for r in records if job_id in r["message"]]
        assert mentioning and all(r.get("job_id") == job_id for r in mentioning)
        # the engine's own line ("running the script ...") does not name the job: the context does
        engine = [r for r in records if r["process"] == "engine" and r.get("job_id") == job_id]
        assert any("running the script" in r["message"] for r in engine)
    # what native code writes straight to file descriptor 2 comes out as a JSON line too
    (native,) = [r for r in records if r["logger"] == "native"]
    assert native["message"] == "W0000 native-code delegate created"
    assert native["level"] == "WARNING" and native["job_id"] == raw
    assert native["process"] == "engine"
    assert any("job_id" not in r for r in records)  # lines outside a job name none
    assert all(r["time"].endswith("+00:00") for r in records)


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_the_api_server_logs_json_lines(
    settings_env: dict[str, str], tmp_path: Path, server: str
) -> None:
    """The server's own lines (start-up, gunicorn's access log) and the app's, all JSON."""
    port = free_port()
    env = service_env(settings_env, C3_LOG_FORMAT="json", API_HOST="0.0.0.0",
                      API_PORT=str(port), C3_API_WORKERS="1", C3_API_SERVER=server)
    out = tmp_path / "api.log"
    with open(out, "wb") as sink:
        server = subprocess.Popen([sys.executable, "-m", "c3render.cli", "api"], env=env,
                                  stdout=sink, stderr=subprocess.STDOUT)
        try:
            wait_for_port(port, timeout=60)
            assert requests.get(f"http://127.0.0.1:{port}/", timeout=10).ok
        finally:
            server.terminate()
            server.wait(timeout=30)
    records = _json_lines(out.read_text())
    assert {r["process"] for r in records} == {"api"}
    warned = [r for r in records if "no API keys" in r["message"]]
    assert len(warned) == 1 and warned[0]["level"] == "WARNING"  # once: one handler
    assert any(r["logger"].startswith(("_granian", "gunicorn")) for r in records)
    if server == "gunicorn":
        assert any(r["logger"] == "gunicorn.access" and '"GET / ' in r["message"]
                   for r in records)


def test_api_lines_about_one_job_name_it(
    app: Flask, capsys: pytest.CaptureFixture[str]
) -> None:
    """A line logged while /status/<id> is handled carries the id (here from the 404)."""
    root = logging.getLogger()
    level = root.level
    configure_logging(load_settings(log_format="json"), "api")
    try:
        @app.after_request
        def _log_one(response: Any) -> Any:
            logging.getLogger("c3render.test").info("answered %s", response.status_code)
            return response

        app.test_client().get("/status/0f8fad5b-d9cb-469f-a165-70867728950e")
        app.test_client().get("/")
    finally:  # leave the test session's logging as it was
        for handler in [h for h in root.handlers if getattr(h, "_c3render", False)]:
            root.removeHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)
    records = [r for r in _json_lines(capsys.readouterr().err) if r["logger"] == "c3render.test"]
    assert [r.get("job_id") for r in records] == ["0f8fad5b-d9cb-469f-a165-70867728950e", None]


# --- X-Forwarded-* -------------------------------------------------------------------------

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "render.example.org",
             "X-Forwarded-Prefix": "/c3"}


def _submit_urls(app: Flask, headers: dict[str, str]) -> dict[str, str]:
    answer = app.test_client().post("/csm", json={"text": "ok"}, headers=headers)
    assert answer.status_code == 200
    urls: dict[str, str] = answer.get_json()["urls"]
    return urls


def test_forwarded_headers_are_ignored_without_trust(app: Flask) -> None:
    urls = _submit_urls(app, FORWARDED)
    assert all(url.startswith("http://localhost/") for url in urls.values()), urls


def test_a_trusted_proxy_sets_scheme_host_and_prefix(settings_env: dict[str, str],
                                                      redis_client: object) -> None:
    app = create_app(load_settings(trust_proxy=1))
    urls = _submit_urls(app, FORWARDED)
    job_id = urls["status"].rsplit("/", 1)[1]
    assert urls["status"] == f"https://render.example.org/c3/status/{job_id}"
    assert all(url.startswith("https://render.example.org/c3/") for url in urls.values())
    # one hop trusted: of two X-Forwarded-Host values only the last (our proxy's) counts
    two = dict(FORWARDED, **{"X-Forwarded-Host": "evil.example, render.example.org"})
    assert _submit_urls(app, two)["status"].startswith("https://render.example.org/c3/")


def test_an_explicit_public_url_wins_over_the_proxy(settings_env: dict[str, str],
                                                    redis_client: object) -> None:
    app = create_app(load_settings(trust_proxy=1, public_url="https://cdn.example.net/r"))
    urls = _submit_urls(app, FORWARDED)
    assert all(url.startswith("https://cdn.example.net/r/") for url in urls.values()), urls


def test_result_links_follow_the_proxy(settings_env: dict[str, str], redis_client: object,
                                       worker: object) -> None:
    app = create_app(load_settings(trust_proxy=1))
    client = app.test_client()
    job_id = client.post("/csm", json={"text": "ok"}).get_json()["id"]
    wait_until(lambda: client.get(f"/status/{job_id}").get_json()["status"] == "success", 30)
    behind = client.get(f"/result/{job_id}", headers=FORWARDED).get_json()
    direct = client.get(f"/result/{job_id}").get_json()
    assert behind["result_url"].startswith("https://render.example.org/c3/files/")
    assert direct["result_url"].startswith("http://localhost/files/")


# --- the autoscaling signal -------------------------------------------------------------------

def test_queue_stream_length_counts_jobs_waiting_or_running(
    app: Flask, redis_client: Any, worker: object
) -> None:
    """deploy/kubernetes/keda.yaml scales each type's workers on XLEN of its queue stream:
    that is only right while an entry stays from submission until its job ends."""
    client = app.test_client()
    stream = keys.queue(JobType.CSM)
    first = client.post("/csm", json={"text": "sleep:4"}).get_json()["id"]
    wait_until(lambda: client.get(f"/status/{first}").get_json()["status"] == "running", 20)
    waiting = [client.post("/csm", json={"text": "ok"}).get_json()["id"] for _ in range(2)]
    assert redis_client.xlen(stream) == 3  # one running (pending in the group), two waiting
    client.post(f"/job/{waiting[0]}", json={"status": "cancelled"})
    assert redis_client.xlen(stream) == 2  # a cancelled queued job leaves the stream
    wait_until(lambda: client.get(f"/status/{waiting[1]}").get_json()["status"] == "success", 30)
    assert client.get(f"/status/{first}").get_json()["status"] == "success"
    assert redis_client.xlen(stream) == 0  # ended jobs leave nothing behind
