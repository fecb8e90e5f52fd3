"""The job store's compare-and-set scripts: a job ends exactly once, whatever races it."""

from __future__ import annotations

import time

import pytest
import redis

from c3render.api.schemas import CsmRequest
from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.queue.leases import Leases
from c3render.queue.store import POSITION_LIMIT, JobStore
from c3render.settings import load_settings

CSM = JobType.CSM


SETTINGS = {"reclaim_idle_seconds": 0.05, "max_deliveries": 2}


@pytest.fixture
def store(settings_env: dict[str, str], redis_client: redis.Redis) -> JobStore:
    """A store on the flushed test Redis, reclaiming entries idle for 50 ms."""
    store = JobStore(redis_client, load_settings(**SETTINGS))
    store.ensure_groups()
    return store


@pytest.fixture
def leases(store: JobStore) -> Leases:
    """The worker side of the same queue."""
    return Leases(store.redis, store.settings)


def _deliver(store: JobStore, worker: str) -> tuple[str, str]:
    reply = store.redis.xreadgroup(keys.GROUP, worker, {keys.queue(CSM): ">"}, count=1)
    entry, fields = reply[0][1][0]
    return entry, fields["id"]


def _pending(store: JobStore) -> int:
    return int(store.redis.xpending(keys.queue(CSM), keys.GROUP)["pending"])


def test_success_is_recorded_once_and_acked(store: JobStore, leases: Leases) -> None:
    job_id, created = store.submit(CSM, CsmRequest(text="a"))
    assert created
    entry, delivered_id = _deliver(store, "w1")
    assert delivered_id == job_id
    claim = leases.start(CSM, job_id, entry, "w1")
    assert claim is not None and claim.attempt == 1
    assert leases.finish(claim, JobStatus.SUCCESS, {"text": "x"})
    assert not leases.finish(claim, JobStatus.FAILED, error="late")
    job = store.find(job_id)
    assert job.status is JobStatus.SUCCESS and job.error is None
    assert _pending(store) == 0 and store.redis.xlen(keys.queue(CSM)) == 0
    assert 0 < store.redis.ttl(keys.job(CSM, job_id)) <= store.settings.retention_seconds


def test_cancel_wins_over_a_late_worker(store: JobStore, leases: Leases) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    entry, _ = _deliver(store, "w1")
    claim = leases.start(CSM, job_id, entry, "w1")
    assert claim is not None
    assert store.end(store.find(job_id), JobStatus.CANCELLED, "stop") is JobStatus.RUNNING
    assert not leases.still_mine([claim])[0]
    assert not leases.finish(claim, JobStatus.SUCCESS, {"text": "too late"})
    assert store.find(job_id).status is JobStatus.CANCELLED
    assert _pending(store) == 0  # the late worker's finish still acknowledged the entry


def test_a_reclaimed_job_belongs_to_its_new_attempt(store: JobStore, leases: Leases) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    entry, _ = _deliver(store, "w1")
    old = leases.start(CSM, job_id, entry, "w1")
    time.sleep(0.1)
    assert leases.reclaim(CSM, "w2") == [(entry, job_id)]
    new = leases.start(CSM, job_id, entry, "w2")
    assert old is not None and new is not None and new.attempt == 2
    assert not leases.finish(old, JobStatus.SUCCESS, {"text": "stale"})
    assert _pending(store) == 1  # the stale finish must not acknowledge the new attempt's entry
    assert leases.finish(new, JobStatus.SUCCESS, {"text": "fresh"})
    assert store.find(job_id).result == {"text": "fresh"}


def test_too_many_deliveries_end_in_dead_letters(store: JobStore, leases: Leases) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    entry, _ = _deliver(store, "w1")
    for worker in ("w1", "w2"):
        assert leases.start(CSM, job_id, entry, worker) is not None
        time.sleep(0.1)
        leases.reclaim(CSM, "w3")
    assert leases.start(CSM, job_id, entry, "w3") is None
    job = store.find(job_id)
    assert job.status is JobStatus.FAILED and "died 2 times" in (job.error or "")
    assert store.redis.xlen(keys.dead_letters(CSM)) == 1 and _pending(store) == 0


def test_requeue_hands_back_without_counting_an_attempt(store: JobStore, leases: Leases) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    entry, _ = _deliver(store, "w1")
    claim = leases.start(CSM, job_id, entry, "w1")
    assert claim is not None and leases.requeue(claim)
    job = store.find(job_id)
    assert job.status is JobStatus.QUEUED and job.attempts == 0 and job.entry != entry
    new_entry, _ = _deliver(store, "w2")
    assert new_entry == job.entry
    assert leases.start(CSM, job_id, entry, "w2") is None  # the old entry is stale
    again = leases.start(CSM, job_id, new_entry, "w2")
    assert again is not None and again.attempt == 1


def test_progress_only_for_the_running_attempt(store: JobStore, leases: Leases) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    entry, _ = _deliver(store, "w1")
    claim = leases.start(CSM, job_id, entry, "w1")
    assert claim is not None
    leases.report_progress(claim, 0.42)
    assert store.find(job_id).progress == pytest.approx(0.42)
    leases.finish(claim, JobStatus.SUCCESS, {})
    leases.report_progress(claim, 0.5)
    assert store.find(job_id).progress == 1.0


def test_queue_position_is_counted_up_to_its_limit(store: JobStore) -> None:
    ids = [store.submit(CSM, CsmRequest(text="a"))[0] for _ in range(POSITION_LIMIT + 3)]
    assert store.queue_position(store.find(ids[0])) == 0
    assert store.queue_position(store.find(ids[5])) == 5
    assert store.queue_position(store.find(ids[-1])) == POSITION_LIMIT
