"""The job store: what the API does with jobs (submit, find, end, list, count).

The job hash (``keys.job``) is the truth. Each status change is one compare-and-set
script (``scripts.py``), so a late worker can never overwrite a cancel or a timeout, and
a job ends exactly once. The queue of each job type is a Redis stream read by the
consumer group ``keys.GROUP``; an entry leaves the stream (XACK + XDEL) only in the same
script that writes the job's end state. The worker's side of the same scripts is
``leases.Leases``.
"""

from __future__ import annotations

import time
import uuid

import redis

from c3render.errors import Conflict, NotFound, TooManyRequests
from c3render.job import Job, JobSpec, JobStatus, JobType
from c3render.queue import keys, listing
from c3render.queue.chains import RECHECK_SECONDS, Chains, references
from c3render.queue.connection import RedisClient
from c3render.queue.keys import DEFAULT_TENANT, fair_keys
from c3render.queue.scripts import Scripts
from c3render.settings import Settings

JOB_TYPES = tuple(JobType)
POSITION_LIMIT = 1000
"""queue_position counts at most this many waiting jobs ahead."""
QUEUE_FULL_RETRY_SECONDS = 5
END_TYPES = {JobStatus.CANCELLED: "cancelled", JobStatus.FAILED: "requested",
             JobStatus.TIMED_OUT: "requested"}
"""The error_type of a job ended from outside its worker."""


