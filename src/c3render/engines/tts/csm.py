"""The production /csm engine: Sesame CSM-1B through transformers, from local weights.

``C3_CSM_MODEL_DIR`` is a folder saved with ``save_pretrained`` (model, processor with its
chat template, Mimi codec). Nothing is fetched from the Hub. Voices map to CSM speaker
ids (conversational_a → 0, conversational_b → 1). A bare speaker id has no fixed voice
(CSM invents one per generation), so Sesame defines its voices by prompt recordings: when
``C3_CSM_VOICES_DIR`` (default: the model folder's ``prompts/``) holds
``conversational_a.wav`` with its words in ``conversational_a.txt`` (likewise ``_b``), that
recording is the context turn in
front of every sentence of the job, and the voice stays the same. clone puts the reference
recording and its words in front the same way, as speaker 0, and a named voice of
``C3_VOICES_DIR`` (``voices.py``) its own recording, as speaker 2 and up. Every floating-point tensor
the processor makes (the context audio's ``input_values`` above all) is cast to the
model's dtype, so a bfloat16 model on a GPU gets bfloat16 inputs. temperature/topk drive
sampling of both decoders; max_audio_length bounds the generated frames (12.5 per second).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from c3render.engines.base import EngineJob
from c3render.engines.tts.audio import normalise_peak
from c3render.engines.tts.base import SpeechEngine, VoicePlan, reference_input
from c3render.engines.tts.voices import named_voices
from c3render.errors import EngineUnavailable, InputError, JobError
from c3render.media.audio import decode_audio
from c3render.settings import Settings

SAMPLE_RATE = 24000
FRAMES_PER_SECOND = 12.5
#: The longest reference recording given to the model as context.
MAX_REFERENCE_SECONDS = 30.0
SPEAKERS = {"conversational_a": 0, "conversational_b": 1}


class CsmEngine(SpeechEngine):
    """Text to speech with CsmForConditionalGeneration on ``settings.device``."""

    def __init__(self, settings: Settings) -> None:
        if settings.csm_model_dir is None:
            raise EngineUnavailable("the CSM engine needs C3_CSM_MODEL_DIR (a local CSM-1B folder)")
        self.settings = settings
        self.model_dir = settings.csm_model_dir
        self.voices_dir = settings.csm_voices_dir or self.model_dir / "prompts"
        self.name = f"csm:{self.model_dir.name}"
        self.sample_rate = SAMPLE_RATE
        self.device = settings.device
        self._model: Any = None
        self._processor: Any = None

    def load(self) -> None:
        """Load model and processor from the local folder (never from the network)."""
        os.environ["HF_HUB_OFFLINE"] = "1"
        if not (self.model_dir / "config.json").is_file():
            raise EngineUnavailable(
                f"C3_CSM_MODEL_DIR={self.model_dir} holds no CSM model (config.json missing)"
            )
        import torch
        from transformers import AutoProcessor, CsmForConditionalGeneration

        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            self._processor = AutoProcessor.from_pretrained(self.model_dir, local_files_only=True)
            model = CsmForConditionalGeneration.from_pretrained(
                self.model_dir, local_files_only=True, dtype=dtype
            )
        except (OSError, ValueError) as exc:
            raise EngineUnavailable(
                f"CSM model in {self.model_dir} cannot be loaded ({exc})"
            ) from None
        self._model = model.to(self.device).eval()
        self.sample_rate = int(
            getattr(self._processor.feature_extractor, "sampling_rate", SAMPLE_RATE)
        )

    def _turn(self, speaker: int, path: Path, text: str, field: str) -> dict[str, Any]:
        """A context turn: a recording of ``speaker`` saying ``text``."""
        audio = decode_audio(path, self.sample_rate, field, max_seconds=MAX_REFERENCE_SECONDS)
        return {"role": str(speaker),
                "content": [{"type": "text", "text": text}, {"type": "audio", "path": audio}]}

    def plan_voice(self, voice: str, job: EngineJob) -> VoicePlan:
        """A speaker id with its prompt recording (when shipped); for clone the reference."""
        if voice in SPEAKERS:
            speaker = SPEAKERS[voice]
            prompt = prompt_recording(self.voices_dir, voice)
            if prompt is None:
                return VoicePlan(voice, settings={"speaker": speaker, "context": []}, note=(
                    f"no {voice}.wav + .txt in {self.voices_dir}: speaker {speaker} without a "
                    "prompt recording, so the voice may change between sentences"))
            turn = self._turn(speaker, prompt[0], prompt[1], "voice")
            return VoicePlan(voice, settings={"speaker": speaker, "context": [turn]})
        if voice != "clone":
            return self._named_plan(voice)
        path, text = reference_input(job)
        turn = self._turn(0, path, text, "reference_audio_url")
        return VoicePlan("clone", settings={"speaker": 0, "context": [turn]})

    def _named_plan(self, name: str) -> VoicePlan:
        """A voice of ``C3_VOICES_DIR``: its recording as the context, like clone's reference.

        Its speaker id is 2 + its place among the folder's voices, so the voices of one
        conversation never share an id."""
        voices = named_voices(self.settings.voices_dir)
        if name not in voices:
            raise InputError(f"voice: no voice named {name!r} in C3_VOICES_DIR")
        speaker = 2 + list(voices).index(name)
        turn = self._turn(speaker, voices[name].audio, voices[name].text, "voice")
        return VoicePlan(name, settings={"speaker": speaker, "context": [turn]})

    def speak(self, sentence: str, plan: VoicePlan, params: dict[str, Any]) -> np.ndarray:
        """Generate one sentence, continuing the plan's context."""
        import torch

        if self._model is None:
            self.load()
        values = plan.settings or {}
        conversation = [
            *values.get("context", []),
            {
                "role": str(values.get("speaker", 0)),
                "content": [{"type": "text", "text": sentence}],
            },
        ]
        inputs = to_model(self._processor.apply_chat_template(
            conversation, tokenize=True, return_dict=True
        ), self._model)
        with torch.inference_mode():
            output = self._model.generate(**inputs, output_audio=True, **generation_kwargs(params))
        if not output:
            raise JobError("CSM produced no audio for a sentence")
        audio = output[0].float().cpu().numpy().reshape(-1)
        return normalise_peak(audio) if audio.size and np.abs(audio).max() > 1.0 else audio


