"""Which /whisper jobs batch together: in the slot (the requests) and in the engine (what
the engine resolved: the installed model, the detected language)."""

from __future__ import annotations

from pathlib import Path

from c3render.engines.base import EngineJob
from c3render.engines.stt.batch import Prepared
from c3render.engines.stt.catalog import WhisperModelInfo
from c3render.engines.stt.engine import Transcript
from c3render.job import JobType
from c3render.settings import Settings
from c3render.worker.batching import batch_key, batch_limit, fits_with

WHISPER = JobType.WHISPER
REQUEST = {"audio_url": "https://example.org/a.wav", "model": "tiny", "task": "transcribe",
           "language": "en", "word_timestamps": False}


def test_only_whisper_batches_and_only_when_asked() -> None:
    assert batch_limit(Settings(), WHISPER) == 1  # the default: one at a time
    assert batch_limit(Settings(whisper_batch=8), WHISPER) == 8
    assert batch_limit(Settings(whisper_batch=8), JobType.CSM) == 1
    assert batch_key(JobType.CSM, {"text": "hi"}) is None


def test_requests_batch_on_model_task_and_language_alone() -> None:
    fits = fits_with(WHISPER, REQUEST)
    assert fits({**REQUEST, "audio_url": "https://example.org/other.mp3"})
    assert fits({**REQUEST, "language": "EN "})  # the same words, written differently
    assert not fits({**REQUEST, "model": "base"})
    assert not fits({**REQUEST, "task": "translate"})
    assert not fits({**REQUEST, "language": ""})  # detect: maybe another language
    assert not fits({**REQUEST, "language": "de"})


def test_defaults_are_the_contracts() -> None:
    assert batch_key(WHISPER, {"audio_url": "x"}) == batch_key(
        WHISPER, {"audio_url": "y", "model": "medium", "task": "transcribe", "language": ""})


def test_word_timestamps_never_batch_with_other_jobs() -> None:
    words = {**REQUEST, "word_timestamps": True}
    assert batch_key(WHISPER, words) is None
    assert not fits_with(WHISPER, words)(words)
    assert not fits_with(WHISPER, REQUEST)(words)


def _prepared(job_id: str, installed: str, language: str | None, **params: object) -> Prepared:
    job = EngineJob(job_id, WHISPER, {**REQUEST, **params}, {}, Path("/tmp"))
    info = WhisperModelInfo(installed, Path(f"/models/{installed}"), multilingual=True)
    return Prepared(job, info, "transcribe", language, Transcript(total=None))


def test_the_engine_groups_by_the_resolved_model_and_language() -> None:
    # "medium" and "large" requests that both run base decode together ...
    assert _prepared("a", "base", "en").key() == _prepared("b", "base", "en", model="large").key()
    # ... detected languages split a batch, and so do models
    assert _prepared("a", "base", "en").key() != _prepared("b", "base", "de").key()
    assert _prepared("a", "base", "en").key() != _prepared("b", "tiny.en", "en").key()
    # a job with word timestamps decodes only its own chunks
    alone = _prepared("a", "base", "en", word_timestamps=True)
    assert alone.key() != _prepared("b", "base", "en", word_timestamps=True).key()
