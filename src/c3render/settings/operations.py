"""Settings for running the service in production: log format, reverse proxies.

A mixin of ``Settings`` (kept apart so ``settings/__init__.py`` stays small); the fields
are read from the environment with the same ``C3_`` prefix as every other setting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class OperationsSettings(BaseModel):
    """How the processes log and which proxy headers the API believes."""

    log_format: Literal["text", "json"] = "text"
    """``json``: the API, the workers and the engine processes log one JSON object per line
    (time, level, logger, message, process, and ``job_id`` on the lines of a job)."""
    trust_proxy: int = Field(0, ge=0, le=10)
    """How many reverse proxies in front of the API set ``X-Forwarded-For/-Proto/-Host/
    -Port/-Prefix``; 0 (default) ignores those headers (anyone could send them)."""
