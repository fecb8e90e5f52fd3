"""Media that attack decoders, sent as real jobs to a worker with the real embedded engines:
each job ends with a clear error inside its engine's memory limit, and the worker lives on."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from tests.support.hostile import (
    concat_playlist,
    hls_playlist,
    long_flac,
    png_declaring,
)
from tests.support.http_peers import Peer, http_peer, respond
from tests.support.media import wav_bytes
from tests.support.service import service_env, worker_process

pytestmark = pytest.mark.slow


@pytest.fixture
def media(tmp_path: Path) -> Iterator[Peer]:
    """A server of hostile files, each labelled with a harmless Content-Type."""
    small = tmp_path / "small.png"
    Image.new("RGB", (64, 48), (120, 80, 40)).save(small)
    whole = small.read_bytes()
    files = {
        "/huge.png": png_declaring(30000, 30000, rows=1),
        "/bomb.png": png_declaring(20000, 20000),
        "/truncated.png": whole[: len(whole) // 2],
        "/playlist.wav": concat_playlist("/etc/hostname"),
        "/hls.wav": hls_playlist("file:///etc/hostname"),
        "/sound.png": wav_bytes(),
        "/hours.flac": long_flac(tmp_path / "hours.flac", 3 * 3600).read_bytes(),
        "/small.png": whole,
    }
    with http_peer() as server:
        for path, body in files.items():
            kind = "audio/wav" if path.endswith((".wav", ".flac")) else "image/png"
            server.route(path, lambda h, body=body, kind=kind: respond(
                h, 200, body, {"Content-Type": kind}))
        yield server


def _wait(client: FlaskClient, job_id: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc: dict[str, Any] = client.get(f"/status/{job_id}").get_json()
        if doc["status"] not in ("queued", "running"):
            return doc
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not end")


def _clone(media: Peer, path: str) -> dict[str, Any]:
    return {"text": "Hello there.", "voice": "clone", "reference_text": "Hello.",
            "reference_audio_url": media.url(path), "format": "wav"}


def test_hostile_media_end_their_jobs_and_the_worker_survives(
    client: FlaskClient, settings_env: dict[str, str], media: Peer, tmp_path: Path,
) -> None:
    env = service_env(settings_env, C3_ENGINE_MEMORY_MB="8192")
    cases = [
        ("/analyze", {"image_url": media.url("/huge.png")}, "image_url is too large"),
        ("/analyze", {"image_url": media.url("/bomb.png")}, "image_url is too large"),
        ("/analyze", {"image_url": media.url("/truncated.png")}, "damaged or truncated"),
        ("/analyze", {"image_url": media.url("/sound.png")}, "is not an image file"),
        ("/csm", _clone(media, "/playlist.wav"), "is not an audio file"),
        ("/csm", _clone(media, "/hls.wav"), "is not an audio file"),
        ("/whisper", {"audio_url": media.url("/small.png"), "model": "tiny"},
         "is not an audio file"),
    ]
    with worker_process(env, types="analyze,csm,whisper", log=tmp_path / "w.log") as worker:
        ids = [(client.post(path, json=body).get_json()["id"], wanted)
               for path, body, wanted in cases]
        hours = client.post("/csm", json=_clone(media, "/hours.flac")).get_json()["id"]
        fine = client.post("/analyze", json={"image_url": media.url("/small.png")}).get_json()
        for job_id, wanted in ids:
            doc = _wait(client, job_id)
            assert doc["status"] == "failed" and wanted in doc["error"], doc
        # three hours of compressed silence as a clone reference: only what is used is decoded
        assert _wait(client, hours)["status"] == "success"
        assert _wait(client, fine["id"])["status"] == "success"
        assert worker.poll() is None
    log = (tmp_path / "w.log").read_text()
    assert "engine process died" not in log and "Traceback" not in log
