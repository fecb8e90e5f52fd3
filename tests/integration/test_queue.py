"""The job store's compare-and-set scripts: a job ends exactly once, whatever races it."""

from __future__ import annotations

import time

import pytest
import redis

from c3render.api.schemas import CsmRequest
from c3render.errors import Conflict, TooManyRequests
from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.queue.leases import Leases
from c3render.queue.reading import Reader
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import POSITION_LIMIT, JobStore
from c3render.settings import load_settings

CSM = JobType.CSM


SETTINGS = {"reclaim_idle_seconds": 0.05, "max_deliveries": 2, "heartbeat_seconds": 0.01,
            "liveness_seconds": 0.02, "max_retries": 1, "retry_backoff_seconds": 0.05}


@pytest.fixture
def store(settings_env: dict[str, str], redis_client: redis.Redis) -> JobStore:
    """A store on the flushed test Redis, reclaiming entries idle for 50 ms."""
    store = JobStore(redis_client, load_settings(**SETTINGS))
    store.ensure_groups()
    return store


def _deliver(store: JobStore, worker: str) -> tuple[str, str]:
    reader = Reader(store.redis, store.settings, WorkerRegistry(store.redis))
    delivery = reader.read((CSM,), worker, 10)
    assert delivery is not None
    return delivery.entry, delivery.job_id


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


def test_a_reclaimed_job_belongs_to_its_new_attempt(store: JobStore, leases: Leases, reader: Reader) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    entry, _ = _deliver(store, "w1")
    old = leases.start(CSM, job_id, entry, "w1")
    time.sleep(0.1)
    assert reader.reclaim(CSM, "w2") == [(entry, job_id)]
    new = leases.start(CSM, job_id, entry, "w2")
    assert old is not None and new is not None and new.attempt == 2
    assert not leases.finish(old, JobStatus.SUCCESS, {"text": "stale"})
    assert _pending(store) == 1  # the stale finish must not acknowledge the new attempt's entry
    assert leases.finish(new, JobStatus.SUCCESS, {"text": "fresh"})
    assert store.find(job_id).result == {"text": "fresh"}


def test_too_many_deliveries_end_in_dead_letters(store: JobStore, leases: Leases, reader: Reader) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    entry, _ = _deliver(store, "w1")
    for worker in ("w1", "w2"):
        assert leases.start(CSM, job_id, entry, worker) is not None
        time.sleep(0.1)
        reader.reclaim(CSM, "w3")
    assert leases.start(CSM, job_id, entry, "w3") is None
    job = store.find(job_id)
    assert job.status is JobStatus.FAILED and "died 2 times" in (job.error or "")
    assert store.redis.xlen(keys.dead_letters(CSM)) == 1 and _pending(store) == 0


def test_requeue_hands_back_without_counting_an_attempt_and_keeps_its_place(
    store: JobStore, leases: Leases, reader: Reader
) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    later_id, _ = store.submit(CSM, CsmRequest(text="b"))
    entry, _ = _deliver(store, "w1")
    claim = leases.start(CSM, job_id, entry, "w1")
    assert claim is not None and leases.requeue(claim)
    job = store.find(job_id)
    assert job.status is JobStatus.QUEUED and job.attempts == 0 and job.entry == entry
    assert store.queue_position(job) == 0
    taken = reader.take_over(CSM, "w2")  # before the newer entry is read
    assert taken is not None and (taken.entry, taken.job_id) == (entry, job_id)
    again = leases.start(CSM, job_id, entry, "w2")
    assert again is not None and again.attempt == 1 and again.run == 2
    assert again.job.lost == 0  # a hand-back is not a lost worker


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


def _alive(store: JobStore, *workers: str) -> None:
    for worker in workers:
        store.redis.set(keys.worker(worker), "1", px=60_000)


def test_a_lost_workers_entry_is_found_behind_many_live_ones(
    store: JobStore, leases: Leases, reader: Reader
) -> None:
    _alive(store, "live", "w2")
    live = []
    for _ in range(150):  # more than one XPENDING page ahead of the lost entry
        job_id, _ = store.submit(CSM, CsmRequest(text="a"))
        live.append(leases.start(CSM, job_id, _deliver(store, "live")[0], "live"))
    lost_id, _ = store.submit(CSM, CsmRequest(text="lost"))
    lost_entry, _ = _deliver(store, "dead")
    assert leases.start(CSM, lost_id, lost_entry, "dead") is not None
    time.sleep(0.05)  # past the liveness time: "dead" never announced itself
    found = None
    for _ in range(3):
        found = found or reader.take_over(CSM, "w2")
    assert found is not None and found.job_id == lost_id and found.taken_over
    claim = leases.start(CSM, lost_id, lost_entry, "w2")
    assert claim is not None and claim.job.lost == 1 and claim.attempt == 2
    assert reader.take_over(CSM, "w2") is None  # the live worker's entries stay its own


def test_every_entry_of_several_queues_is_read_none_stranded(
    store: JobStore, reader: Reader
) -> None:
    ids = {store.submit(JobType.CSM, CsmRequest(text="a"))[0] for _ in range(3)}
    store.ensure_groups()
    types = (JobType.CSM, JobType.ANALYZE)
    seen = [reader.read(types, "w1", 10) for _ in range(5)]
    delivered = [d.job_id for d in seen if d is not None]
    assert sorted(delivered) == sorted(ids)  # one entry per call, nothing left delivered
    assert _pending(store) == len(ids)


