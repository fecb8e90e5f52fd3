"""Lip-sync measurement: mouth opening seen by face mesh on a video vs the audio envelope.

Used by the tests and ``bench/bench_portrait.py``; independent of how the video was made.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from c3render.engines.face_mesh import EYE_OUTER, LIP_CENTER


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


def audio_envelope(samples: np.ndarray, sample_rate: int, frames: int, fps: float) -> np.ndarray:
    """Log RMS (dB) of the audio in a 40 ms window at each video frame's time."""
    hop = sample_rate / fps
    half = int(sample_rate * 0.02)
    levels = []
    for index in range(frames):
        center = int((index + 0.5) * hop)
        window = samples[max(0, center - half) : center + half]
        rms = float(np.sqrt(np.mean(window**2))) if window.size else 0.0
        levels.append(20 * np.log10(rms + 1e-4))
    return np.array(levels)


def lip_sync_correlation(video: Path, samples: np.ndarray, sample_rate: int) -> float:
    """Pearson correlation between measured mouth opening and the audio envelope."""
    frames, fps = read_frames(video)
    opening = mouth_openings(frames)
    envelope = audio_envelope(samples, sample_rate, len(frames), fps)
    valid = ~np.isnan(opening)
    return float(np.corrcoef(opening[valid], envelope[valid])[0, 1])
