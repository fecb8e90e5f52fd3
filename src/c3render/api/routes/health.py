"""GET / — a small public health document: Redis reachability, queue depths, worker counts.

It needs no API key, so it shows counts only: no worker ids, host names, job ids or Redis
error text (which can name internal hosts).
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Blueprint, Response, jsonify

from c3render import __version__
from c3render.api.services import services

health_bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


def worker_counts(workers: list[dict[str, Any]]) -> dict[str, Any]:
    """Live workers, the jobs they run, and how many workers serve each job type."""
    serving: dict[str, int] = {}
    running = 0
    for worker in workers:
        for job_type in worker.get("types") or []:
            serving[str(job_type)] = serving.get(str(job_type), 0) + 1
        jobs = worker.get("running") or []
        running += jobs if isinstance(jobs, int) else len(jobs)  # a list of ids, or a count
    return {"workers": len(workers), "running": running, "serving": serving}


@health_bp.get("/")
def health() -> tuple[Response, int]:
    """Answer 200 when Redis is reachable, 503 otherwise; never needs an API key."""
    store = services().store
    doc: dict[str, object] = {"service": "c3-render", "version": __version__}
    try:
        store.redis.ping()
        doc.update(status="ok", redis="ok", queues=store.queue_depths())
        doc.update(worker_counts(services().workers.live_workers()))
        return jsonify(doc), 200
    except redis.RedisError as exc:
        log.warning("health: Redis is unreachable: %s", type(exc).__name__)
        doc.update(status="degraded", redis="unreachable")
        return jsonify(doc), 503


health.public = True  # type: ignore[attr-defined]


@health_bp.get("/workers")
def workers() -> Response:
    """GET /workers (addition; an API key is needed when keys are configured): the live
    workers — id, host, the job types they serve, slots and how many jobs they run; job ids
    stay out, so one tenant never sees another's."""
    listed = []
    for worker in services().workers.live_workers():
        running = worker.get("running") or []
        listed.append({
            "id": worker.get("id"), "host": worker.get("host"), "types": worker.get("types"),
            "slots": worker.get("slots"), "started_at": worker.get("started_at"),
            "running": running if isinstance(running, int) else len(running),
        })
    return jsonify({"workers": listed})
