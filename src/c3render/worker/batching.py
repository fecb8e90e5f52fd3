"""Which queued jobs a slot may take together, and how many (batched /whisper).

A slot that starts a /whisper job with ``C3_WHISPER_BATCH`` above 1 takes up to that many
queued jobs at once when their requests batch together: the same requested ``model``,
``task`` and ``language``. A job that asks for word timestamps is never batched with
others (aligning words keeps a running time across the chunks it decodes). The engine
groups once more by what it resolved (the installed model, the detected language).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

from c3render.job import JobType
from c3render.settings import Settings


def batch_limit(settings: Settings, job_type: JobType) -> int:
    """How many jobs of ``job_type`` a slot runs at once (1: one at a time, no batch)."""
    return settings.whisper_batch if job_type is JobType.WHISPER else 1


def batch_key(job_type: JobType, params: Mapping[str, Any]) -> Hashable | None:
    """Jobs with equal keys may run in one batch; None: this job runs with no other."""
    if job_type is not JobType.WHISPER or params.get("word_timestamps"):
        return None
    return (
        str(params.get("model") or "medium").strip().lower(),
        str(params.get("task") or "transcribe").strip().lower(),
        str(params.get("language") or "").strip().lower(),
    )


def fits_with(
    job_type: JobType, params: Mapping[str, Any]
) -> Callable[[dict[str, Any]], bool]:
    """A test for ``Reader.read_more``: does a queued request batch with ``params``?"""
    key = batch_key(job_type, params)

    def fits(request: dict[str, Any]) -> bool:
        return key is not None and batch_key(job_type, request) == key

    return fits
