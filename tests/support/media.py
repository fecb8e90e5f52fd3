"""Small media files made in memory for tests."""

from __future__ import annotations

import io
import wave

import av
from PIL import Image


def wav_bytes(seconds: float = 0.1, rate: int = 16000) -> bytes:
    """A mono 16-bit WAV of ``seconds`` holding a repeating ramp (not silence, so byte ranges differ)."""
    frames = int(rate * seconds)
    samples = (bytes(range(256)) * (frames * 2 // 256 + 1))[: frames * 2]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples)
    return buffer.getvalue()


def png_bytes(size: tuple[int, int] = (64, 48)) -> bytes:
    """A small real PNG image."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(buffer, format="PNG")
    return buffer.getvalue()


def audio_seconds(data: bytes) -> float:
    """How long an encoded audio file (any container PyAV reads) plays, from its decoded frames."""
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return sum(frame.samples for frame in container.decode(stream)) / stream.rate
