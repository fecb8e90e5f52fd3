"""A face rig: displacement fields built once from landmarks, mixed per frame.

Each control of ``motion.CONTROLS`` owns a smooth displacement field (pixels per unit of
control) over a region of interest around the head. A frame is the linear mix of those
fields, applied as a backward warp with ``cv2.remap`` (source = target - displacement,
accurate for the small, smooth motions used here). The person mask is warped the same way
and composited over a still background plate, so only the person moves.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from c3render.engines import face_mesh as fm
from c3render.engines.portrait.mouth import MouthShape, paint_mouth

#: Widest lip opening, as a fraction of the mouth width.
MAX_OPEN = 0.3
#: Corner travel for "wide" / "rounded" mouth shapes, as a fraction of half the mouth width.
WIDTH_TRAVEL = 0.2


@dataclass
class Frame:
    """Face geometry in a face-aligned frame: unit axes and reference sizes in pixels."""

    origin: np.ndarray
    ex: np.ndarray
    ey: np.ndarray
    face_height: float
    mouth_width: float

    def local(self, points: np.ndarray, origin: np.ndarray | None = None) -> np.ndarray:
        """(u, v) coordinates of pixel points along (ex, ey) from ``origin``."""
        rel = points - (self.origin if origin is None else origin)
        return np.stack([rel @ self.ex, rel @ self.ey], axis=-1).astype(np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3 - 2 * t)


class FaceRig:
    """Renders animated frames of one portrait from control vectors."""

    def __init__(self, image: np.ndarray, landmarks: np.ndarray, mask: np.ndarray) -> None:
        self.image = image
        self.landmarks = landmarks
        size = image.shape[0]
        ex = landmarks[fm.EYE_OUTER[1]] - landmarks[fm.EYE_OUTER[0]]
        ex = ex / np.linalg.norm(ex)
        mouth_center = (landmarks[fm.LIP_CENTER[0]] + landmarks[fm.LIP_CENTER[1]]) / 2
        self.geo = Frame(
            origin=mouth_center,
            ex=ex.astype(np.float32),
            ey=np.array([-ex[1], ex[0]], dtype=np.float32),
            face_height=float(np.linalg.norm(landmarks[fm.CHIN] - landmarks[fm.FOREHEAD])),
            mouth_width=float(np.linalg.norm(landmarks[291] - landmarks[61])),
        )
        grid = np.stack(np.meshgrid(np.arange(size), np.arange(size)), axis=-1).astype(np.float32)
        full = self._fields(grid.reshape(-1, 2)).reshape(-1, size, size, 2)
        support = np.abs(full).sum(axis=(0, 3)) > 0.01
        rows, cols = np.nonzero(support)
        top, bottom = max(rows.min() - 2, 0), min(rows.max() + 3, size)
        left, right = max(cols.min() - 2, 0), min(cols.max() + 3, size)
        self.roi = (slice(top, bottom), slice(left, right))
        self.basis = np.ascontiguousarray(full[:, top:bottom, left:right])
        self.grid = np.ascontiguousarray(grid[top:bottom, left:right])
        self.mask = mask.astype(np.float32)
        self.plate = _background_plate(image, mask)[self.roi]
        self.mouth = self._mouth_shape()

    # --- fields --------------------------------------------------------------------
    def _fields(self, points: np.ndarray, lower_lip: bool | None = None) -> np.ndarray:
        """Displacement per control at ``points``: shape (controls, n, 2)."""
        geo = self.geo
        uv = geo.local(points)
        jaw = self._jaw(uv, lower_lip)[:, None] * geo.ey
        width = self._width(uv)[:, None] * geo.ex
        blink = sum(self._lid(points, eye) for eye in fm.EYES)[:, None] * geo.ey
        head = self._head_weight(points)
        pivot = self.landmarks[fm.CHIN] + 0.25 * geo.face_height * geo.ey
        rel = points - pivot
        roll = head[:, None] * np.stack([-rel[:, 1], rel[:, 0]], axis=-1)
        shift_x = (head * geo.face_height)[:, None] * geo.ex
        shift_y = (head * geo.face_height)[:, None] * geo.ey
        return np.stack([jaw, width, blink, roll, shift_x, shift_y]).astype(np.float32)

    def _jaw(self, uv: np.ndarray, lower_lip: bool | None) -> np.ndarray:
        """Downward travel of the lower lip, chin and jaw per unit of mouth opening."""
        geo, lm = self.geo, self.landmarks
        upper = geo.local(lm[fm.UPPER_LIP_INNER])
        order = np.argsort(upper[:, 0])
        lip_v = np.interp(uv[:, 0], upper[order, 0], upper[order, 1])
        half_inner = float(np.abs(upper[:, 0]).max())
        au = np.abs(uv[:, 0])
        softness = 1.0 + 0.6 * np.maximum(0.0, au - half_inner)
        if lower_lip is None:
            below = _smoothstep((uv[:, 1] - lip_v) / softness + 0.5)
        else:
            below = np.full(len(uv), 1.0 if lower_lip else 0.0)
        oval = geo.local(lm[fm.FACE_OVAL])
        jaw_half = 0.5 * float(np.ptp(oval[oval[:, 1] > 0, 0]))
        start = 0.6 * geo.mouth_width / 2
        t = np.clip((au - start) / max(0.95 * jaw_half - start, 1.0), 0.0, 1.0)
        across = 0.5 * (1 + np.cos(np.pi * t))
        chin_v = float(geo.local(lm[fm.CHIN][None])[0, 1])
        neck = 1 - _smoothstep((uv[:, 1] - chin_v) / (0.3 * geo.face_height))
        return MAX_OPEN * geo.mouth_width * below * across * neck

    def _width(self, uv: np.ndarray) -> np.ndarray:
        """Sideways travel of the mouth corners per unit of "wide" mouth shape."""
        half = self.geo.mouth_width / 2
        r2 = (uv[:, 0] / (1.3 * half)) ** 2 + (uv[:, 1] / (0.8 * half)) ** 2
        return WIDTH_TRAVEL * uv[:, 0] * np.exp(-0.5 * r2) / 0.74

    def _lid(self, points: np.ndarray, eye: tuple) -> np.ndarray:
        """Downward travel of one upper eyelid per unit of blink (closed at 1)."""
        corner_a, corner_b, upper_ids, lower_ids = eye
        lm, geo = self.landmarks, self.geo
        center = (lm[corner_a] + lm[corner_b]) / 2
        uv = geo.local(points, center)
        ends = geo.local(lm[[corner_a, corner_b]], center)
        upper = np.concatenate([ends, geo.local(lm[upper_ids], center)])
        lower = np.concatenate([ends, geo.local(lm[lower_ids], center)])
        upper, lower = upper[np.argsort(upper[:, 0])], lower[np.argsort(lower[:, 0])]
        v_up = np.interp(uv[:, 0], upper[:, 0], upper[:, 1])
        v_lo = np.interp(uv[:, 0], lower[:, 0], lower[:, 1])
        full = max(float(np.max(lower[:, 1]) - np.min(upper[:, 1])), 1.0)
        half_width = 0.55 * float(np.ptp(ends[:, 0]))
        opening = full * np.clip(1 - (uv[:, 0] / half_width) ** 2, 0, 1) ** 1.5
        reach = 0.8 * full
        above = 1 - _smoothstep((v_up - uv[:, 1]) / reach)
        weight = np.where(uv[:, 1] < v_up, above, 1.0) * (1 - _smoothstep(uv[:, 1] - v_lo))
        return opening * weight

    def _head_weight(self, points: np.ndarray) -> np.ndarray:
        """1 on the head (face and hair), fading to 0 on the neck and around."""
        lm, geo = self.landmarks, self.geo
        oval = lm[fm.FACE_OVAL]
        center = (oval.max(axis=0) + oval.min(axis=0)) / 2
        span = geo.local(oval, center)
        half_w = float(np.ptp(span[:, 0])) / 2
        half_h = float(np.ptp(span[:, 1])) / 2
        uv = geo.local(points, center)
        scale_v = np.where(uv[:, 1] < 0, 1.55 * half_h, 1.2 * half_h)
        r = np.sqrt((uv[:, 0] / (1.5 * half_w)) ** 2 + (uv[:, 1] / scale_v) ** 2)
        return 1 - _smoothstep((r - 0.8) / 0.35)

    def _mouth_shape(self) -> MouthShape:
        lm = self.landmarks
        upper = lm[fm.UPPER_LIP_INNER]
        lower = lm[fm.LOWER_LIP_INNER]
        uv_up = self.geo.local(upper)
        uv_lo = self.geo.local(lower)
        rest_gap = float(np.max(uv_lo[:, 1] - uv_up[:, 1]))
        max_open = MAX_OPEN * self.geo.mouth_width
        return MouthShape(
            upper=upper,
            lower=lower,
            upper_fields=self._fields(upper, lower_lip=False),
            lower_fields=self._fields(lower, lower_lip=True),
            closing=min(rest_gap, 0.5 * max_open) / max_open,
            frame=self.geo,
        )

    # --- rendering -------------------------------------------------------------------
    def render(self, control: np.ndarray) -> np.ndarray:
        """One RGB frame for a control vector (``motion.CONTROLS`` order)."""
        coefs = control.astype(np.float32).copy()
        coefs[0] = coefs[0] - self.mouth.closing
        shift = np.tensordot(coefs, self.basis, axes=1)
        maps = self.grid - shift
        map_x, map_y = maps[..., 0], maps[..., 1]
        warped = cv2.remap(self.image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.remap(self.mask, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        blended = cv2.blendLinear(warped, self.plate, alpha, 1.0 - alpha)
        frame = self.image.copy()
        frame[self.roi] = blended
        paint_mouth(frame, self.mouth, coefs)
        return frame


def _background_plate(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The image with the person replaced by nearby background colours (normalised blur)."""
    background = (mask < 0.3).astype(np.float32)
    plate = image.astype(np.float32)
    filled = np.zeros_like(plate)
    weight = np.zeros(mask.shape, dtype=np.float32)
    for sigma in (6, 24, 96):
        num = cv2.GaussianBlur(plate * background[..., None], (0, 0), sigma)
        den = cv2.GaussianBlur(background, (0, 0), sigma)
        take = (weight < 1e-3) & (den > 1e-3)
        filled[take] = num[take] / den[take, None]
        weight[take] = 1.0
    filled[weight < 1e-3] = plate.reshape(-1, 3).mean(axis=0)
    out = np.where(background[..., None] > 0, plate, filled)
    return np.clip(out, 0, 255).astype(np.uint8)
