"""MediaPipe face detection and face mesh, shared by the portrait and the vision engines.

Landmark indices are MediaPipe face mesh indices (478 with ``refine_landmarks=True``);
"right" and "left" are the subject's, so the subject's right eye is on the image's left.
Landmarks come back as ``(478, 3)`` float32 pixels: x, y and a depth ``z`` on the scale
of x. mediapipe is imported when a ``FaceMesh`` is created, in the engine process only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

# --- landmarks -------------------------------------------------------------------------

NOSE_TIP, FOREHEAD, CHIN = 1, 10, 152
LIP_TOP, LIP_BOTTOM = 13, 14
LIP_CENTER = (LIP_TOP, LIP_BOTTOM)
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
MOUTH_CORNERS = (MOUTH_RIGHT, MOUTH_LEFT)
EYE_OUTER_R, EYE_INNER_R, EYE_TOP_R, EYE_BOTTOM_R = 33, 133, 159, 145
EYE_OUTER_L, EYE_INNER_L, EYE_TOP_L, EYE_BOTTOM_L = 263, 362, 386, 374
EYE_OUTER = (EYE_OUTER_R, EYE_OUTER_L)
UPPER_LIP_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_LIP_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
LOWER_LIP_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
#: (corner a, corner b, upper lid points, lower lid points) per eye.
EYES = (
    (33, 133, [246, 161, 160, 159, 158, 157, 173], [7, 163, 144, 145, 153, 154, 155]),
    (362, 263, [398, 384, 385, 386, 387, 388, 466], [382, 381, 380, 374, 373, 390, 249]),
)
FACE_OVAL = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
    377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
]

WINDOW = 384
"""Side of the square window the mesh runs on around a detected face."""


@dataclass(frozen=True)
class FaceBox:
    """A detected face: box in pixels (x, y, width, height) and the detector's score."""

    x: float
    y: float
    width: float
    height: float
    score: float


class FaceMesh:
    """Face detectors (full range first, then short range) and the face mesh, created once."""

    def __init__(
        self, max_faces: int, detectors: tuple[int, ...] = (1, 0), min_confidence: float = 0.5
    ) -> None:
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True,
            min_detection_confidence=min_confidence,
        )
        self._detectors = [
            mp.solutions.face_detection.FaceDetection(
                model_selection=model, min_detection_confidence=min_confidence
            )
            for model in detectors
        ]

    def boxes(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in an RGB image, from the first detector that finds any."""
        height, width = image.shape[:2]
        for detector in self._detectors:
            detections = detector.process(image).detections or []
            if detections:
                return [_box(d, width, height) for d in detections]
        return []

    def landmarks(self, image: np.ndarray) -> list[np.ndarray]:
        """Landmarks of every face the mesh finds in an RGB image (it misses small faces)."""
        height, width = image.shape[:2]
        return [to_pixels(face, width, height)
                for face in self._mesh.process(image).multi_face_landmarks or []]

    def landmarks_around(self, image: np.ndarray, box: FaceBox) -> list[np.ndarray]:
        """Landmarks found on a square window twice the size of ``box``, in image pixels.

        The window is resampled to ``WINDOW`` pixels (area averaging when shrinking), so
        the mesh sees every face at the size it works best at; edges are replicated.
        """
        side = 2.0 * max(box.width, box.height)
        scale = WINDOW / side
        left = box.x + box.width / 2 - side / 2
        top = box.y + box.height / 2 - side / 2
        matrix = np.array([[scale, 0, -left * scale], [0, scale, -top * scale]], dtype=np.float32)
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        window = cv2.warpAffine(image, matrix, (WINDOW, WINDOW), flags=interpolation,
                                borderMode=cv2.BORDER_REPLICATE)
        found = []
        for points in self.landmarks(window):
            points[:, :2] = (points[:, :2] - matrix[:, 2]) / scale
            points[:, 2] /= scale
            found.append(points)
        return found

    def close(self) -> None:
        """Release the mediapipe graphs."""
        self._mesh.close()
        for detector in self._detectors:
            detector.close()


def to_pixels(face: Any, width: int, height: int) -> np.ndarray:
    """MediaPipe's normalised landmarks of one face as (x, y, z) pixels of a width×height image."""
    return np.array([(p.x * width, p.y * height, p.z * width) for p in face.landmark],
                    dtype=np.float32)


def area(landmarks: np.ndarray) -> float:
    """Area of the landmarks' bounding box, to pick the largest face."""
    span = landmarks[:, :2].max(axis=0) - landmarks[:, :2].min(axis=0)
    return float(span[0] * span[1])


def _box(detection: Any, width: int, height: int) -> FaceBox:
    box = detection.location_data.relative_bounding_box
    return FaceBox(box.xmin * width, box.ymin * height, box.width * width,
                   box.height * height, float(detection.score[0]))
