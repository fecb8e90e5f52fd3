"""Connecting to Redis: one server, or a Redis Cluster (detected, or chosen by a setting).

Every script's keys share one hash tag (the job type), and no command spans slots, so the
same code runs on both; only the client differs.
"""

from __future__ import annotations

import logging
from typing import Any, Union

import redis
from redis.cluster import RedisCluster

from c3render.settings import Settings

log = logging.getLogger(__name__)

RedisClient = Union[redis.Redis, RedisCluster]
"""What the queue talks to: a single server's client or a cluster client."""


def is_cluster(url: str) -> bool:
    """True when the server at ``url`` is a node of a Redis Cluster (False if unreachable)."""
    probe = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return bool(probe.info("cluster").get("cluster_enabled"))
    except redis.RedisError:
        return False
    finally:
        probe.close()


def connect(settings: Settings, **options: Any) -> RedisClient:
    """A client for ``settings.redis_dsn``, with ``decode_responses`` on."""
    options.setdefault("decode_responses", True)
    url = settings.redis_dsn
    cluster = settings.redis_cluster == "yes" or (
        settings.redis_cluster == "auto" and is_cluster(url)
    )
    if cluster:
        options.pop("health_check_interval", None)
        log.info("Redis at %s is a cluster: using a cluster client", settings.redis_display)
        return RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)
