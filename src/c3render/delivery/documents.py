"""The documents a finished job answers with: ``GET /result/{id}`` and the webhook payload."""

from __future__ import annotations

from typing import Any

from c3render.job import Job, JobStatus
from c3render.storage import Storage


def result_document(job: Job, storage: Storage, base_url: str) -> dict[str, Any]:
    """``{"id", "status", "result_url" | "text", ...additions}``, plus ``error`` when it failed.

    ``result_url`` is a fresh signed link (its lifetime is ``C3_LINK_SECONDS``); the
    additions an engine reported (duration, language, segments, analysis, ...) follow, and a
    link per named output (``speech_url`` of a portrait rendered from text).
    """
    doc: dict[str, Any] = {"id": job.id, "status": job.status.value}
    if job.status is JobStatus.SUCCESS:
        key = job.result.get("file_key")
        if key:
            doc["result_url"] = storage.link(key, base_url)
        if "text" in job.result:
            doc["text"] = job.result["text"]
        for name, output in (job.result.get("outputs") or {}).items():  # e.g. speech_url
            doc[f"{name}_url"] = storage.link(output["file_key"], base_url)
        doc.update(job.result.get("extra", {}))
    if job.error:
        doc["error"] = job.error
    return doc


def webhook_payload(job: Job, storage: Storage, base_url: str) -> dict[str, Any]:
    """The contract's webhook body for a job in an end state (same shape as the result)."""
    return result_document(job, storage, base_url)
