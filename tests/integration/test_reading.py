"""``Reader.read`` with several idle slots: one waits on Redis, the others on it."""

from __future__ import annotations

import threading
import time

import redis

from c3render.api.schemas import CsmRequest
from c3render.job import JobType
from c3render.queue.reading import Reader
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import JobStore
from c3render.settings import load_settings

CSM = JobType.CSM


def test_idle_slots_wait_on_one_redis_reader_and_a_burst_reaches_them_all(
    settings_env: dict[str, str], redis_client: redis.Redis,
) -> None:
    store = JobStore(redis_client, load_settings())
    store.ensure_groups()
    reader = Reader(redis_client, store.settings, WorkerRegistry(redis_client))
    found: list[str] = []
    stop = time.monotonic() + 20

    def slot() -> None:
        while time.monotonic() < stop:
            delivery = reader.read((CSM,), "w1", 1000)
            if delivery is not None:
                found.append(delivery.job_id)
                return

    threads = [threading.Thread(target=slot, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    assert int(redis_client.info("clients")["blocked_clients"]) == 1  # not one per idle slot
    ids = {store.submit(CSM, CsmRequest(text="a"))[0] for _ in range(8)}
    for thread in threads:
        thread.join(20)
    assert sorted(found) == sorted(ids)  # every slot was woken and took one job
