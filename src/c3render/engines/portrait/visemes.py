"""Mouth shapes from the words spoken, not from loudness.

Whisper (the embedded faster-whisper model) gives each word's start and end; the word's
spelling is split into sounds (``oo``, ``th``, ``m``, ``a``...), each with a mouth shape:
lips closed for m/b/p, nearly closed for f/v, wide open for "a", rounded for o/u/w, spread
for e/i. Whisper's word times are off by tens of milliseconds, as long as a sound, so the
sounds are aligned to the audio itself (``align_word``): a small dynamic-programming
aligner over 10 ms frames of speech-band energy, where closures are quiet and open vowels
loud, with optional silence before and after each word. Between words the lips are closed. Spelling is an approximation of English pronunciation,
but it puts the closures of m/b/p where they are, which loudness cannot: those sounds are
voiced and loud. With no words found (music, noise, an unknown language) the caller falls
back to the energy-driven mouth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

SHAPES: dict[str, tuple[float, float]] = {
    # sound class: (jaw opening 0..1, width -1 rounded .. 1 spread)
    "closed": (0.0, 0.0),
    "labiodental": (0.1, 0.3),
    "open": (1.0, 0.2),
    "spread": (0.45, 0.8),
    "round": (0.6, -0.9),
    "tight": (0.3, -1.0),
    "consonant": (0.3, 0.1),
}
DIGRAPHS = {
    "oo": "tight", "ou": "round", "ow": "round", "oa": "round", "ee": "spread", "ea": "spread",
    "ai": "open", "ay": "spread", "th": "consonant", "sh": "tight", "ch": "consonant",
    "ph": "labiodental", "wh": "tight", "qu": "tight", "ng": "consonant", "ck": "consonant",
}
LETTERS = {
    **{c: "closed" for c in "mbp"}, **{c: "labiodental" for c in "fv"}, "a": "open",
    **{c: "spread" for c in "eiy"}, "o": "round", **{c: "tight" for c in "uw"},
}
VOWEL_WEIGHT = 1.8
"""A vowel lasts this many times as long as a consonant within a word."""
CLOSED_JAW = 0.08
"""The most a frame whose sound is m/b/p may stay open after smoothing."""
SMOOTH_FRAMES = 0.6


@dataclass(frozen=True)
class Word:
    """One recognised word and its time in seconds."""

    text: str
    start: float
    end: float


def sounds(word: str) -> list[str]:
    """The sound classes of a word's spelling, in order (digraphs first)."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    found, index = [], 0
    while index < len(letters):
        pair = letters[index:index + 2]
        if pair in DIGRAPHS:
            found.append(DIGRAPHS[pair])
            index += 2
            continue
        found.append(LETTERS.get(letters[index], "consonant"))
        index += 1
    return found or ["consonant"]


LOUDNESS = {"closed": 0.0, "labiodental": 0.3, "open": 1.0, "spread": 0.85, "round": 0.85,
            "tight": 0.7, "consonant": 0.45, "silence": 0.0}
"""Expected speech-band energy (0 quiet .. 1 loud) of each sound class, for the aligner."""
HOP = 0.01
SLACK = 0.12
"""Seconds a word's sounds may reach beyond Whisper's start and end."""


MIN_FRAMES = {"closed": 5, "labiodental": 4, "consonant": 3, "open": 5, "spread": 4,
              "round": 5, "tight": 4}
"""Shortest time (10 ms frames) the aligner gives a sound: a closure is seen on video."""


