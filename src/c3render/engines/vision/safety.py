"""A safety label from nudenet's bundled detector."""

from __future__ import annotations

from typing import Any

import numpy as np

from c3render.media.images import downscale

SAFETY_SIDE = 960
MIN_SCORE = 0.45
NUDITY = frozenset({
    "FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "FEMALE_BREAST_EXPOSED",
    "BUTTOCKS_EXPOSED", "ANUS_EXPOSED",
})
REVEALING = frozenset({
    "FEMALE_GENITALIA_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED",
    "ANUS_COVERED", "BELLY_EXPOSED",
})


def safety_label(detections: list[dict[str, Any]]) -> str:
    """``nudity``, ``revealing`` or ``safe`` from nudenet detections (class, score)."""
    classes = {d["class"] for d in detections if d["score"] >= MIN_SCORE}
    if classes & NUDITY:
        return "nudity"
    if classes & REVEALING:
        return "revealing"
    return "safe"


class SafetyChecker:
    """nudenet's NudeDetector (320n ONNX model bundled in the wheel)."""

    def __init__(self) -> None:
        from nudenet import NudeDetector

        self._detector = NudeDetector()

    def check(self, rgb: np.ndarray) -> dict[str, Any]:
        """``{"label", "detections": [{"class", "score", "box"}]}``, boxes in original pixels."""
        small, scale = downscale(rgb, SAFETY_SIDE)
        bgr = np.ascontiguousarray(small[..., ::-1])  # nudenet expects cv2's BGR order
        detections = [
            {
                "class": d["class"],
                "score": round(float(d["score"]), 3),
                "box": [round(v / scale) for v in d["box"]],
            }
            for d in self._detector.detect(bgr)
        ]
        return {"label": safety_label(detections), "detections": detections}
