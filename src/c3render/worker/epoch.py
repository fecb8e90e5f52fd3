"""Noticing that Redis lost its data (a restart without persistence), and saying so.

The first worker writes a random id to ``keys.epoch``; every worker remembers the one it
saw. When the key is gone or different, Redis started over empty: that is logged loudly,
and the jobs this worker was running are written back as failed with the reason, so their
clients read what happened instead of a 404 (and may ``POST /job/{id}/retry``). Jobs that
were only queued are gone with the data; only persistence (appendonly) prevents that.

Whichever thread meets the loss first checks: the heartbeat (every beat), or a slot whose
job's record vanished under it (its run would otherwise be let go of silently, leaving a
404). The check is serialised, and writing a record back is idempotent.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid

from c3render.queue import keys
from c3render.queue.connection import RedisClient
from c3render.queue.leases import Claim
from c3render.queue.scripts import Scripts
from c3render.settings import Settings

log = logging.getLogger(__name__)
LOST_ERROR = (
    "Redis lost this job's record while it ran (it restarted without persistence); the run "
    "was stopped: submit it again or POST /job/{id}/retry"
)


class EpochWatch:
    """Remembers the dataset's epoch and reports when it changes."""

    def __init__(self, client: RedisClient, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.scripts = Scripts(client)
        self._lock = threading.Lock()
        self.epoch = self._current()

    def _current(self) -> str:
        self.redis.set(keys.epoch(), uuid.uuid4().hex, nx=True)
        return str(self.redis.get(keys.epoch()))

    def check(self, running: list[Claim]) -> bool:
        """True (and the running jobs written back as failed) when Redis lost its data."""
        with self._lock:
            if self.redis.get(keys.epoch()) == self.epoch:
                return False
            self._report(running)
            return True

    def _report(self, running: list[Claim]) -> None:
        claims = list({claim.job.id: claim for claim in running}.values())
        log.error(
            "REDIS LOST ITS DATA: the dataset this worker started with is gone (a restart "
            "without appendonly?). Queued jobs are lost; %d running job(s) are marked failed. "
            "Configure appendonly yes (see README, Reliability).", len(claims),
        )
        for claim in claims:
            self._write_back(claim)
        self.epoch = self._current()

    def _write_back(self, claim: Claim) -> None:
        job = claim.job
        self.scripts.restore(
            keys=[keys.job(job.type, job.id)],
            args=[job.id, job.type.value, json.dumps(job.params), job.notify_url or "",
                  job.created_at, job.deadline, job.max_time, job.owner or "",
                  LOST_ERROR.replace("{id}", job.id), self.settings.retention_seconds],
        )
