"""SubRip and WebVTT from transcript segments."""

from __future__ import annotations

from c3render.media.subtitles import to_srt, to_vtt

SEGMENTS = [
    {"start": 0.0, "end": 2.5, "text": " Hello there."},
    {"start": 2.5, "end": 3661.0456, "text": "An hour --> later"},
    {"start": 3700.0, "end": 3701.0, "text": "   "},
]


def test_srt_numbers_cues_and_uses_commas() -> None:
    assert to_srt(SEGMENTS) == (
        "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
        "2\n00:00:02,500 --> 01:01:01,046\nAn hour -> later\n\n"
    )


def test_vtt_has_header_and_dots() -> None:
    assert to_vtt(SEGMENTS) == (
        "WEBVTT\n\n"
        "00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
        "00:00:02.500 --> 01:01:01.046\nAn hour -> later\n\n"
    )


def test_empty_transcript() -> None:
    assert to_srt([]) == ""
    assert to_vtt([]) == "WEBVTT\n\n"
