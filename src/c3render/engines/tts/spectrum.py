"""Matching a voice's long-term spectrum to a reference recording (an equaliser for clone).

Two voices differ in timbre well beyond pitch: how loud each part of the spectrum is on
average over speech (the long-term average spectrum). The clone measures that, in 24 mel
bands from 60 Hz to 7.6 kHz, for the reference and for its chosen voice, and filters the
voice by the difference: a smooth gain curve, its median at 0 dB (loudness is left to the
rest of the pipeline), each band limited to ±12 dB, applied with ``scipy.signal``'s
STFT. ``strength`` scales the curve (0.5: half-way). Frequencies outside the bands keep the
gain of the nearest band, so a band-limited reference (a 16 kHz clip) gives a voice without
hiss above it.

What it matches is the recording as well as the voice: the microphone and room of the
reference are in its spectrum. ``bench/bench_tts.py clones`` judges against *other* clips
of each speaker, which share that recording, and says so.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import istft, stft

BANDS = 24
LOW_HZ, HIGH_HZ = 60.0, 7600.0
LIMIT_DB = 12.0
WINDOW_SECONDS = 0.046
"""About 1024 samples at 22.05 kHz: bands of 1 kHz hold about 46 bins."""
SPEECH_DB = -35.0
"""Frames quieter than this under the loudest are pauses and left out of the average."""


def _edges() -> np.ndarray:
    def to_mel(hz: float) -> float:
        return float(2595 * np.log10(1 + hz / 700))

    mel = np.linspace(to_mel(LOW_HZ), to_mel(HIGH_HZ), BANDS + 1)
    return np.asarray(700 * (10 ** (mel / 2595) - 1))


def _window(rate: int) -> int:
    return 1 << int(round(np.log2(WINDOW_SECONDS * rate)))


def band_levels(samples: np.ndarray, rate: int) -> np.ndarray | None:
    """Mean power of the speech frames in each band, in dB (``BANDS`` values); None for
    audio too short or too quiet to measure."""
    size = _window(rate)
    if len(samples) < size:
        return None
    freqs, _, spec = stft(np.asarray(samples, np.float64), rate, nperseg=size,
                          noverlap=size * 3 // 4)
    power = np.abs(spec) ** 2
    energy = power.sum(axis=0)
    if not energy.size or energy.max() <= 0:
        return None
    speech = power[:, energy >= energy.max() * 10 ** (SPEECH_DB / 10)]
    mean = speech.mean(axis=1)
    edges = _edges()
    levels = [mean[(freqs >= lo) & (freqs < hi)].mean() for lo, hi in zip(edges[:-1], edges[1:])]
    return 10 * np.log10(np.maximum(levels, 1e-20))


def matching_curve(reference: np.ndarray, reference_rate: int, voice: np.ndarray,
                   voice_rate: int, strength: float = 1.0) -> np.ndarray:
    """The gains in dB (one per band) that bring ``voice``'s spectrum ``strength`` of the
    way to ``reference``'s, their median at 0 dB and each within ±``LIMIT_DB``; all 0 dB
    when either cannot be measured."""
    return curve_between(band_levels(reference, reference_rate), band_levels(voice, voice_rate),
                         strength)


def curve_between(wanted: np.ndarray | None, heard: np.ndarray | None,
                  strength: float = 1.0) -> np.ndarray:
    """``matching_curve`` from band levels already measured (``band_levels``), so a
    reference measured once serves every curve made towards it."""
    if wanted is None or heard is None:
        return np.zeros(BANDS)
    gains = wanted - heard
    gains -= np.median(gains)
    return np.clip(gains * strength, -LIMIT_DB, LIMIT_DB)


def apply_curve(samples: np.ndarray, rate: int, curve_db: np.ndarray) -> np.ndarray:
    """``samples`` filtered by the band gains ``curve_db`` (interpolated between the band
    centres in log frequency), same length and dtype, peak kept."""
    samples = np.asarray(samples, np.float32)
    size = _window(rate)
    if len(samples) < size or not np.any(curve_db):
        return samples
    edges = _edges()
    centres = np.sqrt(edges[:-1] * edges[1:])
    freqs, _, spec = stft(samples.astype(np.float64), rate, nperseg=size, noverlap=size * 3 // 4)
    gain_db = np.interp(np.log(np.maximum(freqs, 1.0)), np.log(centres), curve_db)
    _, filtered = istft(spec * (10 ** (gain_db / 20))[:, None], rate, nperseg=size,
                        noverlap=size * 3 // 4)
    filtered = filtered[: len(samples)]
    peak, new_peak = float(np.abs(samples).max()), float(np.abs(filtered).max())
    if new_peak > 0:
        filtered = filtered * (peak / new_peak)
    return filtered.astype(np.float32)
