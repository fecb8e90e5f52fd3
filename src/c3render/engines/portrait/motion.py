"""Per-frame animation controls from a speech signal: mouth, blinks and head motion.

Each video frame gets a vector of ``CONTROLS``:

- ``jaw``: mouth opening 0..1, from the words' sounds (``visemes.py``) when given, else from
  the frame's speech energy (log RMS, gated, smoothed);
- ``width``: -1 (rounded, e.g. "oo") .. 1 (wide, e.g. "ee"), from the sounds, else from the
  spectral centroid;
- ``blink``: 0 open .. 1 closed, ~150 ms blinks at random 2-6 s intervals;
- ``roll``: head roll in radians, ``shift_x``/``shift_y``: head shift in face heights
  (slow smooth noise, plus a slight nod with speech energy).
"""

from __future__ import annotations

import hashlib

import numpy as np

CONTROLS = ("jaw", "width", "blink", "roll", "shift_x", "shift_y")
FPS = 25

BLINK_SECONDS = 0.15
BLINK_GAP = (2.0, 6.0)
ROLL_AMPLITUDE = np.radians(1.2)
SHIFT_AMPLITUDE = 0.006
NOD_AMPLITUDE = 0.012


def seed_from(*parts: str) -> int:
    """A stable 64-bit seed from strings (job id, input names)."""
    digest = hashlib.sha256("\0".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def frame_count(samples: int, sample_rate: int, fps: int = FPS) -> int:
    """Frames needed to cover the audio (at least one)."""
    return max(1, int(round(samples * fps / sample_rate)))


def speech_features(
    samples: np.ndarray, sample_rate: int, frames: int, fps: int = FPS
) -> tuple[np.ndarray, np.ndarray]:
    """Log-RMS level (dB) and spectral centroid (Hz) of a window centred on each frame."""
    hop = sample_rate / fps
    window = int(2 * hop)
    padded = np.pad(samples.astype(np.float32), (window, window))
    starts = (np.arange(frames) * hop + hop / 2).astype(np.int64) + window - window // 2
    index = starts[:, None] + np.arange(window)[None, :]
    chunks = padded[index] * np.hanning(window).astype(np.float32)
    level = 20 * np.log10(np.sqrt(np.mean(chunks**2, axis=1)) + 1e-5)
    spectrum = np.abs(np.fft.rfft(chunks, axis=1))
    freqs = np.fft.rfftfreq(window, 1 / sample_rate)
    band = (freqs > 100) & (freqs < 6000)
    power = spectrum[:, band] ** 2
    centroid = (power @ freqs[band]) / (power.sum(axis=1) + 1e-12)
    return level.astype(np.float32), centroid.astype(np.float32)


def mouth_track(level: np.ndarray, centroid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mouth opening (0..1) and width (-1..1) per frame from level and centroid."""
    peak = float(np.percentile(level, 97))
    floor = float(np.percentile(level, 10))
    span = max(peak - floor, 20.0)
    low = max(floor + 0.2 * span, peak - 40.0)
    opening = np.clip((level - low) / max(peak - low, 1e-3), 0.0, 1.0) ** 0.8
    opening = _smooth(opening, 0.7)
    shape = np.clip((centroid - 1800.0) / 1200.0, -1.0, 1.0)
    width = _smooth(shape * np.minimum(1.0, 2 * opening), 1.5)
    return opening.astype(np.float32), width.astype(np.float32)


def blink_track(frames: int, rng: np.random.Generator, fps: int = FPS) -> np.ndarray:
    """Eyelid closure per frame: short blinks at random intervals."""
    times = np.arange(frames) / fps
    closure = np.zeros(frames, dtype=np.float32)
    at = rng.uniform(0.5, 3.0)
    half = BLINK_SECONDS / 2
    while at < times[-1] + half:
        closure = np.maximum(closure, np.clip(1 - np.abs(times - at) / (half * 1.25), 0, 1))
        at += rng.uniform(*BLINK_GAP)
    return np.clip(closure * 1.3, 0.0, 1.0).astype(np.float32)


def smooth_noise(frames: int, rng: np.random.Generator, fps: int = FPS) -> np.ndarray:
    """Slow noise in about -1..1: a few random low-frequency sinusoids."""
    times = np.arange(frames) / fps
    freqs = rng.uniform(0.08, 0.45, size=3)
    phases = rng.uniform(0, 2 * np.pi, size=3)
    weights = np.array([1.0, 0.6, 0.35])
    wave = (weights[:, None] * np.sin(2 * np.pi * freqs[:, None] * times + phases[:, None])).sum(0)
    return (wave / weights.sum() * 1.6).astype(np.float32)


def controls(samples: np.ndarray, sample_rate: int, seed: int, fps: int = FPS,
             mouth: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """The frames × ``len(CONTROLS)`` control matrix for a speech clip; ``mouth`` (jaw and
    width per frame, e.g. from visemes) replaces the energy-driven mouth when given."""
    frames = frame_count(samples.size, sample_rate, fps)
    rng = np.random.default_rng(seed)
    if mouth is None:
        level, centroid = speech_features(samples, sample_rate, frames, fps)
        jaw, width = mouth_track(level, centroid)
    else:
        jaw, width = mouth
    blink = blink_track(frames, rng, fps)
    energy = _smooth(jaw, 4.0)
    roll = ROLL_AMPLITUDE * smooth_noise(frames, rng, fps)
    shift_x = SHIFT_AMPLITUDE * smooth_noise(frames, rng, fps)
    shift_y = SHIFT_AMPLITUDE * smooth_noise(frames, rng, fps) + NOD_AMPLITUDE * energy
    return np.stack([jaw, width, blink, roll, shift_x, shift_y], axis=1).astype(np.float32)


def _smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along time (edges held)."""
    radius = max(1, int(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")
