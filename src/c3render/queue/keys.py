"""Every Redis key name the service uses, in one place.

Keys that one Lua script touches share a hash tag — the job type in braces — so the same
scripts run unchanged on Redis Cluster or Valkey. Keys without a tag are only ever used
by single commands.
"""

from __future__ import annotations

import hashlib

from c3render.job import JobType

PREFIX = "c3"
GROUP = "workers"
"""The consumer group every worker reads the job streams with."""


def _tag(job_type: JobType | str) -> str:
    value = job_type.value if isinstance(job_type, JobType) else job_type
    return f"{PREFIX}:{{{value}}}"


def job(job_type: JobType | str, job_id: str) -> str:
    """Hash with the job's status, request, timestamps, attempts, progress, result, error.

    ``take.lua`` derives this name (and ``events``) from the queue's, for the jobs it starts:
    keep them in step."""
    return f"{_tag(job_type)}:job:{job_id}"


def queue(job_type: JobType | str) -> str:
    """Stream of job ids waiting for (or held by) a worker, read by consumer group ``GROUP``."""
    return f"{_tag(job_type)}:queue"


def ready(job_type: JobType | str) -> str:
    """Sorted set (all scores 0, ordered by member) of the jobs waiting in ``queue``: each
    member is ``tenant_id + rank + order|entry|job id`` (``lua/fair.lua``), so one
    ZRANGEBYLEX finds a tenant's next job, highest priority first, then oldest."""
    return f"{_tag(job_type)}:ready"


def tenants(job_type: JobType | str) -> str:
    """Sorted set of the tenants with jobs in ``ready``, scored by the turn they were last
    served: the lowest is served next (round robin shared by every worker)."""
    return f"{_tag(job_type)}:tenants"


def fair(job_type: JobType | str) -> str:
    """Hash of the rotation's state: ``turn`` counts the jobs handed out."""
    return f"{_tag(job_type)}:fair"


def tenant_id(owner: str | None) -> str:
    """The fixed-length name of a tenant (an API key's name) in ``ready`` and ``tenants``."""
    return hashlib.sha256((owner or "").encode()).hexdigest()[:16]


DEFAULT_TENANT = tenant_id(None)
"""The tenant of jobs without an owner, of jobs from before fair share, and of every job
when fair share is off (``C3_FAIR_SHARE=false``: one FIFO by priority)."""


def fair_keys(job_type: JobType) -> list[str]:
    """The ready zset, tenants zset and fair hash of ``job_type`` (``lua/fair.lua``)."""
    return [ready(job_type), tenants(job_type), fair(job_type)]


def dead_letters(job_type: JobType | str) -> str:
    """Stream of jobs that failed because their workers died too often."""
    return f"{_tag(job_type)}:dead"


def index(job_type: JobType | str) -> str:
    """Sorted set of job ids by creation time, for ``GET /jobs`` and retention."""
    return f"{_tag(job_type)}:jobs"


def idempotency(job_type: JobType | str, key: str) -> str:
    """String holding the job id submitted with an ``Idempotency-Key`` header."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{_tag(job_type)}:idem:{digest}"


def outbox(job_type: JobType | str) -> str:
    """Sorted set of webhook deliveries (member: job id) scored by when they are due."""
    return f"{_tag(job_type)}:webhooks"


def delayed(job_type: JobType | str) -> str:
    """Sorted set of job ids waiting to be retried, scored by when they are due."""
    return f"{_tag(job_type)}:delayed"


def stats(job_type: JobType | str) -> str:
    """Hash of counters for ``GET /metrics``: jobs submitted and ended by status, queue wait
    and run duration histograms (``<name>:le:<bound>``, ``<name>:count``, ``<name>:sum``),
    webhook deliveries; written by the scripts, so every process counts in one place."""
    return f"{_tag(job_type)}:stats"


def waiting(job_type: JobType | str) -> str:
    """Sorted set of chained jobs waiting for other jobs' outputs, scored by when
    housekeeping next re-checks them (the safety net; finish scripts wake them)."""
    return f"{_tag(job_type)}:waiting"


def wakeups(job_type: JobType | str) -> str:
    """Sorted set of ended jobs whose dependants still have to be woken, by end time.

    ``lib.lua`` derives this name from a job hash's (``record_wakeup``): keep them in step.
    """
    return f"{_tag(job_type)}:wakeups"


def eta_samples(job_type: JobType | str) -> str:
    """List of the type's newest successful runs, ``"<size> <seconds>"`` (size empty when
    unknown), newest first and capped at ``ETA_SAMPLES``: what ``queue/eta.py`` predicts from."""
    return f"{_tag(job_type)}:eta"


ETA_SAMPLES = 200
"""How many recent runs per job type the ETA keeps."""


def worker(worker_id: str) -> str:
    """A worker's liveness key; it expires unless the worker heartbeats."""
    return f"{PREFIX}:worker:{worker_id}"


def workers() -> str:
    """Hash of every worker that announced itself (id → its description as JSON).

    One key, so listing workers needs no SCAN across a cluster; entries whose liveness key
    is gone are removed by whoever lists them.
    """
    return f"{PREFIX}:workers"


def epoch() -> str:
    """A random id written once per Redis dataset: when it changes, Redis lost its data."""
    return f"{PREFIX}:epoch"


def upload(upload_id: str) -> str:
    """Hash describing an uploaded file (storage key, size, media type)."""
    return f"{PREFIX}:upload:{upload_id}"


def _owner_tag(owner: str) -> str:
    """One hash tag per API key name, so every key of an owner sits in one cluster slot."""
    return f"{PREFIX}:{{owner:{hashlib.sha256(owner.encode()).hexdigest()[:16]}}}"


def owner_submits(owner: str) -> str:
    """Sorted set of an API key's recent submissions by time (its rate limit window)."""
    return f"{_owner_tag(owner)}:submits"


def owner_jobs(owner: str) -> str:
    """Sorted set of an API key's unfinished jobs (``type:id``, or a reservation) by time."""
    return f"{_owner_tag(owner)}:jobs"


def owner_uploads(owner: str) -> str:
    """Hash of an API key's uploads: upload id → ``size:expires_at`` (its upload quota)."""
    return f"{_owner_tag(owner)}:uploads"


def upload_references(upload_id: str) -> str:
    """Set of ``type:id`` of the jobs that read an upload (``remove_data`` keeps it while any does)."""
    return f"{PREFIX}:upload:{upload_id}:jobs"


def events(job_type: JobType | str, job_id: str) -> str:
    """Stream of a job's events (status changes, progress, log lines) for ``GET /events``.

    Written only by the scripts that change the job (so an event never disagrees with the
    status), capped at ``EVENTS_MAXLEN`` entries and expiring with the job hash.
    """
    return f"{_tag(job_type)}:events:{job_id}"


EVENTS_MAXLEN = 5000
"""About how many events a job's stream keeps (the oldest go first); passed to the scripts."""


def audio(job_type: JobType | str, job_id: str, run: int) -> str:
    """Stream of one run's audio pieces (PCM) for ``GET /stream``, written by the worker.

    One key per run, so the pieces of a retried job's runs never mix; it expires
    ``C3_STREAM_TTL_SECONDS`` after its last write (see ``queue/audio_stream.py``).
    """
    return f"{_tag(job_type)}:audio:{job_id}:{run}"
