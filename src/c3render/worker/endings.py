"""How a slot ends a run it follows: finish, retry later, let go, hand back — each fenced by
the run's number — and the files of runs that did not win deleted. Shared by a slot's one
job and by each job of a batch."""

from __future__ import annotations

import logging
from typing import Any

import redis

from c3render.job import JobStatus
from c3render.queue.leases import Claim
from c3render.queue.reading import Delivery
from c3render.queue.scripts import ScriptCall
from c3render.worker.context import SlotContext, through_outages
from c3render.worker.pipeline import results_prefix
from c3render.worker.run_log import RunLog

log = logging.getLogger(__name__)


class RunEnds:
    """The end of runs, for one slot."""

    def __init__(self, context: SlotContext) -> None:
        self.context = context
        self.leases = context.leases
        self.next: Delivery | None = None
        """The job taken and started with the last finish: the slot runs it next."""

    def finish(
        self, claim: Claim, logs: RunLog, status: JobStatus,
        result: dict[str, Any] | None = None, error: str = "", error_type: str = "",
        input_size: float | None = None, take_next: bool = False,
    ) -> None:
        """Record the run's end state (its last log lines, and for a success its ETA sample
        of ``input_size``, in the same script); a run that did not win, or did not succeed,
        leaves no files. ``take_next``: take and start the slot's next job in the same round
        trip (``Reader.finish_then_take``); ``pop_next`` then hands it to the slot."""
        call = self.leases.finish_call(claim, status, result, error, error_type, logs.take(),
                                       input_size)
        recorded = self.leases.finished(claim, self._run_finish(call, take_next))
        if not recorded or status is not JobStatus.SUCCESS:
            self.discard_files(claim)
        outcome = status.value if recorded else self._why_not_recorded(claim)
        log.info("job %s (%s) attempt %d (run %d): %s %s", claim.job.id, claim.job.type.value,
                 claim.attempt, claim.run, outcome, error)

    def _run_finish(self, call: ScriptCall, take_next: bool) -> Any:
        """The finish script's reply, with the next job taken in the same round trip when
        asked (kept in ``self.next``, even when the finish script failed)."""
        if take_next:
            context = self.context
            try:
                reply, self.next = context.reader.finish_then_take(
                    call, context.job_types, context.worker_id)
            except (redis.ConnectionError, redis.TimeoutError):
                pass  # finished on its own below, through the outage (a job the lost reply
                # started is taken over by the idle-entry safety net, as after any read)
            else:
                if isinstance(reply, Exception):
                    raise reply
                return reply
        # finishing the same run again is harmless: finish.lua answers 1 again for an
        # outcome it recorded already
        return through_outages(call)

    def give_back_next(self) -> None:
        """The worker stops: a job taken with the last finish goes back to the queue,
        keeping its place (as a running job does)."""
        taken = self.pop_next()
        claim = taken and self.leases.start_delivery(taken, self.context.worker_id)
        if claim is not None:
            self.requeue(claim)

    def pop_next(self) -> Delivery | None:
        """The job taken with the last finish, once (None when none was)."""
        taken, self.next = self.next, None
        return taken

    def retry(self, claim: Claim, logs: RunLog, error: str, error_type: str) -> None:
        """A failure that may pass: the job runs again after a backoff (or ends failed)."""
        logs.flush(claim)
        self.discard_files(claim)
        outcome = through_outages(lambda: self.leases.retry_later(claim, error, error_type))
        if outcome == "superseded":
            outcome = self._why_not_recorded(claim)
        log.info("job %s run %d: %s (%s)", claim.job.id, claim.run, outcome, error)

    def release(self, claim: Claim) -> None:
        """Let go of a run whose job was ended from outside or taken over (or whose record
        Redis lost: then it is written back as failed, never left a silent 404)."""
        if not through_outages(lambda: self.context.notice_lost_data([claim])):
            through_outages(lambda: self.leases.release(claim))
        self.discard_files(claim)

    def _why_not_recorded(self, claim: Claim) -> str:
        lost = through_outages(lambda: self.context.notice_lost_data([claim]))
        return "lost with Redis's data" if lost else "superseded"

    def requeue(self, claim: Claim) -> None:
        """Hand a running job back to the queue (the worker is stopping)."""
        through_outages(lambda: self.leases.requeue(claim))
        self.discard_files(claim)
        log.info("job %s handed back to the queue", claim.job.id)

    def still_mine(self, claims: list[Claim]) -> list[bool]:
        """For each claim: is the job still running this run? (True through an outage.)"""
        try:
            return self.leases.still_mine(claims)
        except (redis.ConnectionError, redis.TimeoutError):
            return [True] * len(claims)  # keep running; finishing will wait for Redis

    def report_progress(self, claim: Claim, fraction: float) -> None:
        """Store the run's progress (best effort: the run goes on through an outage)."""
        try:
            self.leases.report_progress(claim, fraction)
        except (redis.ConnectionError, redis.TimeoutError):
            pass

    def discard_files(self, claim: Claim) -> None:
        """Delete what a run that did not win stored (a late run must leave nothing)."""
        try:
            self.context.storage.delete_prefix(results_prefix(claim.job.id, claim.run))
        except Exception:
            log.exception("discarding the files of job %s run %d failed", claim.job.id, claim.run)

    def discard_earlier_runs(self, claim: Claim) -> None:
        """Delete what earlier runs of the job stored: they are over (their workers died or
        were superseded), so only this run's files may become the result."""
        for run in range(1, claim.run):
            try:
                self.context.storage.delete_prefix(results_prefix(claim.job.id, run))
            except Exception:
                log.exception("discarding the files of job %s run %d failed", claim.job.id, run)


def timeout_reason(claim: Claim) -> str:
    """The error of a run stopped at its deadline: which limit it passed."""
    job = claim.job
    if claim.run_deadline < job.deadline:
        return f"the job ran longer than its max_time of {job.max_time} s"
    return "the job passed its complete_in deadline while running"
