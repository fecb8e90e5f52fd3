"""Reading many jobs at once: the newest jobs of a type, queue depths, index trimming."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import redis

from c3render.job import Job, JobStatus, JobType
from c3render.queue import keys

PAGE = 200
SCAN_LIMIT = 10_000
"""A listing looks at most this many index entries per job type."""
MAX_COMPLETE_IN = 86400 * 2
"""Upper bound of a job's life before it ends (complete_in), for trimming the index."""


def newest(
    client: redis.Redis,
    job_type: JobType,
    wanted: int,
    current: Callable[[Job], Job],
    status: JobStatus | None = None,
) -> list[Job]:
    """Up to ``wanted`` jobs of ``job_type``, newest first, passed through ``current``
    (which ends expired queued jobs) and kept only when they have ``status``."""
    jobs: list[Job] = []
    start = 0
    while len(jobs) < wanted and start < SCAN_LIMIT:
        ids = client.zrevrange(keys.index(job_type), start, start + PAGE - 1)
        if not ids:
            break
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hgetall(keys.job(job_type, job_id))
        for data in pipe.execute():
            if not data or "status" not in data:
                continue
            job = current(Job.from_hash(data))
            if status is None or job.status is status:
                jobs.append(job)
        start += PAGE
    return jobs[:wanted]


def trim_indexes(client: redis.Redis, retention: float, job_types: Iterable[JobType]) -> None:
    """Drop index entries of jobs older than any job can live (their hashes have expired)."""
    oldest = time.time() - retention - MAX_COMPLETE_IN
    pipe = client.pipeline(transaction=False)
    for job_type in job_types:
        pipe.zremrangebyscore(keys.index(job_type), "-inf", oldest)
    pipe.execute()


def queue_depths(client: redis.Redis, job_types: tuple[JobType, ...]) -> dict[str, dict[str, int]]:
    """Per job type: entries waiting to be delivered and entries held by workers."""
    pipe = client.pipeline(transaction=False)
    for job_type in job_types:
        pipe.xlen(keys.queue(job_type))
        pipe.xpending(keys.queue(job_type), keys.GROUP)
    replies = pipe.execute(raise_on_error=False)
    depths = {}
    for index, job_type in enumerate(job_types):
        length, pending = replies[2 * index], replies[2 * index + 1]
        held = pending["pending"] if isinstance(pending, dict) else 0
        total = length if isinstance(length, int) else 0
        depths[job_type.value] = {"queued": max(0, total - held), "running": held}
    return depths
