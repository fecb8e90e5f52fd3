"""Job types, statuses, the job record, and the request schemas of the public API.

The schemas follow CONTRACT.md exactly (fields, defaults, bounds); anything beyond it is
an addition that old clients do not notice. Unknown fields are ignored, as the original
service ignored them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)


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

#: Job types whose result is a file (``result_url``); the others answer ``text``.
MEDIA_TYPES = frozenset({JobType.CSM, JobType.PORTRAIT})

#: URL fields that the worker downloads before the engine runs, and what they must contain.
INPUT_FIELDS: dict[JobType, dict[str, str]] = {
    JobType.CSM: {"reference_audio_url": "audio"},
    JobType.PORTRAIT: {"image_url": "image", "audio_url": "audio"},
    JobType.WHISPER: {"audio_url": "audio"},
    JobType.ANALYZE: {"image_url": "image"},
}


# --- field types ------------------------------------------------------------------


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


HttpUrl = Annotated[str, Field(strict=True, max_length=4096), AfterValidator(_http_url)]
NonBlank = Annotated[str, Field(strict=True, max_length=100_000), AfterValidator(_non_blank)]
StrictNumber = Annotated[float, Field(strict=True)]


def _voice_alias(value: Any) -> Any:
    return "random" if value == "random_voice" else value


_LANGUAGE = re.compile(r"^[A-Za-z]{0,32}([-_][A-Za-z]{2,8})?$")


def _language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise ValueError("must be a language code such as 'en' or 'de', or empty to detect")
    return value.lower()


_COMMON_FIELDS: set[str] = {"notify_url", "max_time", "complete_in"}


class JobRequest(BaseModel):
    """Fields common to every job (CONTRACT.md, "Common to every job")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    notify_url: HttpUrl | None = None
    max_time: StrictInt = Field(1200, ge=60, le=7200)
    complete_in: StrictInt = Field(3600, ge=60, le=86400)

    def params(self) -> dict[str, Any]:
        """The engine's parameters: every field but the common ones, with defaults filled in."""
        return self.model_dump(exclude=_COMMON_FIELDS)

    def params_json(self) -> str:
        """``params()`` as JSON (serialised by pydantic's core, without a dict in between)."""
        return self.model_dump_json(exclude=_COMMON_FIELDS)


class CsmRequest(JobRequest):
    """POST /csm — text to speech."""

    text: NonBlank | None = None
    monologue: list[NonBlank] | None = Field(None, min_length=1, max_length=1000)
    voice: Annotated[
        Literal["random", "conversational_a", "conversational_b", "clone"],
        BeforeValidator(_voice_alias),
    ] = "random"
    reference_audio_url: HttpUrl | None = None
    reference_text: NonBlank | None = None
    temperature: StrictNumber = Field(0.9, ge=0, le=2)
    topk: StrictInt = Field(50, ge=1, le=100)
    max_audio_length: StrictInt = Field(10000, ge=1000, le=30000)
    pause_duration: StrictInt = Field(150, ge=0, le=500)
    # addition: output container; the original produced MP3
    format: Literal["mp3", "wav", "ogg"] = "mp3"

    @model_validator(mode="after")
    def _check_combinations(self) -> CsmRequest:
        if (self.text is None) == (self.monologue is None):
            raise ValueError("text: give exactly one of text or monologue")
        if self.voice == "clone":
            if self.reference_audio_url is None:
                raise ValueError("reference_audio_url: required when voice is clone")
            if self.reference_text is None:
                raise ValueError("reference_text: required when voice is clone")
        return self


class PortraitRequest(JobRequest):
    """POST /portrait — talking portrait video."""

    image_url: HttpUrl
    audio_url: HttpUrl


class WhisperRequest(JobRequest):
    """POST /whisper — speech to text."""

    audio_url: HttpUrl
    model: Literal["tiny", "base", "small", "medium", "large", "large-v2", "large-v3"] = "medium"
    task: Literal["transcribe", "translate"] = "transcribe"
    language: Annotated[str, Field(strict=True, max_length=40), AfterValidator(_language)] = ""


class AnalyzeRequest(JobRequest):
    """POST /analyze — image analysis."""

    image_url: HttpUrl
    # addition: a question for a vision-language model; the embedded engine notes it
    prompt: Annotated[str, Field(strict=True, max_length=2000)] | None = None


REQUEST_SCHEMAS: dict[JobType, type[JobRequest]] = {
    JobType.CSM: CsmRequest,
    JobType.PORTRAIT: PortraitRequest,
    JobType.WHISPER: WhisperRequest,
    JobType.ANALYZE: AnalyzeRequest,
}


class ControlRequest(BaseModel):
    """POST /job/{id} — mark a job cancelled, timed out or failed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    status: Literal["cancelled", "timed_out", "failed"]
    error: Annotated[str, Field(strict=True, max_length=10_000)] | None = None
    remove_data: Annotated[bool, Field(strict=True)] = False


# --- the job record -----------------------------------------------------------------


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
    progress: float = 0.0
    worker: str | None = None
    entry: str | None = None
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)
    webhook: dict[str, Any] | None = None

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
            progress=float(data.get("progress") or 0.0),
            worker=data.get("worker") or None,
            entry=data.get("entry") or None,
            error=data.get("error") or None,
            result=json.loads(data.get("result") or "{}"),
            webhook=json.loads(data["webhook"]) if data.get("webhook") else None,
        )
