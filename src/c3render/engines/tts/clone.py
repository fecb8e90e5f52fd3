"""Choosing how the embedded voices come closest to a reference speaker.

A small search scored by speaker embedding (``speaker.py``): every embedded voice as it is
(its profile is measured once per engine), then blends of the two nearest Kokoro voices
(Kokoro's style vectors mix linearly), then the best of those moved towards the reference's
median pitch (fully and half-way, in log pitch). Each step keeps what scored best, so the
result is never further from the reference than the nearest single voice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

BLEND_WEIGHTS = (0.5, 0.75)
"""Share of the nearest Kokoro voice in the blends tried with the second nearest."""


@dataclass(frozen=True)
class Candidate:
    """One way of rendering the clone."""

    voices: str | tuple[str, ...]
    """``joe``, or the Kokoro voices of the blend."""
    blend: dict[str, float] | None
    """Kokoro voice weights (None for joe)."""
    pitch: float = 1.0
    score: float = -1.0

    def describe(self) -> str:
        """``jm_kumo 75 % + jf_alpha 25 %, pitch ×1.12``."""
        if self.blend is None:
            name = "joe"
        else:
            name = " + ".join(f"{voice} {weight:.0%}" for voice, weight in self.blend.items())
        return name if abs(self.pitch - 1.0) < 0.01 else f"{name}, pitch ×{self.pitch:.2f}"


def search(reference: np.ndarray, reference_pitch: float | None,
           score: Callable[[Candidate, np.ndarray], float], singles: dict[str, float],
           pitches: list[float], pitch_range: tuple[float, float]) -> Candidate:
    """The best candidate: single voices (``singles``: name → similarity), blends, pitch.

    ``pitches`` are the voices' median pitches in the order of ``singles``; ``score``
    renders a candidate and returns its similarity to ``reference``.
    """
    names = list(singles)
    pitch_of = dict(zip(names, pitches))
    best = max((Candidate((n,) if n != "joe" else "joe", {n: 1.0} if n != "joe" else None,
                          score=s) for n, s in singles.items()), key=lambda c: c.score)
    kokoro = sorted((n for n in names if n != "joe"), key=lambda n: -singles[n])
    if len(kokoro) >= 2:
        first, second = kokoro[:2]
        for weight in BLEND_WEIGHTS:
            blend = Candidate((first, second), {first: weight, second: 1 - weight})
            blend = replace(blend, score=score(blend, reference))
            best = blend if blend.score > best.score else best
    if reference_pitch:
        own = np.exp(np.mean([np.log(pitch_of[v]) for v in (best.voices if isinstance(best.voices, tuple) else ("joe",))]))
        full = float(np.clip(reference_pitch / own, *pitch_range))
        for factor in (full, float(np.sqrt(full))):
            if abs(factor - 1.0) < 0.03:
                continue
            moved = replace(best, pitch=factor)
            moved = replace(moved, score=score(moved, reference))
            best = moved if moved.score > best.score else best
    return best
