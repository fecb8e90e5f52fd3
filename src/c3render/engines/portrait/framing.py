"""Finding the face to animate, framing it, and the person mask (mediapipe).

Landmark indices are those of ``engines/face_mesh.py``. All coordinates here are pixels
``(x, y)`` in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from c3render.engines.face_mesh import CHIN, FOREHEAD, FaceMesh, area
from c3render.errors import InputError
from c3render.media.images import downscale

#: Detection runs on a copy whose longer side is at most this many pixels.
DETECT_MAX_SIDE = 1280


@dataclass
class FoundFace:
    """The largest face of an image: its landmarks (x, y pixels) and how many faces were seen."""

    landmarks: np.ndarray
    faces: int


class FaceTools:
    """Face mesh and selfie segmentation graphs, created once and reused for every job."""

    def __init__(self, max_faces: int = 5) -> None:
        import mediapipe as mp

        self._mesh = FaceMesh(max_faces=max_faces)
        self._segmenter = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def find_face(self, image: np.ndarray) -> FoundFace:
        """Landmarks of the largest face in an RGB image; ``InputError`` when there is none."""
        small, scale = downscale(image, DETECT_MAX_SIDE)
        small = np.ascontiguousarray(small)
        boxes = self._mesh.boxes(small)
        if boxes:
            largest_box = max(boxes, key=lambda box: box.width * box.height)
            faces = self._mesh.landmarks_around(small, largest_box)
        else:
            faces = self._mesh.landmarks(small)
        if not faces:
            raise InputError("no face found in image_url")
        largest = max(faces, key=area)
        return FoundFace(landmarks=largest[:, :2] / scale, faces=max(len(boxes), len(faces)))

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Person mask in 0..1 (float32, same height and width as ``image``)."""
        mask = self._segmenter.process(image).segmentation_mask
        return np.clip(mask, 0.0, 1.0).astype(np.float32)

    def close(self) -> None:
        """Release the mediapipe graphs."""
        self._mesh.close()
        self._segmenter.close()


def crop_matrix(landmarks: np.ndarray, image_shape: tuple[int, ...], size: int) -> np.ndarray:
    """The 2×3 affine matrix that maps the image to a ``size``² head-and-shoulders square.

    The square is about three face heights wide, centred on the face and lowered a little
    so the shoulders show; it is kept inside the image when the image is large enough.
    """
    face_height = float(np.linalg.norm(landmarks[CHIN] - landmarks[FOREHEAD]))
    center = (landmarks.max(axis=0) + landmarks.min(axis=0)) / 2
    side = min(3.0 * face_height, float(max(image_shape[:2])))
    left = center[0] - side / 2
    top = center[1] - side / 2 + 0.3 * face_height
    height, width = image_shape[:2]
    left = _fit(left, side, width)
    top = _fit(top, side, height)
    scale = size / side
    return np.array([[scale, 0.0, -left * scale], [0.0, scale, -top * scale]], dtype=np.float32)


def _fit(start: float, side: float, limit: int) -> float:
    if side >= limit:
        return (limit - side) / 2
    return min(max(start, 0.0), limit - side)


def crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Apply ``crop_matrix`` to an RGB image (edges replicated where the square leaves it)."""
    interpolation = cv2.INTER_AREA if matrix[0, 0] < 1 else cv2.INTER_CUBIC
    return cv2.warpAffine(
        image, matrix, (size, size), flags=interpolation, borderMode=cv2.BORDER_REPLICATE
    )


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map pixel points through a 2×3 affine matrix."""
    return (points @ matrix[:, :2].T + matrix[:, 2]).astype(np.float32)
