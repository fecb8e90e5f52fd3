"""Webhook delivery: the outbox loop, retries with backoff (signing is in ``signing.py``).

The job store adds ``ZADD keys.outbox(type) <now> <job_id>`` when a job with a
``notify_url`` ends. The dispatcher claims due members with a lease (a Lua script moves
their score to ``now + lease``, so another dispatcher skips them), POSTs the contract's
payload from a small thread pool (a receiver that never answers holds one thread, not the
loop), then removes the member or re-schedules it with exponential backoff.

A job that asked for more with ``webhook_events`` (``start``, ``progress``) also gets
members ``<id>|start`` and ``<id>|progress`` (queued by ``start.lua`` / ``progress.lua``,
progress at most once a second): each is one signed POST of ``{"id", "status",
"event", "progress"}``, tried once (a later progress event supersedes a lost one).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import redis
import urllib3
from urllib3.exceptions import HTTPError

from c3render.delivery.documents import webhook_payload
from c3render.delivery.signing import sign, signing_key
from c3render.errors import InputError
from c3render.inputs.guard import describe_error, request_pinned, resolve_checked
from c3render.job import Job, JobType
from c3render.queue import keys
from c3render.settings import Settings
from c3render.settings.logs import job_logging
from c3render.storage.base import Storage

log = logging.getLogger(__name__)

POOL_SIZE = 8
POLL_SECONDS = 0.25

# KEYS[1] outbox; ARGV now, lease_until, limit → members now leased to the caller
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], member)
end
return due
"""
# KEYS[1] job hash; ARGV field, value: write only to a job that still exists
_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  return 1
end
return 0
"""


class WebhookDispatcher:
    """Delivers due webhooks from the four outboxes; safe to run in several processes."""

    def __init__(self, settings: Settings, redis: redis.Redis, storage: Storage) -> None:
        self.settings = settings
        self.redis = redis
        self.storage = storage
        self.key = signing_key(settings)
        self.lease = settings.webhook_timeout * 2 + 30
        self._claim = redis.register_script(_CLAIM)
        self._record = redis.register_script(_RECORD)
        self._pool = ThreadPoolExecutor(POOL_SIZE, thread_name_prefix="webhook")
        self._inflight: set[Future[None]] = set()
        self._lock = threading.Lock()

    def run(self, stop: threading.Event) -> None:
        """Deliver until ``stop`` is set; then wait for deliveries in flight and return."""
        try:
            while not stop.is_set():
                try:
                    started = self._dispatch()
                except redis.RedisError as exc:
                    log.warning("webhook outbox unreachable: %s", exc)
                    started = []
                with self._lock:
                    inflight = set(self._inflight)
                if len(inflight) >= POOL_SIZE:  # busy: go on as soon as a thread frees up
                    wait(inflight, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                elif not started:  # nothing was due: poll again shortly
                    stop.wait(POLL_SECONDS)
        finally:
            self._pool.shutdown(wait=True)

    def deliver_due(self) -> int:
        """Claim and deliver everything due now (one pass); return deliveries attempted."""
        futures = self._dispatch()
        wait(futures)
        return len(futures)

    def _dispatch(self) -> list[Future[None]]:
        """Start deliveries for due entries, as many as there are free pool threads."""
        with self._lock:
            self._inflight = {f for f in self._inflight if not f.done()}
            room = POOL_SIZE - len(self._inflight)
        started: list[Future[None]] = []
        for job_type in JobType:
            if room <= 0:
                break
            now = time.time()
            members = self._claim(keys=[keys.outbox(job_type)],
                                  args=[now, now + self.lease, room])
            for job_id in members:
                started.append(self._pool.submit(self._deliver_safely, job_type, job_id))
            room -= len(members)
        with self._lock:
            self._inflight.update(started)
        return started

    def _deliver_safely(self, job_type: JobType, job_id: str) -> None:
        with job_logging(job_id.partition("|")[0]):  # start/progress members are "id|event"
            try:
                self._deliver(job_type, job_id)
            except Exception:  # a bug must not kill the pool thread; the lease retries it
                log.exception("webhook delivery of job %s crashed", job_id)

    def _deliver(self, job_type: JobType, job_id: str) -> None:
        if "|" in job_id:
            self._deliver_event(job_type, job_id)
            return
        outbox = keys.outbox(job_type)
        data = self.redis.hgetall(keys.job(job_type, job_id))
        if not data or not data.get("notify_url"):
            self.redis.zrem(outbox, job_id)
            return
        job = Job.from_hash(data)
        state = dict(job.webhook or {})
        state["id"] = f"{job.id}.{job.status.value}"
        state["attempts"] = int(state.get("attempts", 0)) + 1
        status, error, retry = self._post(job, state["id"])
        state.update(last_status=status, last_error=error, delivered=error is None)
        if error is None or not retry or state["attempts"] >= self.settings.webhook_max_attempts:
            state["next_attempt_at"] = None
            self.redis.zrem(outbox, job_id)
            if error is not None:
                log.warning("webhook for job %s given up: %s", job_id, error)
        else:
            delay = self.settings.webhook_backoff_seconds * 2 ** (state["attempts"] - 1)
            state["next_attempt_at"] = time.time() + delay
            self.redis.zadd(outbox, {job_id: state["next_attempt_at"]}, xx=True)
        self._record(keys=[keys.job(job_type, job_id)], args=["webhook", json.dumps(state)])
        self._count(job_type, "completed", error is None)

    def _deliver_event(self, job_type: JobType, member: str) -> None:
        """One start or progress webhook (``webhook_events``), tried once."""
        self.redis.zrem(keys.outbox(job_type), member)
        job_id, _, event = member.partition("|")
        data = self.redis.hgetall(keys.job(job_type, job_id))
        if not data or not data.get("notify_url"):
            return
        job = Job.from_hash(data)
        payload = {"id": job.id, "status": job.status.value, "event": event,
                   "progress": round(job.progress, 3)}
        message_id = f"{job.id}.{event}.{time.time_ns()}"
        _, error, _ = self._post(job, message_id, payload)
        self._count(job_type, event, error is None)
        if error is not None:
            log.info("%s webhook for job %s not delivered: %s", event, job.id, error)

    def _count(self, job_type: JobType, event: str, delivered: bool) -> None:
        """Count one delivery attempt for ``GET /metrics``."""
        outcome = "delivered" if delivered else "failed"
        self.redis.hincrby(keys.stats(job_type), f"webhook:{event}:{outcome}", 1)

    def _post(
        self, job: Job, message_id: str, payload: dict[str, Any] | None = None
    ) -> tuple[int | None, str | None, bool]:
        """POST the payload (the result document unless given) once; (HTTP status, error or
        None, whether to retry)."""
        assert job.notify_url is not None
        try:
            target = resolve_checked(job.notify_url, "notify_url", self.settings,
                                     allow=self.settings.webhook_allow)
        except InputError as exc:
            return None, exc.message, False
        if payload is None:
            payload = webhook_payload(job, self.storage, self.settings.link_base())
        body = json.dumps(payload, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(self.key, message_id, timestamp, body),
        }
        timeout = urllib3.Timeout(connect=self.settings.webhook_timeout,
                                  read=self.settings.webhook_timeout)
        try:
            response = request_pinned(target, "POST", timeout, body=body, headers=headers)
            try:
                response.read(64 * 1024)
            finally:
                response.close()
        except HTTPError as exc:
            return None, describe_error(exc, "notify_url", self.settings.webhook_timeout).message, True
        if 200 <= response.status < 300:
            return response.status, None, False
        return response.status, f"notify_url answered {response.status}", True
