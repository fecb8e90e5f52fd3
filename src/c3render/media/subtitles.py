"""Subtitles from transcript segments: SubRip (.srt) and WebVTT (.vtt)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, int(round(float(seconds) * 1000)))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _cues(segments: Iterable[Mapping[str, Any]], separator: str) -> list[tuple[str, str]]:
    """(timing line, text) per segment with text; blank lines inside a cue are removed."""
    cues = []
    for segment in segments:
        lines = [line.strip() for line in str(segment.get("text", "")).splitlines()]
        text = "\n".join(line for line in lines if line).replace("-->", "->")
        if not text:
            continue
        start = float(segment["start"])
        end = max(start, float(segment["end"]))
        timing = f"{_timestamp(start, separator)} --> {_timestamp(end, separator)}"
        cues.append((timing, text))
    return cues


def to_srt(segments: Iterable[Mapping[str, Any]]) -> str:
    """SubRip text for segments ``{"start", "end", "text"}`` (seconds); empty segments skipped."""
    cues = _cues(segments, ",")
    return "".join(f"{index}\n{timing}\n{text}\n\n" for index, (timing, text) in enumerate(cues, 1))


def to_vtt(segments: Iterable[Mapping[str, Any]]) -> str:
    """WebVTT text for segments ``{"start", "end", "text"}`` (seconds); empty segments skipped."""
    cues = _cues(segments, ".")
    body = "".join(f"{timing}\n{text}\n\n" for timing, text in cues)
    return "WEBVTT\n\n" + body
