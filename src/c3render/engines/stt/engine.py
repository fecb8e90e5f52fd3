"""The /whisper engine: faster-whisper (CTranslate2) on any installed Whisper model."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import av
import numpy as np

from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.stt.catalog import (
    WhisperModelInfo,
    choose_model,
    installed_models,
)
from c3render.engines.stt.languages import language_code
from c3render.errors import EngineUnavailable, InputError
from c3render.job import JobType
from c3render.media.audio import iter_audio, open_media
from c3render.settings import Settings

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

SAMPLE_RATE = 16000
#: Long recordings are transcribed in windows of about this length (cut at a quiet moment).
WINDOW_SECONDS = 600.0
#: How far back from a window's end to look for the quietest moment to cut at.
CUT_SEARCH_SECONDS = 10.0
#: Below this peak level (about -80 dBFS) a recording is taken to hold no sound at all.
SILENCE_PEAK = 1e-4
DEFAULT_REQUEST = "medium"


class WhisperEngine:
    """Speech to text with faster-whisper; the ``C3_WHISPER_MAX_LOADED`` most recently used
    models stay loaded, older ones are dropped (a request for every size must not keep
    every size in memory)."""

    job_type: ClassVar[JobType] = JobType.WHISPER

    def __init__(self, settings: Settings, window_seconds: float = WINDOW_SECONDS) -> None:
        self.settings = settings
        self.name = "faster-whisper"
        self.window_seconds = window_seconds
        self._catalog: dict[str, WhisperModelInfo] | None = None
        self._loaded: OrderedDict[Path, WhisperModel] = OrderedDict()

    @property
    def catalog(self) -> dict[str, WhisperModelInfo]:
        """The installed models (looked up once)."""
        if self._catalog is None:
            self._catalog = installed_models(self.settings)
        return self._catalog

    def load(self) -> None:
        """Load the model that serves the contract's default request (``medium``)."""
        self.model_for(choose_model(self.catalog, DEFAULT_REQUEST, need_multilingual=False))

    def model_for(self, info: WhisperModelInfo) -> WhisperModel:
        """The loaded model for ``info``, loading it on first use (least recently used evicted)."""
        if info.path in self._loaded:
            self._loaded.move_to_end(info.path)
        else:
            while len(self._loaded) >= self.settings.whisper_max_loaded:
                self._loaded.popitem(last=False)
            from faster_whisper import WhisperModel

            try:
                self._loaded[info.path] = WhisperModel(
                    str(info.path),
                    device=self.settings.device,
                    compute_type=self.settings.whisper_compute_type,
                    cpu_threads=self.settings.whisper_cpu_threads,
                )
            except (RuntimeError, ValueError, OSError) as exc:
                raise EngineUnavailable(
                    f"Whisper model {info.name} at {info.path} cannot be loaded on "
                    f"{self.settings.device} ({exc})"
                ) from None
        return self._loaded[info.path]

    def plan(self, job: EngineJob) -> tuple[WhisperModelInfo, str, str | None, Path]:
        """The model, task, language (None: detect) and audio file that run ``job``."""
        params = job.params
        task = str(params.get("task") or "transcribe")
        language = language_code(str(params.get("language") or ""))
        need_multi = task == "translate" or language not in (None, "en")
        info = choose_model(self.catalog, str(params.get("model") or DEFAULT_REQUEST), need_multi)
        if need_multi and not info.multilingual:
            raise EngineUnavailable(
                f"{'translation' if task == 'translate' else f'language {language!r}'} needs a "
                f"multilingual Whisper model; only English-only {info.name} is installed"
            )
        path = job.inputs.get("audio_url")
        if path is None:
            raise InputError("audio_url is required")
        return info, task, language, path

    def run(self, job: EngineJob) -> EngineResult:
        """Transcribe (or translate) ``job.inputs['audio_url']``."""
        params = job.params
        info, task, language, path = self.plan(job)
        transcript = Transcript(total=probe_duration(path))
        for offset, window in windows(path, self.window_seconds):
            transcript.add_window(window)
            segments, meta = self.model_for(info).transcribe(
                window,
                language=language or transcript.language,
                task=task,
                beam_size=self.settings.whisper_beam_size,
                vad_filter=True,
                word_timestamps=bool(params.get("word_timestamps")),
            )
            transcript.set_language(meta.language, meta.language_probability)
            for segment in segments:
                transcript.add_segment(offset + segment.start, offset + segment.end, segment.text,
                                       words_of(segment.words, offset))
                job.progress(transcript.fraction())
        transcript.check_sound()
        return EngineResult(text=transcript.text(), extra=transcript.extra(info.name))


