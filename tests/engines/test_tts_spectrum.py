"""The clone's spectrum match (``engines/tts/spectrum.py``), on noise of known colour."""

from __future__ import annotations

import numpy as np
import pytest

from c3render.engines.tts.spectrum import (
    BANDS,
    LIMIT_DB,
    apply_curve,
    band_levels,
    matching_curve,
)


def _noise(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, 0.1, int(seconds * rate)).astype(np.float32)


def _tilt(db_per_band: float) -> np.ndarray:
    """A curve rising ``db_per_band`` dB per band, its median at 0 dB."""
    curve = np.arange(BANDS) * db_per_band
    return curve - np.median(curve)


def test_a_voice_matched_to_itself_is_left_as_it_is() -> None:
    voice = _noise(3, 22050)
    assert np.abs(matching_curve(voice, 22050, voice, 22050)).max() < 1e-6
    assert np.array_equal(apply_curve(voice, 22050, np.zeros(BANDS)), voice)


def test_the_curve_found_brings_the_voice_to_the_reference() -> None:
    """A reference that is noise coloured by a known tilt (recorded at 16 kHz, the voice at
    22.05 kHz): the curve measured is that tilt, and the filtered voice has the reference's
    band levels (up to their common offset)."""
    tilt = _tilt(0.8)
    reference = apply_curve(_noise(4, 16000, seed=1), 16000, tilt)
    voice = _noise(4, 22050, seed=2)
    curve = matching_curve(reference, 16000, voice, 22050)
    assert np.abs(curve - tilt).max() < 1.5, np.round(curve - tilt, 1)
    matched = apply_curve(voice, 22050, curve)
    gap_before = band_levels(reference, 16000) - band_levels(voice, 22050)
    gap_after = band_levels(reference, 16000) - band_levels(matched, 22050)
    assert np.ptp(gap_after) < 3 < np.ptp(gap_before) - 10
    half = matching_curve(reference, 16000, voice, 22050, strength=0.5)
    assert half == pytest.approx(curve / 2, abs=1e-6)


def test_the_gain_is_limited_and_pauses_do_not_count() -> None:
    voice = _noise(3, 22050)
    reference = apply_curve(_noise(3, 16000, seed=3), 16000, _tilt(2.0))  # ±23 dB asked
    curve = matching_curve(reference, 16000, voice, 22050)
    assert curve.max() == LIMIT_DB and curve.min() == -LIMIT_DB
    assert np.count_nonzero(np.abs(curve) < LIMIT_DB) >= 6  # the middle bands as measured
    paused = np.concatenate([voice, np.zeros(22050 * 3, np.float32)])  # half of it silence
    assert band_levels(paused, 22050) == pytest.approx(band_levels(voice, 22050), abs=0.5)


def test_the_filtered_voice_keeps_its_length_and_peak() -> None:
    voice = _noise(2.5, 22050)
    out = apply_curve(voice, 22050, _tilt(0.5))
    assert out.shape == voice.shape and out.dtype == np.float32
    assert np.abs(out).max() == pytest.approx(np.abs(voice).max(), rel=1e-5)
    short = voice[:100]
    assert np.array_equal(apply_curve(short, 22050, _tilt(0.5)), short)


def test_what_cannot_be_measured_changes_nothing() -> None:
    """A reference shorter than one analysis window, or silent, gives a flat curve."""
    voice = _noise(2, 22050)
    for reference in (_noise(0.02, 16000), np.zeros(16000, np.float32)):
        assert not np.any(matching_curve(reference, 16000, voice, 22050))
    assert band_levels(np.zeros(100, np.float32), 16000) is None
