"""What every /csm engine shares: voices, sentences, pauses, caps, encoding, the result."""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.tts.audio import cap_length, join_with_pauses
from c3render.engines.tts.text import request_sentences
from c3render.errors import InputError
from c3render.job import JobType
from c3render.media.audio import AUDIO_FORMATS, encode_audio

VOICES = ("conversational_a", "conversational_b")


@dataclass
class VoicePlan:
    """How one job's voice is rendered, decided once per job."""

    voice: str
    """The voice that speaks: conversational_a, conversational_b or clone."""
    note: str | None = None
    """A remark for the result (``extra["voice_note"]``)."""
    settings: dict[str, Any] | None = None
    """Engine-specific values (pitch factor, speaker id, context turn, ...)."""


class SpeechEngine(ABC):
    """Base of the /csm engines: subclasses only plan a voice and speak one sentence."""

    job_type: ClassVar[JobType] = JobType.CSM
    name: str
    sample_rate: int

    @abstractmethod
    def load(self) -> None:
        """Load the model."""

    @abstractmethod
    def plan_voice(self, voice: str, job: EngineJob) -> VoicePlan:
        """Decide how ``voice`` (never ``random``) is rendered for ``job``."""

    @abstractmethod
    def speak(self, sentence: str, plan: VoicePlan, params: dict[str, Any]) -> np.ndarray:
        """Float32 mono samples at ``sample_rate`` for one sentence."""

    def run(self, job: EngineJob) -> EngineResult:
        """Render every sentence, join them with pauses, encode in the requested format."""
        params = job.params
        sentences = request_sentences(params)
        if not sentences:
            raise InputError("text: nothing to say (give text or monologue)")
        fmt = str(params.get("format") or "mp3")
        if fmt not in AUDIO_FORMATS:
            raise InputError(f"format: must be one of {', '.join(AUDIO_FORMATS)}")
        plan = self.plan_voice(pick_voice(str(params.get("voice") or "random"), job.id), job)
        max_ms = int(params.get("max_audio_length") or 10000)
        parts = []
        for index, sentence in enumerate(sentences):
            audio = self.speak(sentence, plan, params)
            parts.append(cap_length(audio, self.sample_rate, max_ms))
            job.progress(0.95 * (index + 1) / len(sentences))
        samples = join_with_pauses(parts, self.sample_rate, int(params.get("pause_duration", 150)))
        path = Path(job.workdir) / f"speech.{fmt}"
        media_type = encode_audio(samples, self.sample_rate, path, fmt)
        extra: dict[str, Any] = {
            "duration": round(samples.size / self.sample_rate, 3),
            "voice": plan.voice,
            "engine": self.name,
            "sentences": len(sentences),
        }
        if plan.note:
            extra["voice_note"] = plan.note
        return EngineResult(file=path, media_type=media_type, extra=extra)


def pick_voice(voice: str, job_id: str) -> str:
    """``random`` (or ``random_voice``) → one of the two voices, the same for a job's retries."""
    if voice in ("random", "random_voice"):
        return random.Random(job_id).choice(VOICES)
    return voice


def reference_input(job: EngineJob) -> tuple[Path, str]:
    """The clone reference recording and its words, or an ``InputError`` naming the field."""
    path = job.inputs.get("reference_audio_url")
    if path is None:
        raise InputError("reference_audio_url: required when voice is clone")
    text = str(job.params.get("reference_text") or "").strip()
    if not text:
        raise InputError("reference_text: required when voice is clone")
    return path, text
