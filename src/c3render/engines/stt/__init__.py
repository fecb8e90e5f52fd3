"""Speech to text (/whisper): faster-whisper on embedded or operator-supplied models."""

from __future__ import annotations

import importlib.util

from c3render.engines.stt.batch import BatchWhisperEngine
from c3render.engines.stt.engine import WhisperEngine
from c3render.errors import EngineUnavailable
from c3render.settings import Settings

__all__ = ["BatchWhisperEngine", "WhisperEngine", "create_engine"]


def create_engine(settings: Settings) -> BatchWhisperEngine:
    """Build the /whisper engine (models load in ``load()``), or say what to install."""
    if importlib.util.find_spec("faster_whisper") is None:
        raise EngineUnavailable(
            "speech to text needs faster-whisper: pip install -r requirements/engines.txt"
        )
    return BatchWhisperEngine(settings)
