"""The domain: job types, statuses, the job record, and what a new job must provide.

These are the words every layer shares. The API turns a request body into a
``JobSpec`` (``api/schemas.py``), the queue stores it as a ``Job`` hash, the worker
runs it, and every status change moves it between the ``JobStatus`` values below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal, Protocol


class JobType(str, Enum):
    """The four kinds of job; each has its own queue and engine."""

    CSM = "csm"
    PORTRAIT = "portrait"
    WHISPER = "whisper"
    ANALYZE = "analyze"


class JobStatus(str, Enum):
    """Statuses of the contract. A job ends exactly once, in one of ``FINAL_STATUSES``."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_final(self) -> bool:
        """True for the end states."""
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset(
    {JobStatus.SUCCESS, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.TIMED_OUT}
)

InputKind = Literal["audio", "image"]
"""What a downloaded input must contain."""

#: URL fields that the worker downloads before the engine runs, and what they must contain.
INPUT_FIELDS: dict[JobType, dict[str, InputKind]] = {
    JobType.CSM: {"reference_audio_url": "audio"},
    JobType.PORTRAIT: {"image_url": "image", "audio_url": "audio"},
    JobType.WHISPER: {"audio_url": "audio"},
    JobType.ANALYZE: {"image_url": "image"},
}

OutputKind = Literal["audio", "image", "video"]
"""What a job's named output holds (an input field takes an output of its own kind)."""

#: The outputs a job offers to chained jobs (``"audio_url": "job:<id>#<name>"``): ``result``
#: is the main result file; a portrait rendered from ``text`` also keeps its ``speech``.
JOB_OUTPUTS: dict[JobType, dict[str, OutputKind]] = {
    JobType.CSM: {"result": "audio"},
    JobType.PORTRAIT: {"result": "video", "speech": "audio"},
    JobType.WHISPER: {},
    JobType.ANALYZE: {},
}


class JobSpec(Protocol):
    """What the queue needs to create a job (a validated request of ``api/schemas.py``)."""

    notify_url: str | None
    max_time: int
    complete_in: int

    def params_json(self) -> str:
        """The engine's parameters as JSON."""
        ...


@dataclass
class Job:
    """One job as stored in its Redis hash (the hash is the truth; this is a view of it)."""

    id: str
    type: JobType
    status: JobStatus
    params: dict[str, Any]
    created_at: float
    deadline: float
    max_time: int
    notify_url: str | None = None
    started_at: float | None = None
    finished_at: float | None = None
    attempts: int = 0
    """Runs started, as the status document counts them (a hand-back is not counted)."""
    run: int = 0
    """The current run's number: it only grows, and fences every write of a run."""
    failures: int = 0
    """Runs that failed in a way that may pass (and were retried)."""
    lost: int = 0
    """Times the worker running it was lost (killed, frozen past its lease)."""
    progress: float = 0.0
    worker: str | None = None
    entry: str | None = None
    error: str | None = None
    error_type: str | None = None
    """What kind of error ended it: input, engine, unavailable, transient, timeout,
    worker_lost, cancelled, requested."""
    retry_at: float | None = None
    """When a failed run will be retried (queued meanwhile)."""
    last_error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    webhook: dict[str, Any] | None = None
    owner: str | None = None
    """Who submitted it: the name of the API key, or None (no keys, or before owners)."""
    priority: str = "normal"
    """high, normal or low: the order among its owner's waiting jobs of its type."""
    waiting_for: list[str] = field(default_factory=list)
    """Chained jobs: the jobs (``type:id``) whose outputs it still waits for (queued, off
    its stream, meanwhile)."""
    sources: dict[str, str] = field(default_factory=dict)
    """Chained jobs: the storage key each ``job:`` input field reads."""

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Job:
        """Build a Job from the strings of its Redis hash."""

        def num(name: str) -> float | None:
            value = data.get(name)
            return float(value) if value not in (None, "") else None

        return cls(
            id=data["id"],
            type=JobType(data["type"]),
            status=JobStatus(data["status"]),
            params=json.loads(data.get("params") or "{}"),
            created_at=float(data["created_at"]),
            deadline=float(data["deadline"]),
            max_time=int(data["max_time"]),
            notify_url=data.get("notify_url") or None,
            started_at=num("started_at"),
            finished_at=num("finished_at"),
            attempts=int(data.get("attempts") or 0),
            run=int(data.get("run") or 0),
            failures=int(data.get("failures") or 0),
            lost=int(data.get("lost") or 0),
            progress=float(data.get("progress") or 0.0),
            worker=data.get("worker") or None,
            entry=data.get("entry") or None,
            error=data.get("error") or None,
            error_type=data.get("error_type") or None,
            retry_at=num("retry_at"),
            last_error=data.get("last_error") or None,
            result=json.loads(data.get("result") or "{}"),
            webhook=json.loads(data["webhook"]) if data.get("webhook") else None,
            owner=data.get("owner") or None,
            priority=data.get("priority") or "normal",
            waiting_for=(data.get("waiting_for") or "").split(),
            sources=json.loads(data.get("sources") or "{}"),
        )
