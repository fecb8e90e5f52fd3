"""A worker slot against a real Redis, driven one step at a time (no engine is started)."""

from __future__ import annotations

import threading

import redis

from c3render.api.schemas import CsmRequest
from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.queue.leases import Leases
from c3render.queue.reading import HANDED_BACK, Delivery, Reader
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import JobStore
from c3render.settings import load_settings
from c3render.storage import create_storage
from c3render.worker.context import SlotContext
from c3render.worker.slot import Slot

CSM = JobType.CSM


def test_a_job_started_as_it_was_taken_by_a_stopping_worker_goes_back_keeping_its_place(
    settings_env: dict[str, str], redis_client: redis.Redis
) -> None:
    settings = load_settings()
    store = JobStore(redis_client, settings)
    store.ensure_groups((CSM,))
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    stopping = threading.Event()
    reader = Reader(redis_client, settings, WorkerRegistry(redis_client))
    read = reader.read

    def read_as_the_worker_stops(*args: object, **kwargs: object) -> Delivery | None:
        delivery = read(*args, **kwargs)  # type: ignore[arg-type]
        stopping.set()  # SIGTERM arrives while take.lua starts the job
        return delivery

    reader.read = read_as_the_worker_stops  # type: ignore[method-assign]
    context = SlotContext(settings, "w1", (CSM,), reader, Leases(redis_client, settings),
                          create_storage(settings), stopping, lambda: False, lambda claims: False)
    slot = Slot(context, 0)
    slot._last_reclaim = float("inf")  # straight to reading: no take-over pass
    slot._step()
    assert slot.engines == {}  # never run
    job = store.find(job_id)
    assert job.status is JobStatus.QUEUED and job.attempts == 0 and store.queue_position(job) == 0
    pending = redis_client.xpending_range(keys.queue(CSM), keys.GROUP, "-", "+", 10)
    assert [item["consumer"] for item in pending] == [HANDED_BACK]  # the next worker takes it first
