"""The worker supervisor: slots that run jobs, heartbeats, webhook delivery, clean shutdown.

``Worker.run()`` blocks until SIGTERM/SIGINT. The first signal stops taking jobs and gives
running jobs ``C3_SHUTDOWN_GRACE_SECONDS`` to finish; then (or at a second signal) their
engines are killed and the jobs handed back to the queue, so nothing is lost.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from types import FrameType
from typing import TypeVar

import redis

from c3render import keys
from c3render.config import Settings
from c3render.jobstore import Claim, JobStore
from c3render.storage import create_storage
from c3render.models import JobType
from c3render.worker.slot import Slot

log = logging.getLogger(__name__)
T = TypeVar("T")
PURGE_SECONDS = 3600.0


class Worker:
    """A supervisor process serving some job types with ``concurrency`` slots."""

    def __init__(
        self,
        settings: Settings,
        job_types: tuple[JobType, ...] = tuple(JobType),
        concurrency: int = 1,
        preload: bool = False,
    ) -> None:
        self.settings = settings
        self.job_types = job_types
        self.preload = preload
        self.id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        client = redis.Redis.from_url(
            settings.redis_dsn, decode_responses=True, socket_timeout=30,
            socket_connect_timeout=5, health_check_interval=30,
        )
        self.store = JobStore(client, settings)
        self.stopping = threading.Event()
        self.hard_stop = threading.Event()
        self._grace_deadline = float("inf")
        self.storage = create_storage(settings)
        """Result storage, for webhook links and housekeeping (engines open their own)."""
        self.slots = [Slot(self, index) for index in range(concurrency)]
        self._started = time.time()

    # --- life cycle ----------------------------------------------------------------

    def run(self) -> None:
        """Serve jobs until a stop signal (or ``stop()``), then shut down cleanly."""
        self._install_signal_handlers()
        self.retry(lambda: self.store.ensure_groups(self.job_types))
        if self.preload:
            for slot in self.slots:
                for job_type in self.job_types:
                    slot.engine(job_type).start()
        threads = [
            threading.Thread(target=slot.run, name=f"slot-{slot.index}") for slot in self.slots
        ]
        threads.append(threading.Thread(target=self._heartbeats, name="heartbeat", daemon=True))
        threads.append(threading.Thread(target=self._housekeeping, name="housekeeping", daemon=True))
        threads.append(self._webhook_thread())
        for thread in threads:
            thread.start()
        log.info("worker %s serving %s with %d slot(s)", self.id,
                 ",".join(t.value for t in self.job_types), len(self.slots))
        for thread in threads[: len(self.slots)]:
            while thread.is_alive():
                thread.join(timeout=0.5)
        self.stopping.set()
        self.store.redis.delete(keys.worker(self.id))
        log.info("worker %s stopped", self.id)

    def stop(self, grace: float | None = None) -> None:
        """Stop taking jobs; hand running ones back after ``grace`` seconds (default: setting)."""
        if self.stopping.is_set():
            self.hard_stop.set()
            return
        grace = self.settings.shutdown_grace_seconds if grace is None else grace
        self._grace_deadline = time.monotonic() + grace
        self.stopping.set()

    def must_hand_back(self) -> bool:
        """True when running jobs must go back to the queue now."""
        return self.hard_stop.is_set() or (
            self.stopping.is_set() and time.monotonic() >= self._grace_deadline
        )

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def handle(signum: int, frame: FrameType | None) -> None:
            log.info("signal %d: stopping (again to hand jobs back at once)", signum)
            self.stop()

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    # --- helpers ----------------------------------------------------------------------

    def retry(self, action: Callable[[], T]) -> T:
        """Run a Redis action, waiting out Redis outages (a result is never dropped)."""
        delay = 0.2
        while True:
            try:
                return action()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                log.warning("Redis unreachable (%s); retrying in %.1f s", exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def running(self) -> list[Claim]:
        """The claims this worker is running now."""
        return [slot.current for slot in self.slots if slot.current is not None]

    def _heartbeats(self) -> None:
        interval = self.settings.heartbeat_seconds
        while not (self.stopping.is_set() and not self.running()):
            claims = self.running()
            info = {
                "id": self.id, "host": socket.gethostname(), "pid": os.getpid(),
                "types": [t.value for t in self.job_types], "slots": len(self.slots),
                "running": [claim.job.id for claim in claims], "started_at": self._started,
            }
            try:
                self.store.heartbeat(self.id, claims, info, ttl=interval * 3)
            except redis.RedisError as exc:
                log.warning("heartbeat failed: %s", exc)
            time.sleep(interval)

    def _housekeeping(self) -> None:
        """Hourly, remove stored files and index entries past the retention period (its own
        thread: listing a large bucket must never delay heartbeats)."""
        while not self.stopping.is_set():
            try:
                self.store.trim_indexes()
                removed = self.storage.purge_older_than(self.settings.retention_seconds)
                if removed:
                    log.info("removed %d stored files past the retention period", removed)
            except Exception:
                log.exception("purging old files failed")
            self.stopping.wait(PURGE_SECONDS)

    def _webhook_thread(self) -> threading.Thread:
        from c3render.webhooks import WebhookDispatcher

        dispatcher = WebhookDispatcher(self.settings, self.store.redis, self.storage)
        return threading.Thread(
            target=dispatcher.run, args=(self.stopping,), name="webhooks", daemon=True
        )
