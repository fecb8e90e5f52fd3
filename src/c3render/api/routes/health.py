"""GET / — a small health document: Redis reachability, queue depths, live workers."""

from __future__ import annotations

import redis
from flask import Blueprint, Response, jsonify

from c3render import __version__
from c3render.api.services import services

health_bp = Blueprint("health", __name__)


@health_bp.get("/")
def health() -> tuple[Response, int]:
    """Answer 200 when Redis is reachable, 503 otherwise; never needs an API key."""
    store = services().store
    doc: dict[str, object] = {"service": "c3-render", "version": __version__}
    try:
        store.redis.ping()
        workers = services().workers.live_workers()
        doc.update(
            status="ok",
            redis="ok",
            queues=store.queue_depths(),
            workers=[
                {name: worker.get(name) for name in ("id", "host", "types", "running")}
                for worker in workers
            ],
        )
        return jsonify(doc), 200
    except redis.RedisError as exc:
        doc.update(status="degraded", redis=f"unreachable: {exc}")
        return jsonify(doc), 503


health.public = True  # type: ignore[attr-defined]
