"""Audio decoding and encoding with PyAV (bundled FFmpeg; no system ffmpeg needed).

Shared by every engine that reads or writes sound. Decoding turns any container/codec
FFmpeg knows into float32 mono samples at a chosen rate; a file with no audio stream or
that FFmpeg cannot read raises ``InputError`` with a message naming the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from c3render.errors import InputError

#: Output formats: container, codec, sample rate, bit rate, MIME type, file suffix.
AUDIO_FORMATS: dict[str, tuple[str, str, int, int | None, str, str]] = {
    "mp3": ("mp3", "libmp3lame", 24000, 64_000, "audio/mpeg", ".mp3"),
    "wav": ("wav", "pcm_s16le", 24000, None, "audio/wav", ".wav"),
    "ogg": ("ogg", "libopus", 48000, 32_000, "audio/ogg", ".ogg"),
}


def iter_audio(
    path: Path, sample_rate: int = 16000, field: str = "audio", chunk_seconds: float = 30.0
) -> Iterator[np.ndarray]:
    """Yield float32 mono chunks of about ``chunk_seconds`` from any audio or video file.

    Long recordings are never held whole in memory. Raises ``InputError`` when the file
    cannot be decoded or has no audio stream.
    """
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError) as exc:
        raise InputError(f"{field} is not a readable audio file ({_reason(exc)})") from None
    with container:
        if not container.streams.audio:
            raise InputError(f"{field} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        limit = int(chunk_seconds * sample_rate)
        pending: list[np.ndarray] = []
        size = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray().reshape(-1))
                    size += pending[-1].size
                if size >= limit:
                    yield np.concatenate(pending)
                    pending, size = [], 0
            for out in resampler.resample(None):
                pending.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise InputError(f"{field} could not be decoded ({_reason(exc)})") from None
        if pending:
            yield np.concatenate(pending)


def decode_audio(path: Path, sample_rate: int = 16000, field: str = "audio") -> np.ndarray:
    """Decode a whole file to float32 mono samples in [-1, 1] at ``sample_rate``."""
    chunks = list(iter_audio(path, sample_rate, field))
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if samples.size == 0:
        raise InputError(f"{field} contains no sound")
    return samples.astype(np.float32, copy=False)


def encode_audio(samples: np.ndarray, sample_rate: int, path: Path, fmt: str = "mp3") -> str:
    """Encode float32 mono ``samples`` to ``path`` in ``fmt`` (mp3, wav, ogg); return the MIME type."""
    container_name, codec, out_rate, bit_rate, media_type, _ = AUDIO_FORMATS[fmt]
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0).reshape(1, -1)
    with av.open(str(path), "w", format=container_name) as container:
        stream = container.add_stream(codec, rate=out_rate, layout="mono")
        if bit_rate:
            stream.bit_rate = bit_rate
        resampler = av.AudioResampler(
            format=stream.format.name,
            layout="mono",
            rate=out_rate,
            frame_size=stream.frame_size or None,
        )
        frame = av.AudioFrame.from_ndarray(clipped, format="flt", layout="mono")
        frame.sample_rate = sample_rate
        for out in resampler.resample(frame) + resampler.resample(None):
            container.mux(stream.encode(out))
        container.mux(stream.encode(None))
    return media_type


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__
