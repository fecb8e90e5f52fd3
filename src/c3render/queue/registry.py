"""The worker registry: which workers are alive, without a SCAN.

Each worker keeps a liveness key (``keys.worker``) that expires ``C3_LIVENESS_SECONDS``
after its last heartbeat — the one fact that decides whether its jobs must run elsewhere —
and its description in the single hash ``keys.workers`` for listings.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import redis
from redis.client import Pipeline

from c3render.queue import keys
from c3render.queue.connection import RedisClient


class WorkerRegistry:
    """Announce, find and forget workers."""

    def __init__(self, client: RedisClient) -> None:
        self.redis = client

    @staticmethod
    def announce(pipe: Pipeline, worker: str, info: dict[str, Any], ttl: float) -> None:
        """Queue, on ``pipe``, the refresh of ``worker``'s liveness key for ``ttl`` seconds."""
        pipe.set(keys.worker(worker), "1", px=max(1, int(ttl * 1000)))
        pipe.hset(keys.workers(), worker, json.dumps(info))

    def remove(self, worker: str) -> None:
        """Forget a worker that stopped cleanly (its jobs were finished or handed back)."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.delete(keys.worker(worker))
        pipe.hdel(keys.workers(), worker)
        pipe.execute()

    def alive(self, workers: Iterable[str]) -> set[str]:
        """The workers among ``workers`` whose liveness keys have not expired."""
        names = list(dict.fromkeys(workers))
        if not names:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for name in names:
            pipe.exists(keys.worker(name))
        return {name for name, found in zip(names, pipe.execute()) if found}

    def live_workers(self) -> list[dict[str, Any]]:
        """Descriptions of the live workers; entries of workers that are gone are dropped."""
        described = self.redis.hgetall(keys.workers())
        alive = self.alive(described)
        gone = [name for name in described if name not in alive]
        if gone:
            try:
                self.redis.hdel(keys.workers(), *gone)
            except redis.RedisError:
                pass  # listing must not fail for housekeeping
        return [json.loads(described[name]) for name in described if name in alive]
