"""Batched /whisper through a real worker with Whisper tiny.en: the jobs of one batch each
end on their own (a bad input fails alone, a cancelled job ends cancelled, the others
succeed), and an engine that dies mid-batch has every job of the batch retried."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask.testing import FlaskClient

from c3render.media.audio import decode_audio, encode_audio
from tests.support.http_peers import Peer, http_peer, respond
from tests.support.media import png_bytes
from tests.support.service import service_env, wait_until, worker_process
from tests.support.wer import wer

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LIBRIVOX.is_dir(), reason="pocketsphinx-testdata missing"),
]
SHORT = ("sense_and_sensibility_01_austen_64kb-0880", "he was not an ill disposed young man")
SECOND = ("sense_and_sensibility_01_austen_64kb-0930", "he might even have been made amiable "
          "himself")


@pytest.fixture
def audio(tmp_path: Path) -> Iterator[Peer]:
    """Two short clips, a long recording (every clip joined, 4 times: about 109 s, so that
    the batch runs for seconds) and a PNG labelled as audio."""
    gap = np.zeros(8000, dtype=np.float32)
    clips = sorted(LIBRIVOX.glob("*.wav"))
    long = tmp_path / "long.wav"
    encode_audio(np.concatenate([np.concatenate([decode_audio(c), gap]) for c in clips] * 4),
                 16000, long, "wav")
    files = {"/short.wav": (LIBRIVOX / f"{SHORT[0]}.wav").read_bytes(),
             "/second.wav": (LIBRIVOX / f"{SECOND[0]}.wav").read_bytes(),
             "/long.wav": long.read_bytes(), "/picture.wav": png_bytes()}
    with http_peer() as server:
        for path, body in files.items():
            server.route(path, lambda h, body=body: respond(
                h, 200, body, {"Content-Type": "audio/wav"}))
        yield server


def _submit(client: FlaskClient, audio: Peer, path: str) -> str:
    body = {"audio_url": audio.url(path), "model": "tiny", "language": "en"}
    job_id: str = client.post("/whisper", json=body).get_json()["id"]
    return job_id


def _status(client: FlaskClient, job_id: str) -> dict[str, Any]:
    doc: dict[str, Any] = client.get(f"/status/{job_id}").get_json()
    return doc


def _ended(client: FlaskClient, job_id: str, timeout: float = 120) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        doc = _status(client, job_id)
        return doc if doc["status"] not in ("queued", "running") else None

    doc: dict[str, Any] = wait_until(ended, timeout=timeout, interval=0.2)  # type: ignore[assignment]
    return doc


def _batch_env(settings_env: dict[str, str]) -> dict[str, str]:
    return service_env(settings_env, C3_WHISPER_BATCH="4", C3_WHISPER_BATCH_SIZE="4",
                       C3_HEARTBEAT_SECONDS="0.5", C3_LIVENESS_SECONDS="1.5",
                       C3_RECLAIM_IDLE_SECONDS="5", C3_RETRY_BACKOFF_SECONDS="0.2",
                       C3_SHUTDOWN_GRACE_SECONDS="1")


def test_each_job_of_a_batch_ends_on_its_own(
    client: FlaskClient, settings_env: dict[str, str], audio: Peer, tmp_path: Path,
) -> None:
    short, second = _submit(client, audio, "/short.wav"), _submit(client, audio, "/second.wav")
    bad, long = _submit(client, audio, "/picture.wav"), _submit(client, audio, "/long.wav")
    log = tmp_path / "worker.log"
    with worker_process(_batch_env(settings_env), types="whisper", log=log):
        wait_until(lambda: _status(client, long)["status"] == "running", timeout=120,
                   interval=0.05)
        cancel = client.post(f"/job/{long}", json={"status": "cancelled"})
        assert cancel.status_code == 200, cancel.get_json()
        done_short, done_second = _ended(client, short), _ended(client, second)
        failed = _ended(client, bad)
        time.sleep(1.0)  # the long job's outcome, if the engine still sends one, is dropped
    batch = re.search(r"jobs (.*) \(whisper\) started as one batch", log.read_text())
    assert batch and set(batch.group(1).split(", ")) == {short, second, bad, long}, \
        log.read_text()[-3000:]
    assert done_short["status"] == done_second["status"] == "success"
    assert wer(SHORT[1], client.get(f"/result/{short}").get_json()["text"]) < 0.3
    assert wer(SECOND[1], client.get(f"/result/{second}").get_json()["text"]) < 0.3
    assert failed["status"] == "failed" and "not an audio file" in failed["error"], failed
    cancelled = client.get(f"/result/{long}").get_json()
    assert cancelled["status"] == "cancelled" and not cancelled.get("text"), cancelled


def _engine_pid(worker_pid: int) -> int | None:
    """The worker's engine process (a child named c3-engine-whisper), if it runs."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == worker_pid and b"spawn_main" in cmdline:
            return int(entry.name)
    return None


def test_an_engine_that_dies_mid_batch_has_every_job_retried(
    client: FlaskClient, settings_env: dict[str, str], audio: Peer, tmp_path: Path,
) -> None:
    jobs = [_submit(client, audio, "/long.wav"), _submit(client, audio, "/short.wav"),
            _submit(client, audio, "/second.wav")]
    with worker_process(_batch_env(settings_env), types="whisper",
                        log=tmp_path / "worker.log") as worker:
        wait_until(lambda: all(_status(client, j)["status"] == "running" for j in jobs),
                   timeout=120, interval=0.05)
        engine = wait_until(lambda: _engine_pid(worker.pid), timeout=30)
        os.kill(engine, signal.SIGKILL)  # type: ignore[arg-type]
        ended = [_ended(client, job) for job in jobs]
    assert [doc["status"] for doc in ended] == ["success"] * 3, ended
    assert all(doc["attempts"] == 2 for doc in ended), ended


def test_a_stopping_worker_hands_every_job_of_its_batch_back(
    client: FlaskClient, settings_env: dict[str, str], audio: Peer, tmp_path: Path,
) -> None:
    jobs = [_submit(client, audio, "/long.wav"), _submit(client, audio, "/short.wav")]
    env = _batch_env(settings_env)
    with worker_process(env, types="whisper", log=tmp_path / "first.log") as first:
        wait_until(lambda: all(_status(client, j)["status"] == "running" for j in jobs),
                   timeout=120, interval=0.05)
        first.send_signal(signal.SIGTERM)  # grace 1 s: the long job cannot finish in it
        first.wait(timeout=30)
    assert [_status(client, job)["status"] for job in jobs] == ["queued", "queued"]
    with worker_process(env, types="whisper", log=tmp_path / "second.log"):
        ended = [_ended(client, job) for job in jobs]
    assert [doc["status"] for doc in ended] == ["success", "success"], ended
    assert [doc["attempts"] for doc in ended] == [1, 1]  # a hand-back is not an attempt
