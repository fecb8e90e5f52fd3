"""The typed messages between a slot (supervisor side) and its engine process.

Slot → engine: ``RunJob``, ``RunBatch`` or ``Stop``, and ``StopRun`` while a job runs.
Engine → slot: ``Ready`` once the engine has loaded (or failed to), then per job (of a
batch too) any number of ``Progress``, ``LogLine`` and ``AudioChunk`` and one ``Done``,
``Failed`` or (after a ``StopRun``) ``Stopped``. Every message about a job carries its ``run_id``, ``"{job id}/{run}"``, so a
late message of one run can never be taken for another's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from c3render.job import JobType


@dataclass(frozen=True)
class RunJob:
    """Run one attempt of a job."""

    id: str
    type: JobType
    params: dict[str, Any]
    run: int
    """The run number (see ``queue.leases.Claim``): results are stored per run."""
    sources: dict[str, str] = field(default_factory=dict)
    """Chained jobs: the storage key each ``job:`` input field reads."""

    @property
    def run_id(self) -> str:
        """``"{job id}/{run}"``: tags every message about this run."""
        return f"{self.id}/{self.run}"


@dataclass(frozen=True)
class RunBatch:
    """Run several jobs of one type at once (batched /whisper); each still ends on its own
    with its own ``Done`` or ``Failed``."""

    jobs: tuple[RunJob, ...]


@dataclass(frozen=True)
class Stop:
    """Exit after the current job (the engine unloads its models)."""


@dataclass(frozen=True)
class StopRun:
    """Stop this run at its next progress report (cancel, timeout, take-over); the engine
    stays loaded for the next job. The slot kills the process if it does not answer."""

    run_id: str


@dataclass(frozen=True)
class Ready:
    """The engine process is up; ``engine`` is its name, or None when it could not load."""

    engine: str | None


@dataclass(frozen=True)
class Progress:
    """The run has done ``fraction`` (0..1) of its work."""

    run_id: str
    fraction: float


@dataclass(frozen=True)
class LogLine:
    """A log message of the run (the engine's or a library's), for ``/status?logs=1``."""

    run_id: str
    at: float
    """When it was logged (Unix time)."""
    level: str
    message: str


@dataclass(frozen=True)
class AudioChunk:
    """The next piece of the run's audio stream (``GET /stream``): s16le mono PCM at
    ``media.streaming.STREAM_RATE``. ``seq`` counts from 0; ``last`` marks the final piece."""

    run_id: str
    seq: int
    pcm: bytes
    last: bool = False


@dataclass(frozen=True)
class Done:
    """The run succeeded; ``result`` is what the finish script stores (already uploaded)."""

    run_id: str
    result: dict[str, Any] = field(default_factory=dict)
    input_size: float | None = None
    """The job's size as measured after its inputs were fetched (``inputs/size.py``), kept
    with the run time for the ETA; None when unknown."""


@dataclass(frozen=True)
class Failed:
    """The run failed; ``error`` is the job's error message, written for people.

    ``error_type`` is ``errors.JobError.error_type``; a ``retryable`` failure may pass and
    is retried with backoff.
    """

    run_id: str
    error: str
    error_type: str = "engine"
    retryable: bool = False


@dataclass(frozen=True)
class Stopped:
    """The run stopped as asked by ``StopRun``; nothing was stored."""

    run_id: str


ToEngine = Union[RunJob, RunBatch, Stop, StopRun]
FromEngine = Union[Ready, Progress, LogLine, AudioChunk, Done, Failed, Stopped]
