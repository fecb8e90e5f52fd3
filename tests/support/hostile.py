"""Media files that attack decoders, made in memory or in a few milliseconds for tests."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import av
import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_declaring(width: int, height: int, rows: int | None = None) -> bytes:
    """A greyscale PNG whose header says ``width`` × ``height``; its pixel data, all zeros,
    holds ``rows`` rows (default all of them: a decompression bomb of a few hundred KB)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    packer = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte + pixels
    parts = [packer.compress(row) for _ in range(height if rows is None else rows)]
    data = b"".join(parts) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data)
            + _chunk(b"IEND", b""))


def long_flac(path: Path, seconds: float, rate: int = 8000) -> Path:
    """A FLAC of ``seconds`` of silence: hours fit in well under a megabyte."""
    frame_len = rate * 10
    zeros = np.zeros((1, frame_len), dtype=np.int16)
    with av.open(str(path), "w", format="flac") as container:
        stream = container.add_stream("flac", rate=rate, layout="mono")
        for index in range(int(seconds // 10)):
            frame = av.AudioFrame.from_ndarray(zeros, format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = index * frame_len
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def concat_playlist(target: str) -> bytes:
    """An FFmpeg concat script that would read ``target``."""
    return f"ffconcat version 1.0\nfile '{target}'\n".encode()


def hls_playlist(target: str) -> bytes:
    """An HLS playlist whose one segment is ``target``."""
    return (f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n"
            .encode())
