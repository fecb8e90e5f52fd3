"""The job store: every job's state in Redis, changed only by atomic Lua scripts.

The job hash (``keys.job``) is the truth. Each status change is one compare-and-set
script, so a late worker can never overwrite a cancel or a timeout, and a job ends
exactly once. The queue of each job type is a Redis stream read by the consumer group
``keys.GROUP``; an entry leaves the stream (XACK + XDEL) only in the same script that
writes the job's end state, so a worker that dies leaves its entry pending, and another
worker reclaims it (XAUTOCLAIM) once its heartbeats stop.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from importlib import resources
from typing import Any

import redis

from c3render import keys
from c3render.config import Settings
from c3render.errors import Conflict, NotFound
from c3render.models import FINAL_STATUSES, Job, JobRequest, JobStatus, JobType

JOB_TYPES = tuple(JobType)
POSITION_LIMIT = 1000
"""queue_position counts at most this many waiting jobs ahead."""


def _script(client: redis.Redis, name: str) -> Any:
    source = resources.files("c3render").joinpath(f"jobstore_scripts/{name}.lua").read_text()
    return client.register_script(source)


@dataclass(frozen=True)
class Claim:
    """A job a worker has started: what it needs to run, heartbeat and finish it."""

    job: Job
    entry: str
    attempt: int

    @property
    def run_deadline(self) -> float:
        """When this run must stop: max_time after the start, or the complete_in deadline."""
        started = self.job.started_at or time.time()
        return min(started + self.job.max_time, self.job.deadline)


class JobStore:
    """Submit, read, claim, finish, cancel and reclaim jobs (one Redis, any number of processes)."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self._submit = _script(client, "submit")
        self._start = _script(client, "start")
        self._finish = _script(client, "finish")
        self._end = _script(client, "end")
        self._requeue = _script(client, "requeue")
        self._progress = _script(client, "progress")
        self._position = _script(client, "position")

    # --- set-up ----------------------------------------------------------------

    def ensure_groups(self, job_types: tuple[JobType, ...] = JOB_TYPES) -> None:
        """Create each queue stream and its consumer group if missing (idempotent)."""
        for job_type in job_types:
            try:
                self.redis.xgroup_create(keys.queue(job_type), keys.GROUP, id="0", mkstream=True)
            except redis.ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    # --- the API side ------------------------------------------------------------

    def submit(
        self, job_type: JobType, request: JobRequest, idempotency_key: str | None = None
    ) -> tuple[str, bool]:
        """Store and queue a new job in one round trip; return (id, created).

        With an ``idempotency_key`` seen before for this job type, the earlier job's id is
        returned and nothing is created.
        """
        job_id = str(uuid.uuid4())
        now = time.time()
        ttl = request.complete_in + self.settings.retention_seconds
        job_key = keys.job(job_type, job_id)
        if idempotency_key is None:
            idempotency, has_key = job_key, "0"
        else:
            idempotency, has_key = keys.idempotency(job_type, idempotency_key), "1"
        result = self._submit(
            keys=[job_key, keys.queue(job_type), keys.index(job_type), idempotency],
            args=[
                job_id, repr(now), ttl, has_key, job_type.value, request.params_json(),
                request.notify_url or "", repr(now + request.complete_in), request.max_time,
            ],
        )
        return str(result[0]), bool(int(result[1]))

    def find(self, job_id: str) -> Job:
        """The job with ``job_id`` (any type); ``NotFound`` when there is none.

        A queued job past its complete_in deadline is ended (timed_out) on the way.
        """
        pipe = self.redis.pipeline(transaction=False)
        for job_type in JOB_TYPES:
            pipe.hgetall(keys.job(job_type, job_id))
        for data in pipe.execute():
            if data and "status" in data:
                return self._current(Job.from_hash(data))
        raise NotFound(f"no job with id {job_id}")

    def queue_position(self, job: Job) -> int | None:
        """How many jobs of the same type wait ahead of a queued job (None if not queued).

        Counted up to ``POSITION_LIMIT``: a status poll must stay cheap however long the
        queue, so a job further back reads as ``POSITION_LIMIT``.
        """
        if job.status is not JobStatus.QUEUED or not job.entry:
            return None
        return int(self._position(
            keys=[keys.queue(job.type)], args=[keys.GROUP, job.entry, POSITION_LIMIT]
        ))

    def end(self, job: Job, status: JobStatus, error: str) -> JobStatus:
        """Mark a queued or running job ``status`` (cancelled, failed, timed_out).

        Returns the status it had. Raises ``Conflict`` when the job already ended.
        """
        verdict, previous = self._run_end(job, status, error, only_expire=False)
        if verdict == "missing":
            raise NotFound(f"no job with id {job.id}")
        if verdict == "ended":
            raise Conflict(f"job {job.id} already ended ({previous})")
        return JobStatus(previous)

    def _current(self, job: Job) -> Job:
        """``job``, ended first (timed_out) if it is still queued past its complete_in deadline."""
        if job.status is not JobStatus.QUEUED or time.time() <= job.deadline:
            return job
        self._run_end(
            job, JobStatus.TIMED_OUT,
            "the job was not started before its complete_in deadline", only_expire=True,
        )
        return Job.from_hash(self.redis.hgetall(keys.job(job.type, job.id)))

    def _run_end(
        self, job: Job, status: JobStatus, error: str, only_expire: bool
    ) -> tuple[str, str]:
        verdict, previous = self._end(
            keys=[keys.job(job.type, job.id), keys.queue(job.type), keys.outbox(job.type)],
            args=[
                job.id, status.value, error, time.time(), self.settings.retention_seconds,
                keys.GROUP, "1" if only_expire else "0",
            ],
        )
        return str(verdict), str(previous)

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
            found.extend(self._scan_index(each, status, wanted))
        found.sort(key=lambda job: job.created_at, reverse=True)
        return found[offset:wanted]

    def trim_indexes(self) -> None:
        """Drop index entries of jobs older than any job can live (their hashes have expired)."""
        oldest = time.time() - self.settings.retention_seconds - 86400 * 2  # + max complete_in
        pipe = self.redis.pipeline(transaction=False)
        for job_type in JOB_TYPES:
            pipe.zremrangebyscore(keys.index(job_type), "-inf", oldest)
        pipe.execute()

    def _scan_index(self, job_type: JobType, status: JobStatus | None, wanted: int) -> list[Job]:
        jobs: list[Job] = []
        start, page = 0, 200
        while len(jobs) < wanted and start < 10_000:
            ids = self.redis.zrevrange(keys.index(job_type), start, start + page - 1)
            if not ids:
                break
            pipe = self.redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.hgetall(keys.job(job_type, job_id))
            for data in pipe.execute():
                if not data or "status" not in data:
                    continue
                job = self._current(Job.from_hash(data))
                if status is None or job.status is status:
                    jobs.append(job)
            start += page
        return jobs[:wanted]

    def queue_depths(self) -> dict[str, dict[str, int]]:
        """Per job type: entries waiting to be delivered and entries held by workers."""
        pipe = self.redis.pipeline(transaction=False)
        for job_type in JOB_TYPES:
            pipe.xlen(keys.queue(job_type))
            pipe.xpending(keys.queue(job_type), keys.GROUP)
        replies = pipe.execute(raise_on_error=False)
        depths = {}
        for index, job_type in enumerate(JOB_TYPES):
            length, pending = replies[2 * index], replies[2 * index + 1]
            held = pending["pending"] if isinstance(pending, dict) else 0
            total = length if isinstance(length, int) else 0
            depths[job_type.value] = {"queued": max(0, total - held), "running": held}
        return depths

    # --- the worker side ---------------------------------------------------------

    def start(self, job_type: JobType, job_id: str, entry: str, worker: str) -> Claim | None:
        """Start a delivered entry; None when the job must not run (ended, expired, dead)."""
        reply = self._start(
            keys=[
                keys.job(job_type, job_id), keys.queue(job_type),
                keys.dead_letters(job_type), keys.outbox(job_type),
            ],
            args=[
                job_id, entry, worker, time.time(), self.settings.max_deliveries,
                self.settings.retention_seconds, keys.GROUP,
            ],
        )
        if reply[0] != "run":
            return None
        attempt = int(reply[1])
        data = dict(zip(reply[2::2], reply[3::2]))
        return Claim(job=Job.from_hash(data), entry=entry, attempt=attempt)

    def finish(
        self,
        claim: Claim,
        status: JobStatus,
        result: dict[str, Any] | None = None,
        error: str = "",
    ) -> bool:
        """Record the end of a run; False when the job was ended or taken over meanwhile."""
        assert status in FINAL_STATUSES
        job = claim.job
        return bool(
            self._finish(
                keys=[keys.job(job.type, job.id), keys.queue(job.type), keys.outbox(job.type)],
                args=[
                    job.id, claim.entry, claim.attempt, status.value,
                    json.dumps(result or {}, separators=(",", ":")), error, time.time(),
                    self.settings.retention_seconds, keys.GROUP,
                ],
            )
        )

    def release(self, claim: Claim) -> None:
        """Let go of a run whose job was ended from outside (cancelled, timed out, failed).

        The finish script records nothing for it — the job is no longer running this
        attempt — and acknowledges the entry only when the job has ended, never when
        another worker's attempt holds it.
        """
        self.finish(claim, JobStatus.CANCELLED)

    def requeue(self, claim: Claim) -> bool:
        """Hand a running job back to the queue (worker shutting down); not counted as an attempt."""
        job = claim.job
        return bool(
            self._requeue(
                keys=[keys.job(job.type, job.id), keys.queue(job.type)],
                args=[job.id, claim.entry, claim.attempt, keys.GROUP],
            )
        )

    def report_progress(self, claim: Claim, fraction: float) -> None:
        """Store the progress (0..1) of a running attempt."""
        value = f"{min(1.0, max(0.0, fraction)):.3f}"
        self._progress(keys=[keys.job(claim.job.type, claim.job.id)], args=[claim.attempt, value])

    def still_mine(self, claims: list[Claim]) -> list[bool]:
        """For each claim: is the job still running this attempt? (One round trip.)"""
        pipe = self.redis.pipeline(transaction=False)
        for claim in claims:
            pipe.hmget(keys.job(claim.job.type, claim.job.id), "status", "attempts")
        return [
            status == JobStatus.RUNNING.value and attempts == str(claim.attempt)
            for status, attempts in pipe.execute()
        ]

    def heartbeat(self, worker: str, claims: list[Claim], info: dict[str, Any], ttl: float) -> None:
        """Reset the idle time of held entries and refresh this worker's liveness key."""
        pipe = self.redis.pipeline(transaction=False)
        for claim in claims:
            pipe.xclaim(
                keys.queue(claim.job.type), keys.GROUP, worker, 0, [claim.entry], justid=True
            )
        pipe.set(keys.worker(worker), json.dumps(info), px=int(ttl * 1000))
        pipe.execute(raise_on_error=False)

    def reclaim(self, job_type: JobType, worker: str, count: int = 1) -> list[tuple[str, str]]:
        """Take over entries whose workers stopped heartbeating; return (entry, job id) pairs."""
        idle_ms = int(self.settings.reclaim_idle_seconds * 1000)
        reply = self.redis.xautoclaim(
            keys.queue(job_type), keys.GROUP, worker, idle_ms, "0-0", count=count
        )
        entries = reply[1] if len(reply) > 1 else []
        return [(entry, fields["id"]) for entry, fields in entries if fields and "id" in fields]

    def live_workers(self) -> list[dict[str, Any]]:
        """Descriptions of the workers whose liveness keys have not expired."""
        names = list(self.redis.scan_iter(match=keys.worker_pattern(), count=500))
        if not names:
            return []
        return [json.loads(value) for value in self.redis.mget(names) if value]
