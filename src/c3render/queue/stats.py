"""What ``GET /metrics`` reads from Redis: the counters and histograms the scripts keep in
``keys.stats`` per job type, and the age of the oldest job waiting in each queue."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import redis

from c3render.job import JobType
from c3render.queue import keys
from c3render.queue.connection import RedisClient


@dataclass
class Histogram:
    """Cumulative buckets ``[(upper bound, count)]`` ending with +Inf, and the sum."""

    buckets: list[tuple[float, int]] = field(default_factory=list)
    total: float = 0.0


@dataclass
class TypeStats:
    """The counters of one job type."""

    submitted: int = 0
    ended: dict[str, int] = field(default_factory=dict)
    webhooks: dict[tuple[str, str], int] = field(default_factory=dict)
    """(event, outcome) → deliveries attempted."""
    histograms: dict[str, Histogram] = field(default_factory=dict)
    """'wait' (submission to first start) and 'run' (start to end of the ending run)."""


def read_stats(client: RedisClient, job_types: tuple[JobType, ...]) -> dict[JobType, TypeStats]:
    """Every job type's counters, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for job_type in job_types:
        pipe.hgetall(keys.stats(job_type))
    return {job_type: _parse(data) for job_type, data in zip(job_types, pipe.execute())}


def _parse(data: dict[str, str]) -> TypeStats:
    stats = TypeStats(submitted=int(data.get("submitted", 0)))
    raw: dict[str, dict[float, int]] = {}
    for name, value in data.items():
        parts = name.split(":")
        if parts[0] == "ended" and len(parts) == 2:
            stats.ended[parts[1]] = int(value)
        elif parts[0] == "webhook" and len(parts) == 3:
            stats.webhooks[(parts[1], parts[2])] = int(value)
        elif len(parts) == 3 and parts[1] == "le":
            bound = math.inf if parts[2] == "+Inf" else float(parts[2])
            raw.setdefault(parts[0], {})[bound] = int(value)
    for name, counts in raw.items():
        running, buckets = 0, []
        for bound in sorted(counts):
            running += counts[bound]
            buckets.append((bound, running))
        if not buckets or buckets[-1][0] != math.inf:
            buckets.append((math.inf, running))
        stats.histograms[name] = Histogram(buckets, float(data.get(f"{name}:sum", 0.0)))
        # the count is the +Inf bucket: the scripts keep no separate counter
    return stats


OLDEST_SCAN = 100
"""How many of a queue's oldest entries ``oldest_waiting_age`` looks at (held ones are few)."""


def oldest_waiting_age(client: RedisClient, job_type: JobType) -> float:
    """Seconds the oldest job not yet taken by a worker has waited (0 for none).

    Workers take entries out of stream order (fair share), so the oldest waiting one is the
    oldest entry that is not pending, looked for among the ``OLDEST_SCAN`` oldest.
    """
    queue = keys.queue(job_type)
    try:
        held = client.xpending_range(queue, keys.GROUP, "-", "+", OLDEST_SCAN)
    except redis.ResponseError:  # no stream yet
        return 0.0
    pending = {str(item["message_id"]) for item in held}
    entries = client.xrange(queue, count=OLDEST_SCAN)
    waiting = next((str(entry) for entry, _ in entries if str(entry) not in pending), None)
    if waiting is None:
        return 0.0
    millis = int(waiting.split("-")[0])
    return max(0.0, time.time() - millis / 1000)
