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
from c3render.engines.tts.text import spoken_turns
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
        """Render every sentence, join them with pauses, encode in the requested format.

        A ``conversation`` gets one voice plan per speaker, made once for the whole job, so
        each speaker keeps one voice from the first turn to the last."""
        params = job.params
        turns = spoken_turns(params)
        if not turns:
            raise InputError("text: nothing to say (give text, monologue or conversation)")
        fmt = str(params.get("format") or "mp3")
        if fmt not in AUDIO_FORMATS:
            raise InputError(f"format: must be one of {', '.join(AUDIO_FORMATS)}")
        job_voice = pick_voice(str(params.get("voice") or "random"), job.id)
        plans: dict[str, VoicePlan] = {}
        for speaker, _ in turns:
            voice = speaker or job_voice
            if voice not in plans:
                plans[voice] = self.plan_voice(voice, job)
        max_ms = int(params.get("max_audio_length") or 10000)
        pause_ms = int(params.get("pause_duration", 150))
        pause = np.zeros(int(self.sample_rate * pause_ms / 1000), dtype=np.float32)
        parts = []
        for index, (speaker, sentence) in enumerate(turns):
            audio = self.speak(sentence, plans[speaker or job_voice], params)
            parts.append(cap_length(audio, self.sample_rate, max_ms))
            # streamed as rendered: the pause before each sentence, then the sentence
            job.emit_audio(np.concatenate([pause, parts[-1]]) if index else parts[-1],
                           self.sample_rate)
            job.progress(0.95 * (index + 1) / len(turns))
        samples = join_with_pauses(parts, self.sample_rate, pause_ms)
        path = Path(job.workdir) / f"speech.{fmt}"
        media_type = encode_audio(samples, self.sample_rate, path, fmt)
        extra = result_extra(self.name, samples.size / self.sample_rate, list(plans.values()),
                             len(turns), conversation=bool(params.get("conversation")))
        extra.update(self.measure(samples, list(plans.values())))
        return EngineResult(file=path, media_type=media_type, extra=extra)

    def measure(self, samples: np.ndarray, plans: list[VoicePlan]) -> dict[str, Any]:
        """Engine-specific figures about the rendered speech (e.g. clone similarity)."""
        return {}


def result_extra(engine: str, seconds: float, plans: list[VoicePlan], sentences: int,
                 conversation: bool) -> dict[str, Any]:
    """The result's additions: duration, the voice (or the voices of a conversation), notes."""
    extra: dict[str, Any] = {
        "duration": round(seconds, 3),
        "voice": "conversation" if conversation else plans[0].voice,
        "engine": engine,
        "sentences": sentences,
    }
    if conversation:
        extra["voices"] = [plan.voice for plan in plans]
    notes = [f"{plan.voice}: {plan.note}" if conversation else plan.note for plan in plans if plan.note]
    if notes:
        extra["voice_note"] = "; ".join(notes)
    return extra


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
