"""Image loading shared by the vision engines: any Pillow format, EXIF orientation honoured."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from c3render.errors import InputError

MAX_PIXELS = 64_000_000
"""The largest image accepted (64 MP: 8000 × 8000, a 50 MP camera's photo; ~190 MB as RGB)."""
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# Pillow only warns between MAX_IMAGE_PIXELS and twice that: make it refuse instead
warnings.simplefilter("error", Image.DecompressionBombWarning)


def open_image(path: Path, field: str = "image_url") -> Image.Image:
    """Open and fully decode an image, upright per its EXIF orientation, as RGB.

    Raises ``InputError`` naming ``field`` for a non-image, truncated or oversized file.
    """
    try:
        with Image.open(path) as image:
            width, height = image.size  # from the header: refused before any decoding
            if width * height > MAX_PIXELS:
                raise Image.DecompressionBombError(f"{width}x{height}")
            image.load()
            upright = ImageOps.exif_transpose(image)
            return upright.convert("RGB")
    except UnidentifiedImageError:
        raise InputError(f"{field} is not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        limit = MAX_PIXELS // 1_000_000
        raise InputError(f"{field} is too large (over {limit} megapixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{field} is a damaged or truncated image ({exc})") from None


def load_rgb(path: Path, field: str = "image_url") -> np.ndarray:
    """The image as an upright RGB ``uint8`` array of shape (height, width, 3)."""
    return np.asarray(open_image(path, field))


def downscale(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most ``max_side``; return the image and the scale used."""
    height, width = image.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return image, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR)), scale
