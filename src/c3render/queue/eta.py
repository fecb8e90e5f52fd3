"""Honest ETAs for ``GET /status``: when a queued or running job will start and finish.

Recorded: the script that records a successful run (``lua/finish.lua``) adds the job's
(size, run time) to the type's bounded sample list (``keys.eta_samples``; the run time is
the job's ``started_at`` to ``finished_at``, both Redis's clock). Read: the samples of every
type, the waiting and delayed jobs, the runs in progress (their start and progress) and the
live workers with their types and slots; ``eta_model`` fits the run times and plays the
slots forward. A job of a type with no samples, or that no live worker serves, gets no ETA
but a reason.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from c3render.job import Job, JobStatus, JobType
from c3render.queue import keys
from c3render.queue.connection import RedisClient
from c3render.queue.eta_model import (
    FIT_SAMPLES,
    SIZE_INPUTS,
    SIZE_UNITS,
    Farm,
    Fit,
    Sample,
    SimSlot,
    size_from_params,
    start_in,
)
from c3render.queue.registry import WorkerRegistry

log = logging.getLogger(__name__)
JOB_TYPES = tuple(JobType)
RUNNING_LIMIT = 200
"""Entries held by workers read per type (more than any farm's slots)."""
DELAYED_LIMIT = 1000
"""Delayed retries read per type."""
MIN_SAMPLES = 3
RATE_WINDOW_S = 60.0
"""Submissions of the last this many seconds give each type's arrival rate."""
"""Fewer finished runs of a type than this: no ETA (one cold start is not a basis)."""


def parse_samples(raw: list[str]) -> list[Sample]:
    """The entries of a sample list (``"<size> <seconds>"``), skipping any that do not parse."""
    found = []
    for item in raw:
        size, _, seconds = str(item).rpartition(" ")
        try:
            found.append(Sample(float(size) if size else None, float(seconds)))
        except ValueError:
            continue
    return found


@dataclass(frozen=True)
class Eta:
    """An estimate (seconds from now) and how it was made, or why there is none."""

    start_in_s: float | None = None
    finish_in_s: float | None = None
    basis: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None

    def fields(self) -> dict[str, Any]:
        """The status document's additions: ``eta`` (or ``eta: null`` and ``eta_reason``)."""
        if self.reason is not None or self.start_in_s is None or self.finish_in_s is None:
            return {"eta": None, "eta_reason": self.reason or "no estimate"}
        return {"eta": {"start_in_s": round(self.start_in_s, 1),
                        "finish_in_s": round(self.finish_in_s, 1), "basis": self.basis}}


@dataclass
class _Held:
    """A job whose entry a worker holds (or held): running, or waiting to be taken over."""

    type: str
    status: str
    worker: str
    started_at: float | None
    progress: float
    size: float | None


@dataclass
class _Snapshot:
    now: float
    fits: dict[str, Fit]
    waiting: dict[str, int]
    delayed: dict[str, list[tuple[str, float]]]
    held: dict[str, _Held]
    workers: list[dict[str, Any]]
    rates: dict[str, float]


class EtaEstimator:
    """Reads what an estimate needs from Redis (four round trips) and makes it."""

    def __init__(self, client: RedisClient, registry: WorkerRegistry,
                 key_for_url: Callable[[str], str | None] | None = None) -> None:
        self.redis = client
        self.registry = registry
        self.key_for_url = key_for_url
        """Storage's: the key behind a link this service signed (finds a job's upload)."""

    def estimate(self, job: Job, position: int | None) -> Eta | None:
        """The ETA of a queued or running job (None for an ended one); ``position``: the
        waiting jobs ahead of it (``JobStore.queue_position``)."""
        if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
            return None
        if job.status is JobStatus.QUEUED and job.waiting_for:
            return Eta(reason="it waits for another job's output (waiting_for): it starts "
                              "when that job succeeds")
        try:
            snap, size = self._read(), self.size(job)
        except redis.RedisError as exc:
            log.warning("ETA of job %s: Redis refused (%s)", job.id, exc)
            return Eta(reason="the queue could not be read")
        fit = snap.fits.get(job.type.value)
        if fit is None or fit.samples < MIN_SAMPLES:
            seen = f"only {fit.samples}" if fit else "no"
            return Eta(reason=f"{seen} finished {job.type.value} job(s) so far: too few to "
                              f"learn run times from (at least {MIN_SAMPLES})")
        return _estimate(job, position, fit, snap, size)

    def size(self, job: Job) -> float | None:
        """The job's size before a worker measured it: its text, or the size ``POST /uploads``
        read from the upload its input links to (None for other links)."""
        known = size_from_params(job.type, job.params)
        url = job.params.get(SIZE_INPUTS.get(job.type, ""))
        if known is not None or not url or self.key_for_url is None:
            return known
        key = self.key_for_url(str(url))
        if not key or not key.startswith("uploads/"):
            return None
        value = self.redis.hget(keys.upload(key.split("/")[1]), SIZE_UNITS[job.type])
        try:
            return float(value) if value else None
        except ValueError:
            return None

    def _read(self) -> _Snapshot:
        reply = self.redis.time()  # Redis's clock, as the scripts' started_at
        if isinstance(reply, dict):  # a cluster asks every node
            reply = next(iter(reply.values()))
        now = float(reply[0]) + float(reply[1]) / 1e6
        pipe = self.redis.pipeline(transaction=False)
        for job_type in JOB_TYPES:
            pipe.lrange(keys.eta_samples(job_type), 0, FIT_SAMPLES - 1)
            pipe.xlen(keys.queue(job_type))
            pipe.xinfo_groups(keys.queue(job_type))
            pipe.zrange(keys.delayed(job_type), 0, DELAYED_LIMIT - 1, withscores=True)
            pipe.zcount(keys.index(job_type), now - RATE_WINDOW_S, now)
        replies = pipe.execute(raise_on_error=False)
        fits, waiting, delayed, pending_by_type, rates = {}, {}, {}, {}, {}
        for index, job_type in enumerate(JOB_TYPES):
            samples, length, groups, due, recent = replies[5 * index: 5 * index + 5]
            name = job_type.value
            fit = Fit.from_samples(parse_samples(samples)) if isinstance(samples, list) else None
            if fit is not None:
                fits[name] = fit
            group = next((g for g in groups if g.get("name") == keys.GROUP), None) \
                if isinstance(groups, list) else None
            pending = int(group["pending"]) if group else 0
            waiting[name] = max(0, int(length) - pending) if isinstance(length, int) else 0
            pending_by_type[name] = pending
            delayed[name] = [(str(m), float(s)) for m, s in due] if isinstance(due, list) else []
            rates[name] = int(recent) / RATE_WINDOW_S if isinstance(recent, int) else 0.0
        return _Snapshot(now, fits, waiting, delayed, self._held(pending_by_type),
                         self.registry.live_workers(), rates)

    def _held(self, pending: dict[str, int]) -> dict[str, _Held]:
        """Every job whose entry is delivered (pending), by id: the runs in progress.

        Read from the group's pending list, not by stream order: fair share hands entries
        out of order (``take.lua``), so the group's last-delivered id says nothing."""
        pipe = self.redis.pipeline(transaction=False)
        types = [name for name, count in pending.items() if count]
        for name in types:
            pipe.xpending_range(keys.queue(name), keys.GROUP, "-", "+", RUNNING_LIMIT)
        entries = [(name, str(row["message_id"])) for name, rows in zip(types, pipe.execute())
                   for row in rows]
        if not entries:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for name, entry in entries:
            pipe.xrange(keys.queue(name), entry, entry, count=1)
        ids = [(name, fields["id"]) for (name, _), rows in zip(entries, pipe.execute())
               for _, fields in rows if fields and "id" in fields]
        if not ids:
            return {}
        pipe = self.redis.pipeline(transaction=False)
        for name, job_id in ids:
            pipe.hmget(keys.job(name, job_id), "status", "worker", "started_at", "progress",
                       "params" if name == JobType.CSM.value else "type")
        held = {}
        for (name, job_id), (status, worker, started, progress, params) in zip(ids, pipe.execute()):
            size = None
            if name == JobType.CSM.value and params:
                size = size_from_params(JobType.CSM, _json(params))
            held[job_id] = _Held(name, status or "", worker or "",
                                 float(started) if started else None, float(progress or 0), size)
        return held


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _estimate(job: Job, position: int | None, fit: Fit, snap: _Snapshot,
              size: float | None) -> Eta:
    """Play the farm forward for ``job`` of ``size``; see ``eta_model.start_in``."""
    name = job.type.value
    basis = fit.basis(size, SIZE_UNITS[job.type])
    run_s = fit.predict(size)
    if job.status is JobStatus.RUNNING:
        elapsed = max(0.0, snap.now - (job.started_at or snap.now))
        left = fit.remaining(size, elapsed, job.progress)
        basis.update(run_s=round(run_s, 3), elapsed_s=round(elapsed, 3),
                     progress=round(job.progress, 3))
        return Eta(0.0, left, basis)
    farm, served = _farm(job, position, fit, snap)
    if not served:
        return Eta(reason=f"no live worker serves {name} jobs")
    arrives_in = None
    if not job.entry:  # a delayed retry: it joins the back of the queue when due
        arrives_in = max(0.0, (job.retry_at or snap.now) - snap.now)
    start = start_in(farm, name, arrives_in)
    if start is None:
        return Eta(reason=f"no live worker serves {name} jobs")
    basis.update(run_s=round(run_s, 3), jobs_ahead=farm.waiting.get(name, 0),
                 running=sum(1 for h in snap.held.values() if h.type == name
                             and h.status == "running"),
                 waiting_other_types={k: v for k, v in farm.waiting.items() if k != name and v},
                 delayed=len(farm.arrivals), workers=served,
                 arrivals_per_s={k: round(v, 3) for k, v in farm.rates.items()
                                 if k != name and v},
                 slots=sum(1 for slot in farm.slots if name in slot.types))
    return Eta(start, start + run_s, basis)


def _farm(job: Job, position: int | None, fit: Fit, snap: _Snapshot) -> tuple[Farm, int]:
    """The farm as ``start_in`` sees it, and how many live workers serve the job's type."""
    name = job.type.value
    live = {str(w.get("id")): w for w in snap.workers}
    waiting = dict(snap.waiting)
    if job.entry:  # only the waiting jobs ahead of it count; the ones behind never start first
        waiting[name] = position or 0
    remaining: dict[str, list[float]] = {}
    for job_id, held in snap.held.items():
        if job_id == job.id:
            continue
        if held.status == "running" and held.worker in live:
            held_fit = snap.fits.get(held.type, fit)
            elapsed = max(0.0, snap.now - (held.started_at or snap.now))
            left = held_fit.remaining(held.size, elapsed, held.progress, typical=True)
            remaining.setdefault(held.worker, []).append(left)
        elif held.status in ("running", "queued"):  # a lost worker's or handed back: first
            waiting[held.type] = waiting.get(held.type, 0) + 1
    slots, served = [], 0
    for index, (worker_id, info) in enumerate(live.items()):
        types = tuple(t for t in info.get("types", []) if t in snap.waiting)
        if not types:
            continue
        served += name in types
        busy = sorted(remaining.get(worker_id, []))
        for slot in range(max(1, int(info.get("slots", 1)))):
            slots.append(SimSlot(types, busy[slot] if slot < len(busy) else 0.0, index))
    arrivals = [(max(0.0, due - snap.now), kind) for kind, entries in snap.delayed.items()
                for member, due in entries if member != job.id]
    run_s = {kind: snap.fits[kind].mean if kind in snap.fits else fit.mean
             for kind in snap.waiting}
    return Farm(slots, waiting, run_s, arrivals, dict(snap.rates)), served