def prompt_recording(folder: Path, voice: str) -> tuple[Path, str] | None:
    """``<voice>.wav`` and the words of ``<voice>.txt`` in ``folder``, when both exist."""
    audio, words = folder / f"{voice}.wav", folder / f"{voice}.txt"
    if audio.is_file() and words.is_file() and words.read_text().strip():
        return audio, words.read_text().strip()
    return None


def to_model(inputs: Any, model: Any) -> dict[str, Any]:
    """The processor's tensors on the model's device; floating ones in the model's dtype."""
    moved = {}
    for key, value in dict(inputs).items():
        if hasattr(value, "is_floating_point") and value.is_floating_point():
            moved[key] = value.to(model.device, dtype=model.dtype)
        elif hasattr(value, "to"):
            moved[key] = value.to(model.device)
        else:
            moved[key] = value
    return moved


def generation_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """``generate`` arguments from the request: sampling for both decoders, a frame cap."""
    temperature = float(params.get("temperature", 0.9))
    top_k = int(params.get("topk", 50))
    max_ms = int(params.get("max_audio_length", 10000))
    sample = temperature > 0
    kwargs: dict[str, Any] = {
        "max_new_tokens": max(1, math.ceil(max_ms / 1000 * FRAMES_PER_SECOND)),
        "do_sample": sample,
        "depth_decoder_do_sample": sample,
    }
    if sample:
        kwargs.update(
            temperature=temperature,
            top_k=top_k,
            depth_decoder_temperature=temperature,
            depth_decoder_top_k=top_k,
        )
    return kwargs
