"""The /portrait engines: an embedded CPU face rig, or a ComfyUI server (e.g. a SONIC workflow).

``create_engine(settings)`` picks by ``settings.portrait_engine`` ("embedded" or
"comfyui") and returns an engine that is not loaded yet.
"""

from __future__ import annotations

from c3render.engines.base import Engine
from c3render.engines.portrait.comfyui import ComfyUIPortraitEngine
from c3render.engines.portrait.embedded import EmbeddedPortraitEngine
from c3render.settings import Settings


def create_engine(settings: Settings) -> Engine:
    """Build the configured portrait engine; ``EngineUnavailable`` when ComfyUI is not set up."""
    if settings.portrait_engine == "comfyui":
        return ComfyUIPortraitEngine.from_settings(settings)
    return EmbeddedPortraitEngine(settings)
