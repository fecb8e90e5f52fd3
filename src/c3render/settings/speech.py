"""Settings of speech beyond the contract: named voices and streamed audio.

A mixin of ``Settings`` (kept apart so ``settings/__init__.py`` stays small); the fields
are read from the environment with the same ``C3_`` prefix as every other setting.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class SpeechSettings(BaseModel):
    """Where named voices live and how long streamed speech is kept."""

    voices_dir: Path | None = None
    """Named /csm voices: ``<name>.wav`` + ``<name>.txt`` each (``engines/tts/voices.py``)."""
    stream_wait_seconds: float = Field(300.0, gt=0, le=7200)
    """GET /stream of a queued job: how long to wait for it to start (then 504)."""
    stream_ttl_seconds: int = Field(600, ge=10)
    """How long a run's audio stays in Redis after its last piece."""
    stream_max_bytes: int = Field(32 * 1024 * 1024, ge=0)
    """PCM bytes one run may keep in Redis (0: no streaming)."""
