"""Engines for the ETA benchmark: they sleep for a time that grows with the job's size.

``seconds = overhead + rate · size``, times a log-normal noise factor (σ = ``NOISE``) drawn
from the job id, so a run's time is known only roughly from its size, as with real models.
The size is read from the job the way a real engine would see it: characters of text
(/csm), seconds of audio decoded from the fetched file (/whisper: every sample is decoded
with PyAV, not the header's duration), pixels of the decoded image (/analyze).
Choose them with ``C3_ENGINES=csm=bench.eta_engines:csm,whisper=...:whisper,analyze=...``.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from typing import ClassVar

from c3render.engines.base import EngineJob, EngineResult
from c3render.job import JobType
from c3render.media.audio import decode_audio
from c3render.media.images import open_image
from c3render.settings import Settings

NOISE = 0.2
COSTS: dict[JobType, tuple[float, float]] = {
    JobType.CSM: (0.1, 0.003),  # seconds, seconds per character
    JobType.WHISPER: (0.15, 0.06),  # seconds, seconds per second of audio
    JobType.ANALYZE: (0.1, 0.3),  # seconds, seconds per megapixel
}


def noise(job_id: str) -> float:
    """A log-normal factor (median 1) fixed by the job id."""
    seed = int(hashlib.sha256(job_id.encode()).hexdigest()[:12], 16)
    return math.exp(random.Random(seed).gauss(0.0, NOISE))


class SizedEngine:
    """Sleeps ``(overhead + rate · size) × noise`` seconds, reporting progress."""

    job_type: ClassVar[JobType]
    name = "sized-sleep"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def load(self) -> None:
        """Nothing to load."""

    def size(self, job: EngineJob) -> float:
        """The job's size, decoded from its input (or its text)."""
        if self.job_type is JobType.CSM:
            return float(len(str(job.params.get("text", ""))))
        if self.job_type is JobType.WHISPER:
            return decode_audio(job.inputs["audio_url"], 8000).size / 8000
        width, height = open_image(job.inputs["image_url"]).size
        return width * height / 1e6

    def run(self, job: EngineJob) -> EngineResult:
        """Sleep for the job's time in ten steps, then answer a short text."""
        started = time.monotonic()
        overhead, rate = COSTS[self.job_type]
        seconds = (overhead + rate * self.size(job)) * noise(job.id)
        for step in range(10):
            job.progress(step / 10)
            time.sleep(max(0.0, started + seconds * (step + 1) / 10 - time.monotonic()))
        return EngineResult(text="ok", extra={"slept_s": round(seconds, 3)})


class SizedCsm(SizedEngine):
    """/csm: characters of text."""

    job_type = JobType.CSM


class SizedWhisper(SizedEngine):
    """/whisper: seconds of audio."""

    job_type = JobType.WHISPER


class SizedAnalyze(SizedEngine):
    """/analyze: megapixels."""

    job_type = JobType.ANALYZE


def csm(settings: Settings) -> SizedCsm:
    """Factory for ``C3_ENGINES``."""
    return SizedCsm(settings)


def whisper(settings: Settings) -> SizedWhisper:
    """Factory for ``C3_ENGINES``."""
    return SizedWhisper(settings)


def analyze(settings: Settings) -> SizedAnalyze:
    """Factory for ``C3_ENGINES``."""
    return SizedAnalyze(settings)
