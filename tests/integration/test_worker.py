"""Workers against a real Redis, with the scripted fixture engines in real engine processes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.support.http_peers import http_peer, respond
from tests.support.media import png_bytes
from tests.support.service import wait_until, worker_process


def _wait_status(client: FlaskClient, job_id: str, wanted: set[str], timeout: float = 30) -> dict:
    def done() -> dict | None:
        doc = client.get(f"/status/{job_id}").get_json()
        return doc if doc["status"] in wanted else None

    return wait_until(done, timeout)  # type: ignore[return-value]


def _runs(settings_env: dict[str, str], job_id: str, kind: str = "done") -> int:
    log = Path(settings_env["C3_DATA_DIR"]) / "runs.log"
    return log.read_text().count(f"{kind} {job_id}") if log.exists() else 0


def test_success_stores_a_downloadable_result(client: FlaskClient, worker: object) -> None:
    job_id = client.post("/csm", json={"text": "ok"}).get_json()["id"]
    doc = _wait_status(client, job_id, {"success"})
    assert doc["progress"] == 1 and doc["attempts"] == 1 and doc["finished_at"]
    result = client.get(f"/result/{job_id}").get_json()
    assert result["status"] == "success" and result["duration"] == 0.1
    path = result["result_url"].split("localhost", 1)[1]
    download = client.get(path)
    assert download.status_code == 200
    assert download.data[:4] == b"RIFF" and download.mimetype == "audio/wav"


def test_text_result(client: FlaskClient, worker: object, http_image_url: str) -> None:
    job_id = client.post("/analyze", json={"image_url": http_image_url, "prompt": "ok"}).get_json()["id"]
    _wait_status(client, job_id, {"success"})
    result = client.get(f"/result/{job_id}").get_json()
    assert result["text"] == "ran ok" and "result_url" not in result


def test_engine_failure_and_crash_fail_the_job(client: FlaskClient, worker: object) -> None:
    failing = client.post("/csm", json={"text": "fail:the voice is hoarse"}).get_json()["id"]
    crashing = client.post("/csm", json={"text": "crash"}).get_json()["id"]
    unexpected = client.post("/csm", json={"text": "boom"}).get_json()["id"]
    assert _wait_status(client, failing, {"failed"})["error"] == "the voice is hoarse"
    assert "engine process died" in _wait_status(client, crashing, {"failed"})["error"]
    error = _wait_status(client, unexpected, {"failed"})["error"]
    assert "internal error in the csm engine" in error and "reference" in error
    assert "RuntimeError" not in error  # raw exception text stays in the worker's log
    after = client.post("/csm", json={"text": "ok"}).get_json()["id"]
    _wait_status(client, after, {"success"})


def test_progress_is_reported(client: FlaskClient, worker: object) -> None:
    job_id = client.post("/csm", json={"text": "progress:3"}).get_json()["id"]
    seen = wait_until(lambda: 0 < client.get(f"/status/{job_id}").get_json()["progress"] < 1, 15)
    assert seen
    _wait_status(client, job_id, {"success"})


def test_cancel_running_job_stops_it_quickly(
    client: FlaskClient, worker: object, settings_env: dict[str, str]
) -> None:
    job_id = client.post("/csm", json={"text": "sleep:30"}).get_json()["id"]
    _wait_status(client, job_id, {"running"})
    wait_until(lambda: _runs(settings_env, job_id, "start"), 15)
    started = time.monotonic()
    client.post(f"/job/{job_id}", json={"status": "cancelled", "remove_data": True})
    health = lambda: client.get("/").get_json()["queues"]["csm"]["running"] == 0  # noqa: E731
    wait_until(health, 5)
    assert time.monotonic() - started < 3
    assert client.get(f"/status/{job_id}").get_json()["status"] == "cancelled"
    next_job = client.post("/csm", json={"text": "ok"}).get_json()["id"]
    _wait_status(client, next_job, {"success"})
    assert _runs(settings_env, job_id) == 0
    work = Path(settings_env["C3_DATA_DIR"]) / "work"
    assert not list(work.glob(f"{job_id}-*"))  # the killed run's files are gone


def _loads(settings_env: dict[str, str]) -> list[str]:
    log = Path(settings_env["C3_DATA_DIR"]) / "loads.log"
    return [line for line in log.read_text().splitlines() if line.startswith("csm ")] \
        if log.exists() else []


@pytest.mark.parametrize("script, kept", [("progress:20", True), ("sleep:30", False)],
                         ids=["reports-progress", "never-reports"])
def test_a_cancelled_run_is_asked_to_stop_and_its_engine_kept_when_it_does(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str],
    tmp_path: Path, script: str, kept: bool,
) -> None:
    """A run that reports progress stops at its next report and the engine process, models
    loaded, serves the next job; one that never reports is killed after the grace."""
    env = {**worker_env, "C3_STOP_GRACE_SECONDS": "5" if kept else "1"}
    job_id = client.post("/csm", json={"text": script}).get_json()["id"]
    with worker_process(env, log=tmp_path / "w.log"):
        wait_until(lambda: _runs(settings_env, job_id, "start"), 15)
        client.post(f"/job/{job_id}", json={"status": "cancelled"})
        next_job = client.post("/csm", json={"text": "ok"}).get_json()["id"]
        _wait_status(client, next_job, {"success"})
    assert client.get(f"/status/{job_id}").get_json()["status"] == "cancelled"
    assert _runs(settings_env, job_id) == 0  # it never finished
    assert len(_loads(settings_env)) == (1 if kept else 2)
    said = "stopped; the engine stays loaded" if kept else "did not stop in time"
    assert said in (tmp_path / "w.log").read_text()
    assert not list((Path(settings_env["C3_DATA_DIR"]) / "work").glob(f"{job_id}-*"))


def test_marking_a_running_job_timed_out_stops_it(client: FlaskClient, worker: object) -> None:
    job_id = client.post("/csm", json={"text": "sleep:60"}).get_json()["id"]
    _wait_status(client, job_id, {"running"})
    client.post(f"/job/{job_id}", json={"status": "timed_out"})
    assert _wait_status(client, job_id, {"timed_out"})["error"] == "timed out by request"


def test_max_time_deadline_enforced(
    client: FlaskClient, worker_env: dict[str, str], redis_client: object, tmp_path: Path
) -> None:
    job_id = client.post("/csm", json={"text": "sleep:30", "max_time": 60}).get_json()["id"]
    key = f"c3:{{csm}}:job:{job_id}"
    redis_client.hset(key, "max_time", "1")  # type: ignore[attr-defined]
    with worker_process(worker_env, log=tmp_path / "w.log"):
        doc = _wait_status(client, job_id, {"timed_out"}, timeout=20)
    assert "max_time" in doc["error"]


def test_complete_in_passed_while_queued_is_never_started(
    client: FlaskClient, worker_env: dict[str, str], redis_client: object,
    settings_env: dict[str, str], tmp_path: Path,
) -> None:
    job_id = client.post("/csm", json={"text": "ok"}).get_json()["id"]
    redis_client.hset(f"c3:{{csm}}:job:{job_id}", "deadline", time.time() - 1)  # type: ignore[attr-defined]
    with worker_process(worker_env, log=tmp_path / "w.log"):
        probe = client.post("/csm", json={"text": "ok"}).get_json()["id"]
        _wait_status(client, probe, {"success"})
    doc = client.get(f"/status/{job_id}").get_json()
    assert doc["status"] == "timed_out" and "complete_in" in doc["error"]
    assert _runs(settings_env, job_id, "start") == 0


def test_complete_in_passed_while_running_stops_it(
    client: FlaskClient, worker: object, redis_client: object
) -> None:
    job_id = client.post("/csm", json={"text": "sleep:30"}).get_json()["id"]
    key = f"c3:{{csm}}:job:{job_id}"
    redis_client.hset(key, "deadline", time.time() + 2.5)  # type: ignore[attr-defined]
    doc = _wait_status(client, job_id, {"timed_out"}, timeout=20)
    assert "complete_in" in doc["error"] or "max_time" in doc["error"]


def test_sigterm_hands_the_running_job_back(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str], tmp_path: Path
) -> None:
    job_id = client.post("/csm", json={"text": "sleep:4"}).get_json()["id"]
    with worker_process(worker_env, log=tmp_path / "a.log") as first:
        wait_until(lambda: _runs(settings_env, job_id, "start"), 15)
        first.send_signal(signal.SIGTERM)  # grace is 1 s in tests: the job goes back
        first.wait(timeout=15)
        assert first.returncode == 0
    doc = client.get(f"/status/{job_id}").get_json()
    assert doc["status"] == "queued" and doc["attempts"] == 0
    with worker_process(worker_env, log=tmp_path / "b.log"):
        _wait_status(client, job_id, {"success"})
    assert _runs(settings_env, job_id) == 1


def test_sigterm_lets_a_short_job_finish(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(worker_env, C3_SHUTDOWN_GRACE_SECONDS="10")
    job_id = client.post("/csm", json={"text": "sleep:1.5"}).get_json()["id"]
    with worker_process(env, log=tmp_path / "a.log") as process:
        wait_until(lambda: _runs(settings_env, job_id, "start"), 15)
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    assert client.get(f"/status/{job_id}").get_json()["status"] == "success"


def test_unconfigured_engine_fails_with_a_clear_error(
    client: FlaskClient, worker_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(worker_env, C3_ENGINES="csm=c3render.engines.nothing:create_engine")
    job_id = client.post("/csm", json={"text": "hello"}).get_json()["id"]
    with worker_process(env, types="csm", log=tmp_path / "w.log"):
        doc = _wait_status(client, job_id, {"failed"})
    assert "cannot be imported" in doc["error"] and "install" in doc["error"]


def test_worker_appears_in_health(client: FlaskClient, worker: object) -> None:
    wait_until(lambda: client.get("/").get_json()["workers"], 10)
    doc = client.get("/").get_json()  # counts only: no worker ids or host names
    assert doc["workers"] == 1 and doc["serving"] == {"csm": 1, "analyze": 1}



def test_end_states_are_posted_to_notify_url_signed(
    client: FlaskClient, worker: object, worker_env: dict[str, str]
) -> None:
    import json

    from c3render.delivery.signing import sign, signing_key
    from c3render.settings import load_settings
    from tests.support.http_peers import http_peer, respond

    with http_peer() as receiver:
        receiver.route("/hook", lambda handler: respond(handler, 200, b"ok"), method="POST")
        url = receiver.url("/hook")
        done = client.post("/csm", json={"text": "ok", "notify_url": url}).get_json()["id"]
        failed = client.post("/csm", json={"text": "fail:nope", "notify_url": url}).get_json()["id"]
        queued = client.post("/csm", json={"text": "sleep:30", "notify_url": url}).get_json()["id"]
        client.post(f"/job/{queued}", json={"status": "cancelled"})
        wait_until(lambda: len(receiver.requests_to("/hook")) >= 3, 30)
        bodies = {}
        key = signing_key(load_settings())
        for seen in receiver.requests_to("/hook"):
            headers = {name.lower(): value for name, value in seen.headers.items()}
            expected = sign(key, headers["webhook-id"], int(headers["webhook-timestamp"]), seen.body)
            assert headers["webhook-signature"] == expected
            body = json.loads(seen.body)
            bodies[body["id"]] = body
        assert bodies[done]["status"] == "success" and "result_url" in bodies[done]
        assert bodies[failed] == {"id": failed, "status": "failed", "error": "nope"}
        assert bodies[queued]["status"] == "cancelled"
        webhook = wait_until(lambda: client.get(f"/status/{done}").get_json().get("webhook"), 10)
        assert webhook["delivered"] is True and webhook["attempts"] == 1  # type: ignore[index]


def test_an_engine_crash_is_retried_and_the_job_still_succeeds(
    client: FlaskClient, worker: object, settings_env: dict[str, str]
) -> None:
    job_id = client.post("/csm", json={"text": "crashonce"}).get_json()["id"]
    doc = _wait_status(client, job_id, {"success"})
    assert doc["attempts"] == 2 and _runs(settings_env, job_id) == 1
    result = client.get(f"/result/{job_id}").get_json()
    assert client.get(result["result_url"].replace("http://localhost", "")).status_code == 200


def test_a_crash_every_time_fails_with_its_type_after_the_retries(
    client: FlaskClient, worker: object
) -> None:
    job_id = client.post("/csm", json={"text": "crash"}).get_json()["id"]
    doc = _wait_status(client, job_id, {"failed"})
    assert doc["error_type"] == "engine" and doc["attempts"] == 3  # C3_MAX_RETRIES = 2
    assert "failed 3 times" in doc["error"]


def test_an_input_host_that_is_busy_once_is_retried(
    client: FlaskClient, worker: object, tmp_path: Path
) -> None:
    answers = iter([503])

    def image(handler: object) -> None:
        status = next(answers, 200)
        respond(handler, status, png_bytes() if status == 200 else b"busy",  # type: ignore[arg-type]
                {"Content-Type": "image/png"})

    with http_peer() as peer:
        peer.route("/photo.png", image)
        job_id = client.post("/analyze", json={"image_url": peer.url("/photo.png")}).get_json()["id"]
        doc = _wait_status(client, job_id, {"success", "failed"})
    assert doc["status"] == "success" and doc["attempts"] == 2
    assert len(peer.requests_to("/photo.png")) == 2


def test_an_input_that_is_not_there_is_not_retried(client: FlaskClient, worker: object) -> None:
    with http_peer() as peer:
        job_id = client.post("/analyze", json={"image_url": peer.url("/gone.png")}).get_json()["id"]
        doc = _wait_status(client, job_id, {"failed"})
        assert doc["error_type"] == "input" and doc["attempts"] == 1
        assert len(peer.requests_to("/gone.png")) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_to_the_whole_process_group_stops_the_worker_gracefully(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str], tmp_path: Path,
    signum: signal.Signals,
) -> None:
    # systemd (KillMode=control-group), `up` and Ctrl-C in a terminal signal every process
    # of the worker, its engine processes too: they are the supervisor's to stop, so the
    # running job ends normally instead of failing as an engine crash
    env = dict(worker_env, C3_SHUTDOWN_GRACE_SECONDS="30")
    running = client.post("/csm", json={"text": "sleep:2"}).get_json()["id"]
    with worker_process(env, log=tmp_path / "w.log") as process:
        wait_until(lambda: _runs(settings_env, running, "start"), 15)
        os.killpg(process.pid, signum)
        assert process.wait(timeout=30) == 0
    doc = client.get(f"/status/{running}").get_json()
    assert doc["status"] == "success" and doc["attempts"] == 1, doc
    assert "engine process died" not in (tmp_path / "w.log").read_text()


def test_a_stopping_worker_starts_nothing_new_and_the_job_keeps_its_place(
    client: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str], tmp_path: Path
) -> None:
    env = dict(worker_env, C3_SHUTDOWN_GRACE_SECONDS="30")
    running = client.post("/csm", json={"text": "sleep:3"}).get_json()["id"]
    with worker_process(env, log=tmp_path / "a.log") as process:
        wait_until(lambda: _runs(settings_env, running, "start"), 15)
        process.send_signal(signal.SIGTERM)  # stops taking jobs; the running one may finish
        waiting = client.post("/csm", json={"text": "ok"}).get_json()["id"]
        process.wait(timeout=30)
    assert client.get(f"/status/{running}").get_json()["status"] == "success"
    assert _runs(settings_env, waiting, "start") == 0
    doc = client.get(f"/status/{waiting}").get_json()
    assert doc["status"] == "queued" and doc["queue_position"] == 0
