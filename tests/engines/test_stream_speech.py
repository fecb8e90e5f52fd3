"""Streamed speech through the real service: the API server, a worker with the embedded
voice (piper), ``GET /stream/{id}`` read over HTTP with a disconnect and a resume, and the
official ``openai`` package's ``with_streaming_response`` on ``/v1/audio/speech``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
import requests

from tests.support.media import audio_seconds
from tests.support.servers import free_port
from tests.support.service import api_and_worker, service_env

pytestmark = pytest.mark.slow

KEY = "sk-stream-test-key"
TEXT = ("The first sentence is short. Then a second one follows it. A third sentence comes "
        "next. The fourth is almost the last. And this is the fifth.")


@pytest.fixture
def api(settings_env: dict[str, str], redis_client: object, tmp_path: Path) -> Iterator[str]:
    """The base URL of a real API server (with an API key) and a csm worker behind it."""
    env = service_env(settings_env, API_PORT=str(free_port()), C3_API_WORKERS="1", C3_API_KEYS=KEY)
    with api_and_worker(env, "csm", tmp_path / "worker.log") as url:
        yield url


def _result(session: requests.Session, api: str, job_id: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        doc = session.get(f"{api}/result/{job_id}", timeout=10).json()
        if doc.get("status") == "success":
            return dict(doc)
        assert doc.get("status") in (None, "queued", "running"), doc
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_stream_resumes_and_decodes_to_the_stored_result(api: str) -> None:
    session = requests.Session()
    session.headers["X-C3-RENDER-KEY"] = KEY
    job_id = session.post(f"{api}/csm", json={"text": TEXT, "voice": "conversational_a"},
                          timeout=10).json()["id"]
    first = session.get(f"{api}/stream/{job_id}", stream=True, timeout=120)
    assert first.status_code == 200 and first.headers["Content-Type"] == "audio/mpeg"
    assert first.headers.get("Transfer-Encoding") == "chunked"
    head = next(first.iter_content(chunk_size=None))
    first.close()  # disconnect after the first piece

    rest = session.get(f"{api}/stream/{job_id}?offset={len(head)}", timeout=120)
    assert rest.status_code == 200 and rest.headers["X-Stream-Offset"] == str(len(head))
    streamed = head + rest.content
    assert session.get(f"{api}/stream/{job_id}", timeout=120).content == streamed

    stored = requests.get(str(_result(session, api, job_id)["result_url"]), timeout=10).content
    # the stream's own MP3 frames (no gapless tag) may be a frame or two (24 ms each) longer
    assert abs(audio_seconds(streamed) - audio_seconds(stored)) <= 0.1, (audio_seconds(streamed),
                                                              audio_seconds(stored))
    assert audio_seconds(stored) > 5  # five sentences, not just the first


def test_the_openai_sdk_reads_speech_as_it_streams(api: str) -> None:
    sdk = openai.OpenAI(base_url=f"{api}/v1", api_key=KEY, timeout=120, max_retries=0)
    with sdk.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm", stream_format="audio",
    ) as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        pcm = b"".join(response.iter_bytes())
    assert len(pcm) % 2 == 0 and len(pcm) / 48000 > 5  # 16-bit 24 kHz: over 5 s of speech
    with sdk.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input="Hello there. How are you?", stream_format="audio",
    ) as response:
        mp3 = response.read()
    assert 1.0 < audio_seconds(mp3) < 5.0
    whole = sdk.audio.speech.create(model="tts-1", voice="alloy", input="Hello there.",
                                    response_format="wav")  # not streamed: as before
    assert whole.content[:4] == b"RIFF" and audio_seconds(whole.content) > 0.5
