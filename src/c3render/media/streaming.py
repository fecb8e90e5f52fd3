"""Speech audio as a stream: pieces of PCM in, bytes of one continuous file out.

The engine process turns each rendered piece of speech into 16-bit mono PCM at
``STREAM_RATE`` (``PcmConverter``, one resampler kept for the whole job, so the pieces join
without clicks); the API turns the pieces back into a file that grows as they come
(``encode_stream``): MP3 frames from one encoder kept open across pieces (raw frames, no
Xing header, so the concatenation is one valid MP3 stream), WAV as one header with an
unknown length followed by the PCM, or the bare PCM. Encoding the same pieces again gives
the same bytes, which is what lets a reconnecting client resume at a byte offset.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from fractions import Fraction

import av
import numpy as np

STREAM_RATE = 24000
"""Sample rate of every audio stream (the rate of our stored speech results)."""
STREAM_FORMATS = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm"}
"""Formats an audio stream is delivered in, with their MIME types."""
MP3_BIT_RATE = 64_000
UNKNOWN_SIZE = 0xFFFFFFFF
"""RIFF and data sizes of a streamed WAV: "as long as there is" (FFmpeg and others read to
the end)."""


class PcmConverter:
    """Float32 mono pieces at an engine's rate → s16le mono bytes at ``STREAM_RATE``."""

    def __init__(self) -> None:
        self.resampler = av.AudioResampler(format="s16", layout="mono", rate=STREAM_RATE)

    def convert(self, samples: np.ndarray, rate: int) -> bytes:
        """The PCM of ``samples`` that the resampler can give now (it keeps a few back)."""
        clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0).reshape(1, -1)
        if not clipped.size:
            return b""
        frame = av.AudioFrame.from_ndarray(clipped, format="flt", layout="mono")
        frame.sample_rate = rate
        return b"".join(_pcm(out) for out in self.resampler.resample(frame))

    def flush(self) -> bytes:
        """What the resampler still holds: the end of the last piece."""
        try:
            return b"".join(_pcm(out) for out in self.resampler.resample(None))
        except ValueError:  # nothing was ever converted
            return b""


def _pcm(frame: av.AudioFrame) -> bytes:
    return frame.to_ndarray().astype("<i2").reshape(-1).tobytes()


def wav_header(rate: int = STREAM_RATE) -> bytes:
    """A 16-bit mono WAV header whose RIFF and data sizes say "unknown" (0xFFFFFFFF)."""
    return (b"RIFF" + struct.pack("<I", UNKNOWN_SIZE) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
            + b"data" + struct.pack("<I", UNKNOWN_SIZE))


class Mp3Stream:
    """One libmp3lame encoder for a whole stream: PCM in, MP3 frames out as they are made."""

    def __init__(self) -> None:
        self.codec = av.CodecContext.create("libmp3lame", "w")
        self.codec.sample_rate = STREAM_RATE
        self.codec.layout = "mono"
        self.codec.format = "s16p"
        self.codec.bit_rate = MP3_BIT_RATE
        self.codec.time_base = Fraction(1, STREAM_RATE)
        self.codec.open()
        self.resampler = av.AudioResampler(format="s16p", layout="mono", rate=STREAM_RATE,
                                           frame_size=self.codec.frame_size)
        self.pts = 0

    def encode(self, pcm: bytes) -> bytes:
        """The MP3 frames ready after adding ``pcm`` (s16le mono at ``STREAM_RATE``)."""
        samples = np.frombuffer(pcm, dtype="<i2")
        if not samples.size:
            return b""
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = STREAM_RATE
        return self._frames(self.resampler.resample(frame))

    def finish(self) -> bytes:
        """The last frames (the encoder's buffered samples, padded to a whole frame)."""
        tail = self._frames(self.resampler.resample(None)) if self.pts else b""
        return tail + b"".join(bytes(packet) for packet in self.codec.encode(None))

    def _frames(self, frames: list[av.AudioFrame]) -> bytes:
        out = bytearray()
        for frame in frames:
            frame.pts, frame.time_base = self.pts, Fraction(1, STREAM_RATE)
            self.pts += frame.samples
            for packet in self.codec.encode(frame):
                out.extend(bytes(packet))
        return bytes(out)


def encode_stream(fmt: str, pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The bytes of a ``fmt`` (mp3, wav, pcm) file made of the PCM ``pieces``, as they come.

    The same pieces always give the same bytes, however they are split into reads.
    """
    if fmt == "wav":
        yield wav_header()
    mp3 = Mp3Stream() if fmt == "mp3" else None
    for pcm in pieces:
        data = mp3.encode(pcm) if mp3 is not None else pcm
        if data:
            yield data
    if mp3 is not None:
        yield mp3.finish()


def skip_bytes(chunks: Iterable[bytes], offset: int) -> Iterator[bytes]:
    """``chunks`` without their first ``offset`` bytes (where a resumed stream starts)."""
    for chunk in chunks:
        if offset >= len(chunk):
            offset -= len(chunk)
            continue
        yield chunk[offset:]
        offset = 0
