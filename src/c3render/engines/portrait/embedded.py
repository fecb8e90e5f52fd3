"""The embedded CPU talking-portrait engine: mediapipe landmarks + an audio-driven face rig."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import ClassVar

import numpy as np

from c3render.engines.base import EngineJob, EngineResult
from c3render.engines.portrait import framing
from c3render.engines.portrait.motion import FPS, controls, frame_count, seed_from
from c3render.engines.portrait.rig import FaceRig
from c3render.engines.portrait.visemes import WordTimer, band_energy, viseme_track
from c3render.engines.stt.catalog import installed_models
from c3render.errors import InputError
from c3render.job import JobType
from c3render.media.audio import decode_audio, iter_audio
from c3render.media.images import load_rgb
from c3render.media.video import AUDIO_RATE, Mp4Writer
from c3render.settings import Settings

#: Frames rendered between two progress reports.
BATCH = 25


def load_speech(path: Path, max_seconds: float, rate: int = AUDIO_RATE) -> np.ndarray:
    """Decode ``audio_url`` to float32 mono; ``InputError`` when it is longer than allowed."""
    chunks: list[np.ndarray] = []
    total = 0
    for chunk in iter_audio(path, rate, "audio_url", chunk_seconds=10.0):
        chunks.append(chunk)
        total += chunk.size
        if total > max_seconds * rate:
            raise InputError(
                f"audio_url is longer than {max_seconds:g} s, the limit for portraits "
                "(C3_PORTRAIT_MAX_AUDIO_SECONDS)"
            )
    if total == 0:
        raise InputError("audio_url contains no sound")
    return np.concatenate(chunks).astype(np.float32, copy=False)


def file_digest(path: Path) -> str:
    """SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class EmbeddedPortraitEngine:
    """Animates one photo from speech on the CPU and writes an H.264/AAC MP4.

    The face is found once (largest face when there are several), framed head and
    shoulders at ``portrait_size``², and rigged; each frame is then a cheap remap of the
    head region. The mouth follows the sounds of the words Whisper hears (``visemes.py``:
    closed on m/b/p and in pauses, open on "a", rounded on o/u), or the audio's energy
    when no word is heard (``mouth="energy"`` forces that, as the benchmark's baseline);
    blinks and head motion come on top. The same inputs always give the same video.
    """

    job_type: ClassVar[JobType] = JobType.PORTRAIT
    name = "embedded:face-rig"

    def __init__(self, settings: Settings, mouth: str = "visemes") -> None:
        self.settings = settings
        self.size = settings.portrait_size - settings.portrait_size % 2
        self.max_seconds = settings.portrait_max_audio_seconds
        self.mouth = mouth
        self._tools: framing.FaceTools | None = None
        self._timer: WordTimer | None = None

    def load(self) -> None:
        """Create the mediapipe graphs and, for visemes, the embedded Whisper model."""
        if self._tools is None:
            self._tools = framing.FaceTools()
        if self.mouth == "visemes" and self._timer is None:
            models = installed_models(self.settings)
            chosen = models.get("tiny.en") or models.get("base")
            if chosen is not None and importlib.util.find_spec("faster_whisper") is not None:
                self._timer = WordTimer(chosen.path)

    def _mouth(self, audio_path: Path, frames: int) -> tuple[tuple[np.ndarray, np.ndarray] | None, str]:
        """Jaw and width from the words heard, or None (energy) and why."""
        if self._timer is None:
            return None, "energy (no Whisper model installed)" if self.mouth == "visemes" else "energy"
        speech = decode_audio(audio_path, 16000, "audio_url")
        words = self._timer.words(speech)
        if not words:
            return None, "energy (no words recognised)"
        return viseme_track(words, frames, FPS, band_energy(speech)), f"visemes from {len(words)} words"

    def run(self, job: EngineJob) -> EngineResult:
        """Render ``image_url`` speaking ``audio_url`` to ``portrait.mp4``."""
        self.load()
        assert self._tools is not None
        image_path, audio_path = job.inputs["image_url"], job.inputs["audio_url"]
        image = load_rgb(image_path, "image_url")
        audio = load_speech(audio_path, self.max_seconds)
        found = self._tools.find_face(image)
        matrix = framing.crop_matrix(found.landmarks, image.shape, self.size)
        portrait = framing.crop(image, matrix, self.size)
        rig = FaceRig(portrait, framing.transform_points(found.landmarks, matrix), self._tools.segment(portrait))
        mouth, mouth_source = self._mouth(audio_path, frame_count(audio.size, AUDIO_RATE))
        track = controls(audio, AUDIO_RATE, seed_from(file_digest(image_path), file_digest(audio_path)),
                         mouth=mouth)
        job.progress(0.05)
        output = job.workdir / "portrait.mp4"
        with Mp4Writer(output, (self.size, self.size), FPS, audio) as writer:
            for index, control in enumerate(track):
                writer.write(rig.render(control))
                if (index + 1) % BATCH == 0:
                    job.progress(0.05 + 0.95 * (index + 1) / len(track))
        extra: dict[str, object] = {
            "duration": round(audio.size / AUDIO_RATE, 3),
            "frames": len(track),
            "width": self.size,
            "height": self.size,
            "fps": FPS,
            "mouth": mouth_source,
        }
        if found.faces > 1:
            extra["note"] = f"{found.faces} faces found; the largest one was animated"
        return EngineResult(file=output, media_type="video/mp4", extra=extra)
