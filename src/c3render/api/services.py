"""The objects every request handler shares, kept on the Flask app as one extension."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request

from c3render.queue.connection import RedisClient
from c3render.queue.quotas import Quotas
from c3render.queue.registry import WorkerRegistry
from c3render.queue.store import JobStore
from c3render.settings import Settings
from c3render.storage import Storage

EXTENSION = "c3render"


@dataclass
class Services:
    """Settings, the pooled Redis client, the job store, the worker registry, storage and
    the per-key limits."""

    settings: Settings
    redis: RedisClient
    store: JobStore
    workers: WorkerRegistry
    storage: Storage
    quotas: Quotas


def services() -> Services:
    """The services of the app handling the current request."""
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def base_url() -> str:
    """The base of links made for this request: C3_PUBLIC_URL, else the URL it came in on
    (with the path prefix a trusted proxy reported, ``X-Forwarded-Prefix``)."""
    return services().settings.link_base(request.url_root)
