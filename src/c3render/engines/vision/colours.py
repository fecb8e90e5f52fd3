"""Plain-English colour names for pixels, and the dominant colours of an image or a band of it."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

#: Colour names in the order their codes are assigned by :func:`name_codes`.
NAMES: tuple[str, ...] = (
    "black", "white", "grey", "red", "orange", "brown", "beige", "yellow",
    "olive", "green", "teal", "blue", "light blue", "dark blue", "purple", "pink",
)
_CODE = {name: code for code, name in enumerate(NAMES)}

# Hue bands (degrees, upper bound exclusive) for saturated pixels.
_HUES: tuple[tuple[float, str], ...] = (
    (15, "red"), (42, "orange"), (68, "yellow"), (165, "green"),
    (195, "teal"), (255, "blue"), (290, "purple"), (340, "pink"), (361, "red"),
)


def _hsv(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hue in degrees, saturation and value in 0..1 for an (..., 3) uint8 array."""
    x = rgb.astype(np.float32) / 255.0
    value = x.max(axis=-1)
    chroma = value - x.min(axis=-1)
    sat = np.where(value > 0, chroma / np.maximum(value, 1e-6), 0.0)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    safe = np.maximum(chroma, 1e-6)
    hue = np.select(
        [value == r, value == g],
        [((g - b) / safe) % 6.0, (b - r) / safe + 2.0],
        (r - g) / safe + 4.0,
    )
    return hue * 60.0, sat, value


def name_codes(rgb: np.ndarray) -> np.ndarray:
    """A colour code (index into :data:`NAMES`) for every pixel of an (..., 3) uint8 array."""
    hue, sat, val = _hsv(rgb)
    codes = np.full(hue.shape, _CODE["grey"], dtype=np.int8)
    for upper, name in reversed(_HUES):
        codes[hue < upper] = _CODE[name]
    warm = (hue >= 10) & (hue < 50)
    codes[warm & (val < 0.62) & (sat >= 0.25)] = _CODE["brown"]
    codes[warm & (sat < 0.35) & (val >= 0.62)] = _CODE["beige"]
    codes[(hue >= 42) & (hue < 75) & (val < 0.55)] = _CODE["olive"]
    blue = codes == _CODE["blue"]
    codes[blue & (val < 0.45)] = _CODE["dark blue"]
    codes[blue & (sat < 0.5) & (val >= 0.6)] = _CODE["light blue"]
    codes[(codes == _CODE["red"]) & (sat < 0.5) & (val > 0.7)] = _CODE["pink"]
    grey = sat < 0.14
    codes[grey] = _CODE["grey"]
    codes[grey & (val > 0.86)] = _CODE["white"]
    codes[val < 0.16] = _CODE["black"]
    return codes


def colour_name(rgb: tuple[int, int, int]) -> str:
    """The plain-English name of one RGB colour."""
    return NAMES[int(name_codes(np.array([[rgb]], dtype=np.uint8))[0, 0])]


def dominant_colours(
    rgb: np.ndarray, top: int = 3, min_fraction: float = 0.08
) -> list[dict[str, Any]]:
    """The most common named colours: ``[{"name", "fraction", "rgb"}]``, largest first.

    ``rgb`` should be small already (a thumbnail); ``rgb`` in the answer is the mean
    colour of the pixels given that name.
    """
    pixels = rgb.reshape(-1, 3)
    codes = name_codes(pixels)
    counts = np.bincount(codes, minlength=len(NAMES))
    found = []
    for code in np.argsort(counts)[::-1][:top]:
        fraction = counts[code] / max(1, len(codes))
        if fraction < min_fraction:
            break
        mean = pixels[codes == code].mean(axis=0)
        found.append({
            "name": NAMES[code],
            "fraction": round(float(fraction), 3),
            "rgb": [int(round(c)) for c in mean],
        })
    return found


def thumbnail(rgb: np.ndarray, side: int = 96) -> np.ndarray:
    """A small copy (longest side ``side``) for colour statistics."""
    image = Image.fromarray(rgb)
    image.thumbnail((side, side), Image.Resampling.BILINEAR)
    return np.asarray(image)


def band_colours(thumb: np.ndarray) -> dict[str, str]:
    """The main colour of the top, middle and bottom thirds of an image."""
    height = thumb.shape[0]
    thirds = {
        "top": thumb[: max(1, height // 3)],
        "middle": thumb[height // 3 : max(height // 3 + 1, 2 * height // 3)],
        "bottom": thumb[2 * height // 3 :] if height >= 3 else thumb,
    }
    return {
        band: dominant_colours(part, top=1, min_fraction=0.0)[0]["name"]
        for band, part in thirds.items()
    }
