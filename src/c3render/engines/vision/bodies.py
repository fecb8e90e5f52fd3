"""People and hands with mediapipe: body pose (one person) and hand landmarks."""

from __future__ import annotations

from typing import Any

import numpy as np

from c3render.media.images import downscale

BODY_SIDE = 640
VISIBLE = 0.5

# Pose landmark indices.
_SHOULDERS, _HIPS, _KNEES, _ANKLES, _WRISTS = (11, 12), (23, 24), (25, 26), (27, 28), (15, 16)


def body_summary(visibility: np.ndarray, xy: np.ndarray) -> dict[str, Any]:
    """How much of the body shows and whether hands are raised, from pose landmarks.

    ``visibility`` has the 33 landmark visibilities, ``xy`` their (x, y) pixels.
    """
    def seen(pair: tuple[int, int]) -> bool:
        return bool(visibility[list(pair)].max() >= VISIBLE)

    if seen(_ANKLES) and seen(_KNEES):
        framing = "full body"
    elif seen(_HIPS):
        framing = "upper body"
    elif seen(_SHOULDERS):
        framing = "head and shoulders"
    else:
        framing = "head"
    raised = [
        bool(visibility[w] >= VISIBLE and visibility[s] >= VISIBLE and xy[w, 1] < xy[s, 1])
        for w, s in zip(_WRISTS, _SHOULDERS)
    ]
    return {"framing": framing, "hands_raised": sum(raised)}


class BodyFinder:
    """MediaPipe pose (model_complexity=1: the only one bundled) and hands."""

    def __init__(self, max_hands: int = 4) -> None:
        import mediapipe as mp

        self._pose = mp.solutions.pose.Pose(
            static_image_mode=True, model_complexity=1, min_detection_confidence=0.5
        )
        self._hands = mp.solutions.hands.Hands(
            static_image_mode=True, max_num_hands=max_hands, model_complexity=1,
            min_detection_confidence=0.5,
        )

    def pose(self, rgb: np.ndarray) -> dict[str, Any] | None:
        """The most prominent person's box and body summary, or None."""
        small, scale = downscale(rgb, BODY_SIDE)
        height, width = small.shape[:2]
        result = self._pose.process(np.ascontiguousarray(small))
        if result.pose_landmarks is None:
            return None
        marks = result.pose_landmarks.landmark
        visibility = np.array([m.visibility for m in marks])
        xy = np.array([(m.x * width, m.y * height) for m in marks])
        shown = xy[visibility >= VISIBLE]
        if len(shown) == 0:
            return None
        low = np.clip(shown.min(axis=0), 0, [width, height]) / scale
        high = np.clip(shown.max(axis=0), 0, [width, height]) / scale
        return {
            "box": [round(v) for v in (*low, *(high - low))],
            "visible_landmarks": int(len(shown)),
            **body_summary(visibility, xy),
        }

    def hands(self, rgb: np.ndarray) -> list[dict[str, Any]]:
        """Hands: box in original pixels, which hand (as the model labels it) and its score."""
        small, scale = downscale(rgb, BODY_SIDE)
        height, width = small.shape[:2]
        result = self._hands.process(np.ascontiguousarray(small))
        found = []
        for marks, label in zip(result.multi_hand_landmarks or [], result.multi_handedness or []):
            xy = np.array([(m.x * width, m.y * height) for m in marks.landmark])
            low = np.clip(xy.min(axis=0), 0, [width, height]) / scale
            high = np.clip(xy.max(axis=0), 0, [width, height]) / scale
            category = label.classification[0]
            found.append({
                "box": [round(v) for v in (*low, *(high - low))],
                "handedness": category.label.lower(),
                "score": round(float(category.score), 3),
            })
        return found
