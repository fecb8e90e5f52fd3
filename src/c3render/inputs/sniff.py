"""Content sniffing: what a file is, from its first bytes (never from a Content-Type header)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["audio", "image", "video"]
HEAD = 512
"""How many leading bytes ``sniff`` needs."""


@dataclass(frozen=True)
class Sniffed:
    """What the first bytes of a file say it is."""

    kind: Kind
    suffix: str
    media_type: str


_IMAGE_BRANDS = {b"heic": ".heic", b"heix": ".heic", b"mif1": ".heic", b"msf1": ".heic",
                 b"hevc": ".heic", b"heim": ".heic", b"avif": ".avif", b"avis": ".avif"}
_IMAGE_TYPES = {".heic": "image/heic", ".avif": "image/avif"}
_PREFIXES: list[tuple[bytes, Sniffed]] = [
    (b"\x89PNG\r\n\x1a\n", Sniffed("image", ".png", "image/png")),
    (b"\xff\xd8\xff", Sniffed("image", ".jpg", "image/jpeg")),
    (b"GIF87a", Sniffed("image", ".gif", "image/gif")),
    (b"GIF89a", Sniffed("image", ".gif", "image/gif")),
    (b"II*\x00", Sniffed("image", ".tiff", "image/tiff")),
    (b"MM\x00*", Sniffed("image", ".tiff", "image/tiff")),
    (b"ID3", Sniffed("audio", ".mp3", "audio/mpeg")),
    (b"OggS", Sniffed("audio", ".ogg", "audio/ogg")),
    (b"fLaC", Sniffed("audio", ".flac", "audio/flac")),
    (b"caff", Sniffed("audio", ".caf", "audio/x-caf")),
    (b"#!AMR", Sniffed("audio", ".amr", "audio/amr")),
    (b".snd", Sniffed("audio", ".au", "audio/basic")),
    (b"wvpk", Sniffed("audio", ".wv", "audio/x-wavpack")),
    (b"MAC ", Sniffed("audio", ".ape", "audio/x-ape")),
]


def sniff(head: bytes) -> Sniffed | None:
    """Recognise an audio, image or video file from its first bytes (512 are plenty)."""
    for prefix, found in _PREFIXES:
        if head.startswith(prefix):
            return found
    if head[:4] == b"RIFF" and len(head) >= 12:
        return _sniff_riff(head[8:12])
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return Sniffed("audio", ".aiff", "audio/aiff")
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[:4] == b"\x1a\x45\xdf\xa3":
        if b"webm" in head[:64]:
            return Sniffed("video", ".webm", "video/webm")
        return Sniffed("video", ".mkv", "video/x-matroska")
    if head[:2] == b"BM" and len(head) >= 14 and head[6:10] == b"\x00\x00\x00\x00":
        return Sniffed("image", ".bmp", "image/bmp")
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return _sniff_frame_sync(head[1])
    return None


def _sniff_riff(form: bytes) -> Sniffed | None:
    return {
        b"WAVE": Sniffed("audio", ".wav", "audio/wav"),
        b"WEBP": Sniffed("image", ".webp", "image/webp"),
        b"AVI ": Sniffed("video", ".avi", "video/x-msvideo"),
    }.get(form)


def _sniff_ftyp(head: bytes) -> Sniffed:
    size = int.from_bytes(head[:4], "big")
    brands = [head[8:12]] + [head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    for brand in brands:
        if brand in _IMAGE_BRANDS:
            suffix = _IMAGE_BRANDS[brand]
            return Sniffed("image", suffix, _IMAGE_TYPES[suffix])
    major = head[8:12]
    if major in (b"M4A ", b"M4B ", b"M4P "):
        return Sniffed("audio", ".m4a", "audio/mp4")
    if major == b"qt  ":
        return Sniffed("video", ".mov", "video/quicktime")
    return Sniffed("video", ".mp4", "video/mp4")


def _sniff_frame_sync(second: int) -> Sniffed | None:
    layer = (second >> 1) & 0b11
    version = (second >> 3) & 0b11
    if layer == 0 and second & 0xF0 == 0xF0:
        return Sniffed("audio", ".aac", "audio/aac")
    if layer != 0 and version != 0b01:
        return Sniffed("audio", ".mp3", "audio/mpeg")
    return None


def accepts(kind: str, found: Sniffed | None) -> bool:
    """Whether sniffed content can serve as input of ``kind`` (video containers carry audio)."""
    if found is None:
        return False
    if kind == "audio":
        return found.kind in ("audio", "video")
    return found.kind == kind
