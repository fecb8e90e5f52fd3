"""Leases: a worker's side of the queue (read, start, heartbeat, finish, hand back, reclaim).

A worker reads an entry from a job type's stream, *starts* the job (a script that checks
deadlines and the delivery limit), keeps the entry's idle time low with heartbeats while
it runs, and *finishes* it with the script that writes the end state and acknowledges the
entry. An entry whose worker stops heartbeating is *reclaimed* by another worker.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import redis

from c3render.job import FINAL_STATUSES, Job, JobStatus, JobType
from c3render.queue import keys
from c3render.queue.registry import WorkerRegistry
from c3render.queue.scripts import Scripts
from c3render.queue.store import ensure_groups
from c3render.settings import Settings


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


@dataclass(frozen=True)
class Delivery:
    """A stream entry handed to a worker: which job type, which entry, which job."""

    job_type: JobType
    entry: str
    job_id: str


class Leases:
    """The worker-side operations on jobs; every status change is one script."""

    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.scripts = Scripts(client)
        self._stream_types = {keys.queue(job_type): job_type for job_type in JobType}

    def ensure_groups(self, job_types: tuple[JobType, ...]) -> None:
        """Create the queue streams and the consumer group of ``job_types`` if missing."""
        ensure_groups(self.redis, job_types)

    def read(self, job_types: tuple[JobType, ...], worker: str, block_ms: int) -> Delivery | None:
        """The next new entry of any of ``job_types`` for ``worker`` (waits up to ``block_ms``)."""
        streams = {keys.queue(job_type): ">" for job_type in job_types}
        reply = self.redis.xreadgroup(keys.GROUP, worker, streams, count=1, block=block_ms)
        for stream, entries in reply or []:
            for entry, fields in entries:
                if fields and "id" in fields:
                    return Delivery(self._stream_types[stream], entry, fields["id"])
        return None

    def reclaim(self, job_type: JobType, worker: str, count: int = 1) -> list[tuple[str, str]]:
        """Take over entries whose workers stopped heartbeating; return (entry, job id) pairs."""
        idle_ms = int(self.settings.reclaim_idle_seconds * 1000)
        reply = self.redis.xautoclaim(
            keys.queue(job_type), keys.GROUP, worker, idle_ms, "0-0", count=count
        )
        entries = reply[1] if len(reply) > 1 else []
        return [(entry, fields["id"]) for entry, fields in entries if fields and "id" in fields]

    def start(self, job_type: JobType, job_id: str, entry: str, worker: str) -> Claim | None:
        """Start a delivered entry; None when the job must not run (ended, expired, dead)."""
        reply = self.scripts.start(
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
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish needs an end state, not {status.value}")
        job = claim.job
        return bool(
            self.scripts.finish(
                keys=[keys.job(job.type, job.id), keys.queue(job.type), keys.outbox(job.type)],
                args=[
                    job.id, claim.entry, claim.attempt, status.value,
                    json.dumps(result or {}, separators=(",", ":")), error, time.time(),
                    self.settings.retention_seconds, keys.GROUP,
                ],
            )
        )

    def release(self, claim: Claim) -> bool:
        """Let go of a run whose job was ended from outside (cancelled, timed out, failed).

        Nothing is recorded; the entry is acknowledged only when the job has ended, never
        while another worker's attempt holds it. True when the entry was dropped.
        """
        job = claim.job
        return bool(self.scripts.release(
            keys=[keys.job(job.type, job.id), keys.queue(job.type)],
            args=[claim.entry, keys.GROUP],
        ))

    def requeue(self, claim: Claim) -> bool:
        """Hand a running job back to the queue (worker shutting down); not counted as an attempt."""
        job = claim.job
        return bool(
            self.scripts.requeue(
                keys=[keys.job(job.type, job.id), keys.queue(job.type)],
                args=[job.id, claim.entry, claim.attempt, keys.GROUP],
            )
        )

    def report_progress(self, claim: Claim, fraction: float) -> None:
        """Store the progress (0..1) of a running attempt."""
        value = f"{min(1.0, max(0.0, fraction)):.3f}"
        self.scripts.progress(keys=[keys.job(claim.job.type, claim.job.id)], args=[claim.attempt, value])

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
        WorkerRegistry.announce(pipe, worker, info, ttl)
        pipe.execute(raise_on_error=False)
