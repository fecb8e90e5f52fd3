"""Job endpoints: submit (/csm, /portrait, /whisper, /analyze), status, result, control, list."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from c3render.api.chaining import (
    chain_document,
    check_references,
    end_speech_stage,
    speech_request,
    with_speech_job,
)
from c3render.api.documents import status_document
from c3render.api.routes.voices import check_named_voices
from c3render.api.schemas import (
    REQUEST_SCHEMAS,
    ControlRequest,
    PortraitRequest,
    with_defaults,
)
from c3render.api.services import base_url, services
from c3render.api.tenancy import (
    remove_job_data,
    require_visible,
    submit_owned,
    visible_jobs,
)
from c3render.api.validation import parse, read_json_body
from c3render.delivery.documents import result_document
from c3render.errors import RequestError
from c3render.job import Job, JobStatus, JobType
from c3render.media import subtitles
from c3render.queue.eta import EtaEstimator
from c3render.queue.events import JobEvents

jobs_bp = Blueprint("jobs", __name__)

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _submit(job_type: JobType) -> tuple[Response, int]:
    settings = services().settings
    job_request = with_defaults(
        parse(REQUEST_SCHEMAS[job_type], read_json_body()),
        max_time=settings.default_max_time, complete_in=settings.default_complete_in,
    )
    check_named_voices(job_request)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 255:
        raise RequestError("Idempotency-Key: must be 1 to 255 characters", "Idempotency-Key")
    store = services().store
    parents = check_references(job_type, job_request)
    if isinstance(job_request, PortraitRequest) and job_request.from_text:
        job_request, speech = _speech_stage(job_request, key)
        parents.append(speech)
    job_id, created = submit_owned(job_type, job_request, key, parents)
    status = JobStatus.QUEUED.value if created else store.find(job_id).status.value
    finished = wait_preferred(job_id)
    if finished is not None:
        return jsonify(finished), 200
    return jsonify({"id": job_id, "status": status, "urls": job_urls(job_id)}), 200


def job_urls(job_id: str) -> dict[str, str]:
    """Where to follow a job (the submit answer's ``urls``, as hosted render APIs give)."""
    base = base_url()
    return {
        "status": f"{base}/status/{job_id}", "result": f"{base}/result/{job_id}",
        "cancel": f"{base}/job/{job_id}", "events": f"{base}/events/{job_id}",
    }


def wait_preferred(job_id: str) -> dict[str, Any] | None:
    """With ``Prefer: wait=N`` (RFC 7240, as Replicate), hold the submit up to N seconds
    (capped by C3_PREFER_WAIT_MAX_SECONDS) on the job's event stream: the result document
    when it ended in time, else None (the usual queued answer)."""
    svc = services()
    seconds = prefer_wait(request.headers.get("Prefer", ""), svc.settings.prefer_wait_max_seconds)
    if not seconds:
        return None
    job = svc.store.find(job_id)
    if not JobEvents(svc.redis).wait_for_end(job, seconds):
        return None
    return result_document(svc.store.find(job_id), svc.storage, base_url())


def prefer_wait(header: str, cap: float) -> float:
    """The ``wait`` preference of a Prefer header in seconds (0 when absent), capped."""
    for preference in re.split(r"[,;]", header):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            value = value.strip().strip('"')
            if not value.isdigit():
                raise RequestError("Prefer: wait must be a whole number of seconds", "Prefer")
            return min(float(value), cap)
    return 0.0


def _speech_stage(portrait: PortraitRequest, key: str | None) -> tuple[PortraitRequest, Job]:
    """A portrait from text: submit its /csm job first; the portrait then reads its output."""
    speech = speech_request(portrait)
    speech_parents = check_references(JobType.CSM, speech)
    speech_id, _ = submit_owned(JobType.CSM, speech, f"{key}\0speech" if key else None,
                                speech_parents)
    return with_speech_job(portrait, speech_id), services().store.find(speech_id)


def _make_submit_view(job_type: JobType) -> None:
    def view() -> tuple[Response, int]:
        return _submit(job_type)

    view.__name__ = f"submit_{job_type.value}"
    view.__doc__ = f"POST /{job_type.value}: validate and queue a {job_type.value} job."
    jobs_bp.add_url_rule(f"/{job_type.value}", view_func=view, methods=["POST"])


for _job_type in JobType:
    _make_submit_view(_job_type)


def _load(job_id: str) -> Job:
    if not _UUID.match(job_id):
        raise RequestError(f"id: {job_id[:40]!r} is not a valid job id (a UUID)", "id")
    return require_visible(services().store.find(job_id))


@jobs_bp.get("/status/<job_id>")
def status(job_id: str) -> Response:
    """GET /status/{id}: the job's status document."""
    job = _load(job_id)
    svc = services()
    position = svc.store.queue_position(job)
    eta = EtaEstimator(svc.redis, svc.workers, svc.storage.key_for_url).estimate(job, position)
    doc = status_document(job, position, eta)
    doc.update(chain_document(job))
    if request.args.get("logs") in ("1", "true"):  # as fal: the job's log lines
        doc["logs"] = JobEvents(services().redis).logs(job)
    return jsonify(doc)


@jobs_bp.get("/result/<job_id>")
def result(job_id: str) -> tuple[Response, int] | Response:
    """GET /result/{id}: result_url or text; ``?format=srt|vtt`` for a transcript's subtitles."""
    job = _load(job_id)
    if not job.status.is_final:
        return jsonify({"error": "Job not completed", "status": job.status.value}), 400
    wanted = request.args.get("format", "json")
    if wanted in ("srt", "vtt") and job.status is JobStatus.SUCCESS:
        return _subtitles(job, wanted)
    if wanted != "json":
        raise RequestError("format: must be one of json, srt, vtt", "format")
    return jsonify(result_document(job, services().storage, base_url()))


def _subtitles(job: Job, wanted: str) -> Response:
    segments = job.result.get("extra", {}).get("segments")
    if segments is None:
        raise RequestError(f"format: {wanted} is only available for /whisper results", "format")
    body = subtitles.to_srt(segments) if wanted == "srt" else subtitles.to_vtt(segments)
    mimetype = "application/x-subrip" if wanted == "srt" else "text/vtt"
    return Response(body, mimetype=f"{mimetype}; charset=utf-8")


@jobs_bp.post("/job/<job_id>")
def control(job_id: str) -> Response:
    """POST /job/{id}: mark a job cancelled, timed_out or failed; optionally remove its data."""
    command = parse(ControlRequest, read_json_body())
    job = _load(job_id)
    svc = services()
    new_status = JobStatus(command.status)
    default_error = {"cancelled": "cancelled by request", "timed_out": "timed out by request"}
    error = command.error or default_error.get(command.status, "failed by request")
    if not (command.remove_data and job.status.is_final):
        svc.store.end(job, new_status, error)
        end_speech_stage(job, new_status)
    if command.remove_data:
        _remove_data(job)
    return jsonify(status_document(svc.store.find(job.id)))


@jobs_bp.post("/job/<job_id>/retry")
def retry(job_id: str) -> Response:
    """POST /job/{id}/retry: queue a failed or timed-out job again under the same id."""
    store = services().store
    job = store.resubmit(_load(job_id))
    return jsonify(status_document(job, store.queue_position(job)))


def _remove_data(job: Job) -> None:
    remove_job_data(job)


@jobs_bp.get("/jobs")
def list_jobs() -> Response:
    """GET /jobs?status=&type=&limit=&offset=: newest jobs first, for dashboards."""
    job_type = _enum_arg(JobType, "type")
    job_status = _enum_arg(JobStatus, "status")
    limit = _int_arg("limit", 50, 1, 500)
    offset = _int_arg("offset", 0, 0, 10_000)
    jobs = visible_jobs(job_type, job_status, limit, offset)
    return jsonify(
        {"jobs": [status_document(job) for job in jobs], "limit": limit, "offset": offset}
    )


def _enum_arg(enum: Any, name: str) -> Any:
    value = request.args.get(name)
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise RequestError(f"{name}: must be one of {choices}", name) from None


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    digits = raw.isascii() and raw.isdigit() and len(raw) <= 12  # '²'.isdigit() is True
    if not digits or not low <= int(raw) <= high:
        raise RequestError(f"{name}: must be an integer from {low} to {high}", name)
    return int(raw)
