"""Choosing how the embedded voices come closest to a reference speaker.

A small search scored by speaker embedding (``speaker.py``): every embedded voice as it is
(its profile is measured once per engine), then blends of the two nearest Kokoro voices
(Kokoro's style vectors mix linearly), then the best of those moved towards the reference's
median pitch (fully and half-way, in log pitch), then that with its long-term spectrum
matched to the reference's (``spectrum.py``; half-way and fully). Only the voices and blends
are synthesised (and kept by the engine for later clones); a pitch move or a spectrum match
is applied to that rendering, so it costs an embedding. Each step keeps what scored best, so
the result is never further from the reference than the nearest single voice.

Moving the formants alone (a spectral-envelope warp) was tried as a further step and
dropped: it raised the similarity to the reference clip but not to other recordings of the
same speaker (``bench/bench_tts.py``, 3 speakers: +0.126 with it, +0.131 without). Without the
spectrum match a wider search would gain at most 0.007 for six times the renders: over 46
voices, blends and pushed voices × 3 pitches, the best by the reference clip gains +0.137
and an oracle judging by the held-out clips +0.153 (``bench/bench_clone_ceiling.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

BLEND_WEIGHTS = (0.5, 0.75)
"""Share of the nearest Kokoro voice in the blends tried with the second nearest."""
SPECTRUM_STRENGTHS = (0.5, 1.0)
"""How far the voice's spectrum is moved to the reference's in the matches tried."""


@dataclass(frozen=True)
class Candidate:
    """One way of rendering the clone."""

    voices: str | tuple[str, ...]
    """``joe``, or the Kokoro voices of the blend."""
    blend: dict[str, float] | None
    """Kokoro voice weights (None for joe)."""
    pitch: float = 1.0
    spectrum: float = 0.0
    """How far its long-term spectrum is moved to the reference's (0: not at all, 1: fully)."""
    score: float = -1.0

    def describe(self) -> str:
        """``jm_kumo 75 % + jf_alpha 25 %, pitch ×1.12, spectrum matched 50 %``."""
        if self.blend is None:
            name = "joe"
        else:
            name = " + ".join(f"{voice} {weight:.0%}" for voice, weight in self.blend.items())
        if abs(self.pitch - 1.0) >= 0.01:
            name = f"{name}, pitch ×{self.pitch:.2f}"
        return f"{name}, spectrum matched {self.spectrum:.0%}" if self.spectrum else name

    @property
    def base(self) -> Candidate:
        """The same voice or blend, unmoved and unscored (what is synthesised)."""
        return Candidate(self.voices, self.blend)


class Voices(Protocol):
    """What the search needs from an engine."""

    def render(self, candidate: Candidate) -> np.ndarray:
        """The calibration sentence in ``candidate``'s voice or blend (its pitch ignored)."""

    def adapt(self, audio: np.ndarray, pitch: float) -> np.ndarray:
        """``audio`` moved in pitch (formants with it; tempo too: the embedding does not mind)."""

    def match_spectrum(self, audio: np.ndarray, strength: float) -> np.ndarray:
        """``audio`` filtered ``strength`` of the way to the reference's long-term spectrum."""

    def similarity(self, audio: np.ndarray) -> float:
        """Cosine similarity of ``audio``'s speaker embedding to the reference."""


def search(voices: Voices, reference_pitch: float | None, singles: dict[str, float],
           pitches: list[float], pitch_range: tuple[float, float]) -> Candidate:
    """The best candidate: single voices (``singles``: name → similarity), blends, then
    pitch moves of the best, then spectrum matches of that. ``pitches`` are the voices'
    median pitches in the order of ``singles``."""
    names = list(singles)
    best = max((Candidate((n,) if n != "joe" else "joe", {n: 1.0} if n != "joe" else None,
                          score=s) for n, s in singles.items()), key=lambda c: c.score)
    kokoro = sorted((n for n in names if n != "joe"), key=lambda n: -singles[n])
    if len(kokoro) >= 2:
        first, second = kokoro[:2]
        for weight in BLEND_WEIGHTS:
            blend = Candidate((first, second), {first: weight, second: 1 - weight})
            blend = replace(blend, score=voices.similarity(voices.render(blend)))
            best = blend if blend.score > best.score else best
    audio = voices.render(best.base)
    for pitch in _pitch_factors(best, reference_pitch, dict(zip(names, pitches)), pitch_range):
        moved = replace(best, pitch=pitch)
        moved = replace(moved, score=voices.similarity(voices.adapt(audio, pitch)))
        best = moved if moved.score > best.score else best
    adapted = voices.adapt(audio, best.pitch)
    for strength in SPECTRUM_STRENGTHS:
        matched = replace(best, spectrum=strength)
        matched = replace(matched, score=voices.similarity(voices.match_spectrum(adapted, strength)))
        best = matched if matched.score > best.score else best
    return best


def _pitch_factors(best: Candidate, reference_pitch: float | None, pitch_of: dict[str, float],
                   pitch_range: tuple[float, float]) -> list[float]:
    """The moves towards the reference's pitch (fully, half-way in log pitch)."""
    if not reference_pitch:
        return []
    own = np.exp(np.mean([np.log(pitch_of[v]) for v in
                          (best.voices if isinstance(best.voices, tuple) else ("joe",))]))
    full = float(np.clip(reference_pitch / own, *pitch_range))
    return [f for f in (full, float(np.sqrt(full))) if abs(f - 1.0) >= 0.03]
