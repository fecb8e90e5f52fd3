"""Face finding, framing and person segmentation with mediapipe's legacy solutions.

Landmarks are mediapipe face mesh indices (478 with ``refine_landmarks=True``). All
coordinates here are pixels ``(x, y)`` in float32.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from c3render.errors import InputError
from c3render.images import downscale

#: Detection runs on a copy whose longer side is at most this many pixels.
DETECT_MAX_SIDE = 1280

UPPER_LIP_INNER = [78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308]
LOWER_LIP_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308]
LOWER_LIP_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291]
MOUTH_CORNERS = (61, 291)
LIP_CENTER = (13, 14)
EYE_OUTER = (33, 263)
#: (corner a, corner b, upper lid points, lower lid points) per eye.
EYES = (
    (33, 133, [246, 161, 160, 159, 158, 157, 173], [7, 163, 144, 145, 153, 154, 155]),
    (362, 263, [398, 384, 385, 386, 387, 388, 466], [382, 381, 380, 374, 373, 390, 249]),
)
FOREHEAD, CHIN = 10, 152
FACE_OVAL = [
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400,
    377, 152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
]


@dataclass
class FoundFace:
    """The largest face of an image: its landmarks and how many faces were seen."""

    landmarks: np.ndarray
    faces: int


class FaceTools:
    """Face mesh and selfie segmentation graphs, created once and reused for every job."""

    def __init__(self, max_faces: int = 5) -> None:
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True
        )
        detection = mp.solutions.face_detection.FaceDetection
        self._detectors = [
            detection(model_selection=1, min_detection_confidence=0.5),
            detection(model_selection=0, min_detection_confidence=0.5),
        ]
        self._segmenter = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def find_face(self, image: np.ndarray) -> FoundFace:
        """Landmarks of the largest face in an RGB image; ``InputError`` when there is none."""
        small, scale = downscale(image, DETECT_MAX_SIDE)
        small = np.ascontiguousarray(small)
        boxes = self.face_boxes(small)
        if boxes:
            faces = self._mesh_in_box(small, max(boxes, key=lambda box: box[2] * box[3]))
        else:
            faces = self.all_faces(small)
        if not faces:
            raise InputError("no face found in image_url")
        largest = max(faces, key=_face_area)
        return FoundFace(landmarks=largest / scale, faces=max(len(boxes), len(faces)))

    def face_boxes(self, image: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Face boxes (x, y, width, height in pixels): full-range detector, else short-range."""
        height, width = image.shape[:2]
        for detector in self._detectors:
            detections = detector.process(image).detections or []
            if detections:
                boxes = [d.location_data.relative_bounding_box for d in detections]
                return [(b.xmin * width, b.ymin * height, b.width * width, b.height * height) for b in boxes]
        return []

    def _mesh_in_box(self, image: np.ndarray, box: tuple[float, float, float, float]) -> list[np.ndarray]:
        """Face mesh on a square window twice the size of a face box, mapped back to the image."""
        x, y, w, h = box
        side = 2.0 * max(w, h)
        scale = 384 / side
        left, top = x + w / 2 - side / 2, y + h / 2 - side / 2
        matrix = np.array([[scale, 0, -left * scale], [0, scale, -top * scale]], dtype=np.float32)
        window = cv2.warpAffine(image, matrix, (384, 384), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        faces = self.all_faces(window)
        return [((points - matrix[:, 2]) / scale).astype(np.float32) for points in faces]

    def all_faces(self, image: np.ndarray) -> list[np.ndarray]:
        """Landmarks (478×2 pixels) of every face the mesh finds in an RGB image."""
        height, width = image.shape[:2]
        result = self._mesh.process(image)
        faces = []
        for face in result.multi_face_landmarks or []:
            points = np.array([(p.x * width, p.y * height) for p in face.landmark])
            faces.append(points.astype(np.float32))
        return faces

    def segment(self, image: np.ndarray) -> np.ndarray:
        """Person mask in 0..1 (float32, same height and width as ``image``)."""
        mask = self._segmenter.process(image).segmentation_mask
        return np.clip(mask, 0.0, 1.0).astype(np.float32)

    def close(self) -> None:
        """Release the mediapipe graphs."""
        self._mesh.close()
        self._segmenter.close()
        for detector in self._detectors:
            detector.close()


def _face_area(landmarks: np.ndarray) -> float:
    span = landmarks.max(axis=0) - landmarks.min(axis=0)
    return float(span[0] * span[1])


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
