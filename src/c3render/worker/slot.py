"""A worker slot: takes one job at a time from Redis and runs it in an engine process
(or, for /whisper with ``C3_WHISPER_BATCH`` above 1, several queued jobs as one batch:
``batch_run.py``)."""

from __future__ import annotations

import logging
import shutil
import time

import redis

from c3render.errors import EngineCrashed
from c3render.job import JobStatus, JobType
from c3render.queue.leases import Claim
from c3render.queue.reading import Delivery
from c3render.settings.logs import bind_job
from c3render.worker.batch_run import BatchRun
from c3render.worker.batching import batch_key, batch_limit, fits_with
from c3render.worker.context import SlotContext, through_outages
from c3render.worker.endings import RunEnds, timeout_reason
from c3render.worker.engine_process import EngineHandle
from c3render.worker.messages import (
    AudioChunk,
    Done,
    Failed,
    FromEngine,
    LogLine,
    Progress,
    RunJob,
)
from c3render.worker.pipeline import run_workdir
from c3render.worker.run_audio import RunAudio
from c3render.worker.run_log import RunLog

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
CHECK_SECONDS = 0.5
PROGRESS_SECONDS = 0.5
RECLAIM_SECONDS = 0.5
"""How often a slot looks for entries of lost workers and for due retries."""
IDLE_RECLAIM_SECONDS = 5.0
"""How often it runs the safety net (entries nobody touched for C3_RECLAIM_IDLE_SECONDS)."""
BLOCK_MS = 1000


