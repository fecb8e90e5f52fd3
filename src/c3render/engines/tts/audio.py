"""Signal helpers for speech output: pitch and rate measurement, pitch shifting, joining."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy.signal import resample_poly

FRAME_SECONDS = 0.04
HOP_SECONDS = 0.01
F0_MIN, F0_MAX = 60.0, 420.0


def _frames(samples: np.ndarray, rate: int) -> np.ndarray:
    """Overlapping frames of ``FRAME_SECONDS`` every ``HOP_SECONDS`` (rows)."""
    size, hop = int(FRAME_SECONDS * rate), int(HOP_SECONDS * rate)
    if samples.size < size:
        return np.zeros((0, size), dtype=np.float32)
    count = 1 + (samples.size - size) // hop
    index = np.arange(size)[None, :] + hop * np.arange(count)[:, None]
    return samples[index]


def active_mask(samples: np.ndarray, rate: int, floor_db: float = -35.0) -> np.ndarray:
    """Per frame: True where the level is within ``floor_db`` of the loudest frames."""
    frames = _frames(samples, rate)
    if not len(frames):
        return np.zeros(0, dtype=bool)
    level = 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    return level > np.percentile(level, 95) + floor_db


def frame_pitches(samples: np.ndarray, rate: int) -> np.ndarray:
    """Fundamental frequency (Hz) of each voiced frame, by normalised autocorrelation.

    A frame counts as voiced when it is loud enough and its autocorrelation peak in the
    60–420 Hz range reaches 0.6; the first lag within 90 % of the best peak is taken,
    which avoids most octave-down errors.
    """
    frames = _frames(samples, rate)[active_mask(samples, rate)]
    if not len(frames):
        return np.zeros(0)
    window = np.hanning(frames.shape[1])
    frames = (frames - frames.mean(axis=1, keepdims=True)) * window
    corr = _autocorrelation(frames) / (_autocorrelation(window[None, :]) + 1e-12)
    low, high = int(rate / F0_MAX), int(rate / F0_MIN)
    band = corr[:, low:high]
    best = band.max(axis=1)
    first = np.argmax(band >= 0.9 * best[:, None], axis=1)
    lags = [_refine(row, index) for row, index in zip(band, first)]
    return rate / (low + np.asarray(lags)[best > 0.6]) if len(lags) else np.zeros(0)


def _autocorrelation(rows: np.ndarray) -> np.ndarray:
    """Autocorrelation of each row (lags 0..n-1), normalised so lag 0 is 1."""
    spectrum = np.fft.rfft(rows, n=2 * rows.shape[1], axis=1)
    corr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, : rows.shape[1]]
    return corr / (corr[:, :1] + 1e-12)


def _refine(row: np.ndarray, index: int) -> float:
    """Climb from ``index`` to the local peak of ``row``; parabolic sub-sample lag."""
    while index + 1 < row.size and row[index + 1] > row[index]:
        index += 1
    if 0 < index < row.size - 1:
        left, mid, right = row[index - 1], row[index], row[index + 1]
        denominator = left - 2 * mid + right
        if denominator < 0:
            return index + 0.5 * (left - right) / denominator
    return float(index)


def median_pitch(samples: np.ndarray, rate: int) -> float | None:
    """Median fundamental frequency of the voiced parts, or ``None`` if nothing is voiced."""
    pitches = frame_pitches(samples, rate)
    return float(np.median(pitches)) if pitches.size >= 5 else None


def speech_seconds(samples: np.ndarray, rate: int) -> float:
    """Seconds of active sound (pauses and leading/trailing silence not counted)."""
    return float(active_mask(samples, rate).sum()) * HOP_SECONDS


def shift_pitch(samples: np.ndarray, factor: float) -> np.ndarray:
    """Play ``samples`` ``factor`` times faster: pitch and formants up by ``factor``.

    Callers that want the original duration synthesise ``factor`` times slower first.
    """
    if abs(factor - 1.0) < 1e-3:
        return samples
    ratio = Fraction(factor).limit_denominator(64)
    return resample_poly(samples, ratio.denominator, ratio.numerator).astype(np.float32)


def cap_length(samples: np.ndarray, rate: int, max_ms: int, fade_ms: int = 60) -> np.ndarray:
    """Cut ``samples`` to ``max_ms``, fading out over the last ``fade_ms`` when cut."""
    limit = int(rate * max_ms / 1000)
    if samples.size <= limit:
        return samples
    out = samples[:limit].copy()
    fade = min(limit, int(rate * fade_ms / 1000))
    out[limit - fade :] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out


def join_with_pauses(parts: list[np.ndarray], rate: int, pause_ms: int) -> np.ndarray:
    """Concatenate ``parts`` with ``pause_ms`` of silence between them."""
    pause = np.zeros(int(rate * pause_ms / 1000), dtype=np.float32)
    pieces: list[np.ndarray] = []
    for index, part in enumerate(parts):
        if index:
            pieces.append(pause)
        pieces.append(np.asarray(part, dtype=np.float32))
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def normalise_peak(samples: np.ndarray, peak: float = 0.9) -> np.ndarray:
    """Scale so the loudest sample is ``peak`` (models may return values far above 1)."""
    top = float(np.max(np.abs(samples))) if samples.size else 0.0
    return samples if top == 0.0 else (samples * (peak / top)).astype(np.float32)
