"""The worker registry: one liveness key per worker, refreshed by its heartbeats."""

from __future__ import annotations

import json
from typing import Any

import redis
from redis.client import Pipeline

from c3render.queue import keys


class WorkerRegistry:
    """Which workers are alive, and what they say about themselves."""

    def __init__(self, client: redis.Redis) -> None:
        self.redis = client

    @staticmethod
    def announce(pipe: Pipeline, worker: str, info: dict[str, Any], ttl: float) -> None:
        """Queue, on ``pipe``, the refresh of ``worker``'s liveness key for ``ttl`` seconds."""
        pipe.set(keys.worker(worker), json.dumps(info), px=int(ttl * 1000))

    def remove(self, worker: str) -> None:
        """Forget a worker that stopped cleanly."""
        self.redis.delete(keys.worker(worker))

    def live_workers(self) -> list[dict[str, Any]]:
        """Descriptions of the workers whose liveness keys have not expired."""
        names = list(self.redis.scan_iter(match=keys.worker_pattern(), count=500))
        if not names:
            return []
        return [json.loads(value) for value in self.redis.mget(names) if value]
