"""``Reader.read_more``: a slot takes the queued jobs that batch with its first one; the
others are handed back at once, keeping their place, and run next."""

from __future__ import annotations

import redis

from c3render.api.schemas import WhisperRequest
from c3render.job import JobType
from c3render.queue import keys
from c3render.queue.leases import Leases
from c3render.queue.reading import HANDED_BACK, Reader
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import JobStore
from c3render.settings import load_settings
from c3render.worker.batching import fits_with

WHISPER = JobType.WHISPER


def _submit(store: JobStore, **fields: object) -> str:
    request = WhisperRequest.model_validate({"audio_url": "https://example.org/a.wav", **fields})
    job_id, _created = store.submit(WHISPER, request)
    return job_id


def test_read_more_takes_the_jobs_that_batch_and_hands_back_the_others(
    settings_env: dict[str, str], redis_client: redis.Redis,
) -> None:
    settings = load_settings()
    store = JobStore(redis_client, settings)
    store.ensure_groups()
    reader = Reader(redis_client, settings, WorkerRegistry(redis_client))
    first = _submit(store, model="tiny", language="en")
    other = _submit(store, model="base", language="en")
    same = _submit(store, model="tiny", language="en")
    words = _submit(store, model="tiny", language="en", word_timestamps=True)
    later = _submit(store, model="tiny", language="en")

    delivery = reader.read((WHISPER,), "w1", 100)
    assert delivery is not None and delivery.job_id == first
    claim = Leases(redis_client, settings).start_delivery(delivery, "w1")
    assert claim is not None
    more = reader.read_more(WHISPER, "w1", 3, fits_with(WHISPER, claim.job.params))
    assert [d.job_id for d in more] == [same]  # three read: one fits, two handed back
    pending = redis_client.xpending_range(keys.queue(WHISPER), keys.GROUP, "-", "+", 10)
    held = {item["consumer"] for item in pending if item["message_id"] in
            {d.entry for d in more} | {delivery.entry}}
    assert held == {"w1"}
    handed = [item for item in pending if item["consumer"] == HANDED_BACK]
    assert len(handed) == 2
    # the handed-back jobs are the next ones a worker takes over, in their order, and then
    # the queue goes on where it was
    taken = [reader.take_over(WHISPER, "w2"), reader.take_over(WHISPER, "w2")]
    assert [d.job_id for d in taken if d] == [other, words]
    assert [d.job_id for d in reader.read_more(WHISPER, "w2", 5, lambda r: True)] == [later]
