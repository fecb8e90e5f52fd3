"""Several jobs running as one batch in one engine process, each ending on its own.

The slot sends one ``RunBatch``; the engine answers a ``Done`` or ``Failed`` per job (and
``Progress`` and ``LogLine`` per job). Each job keeps its own claim: its run fence, its
lease (the supervisor heartbeats every open claim of the batch), its deadline, its progress
and its log. A job cancelled or taken over meanwhile is let go alone, and a job past its
deadline ends ``timed_out`` alone: its outcome is dropped when it comes (with any file it
stored), and the others go on. Only what concerns them all stops them all: the engine
process dying (each job is retried, as for one job) or the worker handing its jobs back.
When every job has ended but the engine still works for one that was dropped, the engine
is killed, so the next job does not wait behind work nobody reads.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass, field

from c3render.errors import EngineCrashed
from c3render.job import JobStatus
from c3render.queue.leases import Claim
from c3render.worker.context import SlotContext
from c3render.worker.endings import RunEnds, timeout_reason
from c3render.worker.engine_process import EngineHandle
from c3render.worker.messages import (
    Done,
    Failed,
    FromEngine,
    LogLine,
    Progress,
    RunBatch,
    RunJob,
)
from c3render.worker.pipeline import run_workdir
from c3render.worker.run_log import RunLog

log = logging.getLogger(__name__)
POLL_SECONDS = 0.1
CHECK_SECONDS = 0.5
PROGRESS_SECONDS = 0.5


@dataclass
class Member:
    """One job of the batch, as the slot follows it."""

    claim: Claim
    run: RunJob
    logs: RunLog
    deadline: float
    """When this run must stop (monotonic; Redis timed the start)."""
    last_progress: float = field(default=0.0)


class BatchRun:
    """Follows one batch from ``RunBatch`` until each of its jobs has ended."""

    def __init__(
        self, context: SlotContext, ends: RunEnds, engine: EngineHandle, claims: list[Claim]
    ) -> None:
        self.context = context
        self.ends = ends
        self.engine = engine
        now = time.monotonic()
        self.members = [
            Member(claim, RunJob(id=claim.job.id, type=claim.job.type, params=claim.job.params,
                                 run=claim.run), RunLog(context.leases), now + claim.run_seconds)
            for claim in claims
        ]
        self.open: dict[str, Member] = {member.run.run_id: member for member in self.members}
        """The jobs still running, by run id."""
        self.answered: set[str] = set()
        """Runs the engine has sent its outcome of."""

    def held(self) -> list[Claim]:
        """The claims still running (for heartbeats)."""
        return [member.claim for member in list(self.open.values())]

    def execute(self) -> None:
        """Send the batch and follow it until every job has ended."""
        self.engine.send(RunBatch(tuple(member.run for member in self.members)))
        for member in self.members:
            member.logs.start()
        last_check = time.monotonic()
        while self.open:
            try:
                message = self.engine.poll(POLL_SECONDS)
            except EngineCrashed as exc:
                for member in self._close_all():
                    self.ends.retry(member.claim, member.logs, str(exc), "engine")
                return
            if message is not None:
                self._handle(message)
            for member in list(self.open.values()):
                member.logs.flush_if_due(member.claim)
            self._end_late_runs()
            if time.monotonic() - last_check >= CHECK_SECONDS:
                last_check = time.monotonic()
                self._let_go_of_ended_jobs()
            if self.open and self.context.must_hand_back():
                self.abort()
                for member in self._close_all():
                    self.ends.requeue(member.claim)
                return
        if any(member.run.run_id not in self.answered for member in self.members):
            log.info("the batch's remaining work is for jobs that ended; stopping its engine")
            self.abort()

    def abort(self) -> None:
        """Kill the engine (it restarts for the next job) and remove the runs' files."""
        self.engine.kill()
        for member in self.members:
            shutil.rmtree(run_workdir(self.context.settings, member.run), ignore_errors=True)

    def _close_all(self) -> list[Member]:
        members = list(self.open.values())
        self.open.clear()
        return members

    def _handle(self, message: FromEngine) -> None:
        run_id = getattr(message, "run_id", None)
        if run_id is None or run_id not in {m.run.run_id for m in self.members}:
            return  # Ready, or a late message of an earlier run
        member = self.open.get(run_id)
        if isinstance(message, (Done, Failed)):
            self.answered.add(run_id)
            if member is None:  # ended meanwhile: drop what it stored
                self.ends.discard_files(self._member(run_id).claim)
                return
            self._end(member, message)  # still held while it ends (see worker.epoch)
            del self.open[run_id]
        elif member is not None and isinstance(message, Progress):
            if time.monotonic() - member.last_progress >= PROGRESS_SECONDS:
                member.last_progress = time.monotonic()
                self.ends.report_progress(member.claim, message.fraction)
        elif member is not None and isinstance(message, LogLine):
            member.logs.add(message)

    def _member(self, run_id: str) -> Member:
        return next(member for member in self.members if member.run.run_id == run_id)

    def _end(self, member: Member, message: Done | Failed) -> None:
        claim, logs = member.claim, member.logs
        if isinstance(message, Done):
            self.ends.finish(claim, logs, JobStatus.SUCCESS, result=message.result,
                             input_size=message.input_size)  # the size: for the ETA
        elif message.retryable:
            self.ends.retry(claim, logs, message.error, message.error_type)
        else:
            self.ends.finish(claim, logs, JobStatus.FAILED, error=message.error,
                             error_type=message.error_type)

    def _end_late_runs(self) -> None:
        now = time.monotonic()
        for run_id, member in list(self.open.items()):
            if now >= member.deadline:
                self.ends.finish(member.claim, member.logs, JobStatus.TIMED_OUT,
                                 error=timeout_reason(member.claim), error_type="timeout")
                del self.open[run_id]

    def _let_go_of_ended_jobs(self) -> None:
        members = list(self.open.values())
        if not members:
            return
        for member, mine in zip(members, self.ends.still_mine([m.claim for m in members])):
            if not mine:
                log.info("job %s was ended or taken over; its batch goes on without it",
                         member.claim.job.id)
                self.ends.release(member.claim)
                del self.open[member.run.run_id]
