"""Chained jobs: a job whose input names another job (``"audio_url": "job:<id>#<output>"``).

The waiting job is stored ``queued`` with the parents it waits for (``waiting_for``) and no
stream entry. Each parent lists it among its ``dependants`` (``link.lua``, in the parent's
hash slot). When a parent with dependants ends, its end script records it in the parent
type's wake-up set; then :meth:`Chains.wake` (run by the process that ended the parent, at
once) hands each dependant the parent's outcome with ``resolve.lua`` in the dependant's
own slot: it joins its stream when every parent succeeded, or ends ``failed`` naming the
parent. The two steps are two scripts because a chain's keys sit in two hash slots;
:meth:`Chains.sweep` (worker housekeeping) repeats what a dying process left undone.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from c3render.job import INPUT_FIELDS, JOB_OUTPUTS, Job, JobStatus, JobType
from c3render.queue import keys
from c3render.queue.connection import RedisClient
from c3render.queue.keys import DEFAULT_TENANT, fair_keys
from c3render.queue.scripts import Scripts

log = logging.getLogger(__name__)

REFERENCE = re.compile(
    r"^job:(?P<id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"(?:#(?P<output>[a-z_]{1,32}))?$"
)
"""``job:<id>`` or ``job:<id>#<output>`` (the output defaults to ``result``)."""
RECHECK_SECONDS = 30
"""How often housekeeping re-checks a job that still waits (the safety net only)."""
WAKE_GRACE_SECONDS = 2.0
"""Housekeeping wakes dependants of a parent that ended this long ago and still has a
wake-up recorded (the process that ended it should have done it at once)."""
SWEEP_BATCH = 200
EXPIRED_ERROR = "the job was not started before its complete_in deadline"


@dataclass(frozen=True)
class Reference:
    """One ``job:`` input: which field reads which output of which job."""

    field: str
    job_id: str
    output: str


def parse_reference(field: str, value: object) -> Reference | None:
    """The reference in an input field's value, or None when it is a plain link."""
    if not isinstance(value, str):
        return None
    match = REFERENCE.match(value)
    if match is None:
        return None
    return Reference(field, match["id"], match["output"] or "result")


def references(job_type: JobType, params: dict[str, object]) -> list[Reference]:
    """Every ``job:`` input of a job's parameters."""
    found = (parse_reference(name, params.get(name)) for name in INPUT_FIELDS[job_type])
    return [reference for reference in found if reference is not None]


def ref(job_type: JobType, job_id: str) -> str:
    """``type:id``, as the scripts list parents and dependants."""
    return f"{job_type.value}:{job_id}"


def output_key(parent: Job, output: str) -> str | None:
    """The storage key of a finished job's output (``result``: its result file)."""
    if output == "result":
        key = parent.result.get("file_key")
    else:
        key = (parent.result.get("outputs") or {}).get(output, {}).get("file_key")
    return str(key) if key else None


def output_kind(job_type: JobType, output: str) -> str | None:
    """What an output of a job type holds (audio, image, video), or None when it has none."""
    return JOB_OUTPUTS[job_type].get(output)


