"""The request schemas of the public API (pydantic), validated straight from the raw body.

The schemas follow CONTRACT.md exactly (fields, defaults, bounds); anything beyond it is
an addition that old clients do not notice. Unknown fields are ignored, as the original
service ignored them. A validated request is a ``job.JobSpec`` the queue can store.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
    model_validator,
)

from c3render.engines.tts.voices import NAME as VOICE_NAME
from c3render.job import JobType

# --- field types ------------------------------------------------------------------


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http or https URL")
    return value


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters other than tab, newline and carriage return."""


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return _printable(value)


_JOB_REFERENCE = re.compile(
    r"^job:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(#[a-z_]{1,32})?$"
)


def _input_url(value: str) -> str:
    """An input: an http(s) link, or (addition) another job's output, ``job:<id>[#output]``."""
    if value.startswith("job:"):
        if not _JOB_REFERENCE.match(value):
            raise ValueError("must be job:<id> or job:<id>#<output> naming a job of this service")
        return value
    try:
        return _http_url(value)
    except ValueError:
        raise ValueError("must be an http or https URL, or job:<id> naming a job") from None


HttpUrl = Annotated[str, Field(strict=True, max_length=4096), AfterValidator(_http_url)]
InputUrl = Annotated[str, Field(
    strict=True, max_length=4096,
    description="an http(s) URL, or (addition) job:<id> / job:<id>#<output> naming another "
                "job's output: the job waits for it (see the README, Chained jobs)",
), AfterValidator(_input_url)]
"""A URL the worker reads: a link, or another job's output (checked at submit:
``api/chaining.py``)."""
NonBlank = Annotated[str, Field(strict=True, max_length=100_000), AfterValidator(_non_blank)]
StrictNumber = Annotated[float, Field(strict=True, allow_inf_nan=False)]


def _voice_alias(value: Any) -> Any:
    return "random" if value == "random_voice" else value


def _voice_name(choices: tuple[str, ...]) -> Any:
    """A contract voice, or (an addition) a named voice of ``C3_VOICES_DIR``: whether that
    name exists is checked at submit (``api/routes/voices.py``)."""
    listed = ", ".join(choices)

    def check(value: str) -> str:
        if value not in choices and not VOICE_NAME.match(value):
            raise ValueError(f"must be one of {listed}, or a named voice (GET /voices)")
        return value

    schema = {"anyOf": [{"enum": list(choices)},
                        {"type": "string", "pattern": VOICE_NAME.pattern,
                         "description": "a named voice listed by GET /voices"}]}
    return Annotated[str, Field(strict=True, max_length=64), AfterValidator(check),
                     WithJsonSchema(schema)]


Speaker = _voice_name(("conversational_a", "conversational_b", "clone"))
Voice = _voice_name(("random", "conversational_a", "conversational_b", "clone"))


_LANGUAGE = re.compile(r"^[A-Za-z]{0,32}([-_][A-Za-z]{2,8})?$")


def _language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise ValueError("must be a language code such as 'en' or 'de', or empty to detect")
    return value.lower()


_COMMON_FIELDS: set[str] = {"notify_url", "max_time", "complete_in", "priority"}


class JobRequest(BaseModel):
    """Fields common to every job (CONTRACT.md, "Common to every job")."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    notify_url: HttpUrl | None = None
    max_time: StrictInt = Field(1200, ge=60, le=7200)
    complete_in: StrictInt = Field(3600, ge=60, le=86400)
    # addition: which events reach notify_url (default: only the end, as the original)
    webhook_events: list[Literal["start", "progress", "completed"]] = Field(
        default_factory=lambda: ["completed"], min_length=1, max_length=3
    )
    # addition: order among the same API key's waiting jobs of this type (high first; keys
    # share the workers in turn whatever their jobs' priorities, see ARCHITECTURE.md)
    priority: Literal["high", "normal", "low"] = "normal"

    def params(self) -> dict[str, Any]:
        """The engine's parameters: every field but the common ones, with defaults filled in."""
        return self.model_dump(exclude=_COMMON_FIELDS)

    def params_json(self) -> str:
        """``params()`` as JSON (serialised by pydantic's core, without a dict in between)."""
        return self.model_dump_json(exclude=_COMMON_FIELDS)


RequestT = TypeVar("RequestT", bound=JobRequest)


def with_defaults(request: RequestT, max_time: int, complete_in: int) -> RequestT:
    """``request`` with the installation's defaults for the common fields it did not set
    (``DEFAULT_MAX_TIME`` / ``DEFAULT_COMPLETE_IN``, as the original service honoured)."""
    missing = {
        name: value
        for name, value in (("max_time", max_time), ("complete_in", complete_in))
        if name not in request.model_fields_set
    }
    return request.model_copy(update=missing) if missing else request


