"""Webhook delivery with real local receivers and the real Redis."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from c3render.delivery.signing import signing_secret
from c3render.delivery.webhooks import WebhookDispatcher
from c3render.job import JobStatus, JobType
from c3render.queue import keys
from c3render.settings import Settings, load_settings
from c3render.storage import create_storage
from tests.support.http_peers import Peer, PeerHandler, hang, http_peer, respond


@pytest.fixture
def peer() -> Iterator[Peer]:
    with http_peer() as server:
        server.route("/ok", lambda h: respond(h, 204), method="POST")
        server.route("/fail", lambda h: respond(h, 500, b"oops"), method="POST")
        server.route("/hang", hang, method="POST")
        yield server


def flaky(failures: int) -> Any:
    """A route answering 500 ``failures`` times, then 200."""
    count = [0]

    def route(handler: PeerHandler) -> None:
        count[0] += 1
        respond(handler, 500 if count[0] <= failures else 200, b"{}")

    return route


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {"webhook_backoff_seconds": 0.05, "webhook_timeout": 30}
    values.update(overrides)
    return load_settings(**values)


def add_job(client: redis.Redis, job_id: str, notify_url: str,
            status: JobStatus = JobStatus.SUCCESS) -> None:
    """Write a finished job and its outbox entry the way the job store does."""
    now = time.time()
    client.hset(keys.job(JobType.WHISPER, job_id), mapping={
        "id": job_id, "type": "whisper", "status": status.value, "params": "{}",
        "created_at": now, "deadline": now + 3600, "max_time": 1200,
        "notify_url": notify_url, "result": json.dumps({"text": "hello world"}),
        "error": "engine broke" if status is JobStatus.FAILED else "",
    })
    client.zadd(keys.outbox(JobType.WHISPER), {job_id: now})


def webhook_state(client: redis.Redis, job_id: str) -> dict[str, Any]:
    return json.loads(client.hget(keys.job(JobType.WHISPER, job_id), "webhook") or "{}")


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does (Standard Webhooks): recompute and compare any v1 signature."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    content = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    given = [s.split(",", 1)[1] for s in headers["webhook-signature"].split() if s.startswith("v1,")]
    return any(hmac.compare_digest(expected, g) for g in given)


def deliver_until(dispatcher: WebhookDispatcher, done: Any, limit: int = 200) -> None:
    for _ in range(limit):
        dispatcher.deliver_due()
        if done():
            return
        time.sleep(0.05)
    raise AssertionError("deliveries did not finish")


def test_retries_until_delivered_with_a_stable_id_and_valid_signature(
    settings_env: dict[str, str], redis_client: redis.Redis, peer: Peer,
) -> None:
    settings = make_settings()
    peer.route("/flaky", flaky(3), method="POST")
    add_job(redis_client, "job-1", peer.url("/flaky"))
    dispatcher = WebhookDispatcher(settings, redis_client, create_storage(settings))
    deliver_until(dispatcher, lambda: webhook_state(redis_client, "job-1").get("delivered"))

    seen = peer.requests_to("/flaky")
    assert len(seen) == 4
    assert {s.headers["webhook-id"] for s in seen} == {"job-1.success"}
    secret = signing_secret(settings)
    assert all(verify(secret, s.headers, s.body) for s in seen)
    assert not verify(signing_secret(make_settings(flask_secret_key="other")),
                      seen[0].headers, seen[0].body)
    assert json.loads(seen[-1].body) == {"id": "job-1", "status": "success", "text": "hello world"}
    state = webhook_state(redis_client, "job-1")
    assert state["attempts"] == 4 and state["last_status"] == 200 and state["last_error"] is None
    assert state["id"] == "job-1.success" and state["next_attempt_at"] is None
    assert redis_client.zcard(keys.outbox(JobType.WHISPER)) == 0


def test_configured_whsec_secret_signs(settings_env: dict[str, str],
                                      redis_client: redis.Redis, peer: Peer) -> None:
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    settings = make_settings(webhook_secret=secret)
    add_job(redis_client, "job-2", peer.url("/ok"), JobStatus.FAILED)
    WebhookDispatcher(settings, redis_client, create_storage(settings)).deliver_due()
    (seen,) = peer.requests_to("/ok")
    assert verify(secret, seen.headers, seen.body)
    assert json.loads(seen.body) == {"id": "job-2", "status": "failed", "error": "engine broke"}


def test_gives_up_after_max_attempts(settings_env: dict[str, str],
                                     redis_client: redis.Redis, peer: Peer) -> None:
    settings = make_settings(webhook_max_attempts=3)
    add_job(redis_client, "job-3", peer.url("/fail"))
    dispatcher = WebhookDispatcher(settings, redis_client, create_storage(settings))
    deliver_until(dispatcher, lambda: redis_client.zcard(keys.outbox(JobType.WHISPER)) == 0)
    assert len(peer.requests_to("/fail")) == 3
    state = webhook_state(redis_client, "job-3")
    assert state["delivered"] is False and state["attempts"] == 3
    assert state["last_status"] == 500 and state["last_error"] == "notify_url answered 500"


def test_refused_notify_url_is_not_retried(settings_env: dict[str, str],
                                           redis_client: redis.Redis) -> None:
    settings = make_settings()
    add_job(redis_client, "job-4", "http://10.0.0.1/hook")
    assert WebhookDispatcher(settings, redis_client, create_storage(settings)).deliver_due() == 1
    state = webhook_state(redis_client, "job-4")
    assert state["attempts"] == 1 and state["delivered"] is False
    assert state["last_error"] == "notify_url points to a private address"  # no address
    assert redis_client.zcard(keys.outbox(JobType.WHISPER)) == 0


def test_a_claimed_entry_is_not_delivered_twice(settings_env: dict[str, str],
                                                redis_client: redis.Redis, peer: Peer) -> None:
    settings = make_settings()
    add_job(redis_client, "job-5", peer.url("/ok"))
    first = WebhookDispatcher(settings, redis_client, create_storage(settings))
    second = WebhookDispatcher(settings, redis_client, create_storage(settings))
    now = time.time()
    assert first._claim(keys=[keys.outbox(JobType.WHISPER)], args=[now, now + 60, 10]) == ["job-5"]
    assert second.deliver_due() == 0
    assert peer.requests_to("/ok") == []


def test_a_receiver_that_never_answers_does_not_delay_others(
    settings_env: dict[str, str], redis_client: redis.Redis, peer: Peer,
) -> None:
    settings = make_settings()
    add_job(redis_client, "slow", peer.url("/hang"))
    arrived = threading.Event()

    def ok(handler: PeerHandler) -> None:
        arrived.set()
        respond(handler, 200)

    peer.route("/fast", ok, method="POST")
    stop = threading.Event()
    dispatcher = WebhookDispatcher(settings, redis_client, create_storage(settings))
    loop = threading.Thread(target=dispatcher.run, args=(stop,), daemon=True)
    loop.start()
    try:
        for _ in range(100):  # the hung delivery is in flight first
            if peer.requests_to("/hang"):
                break
            time.sleep(0.05)
        add_job(redis_client, "fast", peer.url("/fast"))
        assert arrived.wait(20)
        assert not peer.released.is_set()  # the slow receiver is still hanging
        for _ in range(100):
            if webhook_state(redis_client, "fast").get("delivered"):
                break
            time.sleep(0.05)
        assert webhook_state(redis_client, "fast")["delivered"] is True
        assert webhook_state(redis_client, "slow") == {}
    finally:
        peer.released.set()
        stop.set()
        loop.join(40)
    assert not loop.is_alive()
