"""The commands for people (`c3-render tts / analyze / jobs / workers / logs`) and the
Python client's `tts`, `events` and `wait(on_progress=...)`, against a real API server and
worker: plain lines off a terminal, a live progress bar on one, `--json`, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from c3render.cli.client import Client
from c3render.cli.events import JobView
from tests.support.servers import free_port, wait_for_port
from tests.support.service import FIXTURE_ENGINES, service_env

CLI = [sys.executable, "-m", "c3render.cli"]


@pytest.fixture
def api_env(settings_env: dict[str, str], redis_client: object) -> Iterator[dict[str, str]]:
    """A real API server and a csm/analyze worker with the scripted fixture engines."""
    port = free_port()
    env = service_env(settings_env, API_PORT=str(port), C3_API_WORKERS="1",
                      C3_ENGINES=FIXTURE_ENGINES, C3_URL=f"http://127.0.0.1:{port}")
    api = subprocess.Popen([*CLI, "api"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([*CLI, "worker", "--types", "csm,analyze"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, timeout=30)
        yield env
    finally:
        for process in (worker, api):
            process.terminate()
            process.wait(timeout=30)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


def test_render_commands_exit_codes_and_plain_progress(
    api_env: dict[str, str], redis_client: object, tmp_path: Path
) -> None:
    out = _cli(api_env, "tts", "progress:1", "-o", str(tmp_path / "hello.wav"))
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "hello.wav").read_bytes()[:4] == b"RIFF"
    lines = out.stderr.splitlines()
    assert lines[0].startswith("job ") and any(line.startswith("running") for line in lines)
    assert "saved" in lines[-1]

    as_json = _cli(api_env, "tts", "ok", "--json", "--priority", "high")
    doc = json.loads(as_json.stdout)
    assert as_json.returncode == 0 and doc["status"] == "success" and doc["result_url"]
    assert as_json.stderr == ""
    assert redis_client.hget(f"c3:{{csm}}:job:{doc['id']}", "priority") == "high"  # type: ignore[attr-defined]
    unknown_voice = _cli(api_env, "tts", "ok", "--voice", "nobody")
    assert unknown_voice.returncode == 2 and "voice" in unknown_voice.stderr  # the server's 400

    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 8), (0, 90, 200)).save(photo)
    described = _cli(api_env, "analyze", str(photo), "--prompt", "ok")
    assert described.returncode == 0 and described.stdout.strip() == "ran ok"

    failed = _cli(api_env, "tts", "fail:nope")
    assert failed.returncode == 1 and "nope" in failed.stderr
    refused = _cli(api_env, "tts", " ")
    assert refused.returncode == 2 and "text" in refused.stderr
    unreachable = _cli({**api_env, "C3_URL": f"http://127.0.0.1:{free_port()}"}, "jobs")
    assert unreachable.returncode == 3

    jobs = json.loads(_cli(api_env, "jobs", "--json").stdout)
    assert {job["status"] for job in jobs} == {"success", "failed"}
    workers = json.loads(_cli(api_env, "workers", "--json").stdout)
    assert workers and "csm" in workers[0]["types"]
    logs = _cli(api_env, "logs", doc["id"])
    assert logs.returncode == 0 and "running the script" in logs.stdout
    followed = _cli(api_env, "logs", doc["id"], "--follow")
    assert "running the script" in followed.stdout
    assert followed.stdout.splitlines()[-1].endswith("-- success ")


def test_a_terminal_gets_a_live_progress_bar(api_env: dict[str, str]) -> None:
    master, slave = os.openpty()
    process = subprocess.Popen([*CLI, "tts", "progress:2"], env={**api_env, "COLUMNS": "120"},
                               stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=60) == 0
    text = seen.decode(errors="replace")
    assert "━" in text and "running" in text and "100%" in text


def test_the_client_follows_events_and_reports_progress(api_env: dict[str, str]) -> None:
    client = Client(api_env["C3_URL"])
    views: list[tuple[str, float]] = []

    def record(view: JobView) -> None:
        views.append((view.status, view.progress))

    result = client.tts("progress:1.5", on_progress=record)
    assert result["status"] == "success" and result["result_url"]
    statuses = [status for status, _ in views]
    assert statuses[0] == "queued" and statuses[-1] == "success" and "running" in statuses
    running = [progress for status, progress in views if status == "running"]
    assert max(running) > 0 and running == sorted(running)
    job_id = client.submit("csm", {"text": "ok"})
    doc = client.wait(job_id, on_progress=lambda view: None)
    assert doc["status"] == "success"
    kinds = [event.kind for event in client.events(job_id)]
    assert kinds[0] == "status" and kinds[-1] == "result"
