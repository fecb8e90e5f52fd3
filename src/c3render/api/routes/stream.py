"""``GET /stream/{id}``: a /csm job's audio while it renders, sentence by sentence.

``?format=`` mp3 (MP3 frames, 24 kHz mono 64 kbit/s), wav (16-bit 24 kHz mono, one header
with an unknown length, then the samples) or pcm (the bare samples, s16le 24 kHz mono);
by default the job's own ``format`` (an ogg job streams mp3). ``?offset=N&run=R`` resumes:
the body starts at byte N of the same file (the pieces are kept in Redis, and encoding them
again gives the same bytes); ``run`` (the ``X-Stream-Run`` header of the first response)
makes a resume after a retry answer 409 instead of mixing two runs' audio. A queued job is waited for (up to ``C3_STREAM_WAIT_SECONDS``,
then 504); a job that ended other than success answers 409, a finished job whose audio is
no longer kept 410 (its file stays at ``/result``). The stored result is unchanged.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, request

from c3render.api.routes.jobs import _load as load_job
from c3render.api.services import services
from c3render.api.speech_stream import stream_body, streamable_run, wait_for_start
from c3render.errors import Conflict, RequestError
from c3render.job import Job, JobType
from c3render.media.streaming import STREAM_FORMATS, STREAM_RATE

stream_bp = Blueprint("stream", __name__)

_OFFSET = re.compile(r"^[0-9]{1,15}$")


@stream_bp.get("/stream/<job_id>")
def stream(job_id: str) -> Response:
    """GET /stream/{id}: the job's audio as it is rendered (chunked transfer)."""
    job = load_job(job_id)
    if job.type is not JobType.CSM:
        raise RequestError(f"id: job {job.id} is a {job.type.value} job; only /csm jobs "
                           "have an audio stream", "id")
    fmt = stream_format(job, request.args.get("format"))
    offset = stream_offset(request.args.get("offset"))
    svc = services()
    job = wait_for_start(svc.redis, svc.store, job, svc.settings.stream_wait_seconds)
    run = streamable_run(svc.redis, job)
    if request.args.get("run") not in (None, "", str(run)):
        raise Conflict(f"run: job {job.id} is now on run {run}, whose audio starts anew; "
                       "read it from offset 0 (without run)")
    return audio_response(stream_body(svc.redis, job, run, fmt, offset), fmt, run, offset)


def stream_format(job: Job, asked: str | None) -> str:
    """The format asked for, else the job's own (mp3 for a format that cannot stream)."""
    if asked is not None:
        if asked not in STREAM_FORMATS:
            raise RequestError(f"format: must be one of {', '.join(STREAM_FORMATS)}", "format")
        return asked
    own = str(job.params.get("format") or "mp3")
    return own if own in STREAM_FORMATS else "mp3"


def stream_offset(value: str | None) -> int:
    """``?offset=``: the byte to resume at (0 when absent)."""
    if value is None or value == "":
        return 0
    if not _OFFSET.match(value):
        raise RequestError("offset: must be a whole number of bytes (0 or more)", "offset")
    return int(value)


def audio_response(body: object, fmt: str, run: int, offset: int) -> Response:
    """A streamed audio response (no length: chunked transfer) with what a resuming
    client needs to know in its headers."""
    response = Response(body, mimetype=STREAM_FORMATS[fmt])  # type: ignore[arg-type]
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    response.headers["X-Stream-Run"] = str(run)
    response.headers["X-Stream-Offset"] = str(offset)
    response.headers["X-Audio-Sample-Rate"] = str(STREAM_RATE)
    return response
