"""The engine protocol: what the worker needs from a model that renders one job type.

An engine lives in its own long-lived process (see ``c3render.worker.engine_process``):
``load()`` runs once, then ``run()`` once per job. Inputs arrive as local files (the
worker downloads every URL field first, see ``job.INPUT_FIELDS``); a media result is
a file in ``job.workdir`` that the worker stores and links. Engines raise
``c3render.errors.JobError`` (or a subclass) with a message for people; any other
exception fails the job with a generic message and is logged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from c3render.job import JobType
from c3render.settings import Settings

ProgressFn = Callable[[float], None]
AudioFn = Callable[[np.ndarray, int], None]
"""Takes the next piece of a speech result's audio: float32 mono samples and their rate."""


def _no_progress(fraction: float) -> None:
    """Default progress callback: ignore."""


def _no_audio(samples: np.ndarray, rate: int) -> None:
    """Default audio callback: nobody streams this job."""


class MadeOnFirstUse:
    """A dataclass field holding a directory that is created the first time it is read.

    A job that never touches it (a no-op, an answer computed from its parameters alone)
    then costs the engine process no mkdir + rmdir: about 140 of the ~420 µs such a job
    cost here. Every media job makes it anyway, to fetch an input or write its result."""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = f"_{name}"

    def __get__(self, job: object, owner: type | None = None) -> Path:
        if job is None:
            raise AttributeError(self._name)  # a required field: no class-level default
        path: Path = vars(job)[self._name]
        if not vars(job).get(f"{self._name}_made"):
            path.mkdir(parents=True, exist_ok=True)
            vars(job)[f"{self._name}_made"] = True
        return path

    def __set__(self, job: object, value: Path) -> None:
        vars(job)[self._name] = Path(value)
        vars(job)[f"{self._name}_made"] = False


@dataclass
class EngineJob:
    """One job as an engine sees it."""

    id: str
    type: JobType
    params: dict[str, Any]
    """The validated request fields (defaults filled in), without notify_url/max_time/complete_in."""
    inputs: dict[str, Path]
    """Each URL field of the request (e.g. ``audio_url``), downloaded to a local file."""
    workdir: MadeOnFirstUse = MadeOnFirstUse()  # a descriptor: takes a Path, required
    """A private empty directory for this job, created when first read and removed after
    the job ends."""
    progress: ProgressFn = _no_progress
    """Report progress in 0..1; cheap to call often (the worker rate-limits it)."""
    emit_audio: AudioFn = _no_audio
    """Hand over the next piece of the audio result as soon as it is rendered (for
    ``GET /stream``): pieces in order, together exactly the result's samples. Engines
    without audio never call it; ``SpeechEngine`` calls it once per sentence."""


@dataclass
class EngineResult:
    """What an engine produced."""

    text: str | None = None
    """The contract's ``text`` (whisper, analyze)."""
    file: Path | None = None
    """The media result (csm, portrait), a file inside ``job.workdir``."""
    media_type: str | None = None
    """MIME type of ``file``, e.g. ``audio/mpeg`` or ``video/mp4``."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Additions shown beside the result (language, duration, segments, analysis, ...)."""


@runtime_checkable
class Engine(Protocol):
    """A model that renders jobs of one type."""

    job_type: ClassVar[JobType]
    name: str
    """Short name shown in results and logs, e.g. ``piper:joe`` or ``faster-whisper:base``."""

    def load(self) -> None:
        """Load models; called once in the engine process before the first job."""

    def run(self, job: EngineJob) -> EngineResult:
        """Render one job. Raise ``JobError`` with a clear message when it cannot be done."""


@runtime_checkable
class BatchEngine(Engine, Protocol):
    """An engine that can also render several jobs at once (e.g. batched Whisper)."""

    def run_batch(self, jobs: list[EngineJob]) -> list[EngineResult | Exception]:
        """One outcome per job, in order: its result, or the exception that failed it
        (alone: the other jobs' outcomes stand)."""


EngineFactory = Callable[[Settings], Engine]
"""Builds an engine from settings; raises ``EngineUnavailable`` naming what to install or set."""
