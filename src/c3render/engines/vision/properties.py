"""Image properties measured with numpy, Pillow and OpenCV: size, light, sharpness, colours, EXIF."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import ExifTags, Image

from c3render.engines.vision.colours import band_colours, dominant_colours, thumbnail
from c3render.media.images import downscale

SHARPNESS_SIDE = 800
"""Sharpness is measured at this size, so it describes the picture as seen, not its pixel count."""
BLURRY_BELOW = 40.0
SOFT_BELOW = 150.0


def orientation(width: int, height: int) -> str:
    """``portrait``, ``landscape`` or ``square`` (within 5 %)."""
    if abs(width - height) <= 0.05 * max(width, height):
        return "square"
    return "landscape" if width > height else "portrait"


def brightness_label(level: float) -> str:
    """A word for a mean luminance in 0..1."""
    if level < 0.22:
        return "dark"
    if level < 0.38:
        return "dim"
    if level < 0.62:
        return "evenly lit"
    return "bright"


def sharpness(gray: np.ndarray) -> float:
    """Variance of the Laplacian of a grayscale image at :data:`SHARPNESS_SIDE`."""
    small, _ = downscale(gray, SHARPNESS_SIDE)
    return float(cv2.Laplacian(small, cv2.CV_64F).var())


def sharpness_label(value: float) -> str:
    """``blurry``, ``soft`` or ``sharp``."""
    if value < BLURRY_BELOW:
        return "blurry"
    return "soft" if value < SOFT_BELOW else "sharp"


def is_grayscale(thumb: np.ndarray) -> bool:
    """True when the channels barely differ anywhere (a black-and-white picture)."""
    spread = thumb.max(axis=-1).astype(np.int16) - thumb.min(axis=-1)
    return bool(np.percentile(spread, 99) <= 12)


def read_exif(path: Path) -> dict[str, str]:
    """Camera make/model, capture date and software from EXIF, where present."""
    try:
        with Image.open(path) as image:
            exif = image.getexif()
            fmt = image.format or ""
    except Exception:  # the pixels were already read; EXIF is a bonus
        return {}
    tags = dict(exif)
    tags.update(exif.get_ifd(ExifTags.IFD.Exif))
    found = {"format": fmt} if fmt else {}
    make = str(tags.get(ExifTags.Base.Make, "")).strip(" \x00")
    model = str(tags.get(ExifTags.Base.Model, "")).strip(" \x00")
    camera = model if make and model.lower().startswith(make.lower()) else f"{make} {model}"
    if camera.strip():
        found["camera"] = camera.strip()
    date = tags.get(ExifTags.Base.DateTimeOriginal) or tags.get(ExifTags.Base.DateTime)
    if date:
        found["date"] = str(date).strip(" \x00")
    if tags.get(ExifTags.Base.Software):
        found["software"] = str(tags[ExifTags.Base.Software]).strip(" \x00")
    return found


def measure(rgb: np.ndarray, path: Path | None = None) -> dict[str, Any]:
    """All properties of an upright RGB image as a JSON-able dict."""
    height, width = rgb.shape[:2]
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    thumb = thumbnail(rgb)
    level = float(gray.mean()) / 255.0
    sharp = sharpness(gray)
    exif = read_exif(path) if path is not None else {}
    props: dict[str, Any] = {
        "width": width,
        "height": height,
        "megapixels": round(width * height / 1e6, 2),
        "orientation": orientation(width, height),
        "brightness": round(level, 3),
        "lighting": brightness_label(level),
        "contrast": round(float(gray.std()) / 255.0, 3),
        "sharpness": round(sharp, 1),
        "focus": sharpness_label(sharp),
        "grayscale": is_grayscale(thumb),
        "colours": dominant_colours(thumb),
        "bands": band_colours(thumb),
        "band_brightness": _band_brightness(thumb),
    }
    if "format" in exif:
        props["format"] = exif.pop("format")
    if exif:
        props["exif"] = exif
    return props


def _band_brightness(thumb: np.ndarray) -> dict[str, float]:
    gray = thumb.mean(axis=-1) / 255.0
    height = gray.shape[0]
    top, bottom = gray[: max(1, height // 3)], gray[2 * height // 3 :]
    return {"top": round(float(top.mean()), 3), "bottom": round(float(bottom.mean()), 3)}