class Chains:
    """Links waiting jobs to their parents and wakes them when a parent ends."""

    def __init__(self, client: RedisClient, retention_seconds: int) -> None:
        self.redis = client
        self.retention = retention_seconds
        self.scripts = Scripts(client)

    def link(self, job_type: JobType, job_id: str, parents: list[Job]) -> None:
        """List a new waiting job among its parents' dependants; a parent that has already
        ended resolves it at once (success: it may join its stream now)."""
        for parent in parents:
            status = str(self.scripts.link(
                keys=[keys.job(parent.type, parent.id)], args=[ref(job_type, job_id)]
            ))
            if status not in (JobStatus.QUEUED.value, JobStatus.RUNNING.value):
                self._resolve_from(parent.type, parent.id, job_type, job_id)

    def wake(self, job_type: JobType, job_id: str) -> None:
        """Hand an ended job's outcome to each job waiting for it, then forget the wake-up."""
        dependants = self.redis.hget(keys.job(job_type, job_id), "dependants") or ""
        parent = self._read(job_type, job_id) if dependants else None  # once for them all
        for member in dependants.split():
            child_type, _, child_id = member.partition(":")
            self._resolve_from(job_type, job_id, JobType(child_type), child_id, parent)
        self.redis.zrem(keys.wakeups(job_type), job_id)

    def _read(self, job_type: JobType, job_id: str) -> Job | None:
        data = self.redis.hgetall(keys.job(job_type, job_id))
        return Job.from_hash(data) if data and "status" in data else None

    def wake_quietly(self, job_type: JobType, job_id: str) -> None:
        """``wake``, logging a failure instead of raising (housekeeping repeats it)."""
        try:
            self.wake(job_type, job_id)
        except Exception:
            log.exception("waking the jobs waiting for %s failed; housekeeping retries", job_id)

    def _resolve_from(self, parent_type: JobType, parent_id: str, child_type: JobType,
                      child_id: str, parent: Job | None = None) -> None:
        if parent is None:
            parent = self._read(parent_type, parent_id)
        params = self.redis.hget(keys.job(child_type, child_id), "params")
        if params is None:
            return  # the waiting job is gone (expired)
        mine = [r for r in references(child_type, json.loads(params)) if r.job_id == parent_id]
        verdict, sources, error = _outcome(parent, parent_id, mine)
        outcome = self.scripts.resolve(
            keys=[keys.job(child_type, child_id), keys.queue(child_type), keys.waiting(child_type),
                  keys.outbox(child_type), keys.events(child_type, child_id),
                  keys.stats(child_type), *fair_keys(child_type)],
            args=[child_id, ref(parent_type, parent_id), verdict, json.dumps(sources), error,
                  self.retention, DEFAULT_TENANT],
        )
        if outcome == "failed":
            self.wake(child_type, child_id)  # its own dependants fail in turn

    def sweep(self) -> int:
        """Housekeeping: wake dependants of parents whose wake-up was left undone, and
        re-check jobs that have waited ``RECHECK_SECONDS`` (a parent that was never linked,
        expired or vanished). Returns how many entries it looked at."""
        seconds, micros = self.redis.time()  # Redis's clock, as the scores were written
        now = seconds + micros / 1e6
        pipe = self.redis.pipeline(transaction=False)  # one round trip for every set
        for job_type in JobType:
            pipe.zrangebyscore(keys.wakeups(job_type), "-inf", now - WAKE_GRACE_SECONDS,
                               start=0, num=SWEEP_BATCH)
            pipe.zrangebyscore(keys.waiting(job_type), "-inf", now, start=0, num=SWEEP_BATCH)
        found = pipe.execute()
        for index, job_type in enumerate(JobType):
            late, due = found[2 * index], found[2 * index + 1]
            for job_id in late:
                self.wake(job_type, job_id)
            for job_id in due:
                self.recheck(job_type, job_id, now)
        return sum(len(ids) for ids in found)

    def recheck(self, job_type: JobType, job_id: str, now: float) -> None:
        """Link a waiting job to its parents again (idempotent); a parent that ended or is
        gone resolves it. A job still waiting is looked at again in ``RECHECK_SECONDS``."""
        waiting = keys.waiting(job_type)
        data = self.redis.hgetall(keys.job(job_type, job_id))
        if not data or data.get("status") != JobStatus.QUEUED.value or not data.get("waiting_for"):
            self.redis.zrem(waiting, job_id)
            return
        if self.expire(job_type, job_id):
            return
        for member in data["waiting_for"].split():
            parent_type, _, parent_id = member.partition(":")
            status = str(self.scripts.link(keys=[keys.job(parent_type, parent_id)],
                                           args=[ref(job_type, job_id)]))
            if status == JobStatus.QUEUED.value and self.expire(JobType(parent_type), parent_id):
                continue  # the parent expired: waking its dependants resolved this job
            if status not in (JobStatus.QUEUED.value, JobStatus.RUNNING.value):
                self._resolve_from(JobType(parent_type), parent_id, job_type, job_id)
        self.redis.zadd(waiting, {job_id: now + RECHECK_SECONDS}, xx=True)

    def expire(self, job_type: JobType, job_id: str) -> bool:
        """End a job still queued past its complete_in deadline (``timed_out``) and wake the
        jobs waiting for it; True when it did."""
        verdict, _previous = self.scripts.end(
            keys=[keys.job(job_type, job_id), keys.queue(job_type), keys.outbox(job_type),
                  keys.delayed(job_type), keys.events(job_type, job_id), keys.stats(job_type),
                  keys.ready(job_type)],
            args=[job_id, JobStatus.TIMED_OUT.value, EXPIRED_ERROR, self.retention, keys.GROUP,
                  "1", "timeout"],
        )
        if verdict != "ok":
            return False
        self.redis.zrem(keys.waiting(job_type), job_id)
        self.wake(job_type, job_id)
        return True


def _outcome(parent: Job | None, parent_id: str,
             mine: list[Reference]) -> tuple[str, dict[str, str], str]:
    """(verdict, sources, error) for a waiting job whose inputs ``mine`` read ``parent``."""
    field = mine[0].field if mine else "input"
    if parent is None:
        return "failed", {}, f"{field}: job {parent_id}, whose output it reads, no longer exists"
    if parent.status is not JobStatus.SUCCESS:
        reason = f": {parent.error}" if parent.error else ""
        return "failed", {}, (f"{field}: job {parent_id}, whose output it reads, ended "
                              f"{parent.status.value}{reason}")
    sources: dict[str, str] = {}
    for reference in mine:
        key = output_key(parent, reference.output)
        if key is None:
            return "failed", {}, (f"{reference.field}: job {parent_id} succeeded without a "
                                  f"{reference.output} output")
        sources[reference.field] = key
    return "ready", sources, ""