def test_a_retried_run_waits_then_runs_again_then_fails_for_good(
    store: JobStore, leases: Leases, reader: Reader
) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    claim = leases.start(CSM, job_id, _deliver(store, "w1")[0], "w1")
    assert claim is not None and leases.retry_later(claim, "host busy", "input") == "retry"
    job = store.find(job_id)
    assert job.status is JobStatus.QUEUED and job.retry_at and job.last_error == "host busy"
    assert _pending(store) == 0
    time.sleep(0.06)
    reader.promote_due(CSM)
    entry, _ = _deliver(store, "w1")
    again = leases.start(CSM, job_id, entry, "w1")
    assert again is not None and again.attempt == 2
    assert leases.retry_later(again, "host busy", "input") == "failed"  # max_retries = 1
    job = store.find(job_id)
    assert job.status is JobStatus.FAILED and job.error_type == "input"
    assert "failed 2 times" in (job.error or "") and _pending(store) == 0


def test_a_superseded_runs_heartbeat_does_not_take_the_entry_back(
    store: JobStore, leases: Leases, reader: Reader
) -> None:
    _alive(store, "w2")
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    entry, _ = _deliver(store, "frozen")
    old = leases.start(CSM, job_id, entry, "frozen")
    time.sleep(0.05)
    taken = reader.take_over(CSM, "w2")
    assert old is not None and taken is not None
    new = leases.start(CSM, job_id, entry, "w2")
    leases.heartbeat("frozen", [old], {"id": "frozen"}, ttl=60)  # it wakes up
    owner = store.redis.xpending_range(keys.queue(CSM), keys.GROUP, "-", "+", 10)[0]["consumer"]
    assert new is not None and owner == "w2"
    assert not leases.finish(old, JobStatus.SUCCESS, {"text": "late"})
    assert leases.finish(new, JobStatus.SUCCESS, {"text": "winner"})
    assert store.find(job_id).result == {"text": "winner"}


def test_ends_are_counted_once_and_retry_requeues_under_the_same_id(
    store: JobStore, leases: Leases
) -> None:
    job_id, _ = store.submit(CSM, CsmRequest(text="a"))
    claim = leases.start(CSM, job_id, _deliver(store, "w1")[0], "w1")
    assert claim is not None and leases.finish(claim, JobStatus.FAILED, error="x", error_type="engine")
    with pytest.raises(Conflict):
        store.end(store.find(job_id), JobStatus.CANCELLED, "too late")
    assert store.redis.hget(keys.job(CSM, job_id), "ends") == "1"
    job = store.resubmit(store.find(job_id))
    assert job.status is JobStatus.QUEUED and job.error is None and job.error_type is None
    claim = leases.start(CSM, job_id, _deliver(store, "w1")[0], "w1")
    assert claim is not None and leases.finish(claim, JobStatus.SUCCESS, {"text": "ok"})
    assert store.redis.hget(keys.job(CSM, job_id), "ends") == "1"
    with pytest.raises(Conflict):
        store.resubmit(store.find(job_id))  # only failed or timed-out jobs


def test_a_full_queue_refuses_new_jobs_and_keeps_the_old(
    settings_env: dict[str, str], redis_client: redis.Redis
) -> None:
    store = JobStore(redis_client, load_settings(max_queued=2))
    store.ensure_groups()
    first = [store.submit(CSM, CsmRequest(text="a"))[0] for _ in range(2)]
    with pytest.raises(TooManyRequests, match="queue is full") as refused:
        store.submit(CSM, CsmRequest(text="a"))
    assert refused.value.retry_after > 0
    assert [store.find(job_id).status for job_id in first] == [JobStatus.QUEUED] * 2
    assert store.redis.xlen(keys.queue(CSM)) == 2


def test_times_come_from_redis_not_from_a_skewed_host(
    store: JobStore, leases: Leases, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = time.time()
    monkeypatch.setattr(time, "time", lambda: real + 3600)  # this host's clock is an hour fast
    job_id, _ = store.submit(CSM, CsmRequest(text="a", complete_in=600))
    claim = leases.start(CSM, job_id, _deliver(store, "w1")[0], "w1")
    assert claim is not None  # an hour-fast host would have seen it as past complete_in
    job = claim.job
    assert abs(job.created_at - real) < 60 and abs((job.started_at or 0) - real) < 60
    assert job.deadline - job.created_at == pytest.approx(600)
    assert claim.run_seconds == pytest.approx(600 if job.max_time > 600 else job.max_time, abs=1)


def test_a_job_taken_and_started_in_one_script_is_the_same_claim(
    store: JobStore, leases: Leases, reader: Reader, redis_client: redis.Redis
) -> None:
    # the first job is past complete_in when taken: it ends there (timed_out, its entry
    # dropped) and the next one is started instead, in the same call
    late_id, _ = store.submit(CSM, CsmRequest(text="late"))
    redis_client.hset(keys.job(CSM, late_id), "deadline", 1)
    job_id, _ = store.submit(CSM, CsmRequest(text="on time"))
    delivery = reader.read((CSM,), "w1", 10, start=True)
    assert delivery is not None and delivery.job_id == job_id and delivery.started is not None
    claim = leases.start_delivery(delivery, "w1")
    assert claim is not None and claim.run == 1 and claim.attempt == 1
    job = store.find(job_id)
    assert job.status is JobStatus.RUNNING and job.worker == "w1" and job.run == 1
    late = store.find(late_id)
    assert late.status is JobStatus.TIMED_OUT and late.error_type == "timeout"
    # the start event went to the job's own event stream (named in the script, as keys.events)
    kinds = [fields["data"] for _id, fields in redis_client.xrange(keys.events(CSM, job_id))]
    assert any('"status":"running"' in data for data in kinds)
    assert _pending(store) == 1  # only the started job's entry is held
    assert leases.finish(claim, JobStatus.SUCCESS, {"text": "ok"}) and _pending(store) == 0
    # nothing waits any more: the same call answers None and starts nothing
    assert reader.read((CSM,), "w1", 10, start=True) is None
