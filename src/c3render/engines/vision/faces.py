"""Faces with mediapipe: detection boxes, head pose and expression cues from the face mesh.

Head pose and expressions are read from landmark geometry (MediaPipe face mesh indices),
not from a trained classifier: they are cues, reported with the ratios they came from.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from c3render.images import downscale

FACE_SIDE = 640
"""Faces are looked for on a copy with this longest side; boxes are scaled back."""
CROP_SIDE = 384
MESH_FACES = 10
"""Head pose and expression are read for at most this many faces (the largest)."""

# Face mesh landmark indices (image left = the subject's right).
EYE_OUTER_R, EYE_INNER_R, EYE_TOP_R, EYE_BOTTOM_R = 33, 133, 159, 145
EYE_OUTER_L, EYE_INNER_L, EYE_TOP_L, EYE_BOTTOM_L = 263, 362, 386, 374
NOSE_TIP, LIP_TOP, LIP_BOTTOM, MOUTH_R, MOUTH_L = 1, 13, 14, 61, 291

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
        import mediapipe as mp

        self._detector = mp.solutions.face_detection.FaceDetection(
            model_selection=1, min_detection_confidence=0.5
        )
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=0.5,
        )

    def find(self, rgb: np.ndarray) -> list[dict[str, Any]]:
        """Faces in an RGB image, largest first, boxes in the image's own pixels.

        The mesh runs on a crop around each detected face (its own detector misses small
        faces in wide pictures); with no detection it gets the whole picture as a fallback.
        """
        small, scale = downscale(rgb, FACE_SIDE)
        small = np.ascontiguousarray(small)
        height, width = small.shape[:2]
        faces = [_detection(d, width, height, scale)
                 for d in self._detector.process(small).detections or []]
        faces.sort(key=lambda face: face["box"][2] * face["box"][3], reverse=True)
        for face in faces[:MESH_FACES]:
            points = self._mesh_in(rgb, _crop_around(face["box"], rgb.shape))
            if points is not None:
                face.update(head=head_pose(points), expression=expression(points))
        if not faces:
            for marks in self._mesh.process(small).multi_face_landmarks or []:
                _attach(faces, _pixels(marks, (0, 0, width, height)), scale)
        return faces

    def _mesh_in(self, rgb: np.ndarray, crop: tuple[int, int, int, int]) -> np.ndarray | None:
        """Mesh landmarks (original pixels) of the face in ``crop`` = (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = crop
        patch, patch_scale = downscale(rgb[y0:y1, x0:x1], CROP_SIDE)
        found = self._mesh.process(np.ascontiguousarray(patch)).multi_face_landmarks
        if not found:
            return None
        points = _pixels(found[0], (0, 0, patch.shape[1], patch.shape[0])) / patch_scale
        points[:, 0] += x0
        points[:, 1] += y0
        return points


def _pixels(marks: Any, frame: tuple[int, int, int, int]) -> np.ndarray:
    """Normalised landmarks to (x, y, z) pixels of a frame (x0, y0, width, height)."""
    x0, y0, width, height = frame
    return np.array([(x0 + p.x * width, y0 + p.y * height, p.z * width) for p in marks.landmark])


def _crop_around(box: list[int], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """A square twice the face's size around it, inside the image."""
    x, y, w, h = box
    half = max(w, h)
    cx, cy = x + w / 2, y + h / 2
    x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
    return x0, y0, min(shape[1], int(cx + half)), min(shape[0], int(cy + half))


def _detection(detection: Any, width: int, height: int, scale: float) -> dict[str, Any]:
    box = detection.location_data.relative_bounding_box
    x, y = max(0.0, box.xmin * width), max(0.0, box.ymin * height)
    w = min(width, (box.xmin + box.width) * width) - x
    h = min(height, (box.ymin + box.height) * height) - y
    return {
        "box": [round(v / scale) for v in (x, y, w, h)],
        "score": round(float(detection.score[0]), 3),
    }


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
