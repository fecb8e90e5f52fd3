"""Fair share between API keys and priorities: the order in which workers take waiting jobs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from c3render.api import create_app
from c3render.api.schemas import CsmRequest
from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.queue.leases import Leases
from c3render.queue.reading import Reader
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import JobStore
from c3render.settings import load_settings
from tests.support.service import service_env, wait_until, worker_process

CSM = JobType.CSM
SETTINGS = {"heartbeat_seconds": 0.01, "liveness_seconds": 0.02, "reclaim_idle_seconds": 0.05,
            "max_retries": 1, "retry_backoff_seconds": 0.05}


def _store(fair: bool = True) -> JobStore:
    settings = load_settings(fair_share=fair, **SETTINGS)
    store = JobStore(redis.Redis.from_url(settings.redis_dsn, decode_responses=True), settings)
    store.ensure_groups()
    return store


@pytest.fixture
def store(settings_env: dict[str, str], redis_client: redis.Redis) -> JobStore:
    """A store with fair share on (the default), on the flushed test Redis."""
    return _store()


def _reader(store: JobStore) -> Reader:
    return Reader(store.redis, store.settings, WorkerRegistry(store.redis))


def _submit(store: JobStore, owner: str, count: int = 1, priority: str = "normal") -> list[str]:
    request = CsmRequest(text="a", priority=priority)  # type: ignore[arg-type]
    return [store.submit(CSM, request, owner=owner)[0] for _ in range(count)]


def _owners_in_read_order(store: JobStore, count: int) -> list[str]:
    reader, order = _reader(store), []
    for _ in range(count):
        delivery = reader.read((CSM,), "w1", 10)
        assert delivery is not None
        order.append(store.find(delivery.job_id).owner or "")
    assert reader.read((CSM,), "w1", 10) is None  # nothing left, nothing read twice
    return order


def test_two_keys_interleave_however_many_one_has_queued(store: JobStore) -> None:
    _submit(store, "flood", 20)
    _submit(store, "single")
    _submit(store, "pair", 2)
    order = _owners_in_read_order(store, 23)
    assert set(order[:3]) == {"flood", "single", "pair"}  # one round: one job of each key
    assert set(order[3:5]) == {"flood", "pair"}
    assert order[5:] == ["flood"] * 18


def test_a_key_arriving_later_waits_at_most_one_round(store: JobStore) -> None:
    _submit(store, "flood", 30)
    reader = _reader(store)
    for _ in range(10):  # the flood is being worked off
        assert reader.read((CSM,), "w1", 10) is not None
    late = _submit(store, "late")[0]
    assert store.queue_position(store.find(late)) == 0
    delivery = reader.read((CSM,), "w2", 10)
    assert delivery is not None and delivery.job_id == late


def test_priorities_order_a_keys_jobs_high_normal_low(store: JobStore) -> None:
    low = _submit(store, "k", 1, "low")
    normal = _submit(store, "k", 2, "normal")
    high = _submit(store, "k", 1, "high")
    reader = _reader(store)
    taken = [reader.read((CSM,), "w1", 10) for _ in range(4)]
    assert [d.job_id for d in taken if d] == high + normal + low
    assert store.find(high[0]).priority == "high"


def test_a_high_priority_does_not_jump_another_keys_turn(store: JobStore) -> None:
    _submit(store, "a", 3, "low")
    reader = _reader(store)
    assert reader.read((CSM,), "w1", 10) is not None  # a was served: b is next
    _submit(store, "b", 2, "high")
    owners = []
    for _ in range(4):
        delivery = reader.read((CSM,), "w1", 10)
        assert delivery is not None
        owners.append(store.find(delivery.job_id).owner)
    assert owners == ["b", "a", "b", "a"]


def test_without_fair_share_one_fifo_by_priority(
    settings_env: dict[str, str], redis_client: redis.Redis
) -> None:
    store = _store(fair=False)
    _submit(store, "flood", 3)
    _submit(store, "single")
    _submit(store, "flood", 1, "high")
    order = _owners_in_read_order(store, 5)
    assert order == ["flood", "flood", "flood", "flood", "single"]


def test_positions_follow_the_rotation_and_a_cancel_leaves_it(store: JobStore) -> None:
    flood = _submit(store, "flood", 5)
    single = _submit(store, "single", 2)
    positions = [store.queue_position(store.find(job_id)) for job_id in flood + single]
    # rotation order: flood, single, flood, single, flood, flood, flood (or single first)
    assert sorted(positions) == list(range(7))  # type: ignore[type-var]
    assert positions[2:5] == [4, 5, 6] and store.queue_position(store.find(single[1])) in (2, 3)
    store.end(store.find(single[0]), JobStatus.CANCELLED, "no")
    assert store.queue_position(store.find(single[1])) in (0, 1)
    reader = _reader(store)
    taken = [reader.read((CSM,), "w1", 10) for _ in range(7)]
    ids = [d.job_id for d in taken if d]
    assert single[0] not in ids and sorted(ids) == sorted(flood + single[1:])


def test_take_several_at_once_in_fair_order(store: JobStore) -> None:
    _submit(store, "a", 3)
    _submit(store, "b", 3)
    taken = _reader(store).take(CSM, "w1", 4)
    owners = [store.find(d.job_id).owner for d in taken]
    assert len(taken) == 4 and owners.count("a") == 2 and owners.count("b") == 2
    pending = store.redis.xpending(keys.queue(CSM), keys.GROUP)
    assert pending["pending"] == 4 and pending["consumers"] == [{"name": "w1", "pending": 4}]


def test_a_due_retry_returns_to_its_key_at_its_priority(store: JobStore) -> None:
    leases, reader = Leases(store.redis, store.settings), _reader(store)
    job_id = _submit(store, "a", 1, "high")[0]
    delivery = reader.read((CSM,), "w1", 10)
    assert delivery is not None
    claim = leases.start_delivery(delivery, "w1")
    assert claim is not None and leases.retry_later(claim, "busy", "transient") == "retry"
    later = _submit(store, "a", 1)
    time.sleep(0.1)
    reader.promote_due(CSM)
    assert [reader.read((CSM,), "w1", 10).job_id for _ in range(2)] == [job_id, *later]  # type: ignore[union-attr]


def test_jobs_queued_before_fair_share_are_still_taken(store: JobStore) -> None:
    """An entry the old submit script added (no ready member) is made ready on start-up."""
    job_id = _submit(store, "new")[0]
    legacy = "legacy-0000-4000-8000-000000000000"
    store.redis.hset(keys.job(CSM, legacy), mapping={
        "id": legacy, "type": "csm", "status": "queued", "params": "{}", "created_at": time.time(),
        "deadline": time.time() + 600, "max_time": 60, "attempts": 0, "run": 0})
    entry = store.redis.xadd(keys.queue(CSM), {"id": legacy})
    store.redis.hset(keys.job(CSM, legacy), "entry", entry)
    store.ensure_groups()
    store.ensure_groups()  # idempotent
    taken = [_reader(store).read((CSM,), "w1", 10) for _ in range(3)]
    assert sorted(d.job_id for d in taken if d) == sorted([job_id, legacy])


def test_a_worker_waiting_for_work_wakes_for_a_new_job(store: JobStore) -> None:
    reader = _reader(store)
    started = time.monotonic()
    assert reader.read((CSM,), "w1", 200) is None
    assert time.monotonic() - started >= 0.15  # it blocked, it did not spin


# --- through real workers --------------------------------------------------------------------

KEYS = ["flood:key-flood-0123456789", "single:key-single-0123456789"]


@pytest.fixture
def keyed(settings_env: dict[str, str], redis_client: redis.Redis) -> FlaskClient:
    """The API with two named keys."""
    return create_app(load_settings(api_keys=KEYS)).test_client()


def _post(api: FlaskClient, key: str, text: str, **extra: object) -> str:
    answer = api.post("/csm", json={"text": text, **extra}, headers={"X-C3-RENDER-KEY": key})
    assert answer.status_code == 200, answer.get_json()
    return str(answer.get_json()["id"])


def _lines(data_dir: str) -> list[str]:
    log = Path(data_dir) / "runs.log"
    return log.read_text().splitlines() if log.exists() else []


def _starts(data_dir: str) -> list[str]:
    return [line.split()[1] for line in _lines(data_dir) if line.startswith("start ")]


def test_one_key_uses_every_worker_and_another_keys_job_goes_next(
    keyed: FlaskClient, worker_env: dict[str, str], settings_env: dict[str, str], tmp_path: Path
) -> None:
    # The first two (the two slots' jobs) end 6 s apart: a slot frees up alone, well after the
    # other key's job is submitted. (With equal lengths both slots freed in the same
    # millisecond and one took the next flood job: the start lines' order was a race.)
    scripts = ["sleep:6", "sleep:12"] + ["sleep:1"] * 6
    flood = [_post(keyed, "key-flood-0123456789", script) for script in scripts]
    env = service_env(worker_env, C3_API_KEYS=",".join(KEYS))
    data = settings_env["C3_DATA_DIR"]
    with worker_process(env, types="csm", concurrency=2, log=tmp_path / "w.log"):
        wait_until(lambda: len(_starts(data)) >= 2, 30)
        single = _post(keyed, "key-single-0123456789", "sleep:0.1", priority="low")
        doc = keyed.get(f"/status/{flood[0]}", headers={"X-C3-RENDER-KEY": "key-flood-0123456789"})
        assert doc.get_json()["priority"] == "normal"
        wait_until(lambda: single in _starts(data), 30)
        lines, starts = _lines(data), _starts(data)
    # both slots ran the flooding key's jobs at once; the other key's job went next
    assert [line.split()[0] for line in lines[:2]] == ["start", "start"]
    assert set(starts[:2]) <= set(flood) and starts.index(single) == 2


def test_a_queued_job_that_ends_leaves_the_ready_jobs(store: JobStore, redis_client: redis.Redis) -> None:
    cancelled = store.submit(JobType.CSM, CsmRequest(text="a"), owner="alice")[0]
    expired = store.submit(JobType.CSM, CsmRequest(text="a", complete_in=60), owner="alice")[0]
    assert redis_client.zcard(keys.ready(JobType.CSM)) == 2
    store.end(store.find(cancelled), JobStatus.CANCELLED, "")
    assert redis_client.zcard(keys.ready(JobType.CSM)) == 1
    redis_client.hset(keys.job(JobType.CSM, expired), "deadline", 1)  # past its complete_in
    assert store.chains.expire(JobType.CSM, expired)  # the path of chained parents that expire
    assert redis_client.zcard(keys.ready(JobType.CSM)) == 0
