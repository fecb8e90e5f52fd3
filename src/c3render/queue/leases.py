"""Leases: what a worker does with a job it has started (heartbeat, progress, finish, retry,
release, hand back), every change one script fenced by the run number.

``start`` turns a delivered entry into a ``Claim`` with a new run number; every later write
of that run names it, and a write of a run that is no longer the job's current one is
refused — a frozen or partitioned worker that wakes up after its job was taken over
changes nothing. How entries are found is ``reading.py``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from c3render.job import FINAL_STATUSES, Job, JobStatus, JobType
from c3render.queue import keys
from c3render.queue.chains import Chains
from c3render.queue.connection import RedisClient
from c3render.queue.reading import HANDED_BACK, HANDED_BACK_IDLE_MS, Delivery
from c3render.queue.registry import WorkerRegistry
from c3render.queue.scripts import ScriptCall, Scripts
from c3render.queue.store import ensure_groups
from c3render.settings import Settings


@dataclass(frozen=True)
class Claim:
    """A job a worker has started: what it needs to run, heartbeat and finish it."""

    job: Job
    entry: str
    run: int
    """The run number: fences every write of this run."""

    @property
    def attempt(self) -> int:
        """Which attempt this is, as the status document counts them."""
        return self.job.attempts

    @property
    def run_deadline(self) -> float:
        """When this run must stop (Redis's clock): max_time after the start, or the
        complete_in deadline."""
        started = self.job.started_at or time.time()
        return min(started + self.job.max_time, self.job.deadline)

    @property
    def run_seconds(self) -> float:
        """How long this run may take from its start, whatever the worker's clock says."""
        return self.run_deadline - (self.job.started_at or time.time())


def _claim(reply: list[Any] | tuple[Any, ...], entry: str) -> Claim:
    """The claim of a started job, from the start script's reply ('run', run, hash fields)."""
    data = dict(zip(reply[2::2], reply[3::2]))
    return Claim(job=Job.from_hash(data), entry=entry, run=int(reply[1]))


class Leases:
    """The worker-side operations on started jobs."""

    def __init__(self, client: RedisClient, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.scripts = Scripts(client)
        self.chains = Chains(client, settings.retention_seconds)

    def ensure_groups(self, job_types: tuple[JobType, ...]) -> None:
        """Create the queue streams and the consumer group of ``job_types`` if missing."""
        ensure_groups(self.redis, job_types)

    def start(self, job_type: JobType, job_id: str, entry: str, worker: str) -> Claim | None:
        """Start a delivered entry; None when the job must not run (ended, expired, dead)."""
        reply = self.scripts.start(
            keys=[
                keys.job(job_type, job_id), keys.queue(job_type),
                keys.dead_letters(job_type), keys.outbox(job_type), keys.events(job_type, job_id),
                keys.stats(job_type),
            ],
            args=[
                job_id, entry, worker, self.settings.max_deliveries,
                self.settings.retention_seconds, keys.GROUP,
            ],
        )
        if reply[0] != "run":
            if reply[0] in ("expired", "dead"):  # it ended here: wake the jobs waiting for it
                self.chains.wake_quietly(job_type, job_id)
            return None
        return _claim(reply, entry)

    def start_delivery(self, delivery: Delivery, worker: str) -> Claim | None:
        """``start`` for a ``Delivery`` (none when it was started as it was taken)."""
        if delivery.started is not None:
            return _claim(delivery.started, delivery.entry)
        return self.start(delivery.job_type, delivery.job_id, delivery.entry, worker)

    def finish(
        self,
        claim: Claim,
        status: JobStatus,
        result: dict[str, Any] | None = None,
        error: str = "",
        error_type: str = "",
        logs: list[tuple[float, str, str]] | None = None,
        input_size: float | None = None,
    ) -> bool:
        """Record the end of a run; False when the job was ended or taken over meanwhile.

        ``logs``: the run's last log lines (time, level, message), appended in the same
        script just before the end event. A recorded success also keeps its run time, with
        ``input_size`` (None: unknown), as a sample for the ETA (``queue/eta.py``). Jobs
        waiting for this one (chained) are woken right after.
        """
        return self.finished(claim, self.finish_call(
            claim, status, result, error, error_type, logs, input_size)())

    def finish_call(
        self,
        claim: Claim,
        status: JobStatus,
        result: dict[str, Any] | None = None,
        error: str = "",
        error_type: str = "",
        logs: list[tuple[float, str, str]] | None = None,
        input_size: float | None = None,
    ) -> ScriptCall:
        """The script call of ``finish`` (to run alone or with the next take, in one round
        trip); ``finished`` reads its reply."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"finish needs an end state, not {status.value}")
        job = claim.job
        return ScriptCall(
            self.scripts.finish,
            keys=[keys.job(job.type, job.id), keys.queue(job.type), keys.outbox(job.type),
                  keys.events(job.type, job.id), keys.stats(job.type),
                  keys.eta_samples(job.type)],
            args=[
                job.id, claim.entry, claim.run, status.value,
                json.dumps(result or {}, separators=(",", ":")), error,
                self.settings.retention_seconds, keys.GROUP, error_type,
                "" if input_size is None else f"{input_size:.4f}", keys.ETA_SAMPLES,
                *(value for line in logs or () for value in line),
            ],
        )

    def finished(self, claim: Claim, reply: Any) -> bool:
        """Read the finish script's reply: True when this run's outcome is the job's (the
        jobs waiting for it are woken then)."""
        recorded = int(reply)
        if recorded == 2:
            self.chains.wake_quietly(claim.job.type, claim.job.id)
        return recorded > 0

    def retry_later(self, claim: Claim, error: str, error_type: str) -> str:
        """A run failed in a way that may pass: queue the job again after a backoff, or end
        it failed when it failed too often. Returns 'retry', 'failed' or 'superseded'."""
        job = claim.job
        delay = self.settings.retry_backoff_seconds * 2 ** (job.failures)
        outcome = str(self.scripts.retry(
            keys=[keys.job(job.type, job.id), keys.queue(job.type), keys.delayed(job.type),
                  keys.outbox(job.type), keys.dead_letters(job.type), keys.events(job.type, job.id),
                  keys.stats(job.type)],
            args=[job.id, claim.entry, claim.run, delay, error, error_type,
                  self.settings.max_retries, self.settings.retention_seconds, keys.GROUP],
        ))
        if outcome == "failed":
            self.chains.wake_quietly(job.type, job.id)
        return outcome

    def release(self, claim: Claim) -> bool:
        """Let go of a run whose job was ended from outside (cancelled, timed out, failed).

        Nothing is recorded; the entry is acknowledged only when the job has ended, never
        while another worker's run holds it. True when the entry was dropped.
        """
        job = claim.job
        return bool(self.scripts.release(
            keys=[keys.job(job.type, job.id), keys.queue(job.type)],
            args=[claim.entry, keys.GROUP],
        ))

    def requeue(self, claim: Claim) -> bool:
        """Hand a running job back (worker shutting down): not counted as an attempt, and it
        keeps its place in the queue."""
        job = claim.job
        return bool(self.scripts.requeue(
            keys=[keys.job(job.type, job.id), keys.queue(job.type), keys.events(job.type, job.id)],
            args=[job.id, claim.entry, claim.run, keys.GROUP, HANDED_BACK, HANDED_BACK_IDLE_MS],
        ))

    def report_progress(self, claim: Claim, fraction: float) -> None:
        """Store the progress (0..1) of a running run (and append it to its event stream)."""
        value = f"{min(1.0, max(0.0, fraction)):.3f}"
        job = claim.job
        self.scripts.progress(
            keys=[keys.job(job.type, job.id), keys.events(job.type, job.id), keys.outbox(job.type)],
            args=[job.id, claim.run, value],
        )

    def append_logs(self, claim: Claim, lines: list[tuple[float, str, str]]) -> bool:
        """Append log lines (time, level, message) of a running run to its event stream;
        False when the run is no longer the job's current one (its lines are dropped)."""
        job = claim.job
        return bool(self.scripts.log(
            keys=[keys.job(job.type, job.id), keys.events(job.type, job.id)],
            args=[claim.run, *(value for line in lines for value in line)],
        ))

    def still_mine(self, claims: list[Claim]) -> list[bool]:
        """For each claim: is the job still running this run? (One round trip.)"""
        pipe = self.redis.pipeline(transaction=False)
        for claim in claims:
            pipe.hmget(keys.job(claim.job.type, claim.job.id), "status", "run")
        return [
            status == JobStatus.RUNNING.value and run == str(claim.run)
            for status, run in pipe.execute()
        ]

    def heartbeat(self, worker: str, claims: list[Claim], info: dict[str, Any], ttl: float) -> None:
        """Keep the held entries' leases (only while each job is still its run) and refresh
        this worker's liveness key (the liveness key first: it decides if we are alive)."""
        pipe = self.redis.pipeline(transaction=False)
        WorkerRegistry.announce(pipe, worker, info, ttl)
        pipe.execute()
        by_type: dict[JobType, list[Claim]] = {}
        for claim in claims:
            by_type.setdefault(claim.job.type, []).append(claim)
        for job_type, held in by_type.items():  # one script per queue: its keys share a slot
            self.scripts.heartbeat(
                keys=[keys.queue(job_type), *(keys.job(job_type, c.job.id) for c in held)],
                args=[keys.GROUP, worker, *(v for c in held for v in (c.entry, c.run))],
            )
