"""The commands people run: `c3-render up`, `python c3_render_api.py`, and the client commands."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from c3render.cli.client import Client
from tests.support.servers import free_port, wait_for_port
from tests.support.service import FIXTURE_ENGINES, ROOT, service_env, wait_until


@pytest.fixture
def up_env(tmp_path: Path) -> dict[str, str]:
    """Environment for `c3-render up` on free ports, with no Redis running there yet."""
    return service_env(
        {},
        API_PORT=str(free_port()), REDIS_PORT=str(free_port()), C3_DATA_DIR=str(tmp_path / "data"),
        C3_ENGINES=FIXTURE_ENGINES, FLASK_SECRET_KEY="cli-tests-8d2e6b0a4c9f1e7d3b5a",
        C3_API_WORKERS="1",
        C3_REDIS_URL="", REDIS_URL="",
    )


def test_up_serves_jobs_and_stops_cleanly(up_env: dict[str, str], tmp_path: Path) -> None:
    log = open(tmp_path / "up.log", "wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "c3render.cli", "up"], env=up_env, cwd=tmp_path,
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(int(up_env["API_PORT"]), timeout=60)
        client = Client(f"http://127.0.0.1:{up_env['API_PORT']}")
        wait_until(lambda: client.health()["workers"], 30)
        job_id = client.submit("csm", {"text": "ok"})
        assert client.wait(job_id, timeout=30)["status"] == "success"
        result = client.result(job_id)
        saved = client.download(result["result_url"], tmp_path / "out.wav")
        assert saved.read_bytes()[:4] == b"RIFF"
        assert (tmp_path / "data" / "redis" / "appendonlydir").exists()
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
        log.close()
    assert up.returncode == 0
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{up_env['API_PORT']}/", timeout=2)
    with pytest.raises(OSError):
        wait_for_port(int(up_env["REDIS_PORT"]), timeout=1)


def test_compat_entry_serves_the_api(settings_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    env = service_env(settings_env, API_PORT="", PORT=str(port), C3_API_WORKERS="1")
    env.pop("API_PORT")
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "c3_render_api.py")], env=env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        health = requests.get(f"http://127.0.0.1:{port}/", timeout=5).json()
        assert health["redis"] == "ok"
        reply = requests.post(f"http://127.0.0.1:{port}/csm", json={"text": "hi"}, timeout=5)
        assert reply.status_code == 200 and reply.json()["status"] == "queued"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_gunicorn_target_is_importable(settings_env: dict[str, str]) -> None:
    code = "import c3_render_api; print(type(c3_render_api.app).__name__)"
    out = subprocess.run(
        [sys.executable, "-c", code], env=service_env(settings_env), cwd=ROOT,
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.strip() == "Flask"


def test_bad_setting_stops_with_one_line(settings_env: dict[str, str]) -> None:
    env = service_env(settings_env, API_PORT="not-a-port")
    out = subprocess.run(
        [sys.executable, str(ROOT / "c3_render_api.py")], env=env, capture_output=True, text=True
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "API_PORT" in out.stderr


def test_client_commands(
    settings_env: dict[str, str], redis_client: object, tmp_path: Path
) -> None:
    port = free_port()
    env = service_env(settings_env, API_PORT=str(port), C3_API_WORKERS="1",
                      C3_ENGINES=FIXTURE_ENGINES, C3_URL=f"http://127.0.0.1:{port}")
    api = subprocess.Popen([sys.executable, "-m", "c3render.cli", "api"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([sys.executable, "-m", "c3render.cli", "worker", "--types", "csm"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cli = [sys.executable, "-m", "c3render.cli"]
    try:
        wait_for_port(port, timeout=30)
        out = subprocess.run([*cli, "submit", "csm", "text=ok", "--wait", "-o",
                              str(tmp_path / "r.wav")], env=env, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        job_id = json.loads(out.stdout)["id"]
        assert (tmp_path / "r.wav").read_bytes()[:4] == b"RIFF"
        status = subprocess.run([*cli, "status", job_id], env=env, capture_output=True, text=True)
        assert json.loads(status.stdout)["status"] == "success"
        slow = json.loads(subprocess.run([*cli, "submit", "csm", "text=sleep:30"], env=env,
                                         capture_output=True, text=True).stdout)["id"]
        cancel = subprocess.run([*cli, "cancel", slow], env=env, capture_output=True, text=True)
        assert json.loads(cancel.stdout)["status"] == "cancelled"
    finally:
        for process in (worker, api):
            process.terminate()
            process.wait(timeout=30)


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    pending = [pid]
    while pending:
        children = subprocess.run(["pgrep", "-P", str(pending.pop())], capture_output=True,
                                  text=True).stdout.split()
        for child in map(int, children):
            found.add(child)
            pending.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_stops_every_process_on_sigterm_also_as_a_background_job(
    up_env: dict[str, str], tmp_path: Path
) -> None:
    """A supervisor's SIGTERM (or Ctrl-C when SIGINT was ignored, as for a background job)
    ends the API server's own worker processes too: none outlives `up`."""
    up = subprocess.Popen(
        [sys.executable, "-m", "c3render.cli", "up"], env=up_env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    wait_for_port(int(up_env["API_PORT"]), timeout=60)
    wait_until(lambda: len(_descendants(up.pid)) >= 4, 30)  # redis, worker, granian + workers
    family = _descendants(up.pid)
    up.send_signal(signal.SIGTERM)
    up.wait(timeout=90)
    wait_until(lambda: not any(_alive(pid) for pid in family), 10)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{up_env['API_PORT']}/", timeout=2)


def test_up_stopped_while_it_is_still_starting_leaves_nothing_behind(
    up_env: dict[str, str], tmp_path: Path
) -> None:
    """A SIGTERM that comes before the API answers (while `up` waits for it) still stops
    Redis and the worker it has started."""
    up = subprocess.Popen(
        [sys.executable, "-m", "c3render.cli", "up"], env=up_env, cwd=tmp_path,
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )
    wait_until(lambda: len(_descendants(up.pid)) >= 2, 60)  # redis and the worker, at least
    family = _descendants(up.pid)
    up.send_signal(signal.SIGTERM)
    up.wait(timeout=90)
    wait_until(lambda: not any(_alive(pid) for pid in family), 10)
    wait_until(lambda: not _descendants(up.pid), 10)