def band_energy(samples_16k: np.ndarray) -> np.ndarray:
    """Energy in 1–4 kHz per 10 ms frame, scaled to 0..1 between the clip's quiet and loud
    speech: m, b and p (lips shut) are low there, open vowels high."""
    hop, window = int(16000 * HOP), int(16000 * 0.025)
    count = max(1, (len(samples_16k) - window) // hop + 1)
    index = np.arange(count)[:, None] * hop + np.arange(window)[None, :]
    padded = np.pad(samples_16k, (0, max(0, int(index.max()) + 1 - len(samples_16k))))
    spectrum = np.abs(np.fft.rfft(padded[index] * np.hanning(window), axis=1)) ** 2
    freqs = np.fft.rfftfreq(window, 1 / 16000)
    level = 10 * np.log10(spectrum[:, (freqs >= 1000) & (freqs <= 4000)].sum(axis=1) + 1e-10)
    speech = level[level > np.percentile(level, 97) - 45]
    low, high = np.percentile(speech, 10), np.percentile(speech, 95)
    return np.clip((level - low) / max(high - low, 1e-3), 0.0, 1.0)


def align_word(classes: list[str], energy: np.ndarray) -> list[tuple[int, int, str]]:
    """Frames (start, end) of each sound: the monotonic path through an optional silence, the
    sounds in order (each at least its ``MIN_FRAMES``) and an optional silence that best
    matches expected to measured energy. Each sound is a chain of sub-states; only its
    last may repeat."""
    owner = [0]
    for number, kind in enumerate(classes, start=1):
        owner += [number] * MIN_FRAMES[kind]
    owner.append(len(classes) + 1)
    kinds = ["silence", *classes, "silence"]
    expected = np.array([LOUDNESS[kinds[o]] for o in owner])
    loops = np.array([i == len(owner) - 1 or owner[i + 1] != owner[i] for i in range(len(owner))])
    cost = (energy[:, None] - expected[None, :]) ** 2
    frames, count = cost.shape
    total = np.full((frames, count), np.inf)
    back = np.zeros((frames, count), dtype=np.int64)
    total[0, 0], total[0, 1] = cost[0, 0], cost[0, 1]
    for t in range(1, frames):
        stay = np.where(loops, total[t - 1], np.inf)
        step = np.concatenate([[np.inf], total[t - 1, :-1]])
        back[t] = step < stay
        total[t] = np.minimum(stay, step) + cost[t]
    state = count - 1 if total[-1, count - 1] <= total[-1, count - 2] else count - 2
    path = np.zeros(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = owner[state]
        state -= int(back[t, state])
    spans = []
    for k in range(1, len(classes) + 1):
        hits = np.flatnonzero(path == k)
        if hits.size:
            spans.append((int(hits[0]), int(hits[-1]) + 1, kinds[k]))
    return spans


def segments(words: list[Word], energy: np.ndarray | None = None) -> list[tuple[float, float, str]]:
    """(start, end, sound class) for every sound of every word: aligned to ``energy`` (10 ms
    frames from ``band_energy``) when given, else spread over the word (vowels longer)."""
    spans = []
    for index, word in enumerate(words):
        classes = sounds(word.text)
        if energy is not None:
            before = words[index - 1].end if index else 0.0
            after = words[index + 1].start if index + 1 < len(words) else word.end + SLACK
            first = int(max(before, word.start - SLACK) / HOP)
            last = min(len(energy), int(np.ceil(min(after, word.end + SLACK) / HOP)))
            if last - first >= sum(MIN_FRAMES[c] for c in classes) + 2:
                spans += [((first + a) * HOP, (first + b) * HOP, c)
                          for a, b, c in align_word(classes, energy[first:last])]
                continue
        weights = np.array([VOWEL_WEIGHT if c in {"open", "spread", "round", "tight"} else 1.0
                            for c in classes])
        edges = word.start + (word.end - word.start) * np.concatenate([[0], np.cumsum(weights)]) / weights.sum()
        spans += [(float(a), float(b), c) for a, b, c in zip(edges[:-1], edges[1:], classes)]
    return spans


def viseme_track(words: list[Word], frames: int, fps: int,
                 energy: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Jaw opening (0..1) and width (-1..1) per video frame; closed outside the words."""
    jaw, width = np.zeros(frames, np.float32), np.zeros(frames, np.float32)
    closed = np.zeros(frames, bool)
    times = (np.arange(frames) + 0.5) / fps
    for start, end, kind in segments(words, energy):
        inside = (times >= start) & (times < end)
        if not inside.any() and kind == "closed":
            inside = np.abs(times - (start + end) / 2) == np.abs(times - (start + end) / 2).min()
        jaw[inside], width[inside] = SHAPES[kind]
        closed |= inside & (kind == "closed")
    jaw, width = _smooth(jaw, SMOOTH_FRAMES), _smooth(width, 1.2)
    jaw[closed] = np.minimum(jaw[closed], CLOSED_JAW)
    return jaw.astype(np.float32), width.astype(np.float32)


class WordTimer:
    """Word timestamps from the embedded Whisper model (tiny.en, the fastest; else base)."""

    def __init__(self, model_path: Any) -> None:
        from faster_whisper import WhisperModel

        self._model = WhisperModel(str(model_path), device="cpu", compute_type="int8")

    def words(self, samples_16k: np.ndarray) -> list[Word]:
        """Every word heard in 16 kHz mono audio, with its time."""
        found, _ = self._model.transcribe(samples_16k, beam_size=1, word_timestamps=True,
                                          vad_filter=False, condition_on_previous_text=False)
        return [Word(w.word, float(w.start), float(w.end))
                for segment in found for w in (segment.words or []) if w.end > w.start]


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    radius = max(1, int(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    return np.convolve(np.pad(values, radius, mode="edge"), kernel, mode="valid")
