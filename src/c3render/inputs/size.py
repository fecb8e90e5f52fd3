"""How big a job is, measured once its inputs are fetched: what the ETA pairs with run times.

Seconds of audio for /whisper and /portrait (the container's duration, from its header),
megapixels for /analyze (the image header), characters of text for /csm (the request).
Never raises: a size that cannot be read is None, and the ETA then uses the median.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import av
from PIL import Image

from c3render.job import JobType
from c3render.media.audio import open_media
from c3render.queue.eta_model import SIZE_INPUTS, size_from_params

log = logging.getLogger(__name__)

def audio_seconds(path: Path) -> float | None:
    """The duration of a media file in seconds, from its container (None when unknown)."""
    with open_media(path) as container:
        if container.duration is not None:
            return float(container.duration) / av.time_base
        for stream in container.streams.audio:
            if stream.duration is not None and stream.time_base is not None:
                return float(stream.duration * stream.time_base)
    return None


def megapixels(path: Path) -> float:
    """An image's size in millions of pixels, from its header."""
    with Image.open(path) as image:
        width, height = image.size
    return width * height / 1_000_000


def measure_file(path: Path, media_type: str) -> dict[str, float]:
    """The sizes an upload is known by before any job reads it (``POST /uploads`` keeps them
    in the upload's record): ``audio_seconds`` of audio or video, ``megapixels`` of an image.
    Empty when the header does not tell."""
    try:
        if media_type.startswith(("audio/", "video/")):
            seconds = audio_seconds(path)
            return {} if seconds is None else {"audio_seconds": round(seconds, 3)}
        if media_type.startswith("image/"):
            return {"megapixels": round(megapixels(path), 4)}
    except Exception as exc:  # a hint only: the job's engine judges the file
        log.debug("the size of an upload could not be read (%s)", exc)
    return {}


def measure_size(job_type: JobType, params: dict[str, Any], inputs: dict[str, Path]) -> float | None:
    """The size of a job whose inputs are fetched (None when it cannot be told)."""
    field = SIZE_INPUTS.get(job_type)
    if field is None:
        return size_from_params(job_type, params)
    path = inputs.get(field)
    if path is None:
        return None
    try:
        return megapixels(path) if job_type is JobType.ANALYZE else audio_seconds(path)
    except Exception as exc:  # the engine reports a bad input; the size is only a hint
        log.debug("the size of %s could not be read (%s)", field, exc)
        return None
