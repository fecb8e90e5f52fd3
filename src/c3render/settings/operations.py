"""Settings for running the service in production: log format, reverse proxies, stopping runs.

A mixin of ``Settings`` (kept apart so ``settings/__init__.py`` stays small); the fields
are read from the environment with the same ``C3_`` prefix as every other setting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class OperationsSettings(BaseModel):
    """How the processes log, which proxy headers the API believes, how runs are stopped."""

    log_format: Literal["text", "json"] = "text"
    """``json``: the API, the workers and the engine processes log one JSON object per line
    (time, level, logger, message, process, and ``job_id`` on the lines of a job)."""
    trust_proxy: int = Field(0, ge=0, le=10)
    """How many reverse proxies in front of the API set ``X-Forwarded-For/-Proto/-Host/
    -Port/-Prefix``; 0 (default) ignores those headers (anyone could send them)."""
    stop_grace_seconds: float = Field(5.0, ge=0, le=120)
    """A cancelled, timed-out or taken-over run is asked to stop at its next progress report
    (the engine keeps its models loaded); after this many seconds its engine process is
    killed instead. 0: kill at once."""