class ConversationTurn(BaseModel):
    """One turn of a dialogue: who speaks (a voice) and what they say."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    speaker: Speaker
    text: Annotated[str, Field(strict=True, max_length=10_000), AfterValidator(_non_blank)]


class SpeechJobRequest(JobRequest):
    """The /csm fields: what to say and how (CONTRACT.md), shared by /csm and by a /portrait
    made from text (its speech stage)."""

    text: NonBlank | None = None
    monologue: list[NonBlank] | None = Field(None, min_length=1, max_length=1000)
    voice: Annotated[Voice, BeforeValidator(_voice_alias)] = "random"
    reference_audio_url: InputUrl | None = None
    reference_text: NonBlank | None = None
    temperature: StrictNumber = Field(0.9, ge=0, le=2)
    topk: StrictInt = Field(50, ge=1, le=100)
    max_audio_length: StrictInt = Field(10000, ge=1000, le=30000)
    pause_duration: StrictInt = Field(150, ge=0, le=500)


SPEECH_FIELDS = tuple(name for name in SpeechJobRequest.model_fields if name not in JobRequest.model_fields)
"""The /csm fields a /portrait may carry instead of audio_url (its speech stage)."""


class CsmRequest(SpeechJobRequest):
    """POST /csm — text to speech."""

    # addition: output container; the original produced MP3
    format: Literal["mp3", "wav", "ogg"] = "mp3"
    # addition: a dialogue in one job, each turn in its speaker's voice (as the original's
    # CSM app offered); instead of text or monologue, and voice is then unused
    conversation: list[ConversationTurn] | None = Field(None, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _check_combinations(self) -> CsmRequest:
        given = [x is not None for x in (self.text, self.monologue, self.conversation)]
        if sum(given) != 1:
            raise ValueError("text: give exactly one of text, monologue or conversation")
        cloned = self.conversation is not None and any(t.speaker == "clone" for t in self.conversation)
        if self.voice == "clone" or cloned:
            if self.reference_audio_url is None:
                raise ValueError("reference_audio_url: required when voice is clone")
            if self.reference_text is None:
                raise ValueError("reference_text: required when voice is clone")
        return self


def _drop_internal(data: Any) -> Any:
    if isinstance(data, dict) and "speech_job" in data:
        data = {name: value for name, value in data.items() if name != "speech_job"}
    return data


class PortraitRequest(SpeechJobRequest):
    """POST /portrait — talking portrait video.

    Addition: instead of ``audio_url``, ``text`` or ``monologue`` with the /csm voice fields:
    the API then submits a /csm job first and this one reads its output (``speech_job``).
    """

    image_url: InputUrl
    audio_url: InputUrl | None = None
    speech_job: str | None = Field(None, json_schema_extra={"readOnly": True})
    """Set by the API (never by a client): the /csm job that renders the speech."""

    _strip = model_validator(mode="before")(_drop_internal)

    @model_validator(mode="after")
    def _check_audio(self) -> PortraitRequest:
        given = [x is not None for x in (self.audio_url, self.text, self.monologue)]
        if sum(given) != 1:
            raise ValueError("audio_url: give exactly one of audio_url, text or monologue")
        return self

    @property
    def from_text(self) -> bool:
        """True when the speech is to be rendered first (no audio_url given)."""
        return self.audio_url is None

    def speech_fields(self) -> dict[str, Any]:
        """The /csm request of the speech stage (only the fields the client gave)."""
        return {name: getattr(self, name) for name in SPEECH_FIELDS
                if name in self.model_fields_set}


class WhisperRequest(JobRequest):
    """POST /whisper — speech to text."""

    audio_url: InputUrl
    model: Literal["tiny", "base", "small", "medium", "large", "large-v2", "large-v3"] = "medium"
    task: Literal["transcribe", "translate"] = "transcribe"
    language: Annotated[str, Field(strict=True, max_length=40), AfterValidator(_language)] = ""
    # addition: each segment also lists its words with their times
    word_timestamps: Annotated[bool, Field(strict=True)] = False


class AnalyzeRequest(JobRequest):
    """POST /analyze — image analysis."""

    image_url: InputUrl
    # addition: a question for a vision-language model; the embedded engine notes it
    prompt: Annotated[
        str, Field(strict=True, max_length=2000), AfterValidator(_printable)
    ] | None = None


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