def ensure_groups(client: RedisClient, job_types: tuple[JobType, ...] = JOB_TYPES) -> None:
    """Create each queue stream and its consumer group if missing, and make jobs queued
    before fair share ready (``migrate.lua``); idempotent."""
    scripts = Scripts(client)
    for job_type in job_types:
        try:
            client.xgroup_create(keys.queue(job_type), keys.GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        scripts.migrate(keys=[keys.queue(job_type), *fair_keys(job_type)],
                        args=[keys.GROUP, DEFAULT_TENANT])


def job_tenant(settings: Settings, owner: str | None) -> str:
    """The tenant a new job waits with: its key's name, or one for all without fair share."""
    return keys.tenant_id(owner) if settings.fair_share else DEFAULT_TENANT


class JobStore:
    """Submit, read, end and list jobs (one Redis, any number of processes)."""

    def __init__(self, client: RedisClient, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.scripts = Scripts(client)
        self.chains = Chains(client, settings.retention_seconds)

    def ensure_groups(self, job_types: tuple[JobType, ...] = JOB_TYPES) -> None:
        """Create each queue stream and its consumer group if missing (idempotent)."""
        ensure_groups(self.redis, job_types)

    def submit(
        self,
        job_type: JobType,
        spec: JobSpec,
        idempotency_key: str | None = None,
        owner: str | None = None,
        waiting_for: list[Job] | None = None,
    ) -> tuple[str, bool]:
        """Store and queue a new job in one round trip; return (id, created).

        With an ``idempotency_key`` seen before for this job type, the earlier job's id is
        returned and nothing is created. ``owner`` names who submitted it (an API key's name).
        A chained job ``waiting_for`` other jobs is stored without a stream entry and linked
        to them (``chains.Chains.link``), which queues it at once if they already succeeded.
        """
        job_id = str(uuid.uuid4())
        ttl = spec.complete_in + self.settings.retention_seconds
        job_key = keys.job(job_type, job_id)
        if idempotency_key is None:
            idempotency, has_key = job_key, "0"
        else:
            idempotency, has_key = keys.idempotency(job_type, idempotency_key), "1"
        result = self.scripts.submit(
            keys=[job_key, keys.queue(job_type), keys.index(job_type), idempotency,
                  keys.events(job_type, job_id), keys.stats(job_type),
                  *fair_keys(job_type), keys.waiting(job_type)],
            args=[
                job_id, spec.complete_in, ttl, has_key, job_type.value, spec.params_json(),
                spec.notify_url or "", spec.max_time, owner or "", self.settings.max_queued,
                keys.GROUP, job_tenant(self.settings, owner), getattr(spec, "priority", "normal"),
                _refs(waiting_for), RECHECK_SECONDS,
            ],
        )
        if int(result[1]) == 2:
            raise TooManyRequests(
                f"the {job_type.value} queue is full ({result[2]} jobs waiting, at most "
                f"{self.settings.max_queued}); try again shortly",
                retry_after=QUEUE_FULL_RETRY_SECONDS,
            )
        created = bool(int(result[1]))
        if created and waiting_for:
            self.chains.link(job_type, str(result[0]), waiting_for)
        return str(result[0]), created

    def find(self, job_id: str) -> Job:
        """The job with ``job_id`` (any type); ``NotFound`` when there is none.

        A queued job past its complete_in deadline is ended (timed_out) on the way.
        """
        pipe = self.redis.pipeline(transaction=False)
        for job_type in JOB_TYPES:
            pipe.hgetall(keys.job(job_type, job_id))
        for data in pipe.execute():
            if data and "status" in data:
                return self.current(Job.from_hash(data))
        raise NotFound(f"no job with id {job_id}")

    def queue_position(self, job: Job) -> int | None:
        """How many jobs of the same type will start before a queued job (None if not
        queued), under the fair-share rotation (``position.lua``).

        Counted up to ``POSITION_LIMIT``: a status poll must stay cheap however long the
        queue, so a job further back reads as ``POSITION_LIMIT``.
        """
        if job.status is not JobStatus.QUEUED or not job.entry:
            return None
        return int(self.scripts.position(
            keys=[keys.job(job.type, job.id), *fair_keys(job.type)[:2]], args=[POSITION_LIMIT]
        ))

    def end(self, job: Job, status: JobStatus, error: str) -> JobStatus:
        """Mark a queued or running job ``status`` (cancelled, failed, timed_out).

        Returns the status it had. Raises ``Conflict`` when the job already ended.
        """
        verdict, previous = self._run_end(job, status, error, END_TYPES[status], only_expire=False)
        if verdict == "missing":
            raise NotFound(f"no job with id {job.id}")
        if verdict == "ended":
            raise Conflict(f"job {job.id} already ended ({previous})")
        self.chains.wake_quietly(job.type, job.id)
        return JobStatus(previous)

    def current(self, job: Job) -> Job:
        """``job``, ended first (timed_out) if it is still queued past its complete_in deadline."""
        if job.status is not JobStatus.QUEUED or time.time() <= job.deadline:
            return job
        verdict, _ = self._run_end(
            job, JobStatus.TIMED_OUT, "the job was not started before its complete_in deadline",
            "timeout", only_expire=True,
        )
        if verdict == "ok":
            self.chains.wake_quietly(job.type, job.id)
        return Job.from_hash(self.redis.hgetall(keys.job(job.type, job.id)))

    def _run_end(
        self, job: Job, status: JobStatus, error: str, error_type: str, only_expire: bool
    ) -> tuple[str, str]:
        verdict, previous = self.scripts.end(
            keys=[keys.job(job.type, job.id), keys.queue(job.type), keys.outbox(job.type),
                  keys.delayed(job.type), keys.events(job.type, job.id), keys.stats(job.type),
                  keys.ready(job.type)],
            args=[
                job.id, status.value, error, self.settings.retention_seconds, keys.GROUP,
                "1" if only_expire else "0", error_type,
            ],
        )
        return str(verdict), str(previous)

    def resubmit(self, job: Job) -> Job:
        """Queue a failed or timed-out job again under the same id (``POST /job/{id}/retry``),
        with a fresh complete_in deadline of the same length. ``Conflict`` for other states.

        A chained job resumes from its last finished stage: a parent that succeeded is not
        run again; one that failed or timed out is retried first and the job waits for it.
        """
        if job.status not in (JobStatus.FAILED, JobStatus.TIMED_OUT):
            raise Conflict(f"job {job.id} is {job.status.value}: only failed or timed_out jobs "
                           "can be retried")
        parents = self._retry_parents(job)
        verdict, previous = self.scripts.resubmit(
            keys=[keys.job(job.type, job.id), keys.queue(job.type), keys.events(job.type, job.id),
                  *fair_keys(job.type), keys.waiting(job.type)],
            args=[self.settings.retention_seconds, DEFAULT_TENANT, _refs(parents), RECHECK_SECONDS],
        )
        if verdict == "missing":
            raise NotFound(f"no job with id {job.id}")
        if verdict == "refused":
            raise Conflict(
                f"job {job.id} is {previous}: only failed or timed_out jobs can be retried"
            )
        if parents:
            self.chains.link(job.type, job.id, parents)
        return self.find(job.id)

    def _retry_parents(self, job: Job) -> list[Job]:
        """The parents a retried chained job must wait for (retried first when they failed)."""
        waiting: dict[str, Job] = {}
        for reference in references(job.type, job.params):
            try:
                parent = self.find(reference.job_id)
            except NotFound:
                raise Conflict(f"{reference.field}: job {reference.job_id}, whose output it "
                               "reads, no longer exists; submit the chain again") from None
            if parent.status is JobStatus.SUCCESS or parent.id in waiting:
                continue
            if parent.status is JobStatus.CANCELLED:
                raise Conflict(f"{reference.field}: job {parent.id}, whose output it reads, "
                               "was cancelled; submit the chain again")
            if parent.status.is_final:
                parent = self.resubmit(parent)
            waiting[parent.id] = parent
        return list(waiting.values())

    def list_jobs(
        self,
        job_type: JobType | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Newest jobs first, optionally of one type and/or status (for dashboards)."""
        self.trim_indexes()
        types = (job_type,) if job_type else JOB_TYPES
        wanted = offset + limit
        found: list[Job] = []
        for each in types:
            found.extend(listing.newest(self.redis, each, wanted, self.current, status))
        found.sort(key=lambda job: job.created_at, reverse=True)
        return found[offset:wanted]

    def trim_indexes(self) -> None:
        """Drop index entries of jobs older than any job can live (their hashes have expired)."""
        listing.trim_indexes(self.redis, self.settings.retention_seconds, JOB_TYPES)

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """Per job type: entries waiting to be delivered and entries held by workers."""
        return listing.queue_depths(self.redis, JOB_TYPES)


def _refs(jobs: list[Job] | None) -> str:
    """The jobs as the scripts list them: ``type:id`` separated by spaces."""
    return " ".join(f"{job.type.value}:{job.id}" for job in jobs or ())
