"""The inside of an open mouth: dark cavity, a hint of upper teeth, a tongue when wide open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

CAVITY = np.array([42, 14, 18], dtype=np.float32)
TONGUE = np.array([120, 52, 58], dtype=np.float32)
TEETH = np.array([208, 200, 190], dtype=np.float32)


@dataclass
class MouthShape:
    """Inner lip contours at rest and how each control moves them."""

    upper: np.ndarray
    """Upper inner lip points (pixels), corner to corner."""
    lower: np.ndarray
    """Lower inner lip points (pixels), corner to corner."""
    upper_fields: np.ndarray
    """Displacement of each upper point per control: (controls, points, 2)."""
    lower_fields: np.ndarray
    """Displacement of each lower point per control: (controls, points, 2)."""
    closing: float
    """Jaw control that closes the lips of the source picture (subtracted at rest)."""
    frame: Any
    """The rig's face-aligned frame (``rig.Frame``)."""


def lip_contours(shape: MouthShape, coefs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower inner lip points after applying control coefficients."""
    upper = shape.upper + np.tensordot(coefs, shape.upper_fields, axes=1)
    lower = shape.lower + np.tensordot(coefs, shape.lower_fields, axes=1)
    return upper, lower


def paint_mouth(frame: np.ndarray, shape: MouthShape, coefs: np.ndarray) -> None:
    """Paint the mouth cavity between the moved lips into ``frame`` (in place)."""
    upper, lower = lip_contours(shape, coefs)
    points = np.concatenate([upper, lower])
    height, width = frame.shape[:2]
    x0, y0 = np.maximum(np.floor(points.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(points.max(axis=0)).astype(int) + 3, [width, height])
    if x1 <= x0 or y1 <= y0:
        return
    geo = shape.frame
    grid = np.stack(np.meshgrid(np.arange(x0, x1), np.arange(y0, y1)), axis=-1)
    uv = geo.local(grid.reshape(-1, 2).astype(np.float32))
    up, lo = geo.local(upper), geo.local(lower)
    up, lo = up[np.argsort(up[:, 0])], lo[np.argsort(lo[:, 0])]
    u, v = uv[:, 0], uv[:, 1]
    v_up = np.interp(u, up[:, 0], up[:, 1])
    v_lo = np.interp(u, lo[:, 0], lo[:, 1])
    u_min, u_max = max(up[0, 0], lo[0, 0]), min(up[-1, 0], lo[-1, 0])
    alpha = (
        np.clip(v - v_up + 0.5, 0, 1)
        * np.clip(v_lo - v + 0.5, 0, 1)
        * np.clip(u - u_min + 0.5, 0, 1)
        * np.clip(u_max - u + 0.5, 0, 1)
    )
    if alpha.max() <= 0.0:
        return
    color = _cavity_colour(u, v, v_up, v_lo, (u_min + u_max) / 2, (u_max - u_min) / 2, geo.mouth_width)
    patch = frame[y0:y1, x0:x1].reshape(-1, 3).astype(np.float32)
    mixed = patch * (1 - alpha[:, None]) + color * alpha[:, None]
    frame[y0:y1, x0:x1] = np.clip(mixed, 0, 255).astype(np.uint8).reshape(y1 - y0, x1 - x0, 3)


def _cavity_colour(
    u: np.ndarray,
    v: np.ndarray,
    v_up: np.ndarray,
    v_lo: np.ndarray,
    u_mid: float,
    half: float,
    mouth_width: float,
) -> np.ndarray:
    """Colour per pixel: cavity, tongue towards the lower lip, upper teeth under the lip."""
    gap = np.maximum(v_lo - v_up, 1e-3)
    depth = np.clip((v - v_up) / gap, 0, 1)
    side = np.clip(np.abs(u - u_mid) / max(half, 1.0), 0, 1)
    tongue = np.clip((depth - 0.55) / 0.45, 0, 1) * np.clip(gap / (0.25 * mouth_width), 0, 1)
    color = CAVITY * (1 - 0.4 * side[:, None]) * (1 - tongue[:, None]) + TONGUE * tongue[:, None]
    tooth_height = np.minimum(0.35 * gap, 0.09 * mouth_width)
    teeth = np.clip(tooth_height - (v - v_up) + 0.5, 0, 1) * np.clip((0.62 - side) / 0.1, 0, 1)
    shade = (1 - 0.35 * side)[:, None]
    return color * (1 - teeth[:, None]) + TEETH * shade * teeth[:, None]