def words_of(words: list[Any] | None, offset: float) -> list[dict[str, Any]] | None:
    """faster-whisper's words (``word_timestamps``) as ``{word, start, end, probability}``."""
    if words is None:
        return None
    return [{"word": w.word.strip(), "start": round(offset + w.start, 3),
             "end": round(offset + w.end, 3), "probability": round(w.probability, 3)}
            for w in words]


class Transcript:
    """Segments and facts gathered window by window (or chunk by chunk, batched)."""

    def __init__(self, total: float | None) -> None:
        self.total = total
        self.samples = 0
        self.peak = 0.0
        self.language: str | None = None
        self.language_probability = 0.0
        self.segments: list[dict[str, Any]] = []

    def add_window(self, window: np.ndarray) -> None:
        """Count a window's samples and loudest sample."""
        self.samples += window.size
        self.peak = max(self.peak, float(np.max(np.abs(window))) if window.size else 0.0)

    def set_language(self, language: str, probability: float) -> None:
        """Keep the language the first window was transcribed in."""
        if self.language is None:
            self.language, self.language_probability = language, float(probability)

    def add_segment(
        self, start: float, end: float, text: str, words: list[dict[str, Any]] | None = None
    ) -> None:
        """Add a segment (times in seconds on the recording's timeline)."""
        segment: dict[str, Any] = {"start": round(start, 3), "end": round(end, 3),
                                   "text": text.strip()}
        if words is not None:
            segment["words"] = words
        self.segments.append(segment)

    def fraction(self) -> float:
        """How much of the recording is transcribed (0..0.99)."""
        done = self.segments[-1]["end"] if self.segments else 0.0
        total = self.total or (self.samples / SAMPLE_RATE)
        return min(0.99, done / total) if total > 0 else 0.0

    def check_sound(self) -> None:
        """Raise ``InputError`` for a recording with no samples or no sound."""
        if self.samples == 0:
            raise InputError("audio_url contains no sound (no audio samples)")
        if self.peak < SILENCE_PEAK:
            raise InputError("audio_url contains no sound (the recording is silent)")

    def text(self) -> str:
        """The contract's ``text``: the segments' words."""
        return " ".join(seg["text"] for seg in self.segments if seg["text"])

    def extra(self, model_name: str) -> dict[str, Any]:
        """The additions beside the text: language, duration, segments, model."""
        return {
            "language": self.language,
            "language_probability": round(self.language_probability, 4),
            "duration": round(self.samples / SAMPLE_RATE, 3),
            "segments": self.segments,
            "model_used": model_name,
        }


def windows(path: Path, window_seconds: float) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(offset_seconds, samples)`` windows of 16 kHz mono audio from ``path``.

    Each window ends at the quietest moment of its last seconds, so words are rarely
    cut; only about one window is held in memory at a time.
    """
    limit = int(window_seconds * SAMPLE_RATE)
    pending: list[np.ndarray] = []
    size = 0
    offset = 0
    chunks = iter_audio(path, SAMPLE_RATE, "audio_url", chunk_seconds=min(60.0, window_seconds))
    for chunk in chunks:
        pending.append(chunk)
        size += chunk.size
        while size >= limit:
            buffer = np.concatenate(pending)
            cut = quiet_cut(buffer[:limit])
            yield offset / SAMPLE_RATE, buffer[:cut]
            offset += cut
            pending, size = [buffer[cut:]], buffer.size - cut
    if size:
        yield offset / SAMPLE_RATE, np.concatenate(pending)


def quiet_cut(window: np.ndarray) -> int:
    """Index in the last ``CUT_SEARCH_SECONDS`` of ``window`` where 100 ms is quietest."""
    frame = SAMPLE_RATE // 10
    search = min(window.size // 2, int(CUT_SEARCH_SECONDS * SAMPLE_RATE)) // frame * frame
    if search < frame:
        return window.size
    start = window.size - search
    energy = np.square(window[start:].reshape(-1, frame)).mean(axis=1)
    return start + int(np.argmin(energy)) * frame + frame // 2


def probe_duration(path: Path) -> float | None:
    """Duration from the container header, if it says; used only for progress."""
    try:
        with open_media(path) as container:  # the safe demuxers and local file access only
            if container.duration:
                return float(container.duration) / av.time_base
    except InputError:
        return None
    return None
