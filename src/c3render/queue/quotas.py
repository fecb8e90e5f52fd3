"""Per-key limits kept in Redis: submits per minute, unfinished jobs, upload bytes.

Every key of one API key name shares a hash tag (``keys._owner_tag``), and each script
touches one key only, so the limits run unchanged on Redis Cluster. Time comes from
Redis (``TIME``), not from each API host's clock. The job and upload counts are soft
limits: they are checked, then recorded, so two requests racing for the last place may
both get it.
"""

from __future__ import annotations

import time
import uuid

import redis

from c3render.job import JobStatus, JobType
from c3render.queue import keys

WINDOW_SECONDS = 60
RESERVATION_SECONDS = 60
"""A place reserved for a submission that never recorded its job is freed after this."""

# KEYS[1] the key's submit log; ARGV limit, window, member → {1, 0} or {0, seconds to wait}
_RATE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, tostring(tonumber(oldest[2]) + window - t)}
end
redis.call('ZADD', KEYS[1], t, ARGV[3])
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
return {1, '0'}
"""
# KEYS[1] the key's unfinished jobs; ARGV limit, member, now → 1 reserved, 0 full
_RESERVE = """
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
return 1
"""


class Quotas:
    """The limits of each API key name, on one Redis client."""

    def __init__(self, client: redis.Redis, retention_seconds: int) -> None:
        self.redis = client
        self.retention = retention_seconds
        self._rate = client.register_script(_RATE)
        self._reserve = client.register_script(_RESERVE)

    def take_submit(self, owner: str, per_minute: int) -> float | None:
        """Count one submission; None if allowed, else the seconds until one is."""
        allowed, wait = self._rate(keys=[keys.owner_submits(owner)],
                                   args=[per_minute, WINDOW_SECONDS, uuid.uuid4().hex])
        return None if int(allowed) else float(wait)

    def reserve_job(self, owner: str, limit: int) -> str | None:
        """Reserve a place for one more unfinished job; its token, or None when full."""
        self._prune_jobs(owner)
        token = f"pending:{uuid.uuid4().hex}"
        if not int(self._reserve(keys=[keys.owner_jobs(owner)], args=[limit, token, time.time()])):
            return None
        return token

    def record_job(self, owner: str, token: str, job_type: JobType | None, job_id: str) -> None:
        """Turn a reservation into the job it was for (or free it when no job was made)."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zrem(keys.owner_jobs(owner), token)
        if job_type is not None:
            pipe.zadd(keys.owner_jobs(owner), {f"{job_type.value}:{job_id}": time.time()})
        pipe.expire(keys.owner_jobs(owner), 86400 * 2 + self.retention)
        pipe.execute()

    def _prune_jobs(self, owner: str) -> None:
        """Forget finished jobs and stale reservations of ``owner``."""
        name = keys.owner_jobs(owner)
        members = self.redis.zrange(name, 0, -1, withscores=True)
        jobs = [(m, s) for m, s in members if not m.startswith("pending:")]
        stale = [m for m, s in members
                 if m.startswith("pending:") and s < time.time() - RESERVATION_SECONDS]
        pipe = self.redis.pipeline(transaction=False)
        for member, _score in jobs:
            job_type, _, job_id = member.partition(":")
            pipe.hget(keys.job(job_type, job_id), "status")
        unfinished = {JobStatus.QUEUED.value, JobStatus.RUNNING.value}
        for (member, _score), status in zip(jobs, pipe.execute()):
            if status not in unfinished:
                stale.append(member)
        if stale:
            self.redis.zrem(name, *stale)

    def upload_bytes(self, owner: str) -> tuple[int, float]:
        """Bytes of ``owner``'s uploads that have not expired, and when the first one expires."""
        name = keys.owner_uploads(owner)
        now, used, expired, first = time.time(), 0, [], float("inf")
        for upload_id, value in self.redis.hgetall(name).items():
            size, _, expires = value.partition(":")
            if float(expires or 0) < now:
                expired.append(upload_id)
            else:
                used += int(size or 0)
                first = min(first, float(expires))
        if expired:
            self.redis.hdel(name, *expired)
        return used, first

    def record_upload(self, owner: str, upload_id: str, size: int, expires_at: float) -> None:
        """Count an upload against ``owner``'s quota until it expires."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.owner_uploads(owner), upload_id, f"{size}:{expires_at}")
        pipe.expire(keys.owner_uploads(owner), self.retention)
        pipe.execute()

    def forget_upload(self, owner: str, upload_id: str) -> None:
        """Stop counting a deleted upload."""
        self.redis.hdel(keys.owner_uploads(owner), upload_id)
