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


DEMUXERS = {
    ".wav": "wav", ".mp3": "mp3", ".ogg": "ogg", ".opus": "ogg", ".flac": "flac",
    ".caf": "caf", ".amr": "amr", ".au": "au", ".wv": "wv", ".ape": "ape", ".aiff": "aiff",
    ".aac": "aac", ".m4a": "mov", ".mp4": "mov", ".mov": "mov", ".webm": "matroska",
    ".mkv": "matroska", ".avi": "avi",
}
"""The FFmpeg demuxer for each suffix the sniffer gives (``inputs/sniff.py``)."""
SAFE_OPTIONS = {
    "protocol_whitelist": "file",
    "format_whitelist": ",".join(sorted(set(DEMUXERS.values()))),
}
"""Only local files, only media demuxers: no playlist (HLS, concat) that opens other files."""


def open_media(path: Path, field: str = "audio") -> av.container.InputContainer:
    """Open a local media file for reading with the demuxer its suffix names.

    FFmpeg may read only this local file (``protocol_whitelist``) and only with a media
    demuxer (``format_whitelist``), so a playlist posing as audio never opens other
    files or URLs. A file whose content is not what its suffix says is probed again,
    still among the allowed demuxers. Raises ``InputError``.
    """
    forced = DEMUXERS.get(path.suffix.lower())
    try:
        return av.open(str(path), format=forced, options=dict(SAFE_OPTIONS))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        first = exc
    if forced is not None:
        try:
            return av.open(str(path), options=dict(SAFE_OPTIONS))
        except (av.error.FFmpegError, UnicodeDecodeError, ValueError):
            pass
    raise InputError(f"{field} is not a readable audio file ({_reason(first)})") from None


def iter_audio(
    path: Path, sample_rate: int = 16000, field: str = "audio", chunk_seconds: float = 30.0,
    max_seconds: float | None = None,
) -> Iterator[np.ndarray]:
    """Yield float32 mono chunks of about ``chunk_seconds`` from any audio or video file.

    Long recordings are never held whole in memory, and with ``max_seconds`` decoding
    stops there (a small file of hours of silence is never decoded past what is used).
    Raises ``InputError`` when the file cannot be decoded or has no audio stream.
    """
    container = open_media(path, field)
    with container:
        if not container.streams.audio:
            raise InputError(f"{field} has no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        limit = int(chunk_seconds * sample_rate)
        left = int(max_seconds * sample_rate) if max_seconds is not None else None
        pending: list[np.ndarray] = []
        size = 0
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    pending.append(out.to_ndarray().reshape(-1))
                    size += pending[-1].size
                if left is not None and size >= left:
                    yield np.concatenate(pending)[:left]
                    return
                if size >= limit:
                    yield np.concatenate(pending)
                    left = None if left is None else left - size
                    pending, size = [], 0
            for out in resampler.resample(None):
                pending.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise InputError(f"{field} could not be decoded ({_reason(exc)})") from None
        if pending:
            yield np.concatenate(pending)[:left]


def decode_audio(
    path: Path, sample_rate: int = 16000, field: str = "audio", max_seconds: float | None = None
) -> np.ndarray:
    """Decode a file (its first ``max_seconds`` when given) to float32 mono in [-1, 1]."""
    chunks = list(iter_audio(path, sample_rate, field, max_seconds=max_seconds))
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
