"""OpenAI-compatible audio: ``POST /v1/audio/transcriptions``, ``/v1/audio/translations``
and ``/v1/audio/speech``, so code written for the ``openai`` SDK works unchanged.

Each request becomes an ordinary /whisper or /csm job (the same queue, workers, limits
and ``GET /jobs`` listing); the request is held until the job ends (at most
``C3_OPENAI_WAIT_SECONDS``) and answered in OpenAI's shapes (``openai_shapes.py``), errors
as ``{"error": {"message", "type", "param", "code"}}``. Speech with ``stream_format:
"audio"`` (mp3, wav or pcm at speed 1) is answered as it renders, sentence by sentence
(``api/speech_stream.py``, the same pieces as ``GET /stream``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from werkzeug.exceptions import HTTPException

from c3render.api.openai_shapes import (
    TRANSCRIPT_FORMATS,
    speech_audio,
    speech_voice,
    transcript_body,
    whisper_model,
)
from c3render.api.routes.stream import audio_response
from c3render.api.routes.uploads import _receive, _sniff_upload, _store
from c3render.api.routes.voices import check_named_voices
from c3render.api.schemas import CsmRequest, JobRequest, WhisperRequest, with_defaults
from c3render.api.services import services
from c3render.api.speech_stream import stream_body, streamable_run, wait_for_start
from c3render.api.tenancy import submit_owned
from c3render.api.validation import describe, parse, read_json_body
from c3render.errors import C3Error, RequestError, TooManyRequests
from c3render.job import Job, JobStatus, JobType
from c3render.media.streaming import STREAM_FORMATS
from c3render.queue.events import JobEvents

openai_bp = Blueprint("openai_audio", __name__, url_prefix="/v1/audio")


class SpeechRequest(BaseModel):
    """OpenAI's speech request."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    model: Annotated[str, Field(min_length=1, max_length=100)]
    input: Annotated[str, Field(min_length=1, max_length=4096)]
    voice: Annotated[str, Field(min_length=1, max_length=100)]
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "mp3"
    speed: Annotated[float, Field(ge=0.25, le=4.0)] = 1.0
    instructions: str | None = None
    stream_format: Literal["audio", "sse"] = Field("audio", description=(
        "audio given explicitly (mp3, wav, pcm at speed 1): the bytes are sent as the "
        "sentences render (chunked); otherwise the whole file once rendered; sse: 400"))


@openai_bp.errorhandler(C3Error)
def _c3_error(error: C3Error) -> tuple[Response, int]:
    param = error.field if isinstance(error, RequestError) else None
    response, status = openai_error(error.http_status, error.message, param)
    if isinstance(error, TooManyRequests):
        response.headers["Retry-After"] = str(error.retry_after)
    return response, status


@openai_bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[Response, int]:
    return openai_error(error.code or 500, error.description or error.name)


def openai_error(status: int, message: str, param: str | None = None,
                 code: str | None = None) -> tuple[Response, int]:
    """An error in OpenAI's shape."""
    kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
    if status == 401:
        kind = "authentication_error"
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return jsonify(body), status


@openai_bp.post("/transcriptions")
def transcriptions() -> Response:
    """Transcribe an uploaded file, as OpenAI's endpoint of the same name."""
    return _transcribe("transcribe")


@openai_bp.post("/translations")
def translations() -> Response:
    """Translate an uploaded recording to English text, as OpenAI's endpoint."""
    return _transcribe("translate")


def _transcribe(task: str) -> Response:
    form = request.form
    fmt = form.get("response_format", "json")
    if fmt not in TRANSCRIPT_FORMATS:
        raise RequestError(f"response_format: must be one of {', '.join(TRANSCRIPT_FORMATS)}",
                           "response_format")
    granularities = set(form.getlist("timestamp_granularities[]")
                        or form.getlist("timestamp_granularities"))
    if granularities - {"word", "segment"}:
        raise RequestError("timestamp_granularities[]: each must be word or segment",
                           "timestamp_granularities[]")
    fields: dict[str, Any] = {
        "model": whisper_model(form.get("model", "")), "task": task,
        "word_timestamps": "word" in granularities,
        "audio_url": _upload_file(),
    }
    if task == "transcribe" and form.get("language"):
        fields["language"] = form["language"]
    job = _run(JobType.WHISPER, WhisperRequest, fields)
    words = "word" in granularities and fmt == "verbose_json"
    body, mimetype = transcript_body(job.result, fmt, task, words, "segment" in granularities)
    if isinstance(body, dict):
        return jsonify(body)
    return Response(body, mimetype=f"{mimetype}; charset=utf-8")


