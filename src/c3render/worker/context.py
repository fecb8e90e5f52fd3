"""What a slot needs from its worker, and nothing more."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import redis

from c3render.job import JobType
from c3render.queue.leases import Claim, Leases
from c3render.queue.reading import Reader
from c3render.settings import Settings
from c3render.storage import Storage

log = logging.getLogger(__name__)
T = TypeVar("T")


def through_outages(action: Callable[[], T]) -> T:
    """Run a Redis action, waiting out Redis outages (a result is never dropped)."""
    delay = 0.2
    while True:
        try:
            return action()
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            log.warning("Redis unreachable (%s); retrying in %.1f s", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


@dataclass(frozen=True)
class SlotContext:
    """The worker's identity, settings, queue access, storage and stop signals, shared by
    its slots."""

    settings: Settings
    worker_id: str
    job_types: tuple[JobType, ...]
    reader: Reader
    leases: Leases
    storage: Storage
    """For discarding the files of runs that did not win."""
    stopping: threading.Event
    """Set when the worker stops taking jobs."""
    must_hand_back: Callable[[], bool]
    """True when running jobs must go back to the queue now (grace period over)."""
    notice_lost_data: Callable[[list[Claim]], bool]
    """Check whether Redis lost its data; if so, write the worker's running jobs and these
    claims back as failed (``redis_lost``) and return True."""
