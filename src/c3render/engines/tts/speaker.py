"""Who is speaking: resemblyzer's GE2E speaker encoder, run in numpy (no torch).

``resemblyzer`` ships its pretrained encoder in the wheel (``resemblyzer/pretrained.pt``,
17 MB, Apache-2.0): 40-band mel power frames (25 ms windows, 10 ms hop, 16 kHz) through a
3-layer LSTM (256 units) and a linear layer with ReLU, L2-normalised; an utterance's
embedding is the normalised mean over 1.6 s partial windows (1.3 per second). Only the
weights file is used: the package's own code needs torch, librosa and webrtcvad, so install
it with ``--no-deps`` (requirements/engines-nodeps.txt). Its voice-activity trimming is
replaced by dropping 30 ms windows more than 40 dB under the loudest; cosine similarity of
two embeddings is their dot product (1 = same voice; different speakers score ~0.5–0.8).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from c3render.engines.torch_weights import load_legacy_state_dict
from c3render.errors import EngineUnavailable

RATE = 16000
N_FFT, HOP, MELS = 400, 160, 40
PARTIAL_FRAMES = 160
PARTIALS_PER_SECOND = 1.3
MIN_COVERAGE = 0.75
TARGET_DBFS = -30.0


def weights_path() -> Path:
    """resemblyzer's ``pretrained.pt``, found without importing the package."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable("the speaker encoder needs resemblyzer==0.1.4 "
                                "(pip install --no-deps, requirements/engines-nodeps.txt)")
    return Path(list(spec.submodule_search_locations)[0]) / "pretrained.pt"


def mel_filters(rate: int = RATE, n_fft: int = N_FFT, bands: int = MELS) -> np.ndarray:
    """Slaney-style mel filterbank (librosa's default): (bands, n_fft // 2 + 1)."""
    def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
        hz = np.asarray(hz, dtype=np.float64)
        linear = hz / (200.0 / 3)
        log = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
        return np.where(hz >= 1000.0, log, linear)

    def mel_to_hz(mel: np.ndarray) -> np.ndarray:
        linear = mel * (200.0 / 3)
        log = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
        return np.where(mel >= 15.0, log, linear)

    freqs = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(rate / 2), bands + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    return weights * (2.0 / (edges[2:] - edges[:-2]))[:, None]


def mel_frames(wav: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power, centred frames with zero padding (librosa's defaults)."""
    padded = np.pad(wav, N_FFT // 2)
    count = 1 + (len(padded) - N_FFT) // HOP
    index = np.arange(count)[:, None] * HOP + np.arange(N_FFT)[None, :]
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    power = np.abs(np.fft.rfft(padded[index] * window, axis=1)) ** 2
    return (power @ mel_filters().T).astype(np.float32)


def prepare(wav: np.ndarray) -> np.ndarray:
    """Volume raised to -30 dBFS (never lowered) and long quiet stretches dropped."""
    wav = np.asarray(wav, dtype=np.float32)
    rms = float(np.sqrt(np.mean(wav**2))) or 1e-9
    gain = 10 ** ((TARGET_DBFS - 20 * np.log10(rms)) / 20)
    wav = wav * gain if gain > 1 else wav
    window = int(0.03 * RATE)
    usable = len(wav) // window * window
    if usable == 0:
        return wav
    blocks = wav[:usable].reshape(-1, window)
    level = 20 * np.log10(np.sqrt(np.mean(blocks**2, axis=1)) + 1e-9)
    kept = blocks[level > level.max() - 40]
    return kept.reshape(-1) if kept.size else wav


class SpeakerEncoder:
    """Speaker embeddings (256-d, unit length) of 16 kHz mono speech."""

    def __init__(self, path: Path | None = None) -> None:
        self.weights = load_legacy_state_dict(path or weights_path(), key="model_state")

    def _lstm(self, x: np.ndarray) -> np.ndarray:
        """The last layer's final hidden state for a batch (batch, time, features)."""
        for layer in range(3):
            w_ih = self.weights[f"lstm.weight_ih_l{layer}"]
            w_hh = self.weights[f"lstm.weight_hh_l{layer}"]
            bias = self.weights[f"lstm.bias_ih_l{layer}"] + self.weights[f"lstm.bias_hh_l{layer}"]
            batch, steps, _ = x.shape
            h = np.zeros((batch, 256), np.float32)
            c = np.zeros((batch, 256), np.float32)
            projected = x @ w_ih.T + bias
            outputs = np.empty((batch, steps, 256), np.float32)
            for t in range(steps):
                gates = projected[:, t] + h @ w_hh.T
                i, f, g, o = np.split(gates, 4, axis=1)
                c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
                h = _sigmoid(o) * np.tanh(c)
                outputs[:, t] = h
            x = outputs
        return x[:, -1]

    def embed_mels(self, mels: np.ndarray) -> np.ndarray:
        """Unit embeddings of a batch of (160, 40) mel windows."""
        raw = np.maximum(self._lstm(mels) @ self.weights["linear.weight"].T + self.weights["linear.bias"], 0)
        return raw / np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-9)

    def embed(self, wav_16k: np.ndarray) -> np.ndarray:
        """The utterance's embedding: the normalised mean over its 1.6 s windows."""
        wav = prepare(wav_16k)
        frames = int(np.ceil((len(wav) + 1) / HOP))
        step = int(np.round(RATE / PARTIALS_PER_SECOND / HOP))
        starts = list(range(0, max(1, frames - PARTIAL_FRAMES + step + 1), step))
        last = starts[-1] * HOP
        if len(starts) > 1 and (len(wav) - last) / (PARTIAL_FRAMES * HOP) < MIN_COVERAGE:
            starts = starts[:-1]
        needed = (starts[-1] + PARTIAL_FRAMES) * HOP
        wav = np.pad(wav, (0, max(0, needed - len(wav))))
        mel = mel_frames(wav)
        batch = np.stack([mel[s:s + PARTIAL_FRAMES] for s in starts])
        mean = self.embed_mels(batch).mean(axis=0)
        return mean / np.linalg.norm(mean)


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono speech to the encoder's 16 kHz."""
    from math import gcd

    from scipy.signal import resample_poly

    if rate == RATE:
        return np.asarray(samples, np.float32)
    common = gcd(rate, RATE)
    return resample_poly(samples, RATE // common, rate // common).astype(np.float32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two unit embeddings."""
    return float(np.dot(a, b))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))
