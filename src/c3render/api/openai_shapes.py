"""OpenAI's audio shapes, from and to ours: model and voice names, transcription answers
(json, text, srt, vtt, verbose_json with segments and words), and speech audio formats.

Used by ``routes/openai_audio.py``; the jobs themselves are ordinary /whisper and /csm jobs.
"""

from __future__ import annotations

import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from c3render.engines.stt.languages import LANGUAGE_NAMES
from c3render.engines.tts.voices import NAME as VOICE_NAME
from c3render.errors import RequestError
from c3render.media import subtitles
from c3render.media.audio import decode_audio

WHISPER_MODELS = {"tiny", "base", "small", "medium", "large", "large-v2", "large-v3"}
OPENAI_STT_MODELS = {"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"}
"""OpenAI's names: each runs our contract's default Whisper model (the nearest installed)."""
TRANSCRIPT_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
VOICES = {
    "alloy": "conversational_a", "ash": "conversational_b", "ballad": "conversational_b",
    "coral": "conversational_a", "echo": "conversational_b", "fable": "conversational_a",
    "onyx": "conversational_b", "nova": "conversational_a", "sage": "conversational_a",
    "shimmer": "conversational_a", "verse": "conversational_b",
    "random": "random", "conversational_a": "conversational_a",
    "conversational_b": "conversational_b",
}
"""OpenAI's voice names mapped onto ours (a: the lighter voice, b: the deeper one)."""
SPEECH_FORMATS: dict[str, tuple[str, str | None, int, str]] = {
    # format: (container, codec, sample rate, MIME type); pcm is raw s16le at 24 kHz
    "mp3": ("mp3", "libmp3lame", 24000, "audio/mpeg"),
    "opus": ("ogg", "libopus", 48000, "audio/ogg"),
    "aac": ("adts", "aac", 24000, "audio/aac"),
    "flac": ("flac", "flac", 24000, "audio/flac"),
    "wav": ("wav", "pcm_s16le", 24000, "audio/wav"),
    "pcm": ("", None, 24000, "audio/pcm"),
}
SPEECH_RATE = 24000
_NAMES: dict[str, str] = {}
for _name, _code in LANGUAGE_NAMES.items():
    _NAMES.setdefault(_code, _name)


def language_name(code: str) -> str:
    """OpenAI's verbose_json names the language in English ("english"); the code if unknown."""
    return _NAMES.get(code, code)


def whisper_model(name: str) -> str:
    """Our Whisper model for an OpenAI ``model`` value."""
    if name in OPENAI_STT_MODELS:
        return "medium"
    if name in WHISPER_MODELS:
        return name
    choices = ", ".join(sorted(OPENAI_STT_MODELS | WHISPER_MODELS))
    raise RequestError(f"model: must be one of {choices}", "model")


def speech_voice(name: str) -> str:
    """Our voice for an OpenAI ``voice`` value; other valid names are named voices of
    ``C3_VOICES_DIR``, checked at submit like /csm's."""
    if name in VOICES:
        return VOICES[name]
    if VOICE_NAME.match(name):
        return name
    raise RequestError(f"voice: must be one of {', '.join(VOICES)}, or a named voice", "voice")


def transcript_body(result: dict[str, Any], fmt: str, task: str, words: bool,
                    segments_wanted: bool) -> tuple[str | dict[str, Any], str]:
    """The answer for ``response_format``: (JSON document or text, MIME type)."""
    extra = result.get("extra", {})
    segments = extra.get("segments", [])
    text = str(result.get("text", ""))
    if fmt == "text":
        return text, "text/plain"
    if fmt == "srt":
        return subtitles.to_srt(segments), "application/x-subrip"
    if fmt == "vtt":
        return subtitles.to_vtt(segments), "text/vtt"
    if fmt == "json":
        return {"text": text}, "application/json"
    doc: dict[str, Any] = {
        "task": task, "language": language_name(extra.get("language") or ""),
        "duration": float(extra.get("duration") or 0.0), "text": text,
    }
    if segments_wanted or not words:
        doc["segments"] = [_segment(i, seg) for i, seg in enumerate(segments)]
    if words:
        doc["words"] = [{"word": w["word"], "start": w["start"], "end": w["end"]}
                        for seg in segments for w in seg.get("words", [])]
    return doc, "application/json"


def _segment(index: int, seg: dict[str, Any]) -> dict[str, Any]:
    return {"id": index, "seek": 0, "start": seg["start"], "end": seg["end"],
            "text": seg["text"], "tokens": [], "temperature": 0.0, "avg_logprob": 0.0,
            "compression_ratio": 0.0, "no_speech_prob": 0.0}


def speech_audio(wav: Path, fmt: str, speed: float) -> tuple[bytes, str]:
    """Our rendered WAV as OpenAI's ``response_format``, at ``speed`` (tempo, same pitch)."""
    container_name, codec, rate, media_type = SPEECH_FORMATS[fmt]
    samples = decode_audio(wav, SPEECH_RATE, "speech")
    if abs(speed - 1.0) > 1e-3:
        samples = _change_tempo(samples, speed)
    if codec is None:
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
        return pcm.tobytes(), media_type
    with tempfile.TemporaryDirectory() as temp:
        path = Path(temp) / f"speech.{fmt}"
        with av.open(str(path), "w", format=container_name) as out:
            stream = out.add_stream(codec, rate=rate, layout="mono")
            resampler = av.AudioResampler(format=stream.format.name, layout="mono", rate=rate,
                                          frame_size=stream.frame_size or None)
            for frame in resampler.resample(_frame(samples)) + resampler.resample(None):
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        return path.read_bytes(), media_type


def _frame(samples: np.ndarray) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(
        np.clip(samples, -1.0, 1.0).astype(np.float32).reshape(1, -1), format="flt",
        layout="mono",
    )
    frame.sample_rate = SPEECH_RATE
    frame.time_base = Fraction(1, SPEECH_RATE)
    frame.pts = 0
    return frame


def _change_tempo(samples: np.ndarray, speed: float) -> np.ndarray:
    """FFmpeg's atempo filter (chained: each one takes 0.5..2)."""
    graph = av.filter.Graph()
    source = graph.add_abuffer(format="flt", sample_rate=SPEECH_RATE, layout="mono",
                               time_base=Fraction(1, SPEECH_RATE))
    node, left = source, speed
    while left > 2.0 or left < 0.5:
        step = 2.0 if left > 2.0 else 0.5
        stage = graph.add("atempo", str(step))
        node.link_to(stage)
        node, left = stage, left / step
    last = graph.add("atempo", f"{left:.6f}")
    node.link_to(last)
    sink = graph.add("abuffersink")
    last.link_to(sink)
    graph.configure()
    graph.push(_frame(samples))
    graph.push(None)
    out: list[np.ndarray] = []
    while True:
        try:
            out.append(graph.pull().to_ndarray().reshape(-1))
        except (av.error.BlockingIOError, av.error.EOFError):
            break
    return np.concatenate(out) if out else samples[:0]
