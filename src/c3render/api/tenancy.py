"""Who may see and change what: per-key isolation, rate limits, quotas, upload ownership.

Jobs and uploads record the name of the key that made them (``auth.current_owner``).
With ``C3_KEY_ISOLATION`` a job is visible, listed, cancellable and deletable only with a
key of the same name (others get 404, as for a job that does not exist), and a job may
read only its own key's uploads. The limits (``C3_SUBMITS_PER_MINUTE``,
``C3_MAX_QUEUED_JOBS``, ``C3_MAX_UPLOAD_BYTES``) apply per key name with or without
isolation and answer 429 with ``Retry-After``.
"""

from __future__ import annotations

import logging
from typing import Any

from c3render.api.auth import current_owner
from c3render.api.services import services
from c3render.errors import NotFound, RequestError, TooManyRequests
from c3render.job import INPUT_FIELDS, Job, JobStatus, JobType
from c3render.queue import keys
from c3render.queue.listing import PAGE, SCAN_LIMIT

log = logging.getLogger(__name__)
QUEUE_FULL_RETRY_SECONDS = 10
REFERENCE_SLACK_SECONDS = 2 * 86400
"""Upload references outlive the longest complete_in of the jobs that read the upload."""


def _who(owner: str) -> str:
    return f"key {owner!r}" if owner else "this client"


def admit_submission(owner: str) -> str | None:
    """Apply the rate limit and the unfinished-jobs quota; a reservation token or None."""
    svc = services()
    settings = svc.settings
    if settings.submits_per_minute:
        wait = svc.quotas.take_submit(owner, settings.submits_per_minute)
        if wait is not None:
            log.warning("%s is over its submit rate limit", _who(owner))
            raise TooManyRequests(
                f"{_who(owner)} is over its limit of {settings.submits_per_minute} submissions "
                "per minute (C3_SUBMITS_PER_MINUTE)", wait)
    if not settings.max_queued_jobs:
        return None
    token = svc.quotas.reserve_job(owner, settings.max_queued_jobs)
    if token is None:
        log.warning("%s is at its unfinished-jobs quota", _who(owner))
        raise TooManyRequests(
            f"{_who(owner)} already has {settings.max_queued_jobs} unfinished jobs "
            "(C3_MAX_QUEUED_JOBS); wait for one to end", QUEUE_FULL_RETRY_SECONDS)
    return token


def scoped_idempotency_key(key: str | None, owner: str) -> str | None:
    """An Idempotency-Key scoped by the key name: one key never receives another's job."""
    if key is None or not owner:
        return key
    return f"{owner}\0{key}"


def own_uploads(job_type: JobType, request: Any, owner: str) -> list[str]:
    """The ids of the uploads a submission reads; with isolation, only its own key's."""
    svc = services()
    found = []
    for field in INPUT_FIELDS[job_type]:
        url = getattr(request, field, None)
        key = svc.storage.key_for_url(url) if url else None
        if not key or not key.startswith("uploads/"):
            continue
        upload_id = key.split("/")[1]
        record_owner = svc.redis.hget(keys.upload(upload_id), "owner")
        if svc.settings.key_isolation and record_owner is not None and record_owner != owner:
            raise RequestError(f"{field}: links to an upload of another API key", field)
        found.append(upload_id)
    return found


def record_submission(owner: str, token: str | None, job_type: JobType, job_id: str,
                      created: bool, uploads: list[str]) -> None:
    """Count the new job against its key and note which uploads it reads."""
    svc = services()
    if created:
        log.info("job %s (%s) queued for %s", job_id, job_type.value, _who(owner))
    if token is not None:
        svc.quotas.record_job(owner, token, job_type if created else None, job_id)
    if not created or not uploads:
        return
    lifetime = svc.settings.retention_seconds + REFERENCE_SLACK_SECONDS
    pipe = svc.redis.pipeline(transaction=False)
    for upload_id in uploads:
        pipe.sadd(keys.upload_references(upload_id), f"{job_type.value}:{job_id}")
        pipe.expire(keys.upload_references(upload_id), lifetime)
    pipe.execute()


