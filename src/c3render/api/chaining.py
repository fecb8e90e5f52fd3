"""Chained jobs at the API: checking ``job:<id>`` inputs, the portrait's speech stage, and
what /status adds about a chain.

A reference must name a job this key may see (``tenancy.require_visible``), whose output
of that name holds what the field reads (audio for ``audio_url``, image for ``image_url``,
``job.JOB_OUTPUTS``), and that has not failed, been cancelled or timed out; otherwise the
submit answers 400 naming the field. A cycle cannot be written: a reference names a job
that exists already, and a new job's id is made by the server.
"""

from __future__ import annotations

import json
from typing import Any

from c3render.api.schemas import CsmRequest, PortraitRequest
from c3render.api.services import services
from c3render.api.tenancy import require_visible
from c3render.api.validation import parse
from c3render.errors import Conflict, NotFound, RequestError
from c3render.job import INPUT_FIELDS, JOB_OUTPUTS, Job, JobStatus, JobType
from c3render.queue.chains import Reference, output_key, output_kind, parse_reference


def check_references(job_type: JobType, request: Any) -> list[Job]:
    """The jobs whose outputs ``request`` reads (each once); ``RequestError`` naming the
    field for a reference that cannot be honoured."""
    parents: dict[str, Job] = {}
    for field, kind in INPUT_FIELDS[job_type].items():
        reference = parse_reference(field, getattr(request, field, None))
        if reference is not None:
            parent = _visible_job(reference)
            _check_output(reference, parent, kind)
            parents[parent.id] = parent
    return list(parents.values())


def _visible_job(reference: Reference) -> Job:
    try:
        return require_visible(services().store.find(reference.job_id))
    except NotFound:
        raise RequestError(
            f"{reference.field}: there is no job {reference.job_id} (a job: reference names "
            "a job of this service, submitted with this API key)", reference.field,
        ) from None


def _check_output(reference: Reference, parent: Job, kind: str) -> None:
    field, name = reference.field, reference.output
    has = output_kind(parent.type, name)
    if has is None:
        offered = ", ".join(f"#{each}" for each in _outputs(parent.type)) or "none"
        raise RequestError(f"{field}: a {parent.type.value} job has no {name} output "
                           f"(its outputs: {offered})", field)
    if has != kind:
        raise RequestError(f"{field}: the {name} of {parent.type.value} job {parent.id} is "
                           f"{'an' if has[0] in 'aeiou' else 'a'} {has} file, not {kind}", field)
    if name == "speech" and not parent.params.get("speech_job"):
        raise RequestError(f"{field}: portrait job {parent.id} has no speech output (it was "
                           "not rendered from text)", field)
    if parent.status.is_final and parent.status is not JobStatus.SUCCESS:
        raise RequestError(f"{field}: job {parent.id} already ended {parent.status.value}; "
                           "its output will never exist", field)
    if parent.status is JobStatus.SUCCESS and output_key(parent, name) is None:
        raise RequestError(f"{field}: job {parent.id} succeeded without a {name} file", field)


def _outputs(job_type: JobType) -> list[str]:
    return list(JOB_OUTPUTS[job_type])


def speech_request(portrait: PortraitRequest) -> CsmRequest:
    """The /csm request of a portrait's speech stage: its voice fields, its deadlines."""
    fields = dict(portrait.speech_fields(), max_time=portrait.max_time,
                  complete_in=portrait.complete_in)
    return parse(CsmRequest, json.dumps(fields).encode())


def with_speech_job(portrait: PortraitRequest, speech_id: str) -> PortraitRequest:
    """The portrait reading the speech job's output (``audio_url = job:<id>``)."""
    return portrait.model_copy(update={"audio_url": f"job:{speech_id}", "speech_job": speech_id})


def end_speech_stage(portrait: Job, status: JobStatus) -> None:
    """A portrait rendered from text was ended by request: its speech job, still queued or
    running for it alone, ends the same way (the portrait is one job to its client)."""
    speech_id = portrait.params.get("speech_job")
    if portrait.type is not JobType.PORTRAIT or not speech_id:
        return
    store = services().store
    try:
        speech = store.find(str(speech_id))
    except NotFound:
        return
    if not speech.status.is_final:
        try:
            store.end(speech, status, f"its portrait {portrait.id} was {status.value} by request")
        except Conflict:
            pass  # it ended meanwhile


def chain_document(job: Job) -> dict[str, Any]:
    """What /status adds for a chained job: ``waiting_for`` (the ids), and for a portrait
    rendered from text its ``stage`` (speech, video) with each stage's status and progress."""
    doc: dict[str, Any] = {}
    if job.waiting_for and job.status is JobStatus.QUEUED:
        doc["waiting_for"] = [member.partition(":")[2] for member in job.waiting_for]
    speech_id = job.params.get("speech_job")
    if job.type is not JobType.PORTRAIT or not speech_id:
        return doc
    try:
        speech: Job | None = services().store.find(str(speech_id))
    except NotFound:
        speech = None
    spoken = speech is None or speech.status is JobStatus.SUCCESS
    speech_stage = {"id": speech_id, "status": speech.status.value if speech else "gone",
                    "progress": round(speech.progress, 3) if speech else 1.0}
    video_stage = {"status": "waiting" if job.waiting_for else job.status.value,
                   "progress": round(job.progress, 3)}
    doc.update(stage="video" if spoken else "speech",
               stages={"speech": speech_stage, "video": video_stage})
    return doc
