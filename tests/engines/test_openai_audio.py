"""The OpenAI-compatible audio endpoints, driven by the official ``openai`` package against
the real API server and a worker with the real small models (piper speaks, faster-whisper
base listens): what one says the other must transcribe."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import av
import openai
import pytest

from tests.support.media import audio_seconds
from tests.support.servers import free_port
from tests.support.service import api_and_worker, service_env
from tests.support.wer import wer

pytestmark = pytest.mark.slow

SENTENCE = "The quick brown fox jumps over the lazy dog near the old red barn."


@pytest.fixture
def sdk(
    settings_env: dict[str, str], redis_client: object, tmp_path: Path
) -> Iterator[openai.OpenAI]:
    """The openai SDK pointed at our API (with an API key), a csm + whisper worker behind it."""
    env = service_env(settings_env, API_PORT=str(free_port()), C3_API_WORKERS="1",
                      C3_API_KEYS="sk-test-key")
    with api_and_worker(env, "csm,whisper", tmp_path / "worker.log") as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test-key", timeout=300,
                            max_retries=0)


def test_the_openai_sdk_speaks_and_transcribes_through_our_queue(
    sdk: openai.OpenAI, tmp_path: Path
) -> None:
    speech = sdk.audio.speech.create(model="tts-1", voice="onyx", input=SENTENCE,
                                     response_format="wav")
    wav = tmp_path / "speech.wav"
    wav.write_bytes(speech.content)
    assert speech.content[:4] == b"RIFF"

    with wav.open("rb") as handle:
        plain = sdk.audio.transcriptions.create(model="whisper-1", file=handle)
    assert wer(SENTENCE, plain.text) <= 0.15, plain.text

    with wav.open("rb") as handle:
        verbose = sdk.audio.transcriptions.create(
            model="base", file=handle, response_format="verbose_json",
            timestamp_granularities=["word", "segment"], language="en",
        )
    assert verbose.language == "english" and verbose.duration > 2
    assert verbose.segments and verbose.words
    starts = [word.start for word in verbose.words]
    assert starts == sorted(starts) and verbose.words[-1].end <= verbose.duration + 0.5
    spoken = " ".join(word.word for word in verbose.words)
    assert wer(SENTENCE, spoken) <= 0.15, spoken

    with wav.open("rb") as handle:
        srt = sdk.audio.transcriptions.create(model="base", file=handle, response_format="srt")
    assert "-->" in srt and "fox" in srt.lower()


def test_speech_formats_speed_and_errors_in_openai_shape(sdk: openai.OpenAI) -> None:
    normal = sdk.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE)
    faster = sdk.audio.speech.create(model="tts-1", voice="alloy", input=SENTENCE, speed=1.5,
                                     response_format="flac")
    with av.open(io.BytesIO(normal.content)) as container:
        assert container.format.name == "mp3"
    with av.open(io.BytesIO(faster.content)) as container:
        assert container.format.name == "flac"
    ratio = audio_seconds(faster.content) / audio_seconds(normal.content)
    assert 0.55 <= ratio <= 0.8, ratio  # 1 / 1.5 = 0.67, pitch kept by atempo
    pcm = sdk.audio.speech.create(model="tts-1", voice="alloy", input="Hi.", response_format="pcm")
    assert len(pcm.content) % 2 == 0 and len(pcm.content) > 2400

    with pytest.raises(openai.BadRequestError) as refused:
        sdk.audio.speech.create(model="tts-1", voice="nobody", input="Hello")
    assert refused.value.body["param"] == "voice"  # type: ignore[index]
    assert refused.value.body["type"] == "invalid_request_error"  # type: ignore[index]
    wrong_key = openai.OpenAI(base_url=str(sdk.base_url), api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong_key.audio.speech.create(model="tts-1", voice="alloy", input="Hello")
