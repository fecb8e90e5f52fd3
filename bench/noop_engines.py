"""No-op work for the queue benchmark: our engine and the peers' tasks do the same nothing.

Each records the job id it ran with one append to ``$BENCH_RUNS_LOG`` (when set), so the
benchmark can check that every job ran exactly once in every system:

* ``noop_csm`` — an engine for ``C3_ENGINES=csm=bench.noop_engines:noop_csm`` returning
  ``EngineResult(text="ok")`` (the worker stores the text; no file, no input fetch);
* ``sleep_csm`` — the same, but each job takes ``$BENCH_JOB_SECONDS`` (default 0.1): jobs of
  a fixed duration, for the fairness benchmark;
* ``rq_noop`` — the RQ job function;
* ``dramatiq_noop`` — a Dramatiq actor, declared only when ``BENCH_DRAMATIQ=1`` (the broker
  is the Redis at ``$BENCH_REDIS_URL``), so importing this module elsewhere needs no Dramatiq.
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar

from c3render.engines.base import EngineJob, EngineResult
from c3render.job import JobType
from c3render.settings import Settings


def record_run(job_id: str) -> None:
    """Append ``job_id`` to the runs log (one O_APPEND write: atomic between processes)."""
    path = os.environ.get("BENCH_RUNS_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{job_id}\n".encode())
        finally:
            os.close(fd)


class NoopCsm:
    """A /csm engine that does nothing and returns the text ``ok``."""

    job_type: ClassVar[JobType] = JobType.CSM
    name = "noop"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def load(self) -> None:
        """Nothing to load."""

    def run(self, job: EngineJob) -> EngineResult:
        """Record the run and return ``ok``."""
        record_run(job.id)
        return EngineResult(text="ok")


def noop_csm(settings: Settings) -> NoopCsm:
    """Factory for ``C3_ENGINES``."""
    return NoopCsm(settings)


class SleepCsm(NoopCsm):
    """A /csm engine whose every job takes ``$BENCH_JOB_SECONDS`` and returns ``ok``."""

    name = "sleep"

    def run(self, job: EngineJob) -> EngineResult:
        """Sleep the fixed duration, then record the run and return ``ok``."""
        time.sleep(float(os.environ.get("BENCH_JOB_SECONDS", "0.1")))
        return super().run(job)


def sleep_csm(settings: Settings) -> SleepCsm:
    """Factory for ``C3_ENGINES``."""
    return SleepCsm(settings)


def rq_noop(job_id: str) -> str:
    """The RQ job: record the run, return ``ok``."""
    record_run(job_id)
    return "ok"


def declare_dramatiq_actor() -> Any:
    """Set the Redis broker at $BENCH_REDIS_URL and declare the no-op actor (call once)."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    dramatiq.set_broker(RedisBroker(url=os.environ["BENCH_REDIS_URL"]))

    @dramatiq.actor(max_retries=0)
    def dramatiq_noop(job_id: str) -> str:
        """The Dramatiq actor: record the run, return ``ok``."""
        record_run(job_id)
        return "ok"

    return dramatiq_noop


if os.environ.get("BENCH_DRAMATIQ") == "1":
    dramatiq_noop = declare_dramatiq_actor()