class Slot:
    """One job (or one batch) at a time; owns an engine process per job type it has run."""

    def __init__(self, context: SlotContext, index: int) -> None:
        self.context = context
        self.leases = context.leases
        self.index = index
        self.engines: dict[JobType, EngineHandle] = {}
        self.current: Claim | None = None
        self._last_reclaim = 0.0
        self._last_idle_reclaim = 0.0
        self._last_progress = 0.0
        self.logs = RunLog(self.leases)
        self.audio = RunAudio(self.leases.redis, context.settings)
        self.ends = RunEnds(context)
        self.batch: BatchRun | None = None
        self._run: RunJob | None = None

    # --- the loop ----------------------------------------------------------------

    def run(self) -> None:
        """Take and run jobs until the worker stops; no error ends the loop."""
        stopping = self.context.stopping
        while not stopping.is_set():
            try:
                self._step()
                self._unload_idle_engines()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("slot %d: Redis unreachable (%s); retrying", self.index, exc)
                stopping.wait(1.0)
            except redis.ResponseError as exc:
                if "NOGROUP" in str(exc):
                    through_outages(lambda: self.leases.ensure_groups(self.context.job_types))
                else:
                    log.exception("slot %d: Redis refused a command", self.index)
                    stopping.wait(1.0)
            except Exception:
                log.exception("slot %d: unexpected error; going on", self.index)
                stopping.wait(1.0)
        self.ends.give_back_next()
        for engine in self.engines.values():
            engine.stop()

    def engine(self, job_type: JobType) -> EngineHandle:
        """This slot's engine process for ``job_type`` (created, not yet started)."""
        if job_type not in self.engines:
            self.engines[job_type] = EngineHandle(job_type, self.context.settings)
        return self.engines[job_type]

    def _step(self) -> None:
        delivery = self._next_delivery()
        if delivery is None:
            return
        stopping = self.context.stopping.is_set()  # read just as the worker began to stop
        if stopping and delivery.started is None:
            self.context.reader.hand_back(delivery)
            return
        claim = self.leases.start_delivery(delivery, self.context.worker_id)
        if claim is None:
            return
        if stopping:  # started as it was taken: handed back the way a running job is
            self.ends.requeue(claim)
            return
        bind_job(claim.job.id)  # every line of this job names it (C3_LOG_FORMAT=json)
        if delivery.taken_over:
            log.info("job %s taken over from a worker that is gone", claim.job.id)
        self.ends.discard_earlier_runs(claim)
        engine = self.engine(delivery.job_type)
        if batch_limit(self.context.settings, delivery.job_type) > 1:
            self._run_batch([claim, *self._more_claims(claim)], engine)
            return
        self.current = claim
        try:
            log.debug("job %s (%s) attempt %d (run %d) started",  # its end is logged at INFO
                      claim.job.id, claim.job.type.value, claim.attempt, claim.run)
            self._execute(claim, engine)
        except BaseException:
            # the run cannot be followed any more: stop it, so the engine is free and the job
            # is taken over (its heartbeats stop) instead of running unseen
            self._stop_run(engine)
            raise
        finally:
            self.current = None
            bind_job(None)

    def _more_claims(self, first: Claim) -> list[Claim]:
        """Queued jobs that batch with ``first``, started (up to ``C3_WHISPER_BATCH`` in all)."""
        job = first.job
        wanted = batch_limit(self.context.settings, job.type) - 1
        if batch_key(job.type, job.params) is None or self.context.stopping.is_set():
            return []
        worker = self.context.worker_id
        claims: list[Claim] = []
        try:  # the first job runs whatever happens here (an entry read but not started
            # is taken over by the idle-entry safety net)
            found = self.context.reader.read_more(job.type, worker, wanted,
                                                  fits_with(job.type, job.params))
            for delivery in found:
                if self.context.stopping.is_set():
                    self.context.reader.hand_back(delivery)
                    continue
                claim = self.leases.start_delivery(delivery, worker)
                if claim is not None:
                    self.ends.discard_earlier_runs(claim)
                    claims.append(claim)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("slot %d: reading more jobs for a batch failed (%s)", self.index, exc)
        return claims

    def _run_batch(self, claims: list[Claim], engine: EngineHandle) -> None:
        log.info("jobs %s (%s) started as one batch", ", ".join(c.job.id for c in claims),
                 claims[0].job.type.value)
        self.batch = BatchRun(self.context, self.ends, engine, claims)
        try:
            self.batch.execute()
        except BaseException:
            self.batch.abort()  # cannot be followed: stop it, so the jobs are taken over
            raise
        finally:
            self.batch = None

    @property
    def held(self) -> list[Claim]:
        """The claims this slot is running now (one job, or the open jobs of a batch)."""
        batch = self.batch
        if batch is not None:
            return batch.held()
        current = self.current
        return [current] if current is not None else []

    def _next_delivery(self) -> Delivery | None:
        taken = self.ends.pop_next()  # started with the last finish, in its round trip
        if taken is not None:
            return taken
        reader, worker, types = self.context.reader, self.context.worker_id, self.context.job_types
        now = time.monotonic()
        if now - self._last_reclaim >= RECLAIM_SECONDS:
            self._last_reclaim = now
            idle_pass = now - self._last_idle_reclaim >= IDLE_RECLAIM_SECONDS
            if idle_pass:
                self._last_idle_reclaim = now
            for job_type in types:
                found = reader.take_over(job_type, worker)
                if found is None and idle_pass:
                    found = next((Delivery(job_type, entry, job_id, taken_over=True)
                                  for entry, job_id in reader.reclaim(job_type, worker)), None)
                if found is not None:
                    return found
                reader.promote_due(job_type)
        return reader.read(types, worker, BLOCK_MS, start=True)  # taken and started at once

    # --- one job -------------------------------------------------------------------

    def _execute(self, claim: Claim, engine: EngineHandle) -> None:
        job = claim.job
        self._run = RunJob(id=job.id, type=job.type, params=job.params, run=claim.run,
                           sources=job.sources)
        engine.send(self._run)
        deadline = time.monotonic() + claim.run_seconds  # skew-free: Redis timed the start
        last_check = time.monotonic()
        self._last_progress = 0.0
        self.logs.start()
        self.audio.start()
        while True:
            try:
                message = engine.poll(POLL_SECONDS)
            except EngineCrashed as exc:
                self._retry(claim, str(exc), "engine")
                return
            if message is not None and self._handle(claim, message):
                return
            self.logs.flush_if_due(claim)
            if time.monotonic() >= deadline:
                self._stop_run(engine, asked=True)
                self.ends.finish(claim, self.logs, JobStatus.TIMED_OUT,
                                 error=timeout_reason(claim), error_type="timeout")
                return
            if time.monotonic() - last_check >= CHECK_SECONDS:
                last_check = time.monotonic()
                if not self._still_mine(claim):
                    log.info("job %s was ended or taken over; stopping its run", job.id)
                    self._stop_run(engine, asked=True)
                    self.ends.release(claim)
                    return
            if self.context.must_hand_back():
                self._stop_run(engine)
                self.ends.requeue(claim)
                return

    def _handle(self, claim: Claim, message: FromEngine) -> bool:
        """Act on an engine message about this run; True when the job is over."""
        if self._run is None or getattr(message, "run_id", None) != self._run.run_id:
            return False  # Ready, or a late message of an earlier run
        if isinstance(message, Progress):
            if time.monotonic() - self._last_progress >= PROGRESS_SECONDS:
                self._last_progress = time.monotonic()
                self.ends.report_progress(claim, message.fraction)
            return False
        if isinstance(message, LogLine):
            self.logs.add(message)
            return False
        if isinstance(message, AudioChunk):
            self.audio.add(claim, message)
            return False
        # the engine is free: the next job is taken in the finish's round trip, unless the
        # worker is stopping or the pass for lost workers' entries is due first
        take_next = (not self.context.stopping.is_set()
                     and time.monotonic() - self._last_reclaim < RECLAIM_SECONDS)
        if isinstance(message, Done):
            self.ends.finish(claim, self.logs, JobStatus.SUCCESS, message.result,
                             input_size=message.input_size,  # the size: for the ETA
                             take_next=take_next)
        elif isinstance(message, Failed) and message.retryable:
            self._retry(claim, message.error, message.error_type)
        elif isinstance(message, Failed):
            self.ends.finish(claim, self.logs, JobStatus.FAILED, error=message.error,
                             error_type=message.error_type, take_next=take_next)
        return True

    def _stop_run(self, engine: EngineHandle, asked: bool = False) -> None:
        """Stop the run and remove its files. ``asked``: the engine is asked first and keeps
        its models if the run stops within ``C3_STOP_GRACE_SECONDS``; otherwise (and when
        not ``asked``) its process is killed and restarts for the next job."""
        run = self._run
        if asked and run is not None:
            kept = engine.stop_run(run.run_id, self.context.settings.stop_grace_seconds)
            log.info("job %s: run %s %s", run.id, run.run_id,
                     "stopped; the engine stays loaded" if kept else "did not stop in time; "
                     "its engine process was killed")
        else:
            engine.kill()
        if run is not None:
            shutil.rmtree(run_workdir(self.context.settings, run), ignore_errors=True)

    def _retry(self, claim: Claim, error: str, error_type: str) -> None:
        self.ends.retry(claim, self.logs, error, error_type)

    def _still_mine(self, claim: Claim) -> bool:
        return self.ends.still_mine([claim])[0]

    def _unload_idle_engines(self) -> None:
        limit = self.context.settings.engine_idle_seconds
        for engine in self.engines.values():
            if time.monotonic() - engine.last_used > limit and engine.alive:
                log.info("unloading idle %s engine", engine.job_type.value)
                engine.stop()
