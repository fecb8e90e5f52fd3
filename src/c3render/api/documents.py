"""The status document of a job (``GET /status``, ``GET /jobs``, ``POST /job``).

The result document, shared with the webhook body, is ``delivery.documents``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from c3render.job import Job
from c3render.queue.eta import Eta


def _iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")


def status_document(
    job: Job, queue_position: int | None = None, eta: Eta | None = None
) -> dict[str, Any]:
    """The status document: the contract's id/status/error plus additions (``eta``: when a
    queued or running job will start and finish, ``queue/eta.py``)."""
    doc: dict[str, Any] = {"id": job.id, "status": job.status.value}
    if job.error:
        doc["error"] = job.error
    doc.update(
        type=job.type.value,
        created_at=_iso(job.created_at),
        started_at=_iso(job.started_at),
        finished_at=_iso(job.finished_at),
        progress=round(job.progress, 3),
        attempts=job.attempts,
        priority=job.priority,
    )
    if job.error_type:
        doc["error_type"] = job.error_type
    if job.retry_at is not None and not job.status.is_final:
        doc["retry_at"] = _iso(job.retry_at)
        doc["last_error"] = job.last_error
    if queue_position is not None:
        doc["queue_position"] = queue_position
    if eta is not None and not job.status.is_final:
        doc.update(eta.fields())
    if job.webhook:
        doc["webhook"] = job.webhook
    return doc
