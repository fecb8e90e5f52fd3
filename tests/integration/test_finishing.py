"""Ending a run and starting the next job in one round trip, against a real Redis."""

from __future__ import annotations

import threading

import pytest
import redis

from c3render.api.schemas import CsmRequest
from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.queue.leases import Claim, Leases
from c3render.queue.reading import Reader
from c3render.queue.scripts import ScriptCall, together
from c3render.queue.store import JobStore
from c3render.settings import load_settings
from c3render.storage import create_storage
from c3render.worker.context import SlotContext
from c3render.worker.endings import RunEnds
from c3render.worker.run_log import RunLog

CSM = JobType.CSM


@pytest.fixture
def store(settings_env: dict[str, str], redis_client: redis.Redis) -> JobStore:
    """A store on the flushed test Redis."""
    store = JobStore(redis_client, load_settings())
    store.ensure_groups()
    return store


def _started(store: JobStore, leases: Leases, reader: Reader, text: str) -> Claim:
    store.submit(CSM, CsmRequest(text=text))
    delivery = reader.read((CSM,), "w1", 10, start=True)
    assert delivery is not None
    claim = leases.start_delivery(delivery, "w1")
    assert claim is not None
    return claim


def _end_events(store: JobStore, job_id: str) -> list[str]:
    return [fields["data"] for _id, fields in store.redis.xrange(keys.events(CSM, job_id))
            if '"status":"success"' in fields["data"]]


def test_finishing_the_same_run_again_is_recorded_once(
    store: JobStore, leases: Leases, reader: Reader
) -> None:
    # the reply of a finish can be lost with the connection after Redis ran it: finishing
    # again must not read as "superseded" (that would delete the winning run's files)
    claim = _started(store, leases, reader, "a")
    assert leases.finish(claim, JobStatus.SUCCESS, {"text": "x"})
    assert leases.finish(claim, JobStatus.SUCCESS, {"text": "x"})
    assert not leases.finish(claim, JobStatus.FAILED, error="late")  # another outcome: refused
    assert store.find(claim.job.id).status is JobStatus.SUCCESS
    assert len(_end_events(store, claim.job.id)) == 1
    assert store.redis.hget(keys.stats(CSM), "ended:success") == "1"


def test_a_finish_takes_and_starts_the_next_job_in_the_same_round_trip(
    store: JobStore, leases: Leases, reader: Reader
) -> None:
    claim = _started(store, leases, reader, "first")
    next_id, _ = store.submit(CSM, CsmRequest(text="second"))
    call = leases.finish_call(claim, JobStatus.SUCCESS, {"text": "ok"})
    reply, taken = reader.finish_then_take(call, (CSM,), "w1")
    assert leases.finished(claim, reply)
    assert store.find(claim.job.id).status is JobStatus.SUCCESS
    assert taken is not None and taken.job_id == next_id and taken.started is not None
    second = leases.start_delivery(taken, "w1")
    assert second is not None and second.run == 1
    assert store.find(next_id).status is JobStatus.RUNNING
    pending = store.redis.xpending_range(keys.queue(CSM), keys.GROUP, "-", "+", 10)
    assert [item["message_id"] for item in pending] == [taken.entry]  # the first is acked
    # nothing waits: the finish alone is done, nothing is started
    reply, taken = reader.finish_then_take(
        leases.finish_call(second, JobStatus.SUCCESS, {"text": "ok"}), (CSM,), "w1")
    assert leases.finished(second, reply) and taken is None


def test_a_superseded_finish_still_takes_the_next_job(
    store: JobStore, leases: Leases, reader: Reader
) -> None:
    claim = _started(store, leases, reader, "cancelled meanwhile")
    store.end(store.find(claim.job.id), JobStatus.CANCELLED, "cancelled by its owner")
    next_id, _ = store.submit(CSM, CsmRequest(text="next"))
    reply, taken = reader.finish_then_take(
        leases.finish_call(claim, JobStatus.SUCCESS, {"text": "late"}), (CSM,), "w1")
    assert not leases.finished(claim, reply)
    assert store.find(claim.job.id).status is JobStatus.CANCELLED
    assert taken is not None and taken.job_id == next_id


def test_scripts_run_together_after_redis_forgot_them(store: JobStore, leases: Leases,
                                                      reader: Reader) -> None:
    claim = _started(store, leases, reader, "a")
    store.redis.script_flush()  # a restarted Redis: no script is known any more
    failing = ScriptCall(store.redis.register_script("return redis.error_reply('boom')"), [])
    replies = together(store.redis, [leases.finish_call(claim, JobStatus.SUCCESS, {}), failing])
    assert replies[0] == 1 and store.find(claim.job.id).status is JobStatus.SUCCESS
    assert isinstance(replies[1], redis.ResponseError)  # a failing call gives its error


def test_a_job_taken_with_the_last_finish_goes_back_when_the_worker_stops(
    store: JobStore, leases: Leases, reader: Reader
) -> None:
    settings = store.settings
    context = SlotContext(settings, "w1", (CSM,), reader, leases, create_storage(settings),
                          threading.Event(), lambda: False, lambda claims: False)
    ends = RunEnds(context)
    claim = _started(store, leases, reader, "first")
    next_id, _ = store.submit(CSM, CsmRequest(text="second"))
    later_id, _ = store.submit(CSM, CsmRequest(text="third"))
    ends.finish(claim, RunLog(leases), JobStatus.SUCCESS, {"text": "ok"}, take_next=True)
    assert ends.next is not None and ends.next.job_id == next_id
    ends.give_back_next()  # the worker stops before running it
    assert ends.pop_next() is None
    job = store.find(next_id)
    assert job.status is JobStatus.QUEUED and job.attempts == 0 and job.lost == 0
    taken = reader.take_over(CSM, "w2")  # the next worker starts it before the newer job
    assert taken is not None and taken.job_id == next_id
    assert store.find(later_id).status is JobStatus.QUEUED
