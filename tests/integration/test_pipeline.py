"""Every job type end to end with the real embedded engines, chained through our own links."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
import skimage.data
from PIL import Image

from c3render.cli.client import Client
from tests.support.servers import free_port, wait_for_port
from tests.support.service import service_env, worker_process
from tests.support.wer import wer

pytestmark = pytest.mark.slow


@pytest.fixture
def service(settings_env: dict[str, str], redis_client: object, tmp_path: Path) -> Iterator[Client]:
    """The real API server and a worker with the real embedded engines; inputs only on loopback."""
    port = free_port()
    env = service_env(settings_env, API_PORT=str(port), C3_API_WORKERS="1", C3_FETCH_ALLOW="")
    api = subprocess.Popen([sys.executable, "-m", "c3render.cli", "api"], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with worker_process(env, types="csm,whisper,portrait,analyze", log=tmp_path / "worker.log"):
        try:
            wait_for_port(port, 30)
            yield Client(f"http://127.0.0.1:{port}")
        finally:
            api.terminate()
            api.wait(timeout=20)


def test_speech_portrait_and_analysis_through_the_service(service: Client, tmp_path: Path) -> None:
    sentence = "The quick brown fox jumps over the lazy dog while the farmer watches from the old red barn."
    speech = service.submit("csm", {"text": sentence, "voice": "conversational_b"})
    assert service.wait(speech, 120)["status"] == "success"
    speech_url = service.result(speech)["result_url"]
    audio = service.download(speech_url, tmp_path / "speech.mp3")
    with av.open(str(audio)) as container:
        assert container.format.name == "mp3" and container.streams.audio[0].duration != 0

    # our own result link feeds the next jobs although it points at localhost
    transcript = service.submit("whisper", {"audio_url": speech_url, "model": "base"})
    portrait_photo = tmp_path / "astronaut.png"
    Image.fromarray(skimage.data.astronaut()).save(portrait_photo)
    video = service.submit("portrait", {"image_url": str(portrait_photo), "audio_url": speech_url})
    analysis = service.submit("analyze", {"image_url": str(portrait_photo)})

    assert service.wait(transcript, 120)["status"] == "success"
    text = service.result(transcript)["text"]
    assert wer(sentence, text) <= 0.1, text

    assert service.wait(video, 180)["status"] == "success"
    mp4 = service.download(service.result(video)["result_url"], tmp_path / "talk.mp4")
    with av.open(str(mp4)) as container:
        kinds = {stream.type: stream.codec_context.name for stream in container.streams}
    assert kinds == {"video": "h264", "audio": "aac"}

    assert service.wait(analysis, 120)["status"] == "success"
    description = service.result(analysis)["text"]
    assert description.startswith("One person")


def test_inputs_on_private_addresses_are_refused(service: Client) -> None:
    job = service.submit("whisper", {"audio_url": "http://127.0.0.1:9/speech.wav"})
    doc = service.wait(job, 60)
    assert doc["status"] == "failed"
    assert "private" in doc["error"] or "loopback" in doc["error"]
