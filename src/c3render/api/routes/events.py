"""``GET /events/{id}``: a job's live events as Server-Sent Events.

Every API process reads the same per-job Redis stream (``queue/events.py``), so a client
may be served by any of them and resume anywhere with ``Last-Event-ID``. Events:
``status`` (every status change), ``progress``, ``log`` (engine messages), and at the end
``queue`` (the queue position of a queued job with its ``eta``, as ``GET /status`` gives
them, at the start and every few seconds), and at the end ``result`` — the result document, the same as ``GET /result`` — after which the
stream closes. A resumed stream of a job that already ended answers the result at once;
one whose job expired meanwhile ends with a ``gone`` event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import redis
from flask import Blueprint, Response, request

from c3render.api.routes.jobs import _load as load_job
from c3render.api.services import base_url, services
from c3render.delivery.documents import result_document
from c3render.errors import NotFound
from c3render.job import Job
from c3render.queue.eta import Eta, EtaEstimator
from c3render.queue.events import JobEvents, valid_event_id
from c3render.queue.store import JobStore
from c3render.storage import Storage

events_bp = Blueprint("events", __name__)
log = logging.getLogger(__name__)

RETRY_MS = 2000
"""How long a disconnected EventSource waits before it reconnects."""
Estimate = Callable[[Job, int | None], Eta | None]
"""A queued job's ETA from its queue position (``EtaEstimator.estimate``)."""


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    """One Server-Sent Event, its data as one line of JSON."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@events_bp.get("/events/<job_id>")
def events(job_id: str) -> Response:
    """GET /events/{id}: status, progress, log and result events (text/event-stream)."""
    job = load_job(job_id)
    after = valid_event_id(request.headers.get("Last-Event-ID") or request.args.get("after"))
    svc = services()
    estimate = EtaEstimator(svc.redis, svc.workers, svc.storage.key_for_url).estimate
    stream = _stream(JobEvents(svc.redis), job, after, svc.store, svc.storage, base_url(),
                     estimate)
    response = Response(stream, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


def _stream(
    reader: JobEvents, job: Job, after: str, store: JobStore, storage: Storage, links: str,
    estimate: Estimate,
) -> Iterator[str]:
    try:
        yield from _events(reader, job, after, store, storage, links, estimate)
    except NotFound:
        yield sse("gone", {"id": job.id, "error": f"job {job.id} expired"})
    except redis.RedisError as exc:  # the client reconnects with Last-Event-ID
        log.warning("event stream of job %s ended: Redis error %s", job.id, exc)


def _events(
    reader: JobEvents, job: Job, after: str, store: JobStore, storage: Storage, links: str,
    estimate: Estimate,
) -> Iterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    yield from _queue_event(store, job, estimate)
    while True:
        batch = reader.read(job, after)
        for event in batch:
            yield sse(event.kind, event.data, event.id)
            after = event.id
        ended = any(event.is_end for event in batch)
        if not batch:
            current = store.find(job.id)
            if not current.status.is_final:
                yield from _queue_event(store, current, estimate)
                yield ": keep-alive\n\n"
                continue
            ended = True
        if ended:
            yield sse("result", result_document(store.find(job.id), storage, links))
            return


def _queue_event(store: JobStore, job: Job, estimate: Estimate) -> Iterator[str]:
    """A ``queue`` event (no id: it is not replayed) with a queued job's position and ETA
    (``eta``, or ``eta: null`` with ``eta_reason``, as in the status document)."""
    position = store.queue_position(job)
    if position is not None:
        eta = estimate(job, position)
        yield sse("queue", {"status": job.status.value, "queue_position": position,
                            **(eta.fields() if eta is not None else {})})