def submit_owned(job_type: JobType, job_request: Any, key: str | None = None,
                 parents: list[Job] | None = None) -> tuple[str, bool]:
    """Queue the job as the current API key's: its rate limit and quota, its uploads, its
    idempotency key; a chained job waits for ``parents``. Every submit route comes here."""
    owner = current_owner()
    uploads = own_uploads(job_type, job_request, owner)
    token = admit_submission(owner)
    try:
        job_id, created = services().store.submit(
            job_type, job_request, scoped_idempotency_key(key, owner), owner=owner or None,
            waiting_for=parents,
        )
    except BaseException:
        if token is not None:
            services().quotas.record_job(owner, token, None, "")
        raise
    record_submission(owner, token, job_type, job_id, created, uploads)
    return job_id, created


def require_visible(job: Job) -> Job:
    """``job`` if the current key may see it; NotFound (as for no job) otherwise."""
    if services().settings.key_isolation and (job.owner or "") != current_owner():
        raise NotFound(f"no job with id {job.id}")
    return job


def visible_jobs(job_type: JobType | None, status: JobStatus | None,
                 limit: int, offset: int) -> list[Job]:
    """Newest jobs first, like ``JobStore.list_jobs``, only the current key's with isolation."""
    store = services().store
    if not services().settings.key_isolation:
        return store.list_jobs(job_type, status, limit, offset)
    store.trim_indexes()
    owner, wanted, found = current_owner(), offset + limit, []
    for each in (job_type,) if job_type else tuple(JobType):
        found.extend(_newest_owned(each, owner, status, wanted))
    found.sort(key=lambda job: job.created_at, reverse=True)
    return found[offset:wanted]


def _newest_owned(job_type: JobType, owner: str, status: JobStatus | None,
                  wanted: int) -> list[Job]:
    store = services().store
    jobs: list[Job] = []
    for start in range(0, SCAN_LIMIT, PAGE):
        ids = store.redis.zrevrange(keys.index(job_type), start, start + PAGE - 1)
        if not ids:
            break
        pipe = store.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(keys.job(job_type, job_id))
        for data in pipe.execute():
            if data and "status" in data and (data.get("owner") or "") == owner:
                job = store.current(Job.from_hash(data))
                if status is None or job.status is status:
                    jobs.append(job)
        if len(jobs) >= wanted:
            break
    return jobs[:wanted]


def remove_job_data(job: Job) -> None:
    """Delete a job's results, and each upload it read that no other job or key still uses."""
    svc = services()
    svc.storage.delete_prefix(f"results/{job.id}/")
    for field in INPUT_FIELDS[job.type]:
        url = job.params.get(field)
        key = svc.storage.key_for_url(url) if url else None
        if key and key.startswith("uploads/"):
            _release_upload(key, job)


def _release_upload(key: str, job: Job) -> None:
    """Drop ``job``'s reference to the upload at ``key``; delete it when it was the last."""
    svc = services()
    upload_id = key.split("/")[1]
    references = keys.upload_references(upload_id)
    svc.redis.srem(references, f"{job.type.value}:{job.id}")
    others = list(svc.redis.smembers(references))
    pipe = svc.redis.pipeline(transaction=False)
    for member in others:
        job_type, _, other_id = member.partition(":")
        pipe.exists(keys.job(job_type, other_id))
    alive = [member for member, exists in zip(others, pipe.execute()) if exists]
    gone = set(others) - set(alive)
    if gone:
        svc.redis.srem(references, *gone)
    record_owner = svc.redis.hget(keys.upload(upload_id), "owner")
    if alive or (record_owner is not None and record_owner != (job.owner or "")):
        return  # another job still reads it, or it belongs to another key
    svc.storage.delete_prefix(f"uploads/{upload_id}/")
    svc.redis.delete(keys.upload(upload_id), references)
    if record_owner is not None:
        svc.quotas.forget_upload(record_owner, upload_id)