@openai_bp.post("/speech")
def speech() -> Response:
    """Speak ``input``, as OpenAI's endpoint: the audio bytes in ``response_format``."""
    spoken = parse(SpeechRequest, read_json_body())
    if spoken.stream_format == "sse":
        raise RequestError("stream_format: only 'audio' is offered", "stream_format")
    fields = {"text": spoken.input, "voice": speech_voice(spoken.voice), "format": "wav"}
    if _streamed(spoken):
        return _speech_stream(fields, spoken.response_format)
    job = _run(JobType.CSM, CsmRequest, fields)
    storage = services().storage
    with tempfile.TemporaryDirectory() as temp:
        wav = Path(temp) / "speech.wav"
        storage.get_to_file(str(job.result["file_key"]), wav)
        audio, mimetype = speech_audio(wav, spoken.response_format, spoken.speed)
    return Response(audio, mimetype=mimetype)


def _streamed(spoken: SpeechRequest) -> bool:
    """``stream_format: "audio"`` asked for explicitly, in a format that streams (mp3, wav,
    pcm) at speed 1: the bytes are sent sentence by sentence. Otherwise the whole file is
    answered once rendered, as before."""
    return ("stream_format" in spoken.model_fields_set and spoken.stream_format == "audio"
            and spoken.response_format in STREAM_FORMATS and abs(spoken.speed - 1.0) < 1e-3)


def _speech_stream(fields: dict[str, Any], fmt: str) -> Response:
    """Submit the speech job and answer its audio as it renders (chunked transfer)."""
    svc = services()
    job = wait_for_start(svc.redis, svc.store, _submit(JobType.CSM, CsmRequest, fields),
                         svc.settings.openai_wait_seconds)
    if job.status.is_final and job.status is not JobStatus.SUCCESS:
        raise _failure(job)
    run = streamable_run(svc.redis, job)
    return audio_response(stream_body(svc.redis, job, run, fmt, 0), fmt, run, 0)


def _upload_file() -> str:
    """Store the multipart ``file`` as an upload; its signed link (the job's input URL)."""
    svc = services()
    if request.mimetype != "multipart/form-data":
        raise RequestError("file: send a multipart/form-data request with a 'file' field",
                           "file")
    workdir = svc.settings.data_dir / "tmp"
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=workdir) as temp:
        path = Path(temp) / "upload"
        name, size = _receive(path, svc.settings.fetch_max_bytes)
        return str(_store(path, name, size, _sniff_upload(path))["url"])


def _submit(job_type: JobType, schema: type[JobRequest], fields: dict[str, Any]) -> Job:
    """Validate and submit a job; the job as queued."""
    svc = services()
    settings = svc.settings
    try:
        validated = schema.model_validate(fields)
    except ValidationError as exc:
        raise describe(exc) from None
    job_request = with_defaults(validated, max_time=settings.default_max_time,
                                complete_in=settings.default_complete_in)
    check_named_voices(job_request)
    job_id, _ = submit_owned(job_type, job_request)  # the key's limits, quota and uploads
    return svc.store.find(job_id)


def _run(job_type: JobType, schema: type[JobRequest], fields: dict[str, Any]) -> Job:
    """Submit a job, wait for its end, and return it; a failure raises in OpenAI's terms."""
    svc = services()
    job = _submit(job_type, schema, fields)
    if not JobEvents(svc.redis).wait_for_end(job, svc.settings.openai_wait_seconds):
        raise _Unfinished(job.id, svc.settings.openai_wait_seconds)
    job = svc.store.find(job.id)
    if job.status is not JobStatus.SUCCESS:
        raise _failure(job)
    return job


def _failure(job: Job) -> C3Error:
    """The error of a job that did not succeed, in OpenAI's terms (input errors are 400)."""
    if job.error_type == "input":
        return RequestError(job.error or job.status.value)
    return C3Error(f"job {job.id} {job.status.value}: {job.error or ''}".strip())


class _Unfinished(C3Error):
    http_status = 504

    def __init__(self, job_id: str, seconds: float) -> None:
        super().__init__(f"job {job_id} did not finish within {seconds:g} s; follow it at "
                         f"/status/{job_id}")
