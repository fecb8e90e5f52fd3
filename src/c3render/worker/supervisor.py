"""The worker supervisor: slots that run jobs, heartbeats, webhook delivery, clean shutdown.

``Worker.run()`` blocks until SIGTERM/SIGINT. The first signal stops taking jobs and gives
running jobs ``C3_SHUTDOWN_GRACE_SECONDS`` to finish; then (or at a second signal) their
engines are killed and the jobs handed back to the queue, so nothing is lost.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from types import FrameType
from typing import Any

import redis

from c3render.delivery.webhooks import WebhookDispatcher
from c3render.job import JobType
from c3render.queue.connection import connect
from c3render.queue.leases import Claim, Leases
from c3render.queue.reading import Reader
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import JobStore
from c3render.settings import Settings
from c3render.storage import create_storage
from c3render.worker.context import SlotContext, through_outages
from c3render.worker.epoch import EpochWatch
from c3render.worker.housekeeping import keep_house
from c3render.worker.slot import Slot

log = logging.getLogger(__name__)
PRUNE_SECONDS = 60.0


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
        client = connect(
            settings, socket_timeout=settings.redis_timeout, socket_connect_timeout=5,
            health_check_interval=30,
        )
        self.store = JobStore(client, settings)
        self.leases = Leases(client, settings)
        self.registry = WorkerRegistry(client)
        self.reader = Reader(client, settings, self.registry)
        self.stopping = threading.Event()
        self.hard_stop = threading.Event()
        self._grace_deadline = float("inf")
        self.storage = create_storage(settings)
        """Result storage, for webhook links and housekeeping (engines open their own)."""
        context = SlotContext(
            settings=settings, worker_id=self.id, job_types=job_types, reader=self.reader,
            leases=self.leases, storage=self.storage, stopping=self.stopping,
            must_hand_back=self.must_hand_back, notice_lost_data=self.notice_lost_data,
        )
        self.slots = [Slot(context, index) for index in range(concurrency)]
        self._started = time.time()
        self._epoch: EpochWatch | None = None

    # --- life cycle ----------------------------------------------------------------

    def run(self) -> None:
        """Serve jobs until a stop signal (or ``stop()``), then shut down cleanly."""
        self._install_signal_handlers()
        through_outages(lambda: self.store.ensure_groups(self.job_types))
        through_outages(self._beat)  # alive before the first entry is read
        self._epoch = through_outages(lambda: EpochWatch(self.store.redis, self.settings))
        if self.preload:
            for slot in self.slots:
                for job_type in self.job_types:
                    slot.engine(job_type).start()
        threads = [
            threading.Thread(target=slot.run, name=f"slot-{slot.index}") for slot in self.slots
        ]
        threads += [
            self._daemon(self._heartbeats, "heartbeat"),
            self._daemon(keep_house, "housekeeping", self.store, self.storage, self.stopping),
            self._daemon(WebhookDispatcher(self.settings, self.store.redis, self.storage).run,
                         "webhooks", self.stopping),
        ]
        for thread in threads:
            thread.start()
        log.info("worker %s serving %s with %d slot(s)", self.id,
                 ",".join(t.value for t in self.job_types), len(self.slots))
        for thread in threads[: len(self.slots)]:
            while thread.is_alive():
                thread.join(timeout=0.5)
        self.stopping.set()
        for process in multiprocessing.active_children():  # engine processes ignore SIGTERM
            process.kill()  # (the slots have stopped theirs; this is for any left over)
        self.registry.remove(self.id)
        log.info("worker %s stopped", self.id)

    @staticmethod
    def _daemon(target: Callable[..., None], name: str, *args: Any) -> threading.Thread:
        return threading.Thread(target=target, args=args, name=name, daemon=True)

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

    # --- heartbeats -------------------------------------------------------------------

    def running(self) -> list[Claim]:
        """The claims this worker is running now."""
        return [claim for slot in self.slots for claim in slot.held]

    def _beat(self) -> None:
        claims = self.running()
        info = {
            "id": self.id, "host": socket.gethostname(), "pid": os.getpid(),
            "types": [t.value for t in self.job_types], "slots": len(self.slots),
            "running": [claim.job.id for claim in claims], "started_at": self._started,
        }
        self.leases.heartbeat(self.id, claims, info, ttl=self.settings.liveness_seconds)

    def notice_lost_data(self, also: list[Claim]) -> bool:
        """True when Redis lost its data; this worker's running jobs and ``also`` (runs
        being let go of) are then written back as failed (see ``worker.epoch``)."""
        if self._epoch is None:
            return False
        return self._epoch.check(self.running() + also)

    def _heartbeats(self) -> None:
        """Every heartbeat_seconds: keep this worker's leases; now and then check that Redis
        still holds our data and forget consumers of workers that are gone."""
        interval = self.settings.heartbeat_seconds
        last_prune = time.monotonic()
        while not (self.stopping.is_set() and not self.running()):
            started = time.monotonic()
            try:
                self._beat()
                self.notice_lost_data([])
                if started - last_prune >= PRUNE_SECONDS:
                    last_prune = started
                    self.reader.prune_consumers(self.job_types)
            except redis.RedisError as exc:
                log.warning("heartbeat failed: %s", exc)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
