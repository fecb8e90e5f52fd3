"""Faces with mediapipe: detection boxes, head pose and expression cues from the face mesh.

Head pose and expressions are read from landmark geometry (the indices of
``engines/face_mesh.py``), not from a trained classifier: they are cues, reported with the
ratios they came from.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from c3render.engines.face_mesh import (
    EYE_BOTTOM_L,
    EYE_BOTTOM_R,
    EYE_INNER_L,
    EYE_INNER_R,
    EYE_OUTER_L,
    EYE_OUTER_R,
    EYE_TOP_L,
    EYE_TOP_R,
    LIP_BOTTOM,
    LIP_TOP,
    NOSE_TIP,
    FaceBox,
    FaceMesh,
)
from c3render.engines.face_mesh import MOUTH_LEFT as MOUTH_L
from c3render.engines.face_mesh import MOUTH_RIGHT as MOUTH_R
from c3render.media.images import downscale

FACE_SIDE = 640
"""Faces are looked for on a copy with this longest side; boxes are scaled back."""
MESH_FACES = 10
"""Head pose and expression are read for at most this many faces (the largest)."""

TURN_DEGREES = 20.0
TILT_DEGREES = 15.0
# A nose tip stands about half an eye-corner distance in front of the eyes.
NOSE_DEPTH = 0.5


def _rotate(points: np.ndarray, centre: np.ndarray, radians: float) -> np.ndarray:
    cos, sin = math.cos(radians), math.sin(radians)
    shifted = points - centre
    return np.stack([cos * shifted[:, 0] - sin * shifted[:, 1],
                     sin * shifted[:, 0] + cos * shifted[:, 1]], axis=1)


def upright_landmarks(points: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Landmarks rotated so the eyes are level, centred between the eyes and scaled so the
    eye corners are 1 apart; also the roll in degrees and the eye distance in pixels."""
    xy = points[:, :2]
    right, left = xy[EYE_OUTER_R], xy[EYE_OUTER_L]
    roll = math.atan2(left[1] - right[1], left[0] - right[0])
    distance = float(np.hypot(*(left - right)))
    level = _rotate(xy, (right + left) / 2.0, -roll) / max(distance, 1e-6)
    return level, math.degrees(roll), distance


def head_pose(points: np.ndarray) -> dict[str, Any]:
    """Yaw, roll, pitch cue and a plain description of where the head points."""
    level, roll, _ = upright_landmarks(points)
    nose = level[NOSE_TIP]
    yaw = math.degrees(math.atan(nose[0] / NOSE_DEPTH))
    mouth_y = (level[LIP_TOP][1] + level[LIP_BOTTOM][1]) / 2.0
    pitch_ratio = float(nose[1] / mouth_y) if mouth_y > 1e-6 else 0.6
    if yaw <= -TURN_DEGREES:
        facing = "turned to the left"
    elif yaw >= TURN_DEGREES:
        facing = "turned to the right"
    elif pitch_ratio < 0.42:
        facing = "looking up"
    elif pitch_ratio > 0.8:
        facing = "looking down"
    else:
        facing = "facing the camera"
    return {
        "yaw_degrees": round(yaw, 1),
        "roll_degrees": round(roll, 1),
        "pitch_ratio": round(pitch_ratio, 3),
        "facing": facing,
        "tilted": abs(roll) >= TILT_DEGREES,
        "note": "left/right are the image's left and right",
    }


def expression(points: np.ndarray) -> dict[str, Any]:
    """Mouth open, smiling and eyes closed, from landmark ratios."""
    level, _, _ = upright_landmarks(points)
    width = float(np.hypot(*(level[MOUTH_L] - level[MOUTH_R])))
    gap = float(level[LIP_BOTTOM][1] - level[LIP_TOP][1])
    centre_y = (level[LIP_TOP][1] + level[LIP_BOTTOM][1]) / 2.0
    corner_lift = float(centre_y - (level[MOUTH_L][1] + level[MOUTH_R][1]) / 2.0)
    eyes = [_eye_ratio(level, EYE_TOP_R, EYE_BOTTOM_R, EYE_OUTER_R, EYE_INNER_R),
            _eye_ratio(level, EYE_TOP_L, EYE_BOTTOM_L, EYE_OUTER_L, EYE_INNER_L)]
    mouth_open = gap / max(width, 1e-6)
    smile = corner_lift / max(width, 1e-6)
    return {
        "mouth_open": mouth_open > 0.3,
        "smiling": smile > 0.07 or (width > 0.8 and smile > 0.02),
        "eyes_closed": max(eyes) < 0.12,
        "mouth_open_ratio": round(mouth_open, 3),
        "mouth_width_ratio": round(width, 3),
        "smile_ratio": round(smile, 3),
        "eye_open_ratio": round(float(np.mean(eyes)), 3),
    }


def _eye_ratio(level: np.ndarray, top: int, bottom: int, outer: int, inner: int) -> float:
    height = float(np.hypot(*(level[top] - level[bottom])))
    width = float(np.hypot(*(level[outer] - level[inner])))
    return height / max(width, 1e-6)


class FaceFinder:
    """MediaPipe face detection (full range, for count and boxes) plus the face mesh."""

    def __init__(self) -> None:
        self._mesh = FaceMesh(max_faces=1, detectors=(1,))

    def find(self, rgb: np.ndarray) -> list[dict[str, Any]]:
        """Faces in an RGB image, largest first, boxes in the image's own pixels.

        The mesh runs on a window around each detected face (its own detector misses small
        faces in wide pictures); with no detection it gets the whole picture as a fallback.
        """
        small, scale = downscale(rgb, FACE_SIDE)
        small = np.ascontiguousarray(small)
        boxes = sorted(self._mesh.boxes(small), key=lambda b: b.width * b.height, reverse=True)
        faces = [_face(box, small.shape, scale) for box in boxes]
        for face, box in zip(faces[:MESH_FACES], boxes):
            found = self._mesh.landmarks_around(rgb, _scaled(box, scale))
            if found:
                face.update(head=head_pose(found[0]), expression=expression(found[0]))
        if not faces:
            for points in self._mesh.landmarks(small):
                _attach(faces, points, scale)
        return faces


def _scaled(box: FaceBox, scale: float) -> FaceBox:
    """A box found on the downscaled copy, in the original image's pixels."""
    return FaceBox(box.x / scale, box.y / scale, box.width / scale, box.height / scale, box.score)


def _face(box: FaceBox, shape: tuple[int, ...], scale: float) -> dict[str, Any]:
    """The analysis entry of a detected face: its box (clipped to the image) and score."""
    height, width = shape[:2]
    x, y = max(0.0, box.x), max(0.0, box.y)
    w = min(width, box.x + box.width) - x
    h = min(height, box.y + box.height) - y
    return {"box": [round(v / scale) for v in (x, y, w, h)], "score": round(box.score, 3)}


def _attach(faces: list[dict[str, Any]], points: np.ndarray, scale: float) -> None:
    """Give a mesh to the detected face that contains its nose, or add it as a face."""
    nose = points[NOSE_TIP, :2] / scale
    for face in faces:
        x, y, w, h = face["box"]
        if "head" not in face and x <= nose[0] <= x + w and y <= nose[1] <= y + h:
            break
    else:
        low, high = points[:, :2].min(axis=0) / scale, points[:, :2].max(axis=0) / scale
        face = {"box": [round(v) for v in (*low, *(high - low))], "score": None}
        faces.append(face)
    face["head"] = head_pose(points)
    face["expression"] = expression(points)
