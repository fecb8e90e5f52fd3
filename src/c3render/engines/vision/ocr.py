"""Printed text with rapidocr (bundled PaddleOCR ONNX models): lines, scores and positions."""

from __future__ import annotations

from typing import Any

import numpy as np

from c3render.media.images import downscale

OCR_SIDE = 1280
"""Text is read on a copy with this longest side; boxes are scaled back."""
MIN_SCORE = 0.6
MIN_CHARS = 2
"""Lone characters are mostly texture mistaken for a glyph (a '0' in cat fur), so drop them."""


def position(centre_x: float, centre_y: float, width: int, height: int) -> str:
    """Where a point lies in thirds: ``top left`` ... ``middle centre`` ... ``bottom right``."""
    rows = ("top", "middle", "bottom")
    cols = ("left", "centre", "right")
    row = rows[min(2, int(3 * centre_y / max(height, 1)))]
    col = cols[min(2, int(3 * centre_x / max(width, 1)))]
    return f"{row} {col}"


def keep_line(text: str, score: float) -> bool:
    """Whether a recognised line is worth reporting."""
    return score >= MIN_SCORE and sum(ch.isalnum() for ch in text) >= MIN_CHARS


class TextReader:
    """rapidocr's detector + recogniser, created once."""

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        self._ocr = RapidOCR(params={"Global.log_level": "error"})

    def read(self, rgb: np.ndarray) -> list[dict[str, Any]]:
        """Text lines top to bottom: ``{"text", "score", "box": [x, y, w, h], "position"}``."""
        small, scale = downscale(rgb, OCR_SIDE)
        result = self._ocr(np.ascontiguousarray(small))
        if result.txts is None or result.boxes is None:
            return []
        height, width = rgb.shape[:2]
        lines = []
        for text, score, quad in zip(result.txts, result.scores, result.boxes):
            if not keep_line(text, float(score)):
                continue
            quad = np.asarray(quad, dtype=np.float64) / scale
            low, high = quad.min(axis=0), quad.max(axis=0)
            centre = (low + high) / 2.0
            lines.append({
                "text": text.strip(),
                "score": round(float(score), 3),
                "box": [round(v) for v in (*low, *(high - low))],
                "position": position(centre[0], centre[1], width, height),
            })
        lines.sort(key=lambda line: (line["box"][1], line["box"][0]))
        return lines
