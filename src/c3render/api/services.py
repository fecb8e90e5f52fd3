"""The objects every request handler shares, kept on the Flask app as one extension."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import redis
from flask import current_app, request

from c3render.config import Settings

if TYPE_CHECKING:
    from c3render.jobstore import JobStore
    from c3render.storage import Storage

EXTENSION = "c3render"


@dataclass
class Services:
    """Settings, the pooled Redis client, the job store and result storage of one app."""

    settings: Settings
    redis: redis.Redis
    store: JobStore
    storage: Storage


def services() -> Services:
    """The services of the app handling the current request."""
    return current_app.extensions[EXTENSION]  # type: ignore[no-any-return]


def base_url() -> str:
    """The base of links made for this request: C3_PUBLIC_URL, else the URL it came in on."""
    public = services().settings.public_url
    return public.rstrip("/") if public else request.host_url.rstrip("/")
